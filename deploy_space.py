"""Put the app on a Hugging Face Space: exactly the files the Space needs, in one commit.

    python deploy_space.py someone/digit-studio --dry-run    # the files it would upload, one a line; no network
    python deploy_space.py someone/digit-studio              # create the Gradio Space if missing, then upload
    python deploy_space.py someone/digit-studio --weights-repo someone/digit-studio --hardware cpu-upgrade

The files are app.py and every local module it imports (followed through their own imports), requirements.txt,
README.md, weights/ and examples/: no tests, benchmarks or training code. huggingface_hub sends the binaries
through the Hub's large-file storage by itself. Files already on the Space that are not in the list are deleted
in the same commit. --weights-repo sets the Space variable WEIGHTS_REPO (app.py then serves that model repo's
weights) and names the repo under `models:` in the uploaded README; --weights-revision sets WEIGHTS_REVISION.
Needs a token with write access (`hf auth login`, or HF_TOKEN). Any failure is one line and a non-zero status
that says what had already changed on the Hub.
"""

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
APP_FILE = "app.py"
DATA_FILES = ("requirements.txt", "README.md")
DATA_DIRS = ("weights", "examples")
# Every Space repo holds it (the Hub writes it at creation); deleting it would undo the large-file rules.
KEPT_ON_SPACE = {".gitattributes"}


class DeployError(Exception):
    """A failure the user can act on; its message is the one line printed."""


def module_file(dotted_name: str, root: Path) -> Path | None:
    """The file under root that `import dotted_name` loads, if it is one of ours."""
    base = root.joinpath(*dotted_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, root: Path) -> set[str]:
    """Dotted names of every module path imports, lazily inside functions too, with packages' parents."""
    package = list(path.relative_to(root).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *filter(None, [node.module])])
            names.add(base)
            names.update(f"{base}.{alias.name}".lstrip(".") for alias in node.names)  # `from pkg import submodule`
    return {".".join(name.split(".")[:depth]) for name in names if name for depth in range(1, name.count(".") + 2)}


def app_modules(root: Path = ROOT) -> list[Path]:
    """app.py and every local module it imports, followed transitively."""
    found, pending = set(), [root / APP_FILE]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        found.add(path)
        pending.extend(filter(None, (module_file(name, root) for name in imported_names(path, root))))
    return sorted(found)


def space_files(root: Path = ROOT) -> list[str]:
    """Paths, relative to root, of every file the Space needs."""
    files = [path.relative_to(root) for path in app_modules(root)] + [Path(name) for name in DATA_FILES]
    for folder in DATA_DIRS:
        files.extend(
            path.relative_to(root)
            for path in (root / folder).rglob("*")
            if path.is_file()
            and not any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(root).parts)
        )
    return sorted(path.as_posix() for path in files)


def space_readme(readme: str, weights_repo: str | None) -> str:
    """README.md as uploaded: with a weights repo, its front matter names it under `models:`, so the Hub links both."""
    if weights_repo is None:
        return readme
    _, front_matter, body = readme.split("---\n", 2)
    return f"---\n{front_matter}models:\n  - {weights_repo}\n---\n{body}"


def check_repo_id(repo_id: str, kind: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
        valid = repo_id.count("/") == 1
    except HFValidationError:
        valid = False
    if not valid:
        raise DeployError(
            f"{repo_id!r} is not a {kind} id: give it as owner/name, e.g. someone/digit-studio"
            " (letters, digits, '-', '_' and '.'; no '--' or '..'; at most 96 characters)"
        )
    return repo_id


def hub_reason(error: Exception, space_id: str) -> str:
    """One line for any failure talking to the Hub."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, HTTPError, OfflineModeIsEnabled

    if isinstance(error, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set, so the Hub cannot be reached"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        said = f" (the Hub said: {error.server_message.strip().splitlines()[0]})" if error.server_message else ""
        if status == 401:
            return f"the Hub refused the token (HTTP 401){said}: log in again with `hf auth login` or set HF_TOKEN"
        if status == 403:
            return f"the token has no write access to {space_id} (HTTP 403){said}: use a token with write access"
        return f"the Hub answered HTTP {status}{said}"
    text = " ".join(str(error).split()) or error.__class__.__name__
    if isinstance(error, HTTPError):  # no answer at all: refused connection, DNS, timeout
        return f"cannot reach the Hub at {constants.ENDPOINT} ({text})"
    return text  # for example the Hub's own check of README.md's metadata


def deploy(args: argparse.Namespace, files: list[str], done: list[str]) -> str:
    """Create the Space if missing, set its variables and hardware, upload files; appends each change to done."""
    import huggingface_hub
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    token = huggingface_hub.get_token()
    if token is None:
        raise DeployError("no Hugging Face token: run `hf auth login`, or set HF_TOKEN to a token with write access")
    api = HfApi(token=token)
    space_id = args.space_id
    try:
        sdk = api.space_info(space_id).sdk
    except RepositoryNotFoundError:
        sdk = None
    if sdk is None:
        api.create_repo(space_id, repo_type="space", space_sdk="gradio")
        done.append(f"created the Gradio Space {space_id}")
    elif sdk != "gradio":
        raise DeployError(f"{space_id} is a {sdk} Space, and this app needs a Gradio one: choose another Space id")
    variables = {"WEIGHTS_REPO": args.weights_repo, "WEIGHTS_REVISION": args.weights_revision}
    for key, value in variables.items():
        if value is not None:
            api.add_space_variable(space_id, key, value)
            done.append(f"set the Space variable {key}={value}")
    if args.hardware is not None:
        api.request_space_hardware(space_id, args.hardware)
        done.append(f"requested {args.hardware} hardware")
    readme = space_readme((ROOT / "README.md").read_text(), args.weights_repo).encode()
    operations = [CommitOperationAdd(name, readme if name == "README.md" else str(ROOT / name)) for name in files] + [
        CommitOperationDelete(name)
        for name in api.list_repo_files(space_id, repo_type="space")
        if name not in files and name not in KEPT_ON_SPACE
    ]
    commit = api.create_commit(
        space_id, operations, repo_type="space", commit_message=f"Deploy {len(files)} files with deploy_space.py"
    )
    return commit.commit_url


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from huggingface_hub import SpaceHardware

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space_id", help="the Space, as owner/name")
    parser.add_argument("--dry-run", action="store_true", help="print the files it would upload, one a line, and stop")
    parser.add_argument("--weights-repo", help="a model repo (owner/name) the Space serves weights from")
    parser.add_argument("--weights-revision", help="a branch, tag or commit of --weights-repo")
    parser.add_argument("--hardware", choices=[flavor.value for flavor in SpaceHardware], help="request this hardware")
    args = parser.parse_args(argv)
    if args.weights_revision is not None and args.weights_repo is None:
        parser.error("--weights-revision needs --weights-repo")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_repo_id(args.space_id, "Space")
        if args.weights_repo is not None:
            check_repo_id(args.weights_repo, "model repo")
    except DeployError as error:
        print(f"deploy_space.py: {error}", file=sys.stderr)
        return 2
    files = space_files()
    if args.dry_run:
        print("\n".join(files))
        return 0
    done: list[str] = []
    try:
        url = deploy(args, files, done)
    except Exception as error:  # offline, refused, another SDK: all end in one line saying what changed
        reason = str(error) if isinstance(error, DeployError) else hub_reason(error, args.space_id)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
