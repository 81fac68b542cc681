"""What a Space needs: front matter that matches requirements, and weights from a Hub model repo."""

import os
import re
import shutil
import subprocess
import sys

import pytest

import model_defs
from conftest import REPO, front_matter
from digit_studio import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_front_matter_matches_requirements():
    readme = (REPO / "README.md").read_text()
    fields = front_matter(readme)
    pinned = re.search(r"^gradio\[mcp\]==(\S+)$", (REPO / "requirements.txt").read_text(), flags=re.MULTILINE)[1]
    assert fields["sdk"] == "gradio" and fields["sdk_version"] == pinned and fields["app_file"] == "app.py"
    assert {"title", "emoji", "colorFrom", "colorTo", "license", "short_description"} <= fields.keys()
    # A string: unquoted, YAML reads 3.10 as the number 3.1. tests/test_install.py checks the pins' wheels for it.
    assert re.fullmatch(r"3\.\d+", fields["python_version"])
    assert len(fields["short_description"]) <= 60  # the Hub refuses a longer one
    assert {"mnist", "keras", "image-classification"} <= set(fields["tags"])
    assert "models" not in fields  # the committed weights/ are served; deploy_space.py adds it for a model repo


def test_uploaded_readme_names_the_weights_repo():
    readme = (REPO / "README.md").read_text()
    uploaded = hub.space_readme(readme, "someone/digit-weights")
    assert front_matter(uploaded) == {**front_matter(readme), "models": ["someone/digit-weights"]}
    assert uploaded.split("---\n", 2)[2] == readme.split("---\n", 2)[2]
    assert hub.space_readme(readme, None) == readme


def hub_cache(tmp_path, repo_id: str):
    """A Hugging Face cache holding one snapshot of repo_id, laid out as huggingface_hub lays it out."""
    cache = tmp_path / "hub"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    shutil.copytree(model_defs.WEIGHTS_DIR, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return cache, snapshot


def hub_env(cache) -> dict:
    return {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "WEIGHTS_REPO": "someone/digit-studio"}


@pytest.fixture(scope="module")
def refused_starts(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """`python app.py` where the weights cannot be trusted or fetched, each run to its exit; all at once, as each
    spends most of its time importing TensorFlow."""
    folder = tmp_path_factory.mktemp("refused")
    cache, snapshot = hub_cache(folder, "someone/digit-studio")
    weights = snapshot / model_defs.weights_file("linear")
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    unreachable = {"WEIGHTS_REPO": "someone/digit-studio", "HF_HUB_CACHE": str(folder / "empty")}
    envs = {
        "tampered": hub_env(cache),
        "down": {**unreachable, "HF_ENDPOINT": "http://127.0.0.1:9"},
        "offline": {**unreachable, "HF_HUB_OFFLINE": "1"},
    }
    starts = {
        name: subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in envs.items()
    }
    outputs = {name: start.communicate(timeout=120) for name, start in starts.items()}
    return {
        name: subprocess.CompletedProcess(start.args, start.returncode, *outputs[name])
        for name, start in starts.items()
    }


@pytest.mark.server
def test_tampered_hub_weights_are_refused(refused_starts):
    result = refused_starts["tampered"]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.fullmatch(
        r"app\.py: linear\.weights\.h5: sha256 \S+ differs from \S+ in metrics\.json; refusing to load it",
        result.stderr.strip().splitlines()[-1],
    )


@pytest.mark.server
@pytest.mark.parametrize("name", ["down", "offline"])
def test_unreachable_hub_is_one_clear_line(refused_starts, name):
    result = refused_starts[name]
    assert result.returncode != 0
    assert (
        result.stderr.strip().splitlines()[-1].startswith("app.py: cannot download weights from someone/digit-studio")
    )
