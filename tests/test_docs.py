"""What README.md and docs/ tell a reader is what the repository holds: every `python -m MODULE` and `python FILE.py`
they name exists and runs as named, every option a command passes is one its --help lists, every figure of the
README's tables is its committed file's, and every upper-case setting they name is read or defined by the code."""

import argparse
import collections
import importlib.util
import itertools
import json
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PAGES = {path.relative_to(REPO).as_posix(): path.read_text() for path in [REPO / "README.md", *REPO.glob("docs/*.md")]}
FENCED = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
SEPARATORS = {"&&", "||", "|", ";"}
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=")
# Settings read by a library rather than by the studio's code, and which library reads them.
READ_BY_LIBRARIES = {
    "HF_TOKEN": "huggingface_hub",
    "KERAS_BACKEND": "keras",
    "XLA_FLAGS": "XLA (JAX)",
    "CUDA_VISIBLE_DEVICES": "CUDA (JAX's GPU plugin)",
}
UPPER_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def command_lines(text: str) -> list[str]:
    """The shell lines of a page's bash blocks (continuations joined) and its inline code spans that run python."""
    lines = []
    for language, block in FENCED.findall(text):
        if language in ("bash", "sh", ""):
            lines += block.replace("\\\n", " ").splitlines()
    spans = re.findall(r"`([^`]+)`", FENCED.sub("", text))
    lines += [span.replace("\n", " ") for span in spans]
    return [line for line in lines if re.search(r"(^|\s)python\s", line)]


def invocations(line: str) -> list[tuple[dict, list[str]]]:
    """Each `python ...` of a shell line: the environment it sets, and python's own arguments."""
    words = shlex.split(line, comments=True)
    found, segment = [], []
    for word in [*words, ";"]:
        if word not in SEPARATORS:
            segment.append(word)
            continue
        env = {}
        while segment and ASSIGNMENT.match(segment[0]):
            name, _, value = segment.pop(0).partition("=")
            env[name] = value
        if segment and segment[0] == "python":
            found.append((env, segment[1:]))
        segment = []
    return found


COMMANDS = [
    (page, line, env, arguments)
    for page, text in PAGES.items()
    for line in command_lines(text)
    for env, arguments in invocations(line)
]


def target(arguments: list[str]) -> tuple[str, list[str]] | None:
    """`-m MODULE` or `FILE.py`, and the arguments after it; None for `python -c` and the like."""
    if arguments[:1] == ["-m"] and len(arguments) > 1:
        return arguments[1], arguments[2:]
    if arguments and arguments[0].endswith(".py"):
        return arguments[0], arguments[1:]
    return None


RUNS = [(page, line, *target(arguments)) for page, line, _, arguments in COMMANDS if target(arguments)]


def repository_file(name: str) -> Path | None:
    """The repository's file behind `-m name` or `name.py`, or None for an installed module."""
    if name.endswith(".py"):
        return REPO / name
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # its package is missing: the existence test says so
        return None
    origin = Path(spec.origin) if spec and spec.origin else None
    return origin if origin and REPO in origin.parents and ".venv" not in origin.parts else None


def options(arguments: list[str]) -> list[str]:
    """The --options a command passes, and for `--set KEY=NUMBER` the KEY, which train.py's --help lists too."""
    named = []
    for word, following in itertools.pairwise([*arguments, ""]):
        if word.startswith("--"):
            option, _, value = word.partition("=")
            named.append(option)
            if option == "--set":
                named.append((value or following).partition("=")[0])
    return named


class Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__(parser.prog)
        self.parser = parser


def help_text(name: str) -> str:
    """The --help of the module or script called name, from the argparse parser the script builds, without running
    it: the script runs as __main__ until its first parse_args, which hands over its parser instead of parsing."""

    def hand_over(parser, *args, **kwargs):
        raise Parsed(parser)

    source = repository_file(name).read_text()
    assert "parse_args(" in source, f"{name} takes no options"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", hand_over)
        patch.setattr(sys, "argv", [name, "--help"])
        try:
            if name.endswith(".py"):
                runpy.run_path(str(REPO / name), run_name="__main__")
            else:
                runpy.run_module(name, run_name="__main__", alter_sys=True)
        except Parsed as parsed:
            return parsed.parser.format_help()
    raise AssertionError(f"{name} never parsed its options")


# The repository's own commands that pass options, each checked against its --help.
WITH_OPTIONS = [run for run in RUNS if options(run[3]) and repository_file(run[2])]


@pytest.fixture(scope="module")
def help_texts() -> dict[str, str]:
    """Each repository command's --help, once per command: one parse of each script, no heavy work."""
    return {name: help_text(name) for name in sorted({name for _, _, name, _ in WITH_OPTIONS})}


def test_the_pages_name_commands():
    names = {name for _, _, name, _ in RUNS}
    assert {"train.py", "app.py", "deploy_space.py", "benchmarks.bench", "experiments.robustness"} <= names
    assert {"train.py", "deploy_space.py", "benchmarks.bench"} <= {name for _, _, name, _ in WITH_OPTIONS}


@pytest.mark.parametrize(("page", "line", "name", "arguments"), RUNS, ids=[run[1][:60] for run in RUNS])
def test_every_command_runs_a_module_or_script_that_exists(page, line, name, arguments):
    if name.endswith(".py"):
        assert (REPO / name).is_file(), f"{page}: {line}: no {name}"
        # a script run by its path sees its own folder, not the repository's root, so its imports would fail
        assert "/" not in name, f"{page}: {line}: run {name} as python -m {name[:-3].replace('/', '.')}"
    elif name.rpartition(".")[2].isupper():  # a placeholder, as in experiments.NAME: some module of the package
        package = REPO / name.rpartition(".")[0].replace(".", "/")
        assert any(package.glob("[a-z]*.py")), f"{page}: {line}: no module in {package.name}/"
    else:
        assert importlib.util.find_spec(name) is not None, f"{page}: {line}: no module {name}"


@pytest.mark.parametrize(("page", "line", "name", "arguments"), WITH_OPTIONS, ids=[run[1][:60] for run in WITH_OPTIONS])
def test_every_option_a_command_passes_is_in_its_help(page, line, name, arguments, help_texts):
    listed = help_texts[name]
    unknown = [option for option in options(arguments) if not re.search(rf"(?<![\w-]){re.escape(option)}\b", listed)]
    assert not unknown, f"{page}: {line}: {name} --help lists no {', '.join(unknown)}"


def code_text() -> str:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return "\n".join((REPO / name).read_text() for name in listed.stdout.split() if (REPO / name).is_file())


def test_every_command_the_code_names_exists():
    """The usage lines of docstrings and messages, as the pages' commands."""
    code = code_text()
    modules = set(re.findall(r"python -m ([a-z_]+(?:\.[a-z_]+)*)", code))
    scripts = set(re.findall(r"python ([a-z_][\w/]*\.py)\b", code))  # FILE.py, upper-case: a placeholder
    assert modules and scripts
    assert not [name for name in modules if importlib.util.find_spec(name) is None]
    assert not [name for name in scripts if "/" in name or not (REPO / name).is_file()]


def test_every_setting_the_pages_name_is_read_or_defined_by_the_code():
    code = code_text()
    read = set(re.findall(r"""(?:environ\.get|getenv|environ\.setdefault)\(\s*["']([A-Z0-9_]+)["']""", code))
    read |= set(re.findall(r"""environ\[\s*["']([A-Z0-9_]+)["']\]""", code)) | set(READ_BY_LIBRARIES)
    targets = re.findall(r"^\s*([A-Z][A-Z0-9_]*(?:\s*,\s*[A-Z][A-Z0-9_]*)*)\s*(?::[^=\n]+)?=", code, flags=re.MULTILINE)
    defined = {name.strip() for names in targets for name in names.split(",")}
    placeholders = {word for _, _, _, arguments in COMMANDS for word in arguments}  # DIR_A, DIR_S: the reader's own
    problems = []
    for page, text in PAGES.items():
        unknown = set(UPPER_NAME.findall(text)) - read - defined - placeholders
        problems += [f"{page}: {name} is neither read nor defined" for name in unknown]
    # a name set on a command line is an environment variable: something must read it
    problems += [f"{page}: {line}: nothing reads {name}" for page, line, env, _ in COMMANDS for name in set(env) - read]
    assert not problems, "\n".join(sorted(set(problems)))


def tables(text: str) -> list[tuple[str, list[str]]]:
    """Each markdown table of a text: its header line and its rows."""
    lines, found = text.splitlines(), []
    for index, line in enumerate(lines[:-1]):
        starts = line.startswith("|") and (index == 0 or not lines[index - 1].startswith("|"))
        if starts and lines[index + 1].startswith("|---"):
            rows = list(itertools.takewhile(lambda row: row.startswith("|"), lines[index + 2 :]))
            found.append((line, rows))
    return found


def table_rows(text: str, header: str) -> list[str]:
    """The rows of the markdown table whose header line starts with header."""
    return next(rows for line, rows in tables(text) if line.startswith(header))


def test_the_pages_benchmark_tables_are_the_kept_results():
    """A table of a page with the header of a kept result's table gives that result's rows, from one run: all of
    them from one of the kept results with that header."""
    listed = subprocess.run(["git", "ls-files", "benchmarks/results/*.md"], cwd=REPO, capture_output=True, text=True)
    results = {name: (REPO / name).read_text() for name in listed.stdout.split()}
    kept = collections.defaultdict(list)
    for name, text in results.items():
        for header, rows in tables(text):
            kept[header].append((name, set(rows)))
    shown = [(page, header, rows) for page, text in PAGES.items() for header, rows in tables(text) if header in kept]
    assert shown, "no page shows a kept result's table"
    for page, header, rows in shown:
        closest = min(kept[header], key=lambda result: len(set(rows) - result[1]))
        missing = set(rows) - closest[1]
        assert not missing, f"{page}: {header}: rows no one kept result holds; {closest[0]} lacks {missing}"


def committed(path: str) -> dict:
    return json.loads((REPO / path).read_text())


EPOCHS = ("epochs", "clean_epochs", "outlier_epochs")  # a recipe's phases, in the order they train


def test_the_readme_results_table_is_metrics_json_and_the_benchmark():
    metrics, bench = committed("weights/metrics.json")["models"], committed("benchmarks/results/bench.json")
    rows = table_rows(PAGES["README.md"], "| model | parameters |")
    for name in ("cnn", "linear"):
        entry = metrics[name]
        phases = " + ".join(str(entry["recipe"][key]) for key in EPOCHS if entry["recipe"].get(key))
        minutes, latency = entry["total_training_seconds"] / 60, bench["in_process"]["model_ms"][name]["p50"]
        expected = (
            f" {entry['parameters']:,} | **{entry['test_accuracy']:.2%}** | {phases} epochs, "
            f"{entry['seconds_per_epoch']:.1f} s an epoch, {minutes:.1f} min | {latency:.2f} ms |"
        )
        row = next(row for row in rows if row.startswith(f"| {entry['title']}"))
        assert expected in row, (row, expected)


def test_the_readme_not_a_digit_table_is_not_a_digit_json():
    report = committed("weights/not_a_digit.json")
    models, studio = report["models"], report["studio"]

    def flagged(entry: dict) -> str:
        return f"{entry['MNIST test digits']:.2%} / {entry['handwriting check set']:.2%}"

    def cells(figure) -> str:
        return " | ".join(figure(entry) for entry in models.values())

    expected = [
        cells(lambda entry: f"{entry['flagged']['non-digits']:.1%}") + f" | **{studio['non-digits']:.1%}** |",
        cells(lambda entry: flagged(entry["flagged"])) + f" | **{flagged(studio)}** |",
        cells(lambda entry: f"{entry['auroc_test_digits']:.3f}") + " | |",
        cells(lambda entry: f"{entry['calibration_error']:.2%}") + " | |",
    ]
    rows = table_rows(PAGES["README.md"], "| | CNN | dense network |")
    assert len(rows) == len(expected)
    for row, figures in zip(rows, expected, strict=True):
        assert row.endswith(f"| {figures}"), (row, figures)
