"""The studio's Hugging Face Hub code: the served weights downloaded from a model repo (app.py), trained ones uploaded
to it with a model card (train.py), and the Space deployed in one commit (deploy_space.py).

huggingface_hub, and model_defs with Keras, are imported where they are used: the app on the committed weights never
needs the first, and deploying a Space needs neither.
"""

import os
import sys
from pathlib import Path

PUSH_EVERY_MIN = 5  # how often the corrections folder is pushed to its dataset (FEEDBACK_PUSH_MINUTES)


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else error.__class__.__name__


def weights_dir() -> Path:
    """weights/ (or the folder WEIGHTS_DIR names) by default; a snapshot of WEIGHTS_REPO on the Hub when that is set
    (at WEIGHTS_REVISION, if set)."""
    import model_defs

    repo_id = os.environ.get("WEIGHTS_REPO")
    if not repo_id:
        return Path(os.environ.get("WEIGHTS_DIR", model_defs.WEIGHTS_DIR))
    import huggingface_hub

    names = [model_defs.weights_file(name) for name in model_defs.MODEL_NAMES]
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id,
            revision=os.environ.get("WEIGHTS_REVISION"),
            allow_patterns=[*names, model_defs.METRICS_FILE, "*.png"],
        )
    except Exception as error:  # offline, unknown repo or revision, no permission: all end the same way
        raise model_defs.WeightsError(f"cannot download weights from {repo_id}: {first_line(error)}") from None
    return Path(folder)


def corrections_folder(source: str) -> Path:
    """A corrections set: source itself when it is a folder, else a snapshot of the Hub dataset it names."""
    if Path(source).is_dir():
        return Path(source)
    import huggingface_hub

    try:
        return Path(huggingface_hub.snapshot_download(source, repo_type="dataset"))
    except Exception as error:  # not a folder, and not a dataset the Hub gives us
        raise OSError(f"no such folder, and no Hub dataset: {first_line(error)}") from None


def push_corrections(folder: Path, repo_id: str):
    """A CommitScheduler that pushes the corrections folder to the Hub dataset repo_id every PUSH_EVERY_MIN minutes
    (made private if it does not exist; a failed push is retried at the next); None, with one line on stderr, when
    the Hub cannot be reached or the token is refused at start: corrections then stay on this server."""
    import huggingface_hub

    try:
        return huggingface_hub.CommitScheduler(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=folder,
            every=float(os.environ.get("FEEDBACK_PUSH_MINUTES", PUSH_EVERY_MIN)),
            private=True,
            allow_patterns=["metadata.jsonl", "images/*.png", "strokes/*.png"],  # never a file half written
        )
    except Exception as error:
        print(f"app.py: corrections stay on this server: cannot use {repo_id}: {first_line(error)}", file=sys.stderr)
        return None


MODEL_CARD = """---
library_name: keras
license: cc-by-sa-3.0
datasets: [mnist]
tags: [image-classification, mnist, keras]
---
# Handwritten-digit studio weights

Weights for the two Keras 3 models of the handwritten-digit studio: a LeNet-style CNN and a
plain dense network, trained on the 60,000 MNIST training images by `train.py`.
Build the architectures with `model_defs.build_cnn()` / `build_linear()` and load these files
with `model.load_weights(...)`; `metrics.json` holds each file's sha256.

| model | parameters | accuracy | scored on |
|---|---|---|---|
{rows}
"""


class UploadError(Exception):
    """The upload failed (no network, no token, no permission); the local files are as they were."""


def push_to_hub(repo_id: str, output_dir: Path, metrics: dict, files: list[str]) -> None:
    """Upload files (names in output_dir) to the model repo repo_id, with a model card from metrics."""
    import huggingface_hub

    import model_defs

    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {accuracy:.2%} | {images} |"
        for entry in metrics["models"].values()
        for images, accuracy, _ in [model_defs.scored_on(entry)]
    )
    api = huggingface_hub.HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        api.upload_file(
            path_or_fileobj=MODEL_CARD.format(rows=rows).encode(), path_in_repo="README.md", repo_id=repo_id
        )
        api.upload_folder(
            folder_path=str(output_dir),
            repo_id=repo_id,
            allow_patterns=list(files),
            commit_message="Upload weights from train.py",
        )
    except Exception as error:  # network down, no token, no permission: all end the same way
        raise UploadError(
            f"upload to {repo_id} failed ({first_line(error)}); the files in {output_dir} are unchanged"
        ) from None
    print(f"uploaded to https://huggingface.co/{repo_id}")


class DeployError(Exception):
    """A failure the user can act on; its message is the one line printed."""


# Every Space repo holds it (the Hub writes it at creation); deleting it would undo the large-file rules.
KEPT_ON_SPACE = {".gitattributes"}


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


def deploy_space(
    space_id: str, root: Path, files: list[str], variables: dict[str, str], hardware: str | None, done: list[str]
) -> str:
    """Create the Gradio Space if missing, set its variables and hardware, and upload files (paths under root, the
    README with space_readme's front matter) in one commit that deletes every other file; appends each change to
    done, and returns the commit's URL."""
    import huggingface_hub
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    token = huggingface_hub.get_token()
    if token is None:
        raise DeployError("no Hugging Face token: run `hf auth login`, or set HF_TOKEN to a token with write access")
    api = HfApi(token=token)
    try:
        sdk = api.space_info(space_id).sdk
    except RepositoryNotFoundError:
        sdk = None
    if sdk is None:
        api.create_repo(space_id, repo_type="space", space_sdk="gradio")
        done.append(f"created the Gradio Space {space_id}")
    elif sdk != "gradio":
        raise DeployError(f"{space_id} is a {sdk} Space, and this app needs a Gradio one: choose another Space id")
    if "FEEDBACK_REPO" in variables:  # visitors' corrections: private unless its owner made it public already
        api.create_repo(variables["FEEDBACK_REPO"], repo_type="dataset", private=True, exist_ok=True)
        done.append(f"made sure of the dataset repo {variables['FEEDBACK_REPO']} (private if new)")
    for key, value in variables.items():
        api.add_space_variable(space_id, key, value)
        done.append(f"set the Space variable {key}={value}")
    if hardware is not None:
        api.request_space_hardware(space_id, hardware)
        done.append(f"requested {hardware} hardware")
    readme = space_readme((root / "README.md").read_text(), variables.get("WEIGHTS_REPO")).encode()
    operations = [CommitOperationAdd(name, readme if name == "README.md" else str(root / name)) for name in files] + [
        CommitOperationDelete(name)
        for name in api.list_repo_files(space_id, repo_type="space")
        if name not in files and name not in KEPT_ON_SPACE
    ]
    commit = api.create_commit(
        space_id, operations, repo_type="space", commit_message=f"Deploy {len(files)} files with deploy_space.py"
    )
    return commit.commit_url
