"""Put the app on a Hugging Face Space: exactly the files the Space needs, in one commit.

    python deploy_space.py someone/digit-studio --dry-run    # the files it would upload, one a line; no network
    python deploy_space.py someone/digit-studio              # create the Gradio Space if missing, then upload
    python deploy_space.py someone/digit-studio --weights-repo someone/digit-studio --hardware cpu-upgrade
    python deploy_space.py someone/digit-studio --feedback-repo someone/digit-feedback  # keep corrections on the Hub

The files are app.py, model_defs.py, the digit_studio package, requirements.txt, README.md, weights/ and examples/:
no tests, benchmarks, experiments, docs or training code. huggingface_hub sends the binaries through the Hub's
large-file storage by itself. Files already on the Space that are not in the list are deleted in the same commit.
--weights-repo sets the Space variable WEIGHTS_REPO (app.py then serves that model repo's weights) and names the
repo under `models:` in the uploaded README; --weights-revision sets WEIGHTS_REVISION. --feedback-repo creates that
dataset repo (private) if missing and sets FEEDBACK_REPO: the Space then pushes visitors' corrections to it, once the
Space has a token that may write to it (the secret HF_TOKEN, which it tells how to add).
Needs a token with write access (`hf auth login`, or HF_TOKEN). Any failure is one line and a non-zero status
that says what had already changed on the Hub.
"""

import argparse
import sys
from pathlib import Path

from digit_studio import hub

ROOT = Path(__file__).resolve().parent
# What the Space runs, and nothing else: the entry, the networks, the package, the pins, the weights and examples.
SPACE_FILES = ("app.py", "model_defs.py", "requirements.txt", "README.md")
SPACE_DIRS = ("digit_studio", "weights", "examples")


def space_files(root: Path = ROOT) -> list[str]:
    """Paths, relative to root, of every file the Space needs."""
    files = [Path(name) for name in SPACE_FILES]
    for folder in SPACE_DIRS:
        files.extend(
            path.relative_to(root)
            for path in (root / folder).rglob("*")
            if path.is_file()
            and not any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts)
        )
    return sorted(path.as_posix() for path in files)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from huggingface_hub import SpaceHardware

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space_id", help="the Space, as owner/name")
    parser.add_argument("--dry-run", action="store_true", help="print the files it would upload, one a line, and stop")
    parser.add_argument("--weights-repo", help="a model repo (owner/name) the Space serves weights from")
    parser.add_argument("--weights-revision", help="a branch, tag or commit of --weights-repo")
    parser.add_argument("--feedback-repo", help="a dataset repo (owner/name) for visitors' corrections; private if new")
    parser.add_argument("--hardware", choices=[flavor.value for flavor in SpaceHardware], help="request this hardware")
    args = parser.parse_args(argv)
    if args.weights_revision is not None and args.weights_repo is None:
        parser.error("--weights-revision needs --weights-repo")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        hub.check_repo_id(args.space_id, "Space")
        if args.weights_repo is not None:
            hub.check_repo_id(args.weights_repo, "model repo")
        if args.feedback_repo is not None:
            hub.check_repo_id(args.feedback_repo, "dataset repo")
    except hub.DeployError as error:
        print(f"deploy_space.py: {error}", file=sys.stderr)
        return 2
    files = space_files()
    if args.dry_run:
        print("\n".join(files))
        return 0
    done: list[str] = []
    try:
        variables = {
            "WEIGHTS_REPO": args.weights_repo,
            "WEIGHTS_REVISION": args.weights_revision,
            "FEEDBACK_REPO": args.feedback_repo,
        }
        variables = {key: value for key, value in variables.items() if value is not None}
        url = hub.deploy_space(args.space_id, ROOT, files, variables, args.hardware, done)
    except Exception as error:  # offline, refused, another SDK: all end in one line saying what changed
        reason = str(error) if isinstance(error, hub.DeployError) else hub.hub_reason(error, args.space_id)
        changed = (
            f"Already done on the Hub: {'; '.join(done)}; no file was uploaded (the upload is one commit, made last)"
            if done
            else "Nothing was changed on the Hub"
        )
        print(f"deploy_space.py: {reason}. {changed}.", file=sys.stderr)
        return 1
    print(f"uploaded {len(files)} files in one commit: {url}")
    if done:
        print("Also: " + "; ".join(done))
    if args.feedback_repo is not None:
        print(
            f"To push corrections to {args.feedback_repo}, add a token that may write to it as the secret HF_TOKEN "
            f"in the Space's settings: https://huggingface.co/spaces/{args.space_id}/settings"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
