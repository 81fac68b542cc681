"""The Hugging Face Hub: the trained weights, metrics and plots uploaded to a model repo with a model card."""

from pathlib import Path

import model_defs

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
        reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise UploadError(f"upload to {repo_id} failed ({reason}); the files in {output_dir} are unchanged") from None
    print(f"uploaded to https://huggingface.co/{repo_id}")
