"""The repository speaks of the studio only: no tracked text says how the work on it was organised (who, when, in
which run) or names a path of one particular machine. That belongs in commit messages, never in files."""

import re
import subprocess

from conftest import REPO

FORBIDDEN = {
    "a work session": re.compile(
        r"\b(this|that|a later|an earlier|later|earlier|previous|next|one|the last|to fit the|each) sessions?\b", re.I
    ),
    "an agent": re.compile(r"\bagents?\b", re.IGNORECASE),
    "an issue number": re.compile(r"\bissues? ?#?\d+", re.IGNORECASE),
    "today": re.compile(r"\btoday'?s?\b", re.IGNORECASE),
    "a reviewer": re.compile(r"\breviewers?'?s?\b", re.IGNORECASE),
    "a run of ours": re.compile(r"\b(later|earlier|previous) (runs?|commits?) of ours\b", re.IGNORECASE),
    "a commit as history": re.compile(r"\b(against|since|from|before|after|at|in|commit) [0-9a-f]{7,12}\b"),
    "a machine's path": re.compile(r"(?<![\w.])/(work|root|home)/|/tmp/runs\b"),
}
# The few legitimate uses, by the file and the words that make them so.
ALLOWED = {
    "tests/test_repository.py": ("",),  # this file names what it looks for
}
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gz", ".h5", ".npz", ".ico", ".gif"}


def tracked_text_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [name for name in listed.splitlines() if not any(name.endswith(suffix) for suffix in BINARY_SUFFIXES)]


def test_no_tracked_file_speaks_of_how_the_project_was_made():
    found = []
    for name in tracked_text_files():
        path = REPO / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(word in line for word in ALLOWED.get(name, ())):
                continue
            found += [
                f"{name}:{number}: {what}: {line.strip()[:120]}"
                for what, pattern in FORBIDDEN.items()
                if pattern.search(line)
            ]
    assert not found, "\n".join(found)


def test_the_check_finds_each_kind_of_word():
    samples = {
        "a work session": "to fit the session",
        "an agent": "other agents' test suites",
        "an issue number": "the issue 10 target",
        "today": "today's weights",
        "a reviewer": "a reviewer's rerun",
        "a run of ours": "as an earlier run of ours measured",
        "a commit as history": "timed against 913bf35",
        "a machine's path": "python train.py --output-dir /work/runs/x",
    }
    for what, sample in samples.items():
        assert FORBIDDEN[what].search(sample), what
    assert not FORBIDDEN["a work session"].search('@pytest.fixture(scope="session")')
