"""Bad input and faults through the real API: clear messages, a server that stays up, nothing read or kept.

Every case of bad_inputs.CASES goes through gradio_client to the running app, followed by a good request;
the rest try the limits and the file routes with raw HTTP, as a script would, and start the app on
tampered weights.
"""

import ast
import hashlib
import os
import tempfile
from pathlib import Path

import httpx
import pytest
from gradio_client.exceptions import AppError

import bad_inputs
from bad_inputs import NOT_IMAGE
from conftest import REPO

# Text that would mean a message shows the app's insides rather than speaking to a person.
INTERNALS = (
    "Traceback",
    'File "',
    "/tmp/",
    "site-packages",
    str(REPO),
    "Exception",
    "Error:",
    "UnidentifiedImageError",
    "DecompressionBomb",
    "OSError",
    "ValueError",
    "KeyError",
    "upstream Gradio app",
    "show_error",
)
TIMEOUT_S = 60
GOOD = "good.png"


def ask(client, value, endpoint: str):
    return client.submit(bad_inputs.to_api(value), api_name=endpoint).result(timeout=TIMEOUT_S)


def assert_human(message: str) -> None:
    assert message.strip() and len(message) < 200, message
    leaks = [text for text in INTERNALS if text in message]
    assert not leaks, f"{message!r} shows {leaks}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    """Every case written once: the folder and each case's value."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    bad_inputs.on_paper().save(folder / GOOD)
    return folder, bad_inputs.build_all(folder)


@pytest.mark.parametrize("name", bad_inputs.CASES)
def test_bad_or_odd_input_gets_an_answer_or_a_clear_message(client, corpus, name):
    folder, values = corpus
    case, value = bad_inputs.CASES[name], values[name]
    if case.expected.isdigit():
        cnn, linear, _, summary = ask(client, value, case.endpoint)
        assert cnn["label"] == case.expected, summary
    else:
        with pytest.raises((AppError, ValueError)) as error:
            ask(client, value, case.endpoint)
        # gradio_client's own size refusal names the caller's file: theirs to see, not the server's insides
        message = str(error.value).replace(str(value), "the file") if isinstance(value, Path) else str(error.value)
        assert case.expected in message
        assert_human(message)
    cnn, _, _, _ = ask(client, folder / GOOD, "/classify")
    assert cnn["label"] == bad_inputs.LABEL


def test_server_refuses_an_upload_over_the_size_limit(app_url, corpus):
    """A script that skips gradio_client's own check gets a 413 and a plain sentence, before any decoding."""
    _, values = corpus
    huge = values["file over the upload size limit"]
    response = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("huge.png", huge.read_bytes())}, timeout=60)
    assert response.status_code == 413
    assert "exceeded maximum allowed size" in response.text
    assert_human(response.text)


def server_temp_dir() -> Path:
    """Where the app started by conftest keeps uploads: Gradio's default, as it does not set GRADIO_TEMP_DIR."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "filename", ["../../app.py", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "..\\..\\app.py", "../weights/metrics.json"]
)
def test_upload_names_cannot_reach_outside_the_cache(app_url, corpus, filename):
    folder, _ = corpus
    guarded = [REPO / "app.py", REPO / "weights" / "metrics.json", Path("/etc/passwd")]
    before = [digest(path) for path in guarded]
    response = httpx.post(
        f"{app_url}gradio_api/upload", files={"files": (filename, (folder / GOOD).read_bytes())}, timeout=60
    )
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        (stored,) = response.json()
        assert Path(stored).resolve().is_relative_to(server_temp_dir()), stored
        assert "passwd" not in Path(stored).parent.name and ".." not in Path(stored).parts
    assert [digest(path) for path in guarded] == before


def call(app_url: str, endpoint: str, value) -> tuple[str, str]:
    """One request through Gradio's documented HTTP API: the final event's name and its data."""
    start = httpx.post(f"{app_url}gradio_api/call{endpoint}", json={"data": [value]}, timeout=TIMEOUT_S)
    start.raise_for_status()
    stream = httpx.get(f"{app_url}gradio_api/call{endpoint}/{start.json()['event_id']}", timeout=TIMEOUT_S)
    events = [line.removeprefix("event: ") for line in stream.text.splitlines() if line.startswith("event: ")]
    data = [line.removeprefix("data: ") for line in stream.text.splitlines() if line.startswith("data: ")]
    return events[-1], data[-1]


SECRETS = {"/etc/passwd": "root:", str(REPO / "app.py"): "import gradio", str(REPO / "model_defs.py"): "def build"}


# an image the app itself shows on the page, outside the upload cache: readable, so only a refusal keeps it out
CURVES = REPO / "weights" / "curves.png"


@pytest.mark.parametrize("path", [*SECRETS, f"{server_temp_dir()}/../../../etc/passwd", "app.py", str(CURVES)])
def test_the_api_reads_no_file_that_was_not_uploaded(app_url, path):
    file_data = {"path": path, "meta": {"_type": "gradio.FileData"}}
    for endpoint, value in [("/classify", file_data), ("/classify_sketch", {"layers": [file_data]})]:
        event, data = call(app_url, endpoint, value)
        assert event == "error"
        assert not any(secret in data for secret in SECRETS.values())
        assert not any(reading in data for reading in ("No digit found", NOT_IMAGE, "damaged", "models say")), data


@pytest.mark.parametrize(
    "path",
    [*SECRETS, "app.py", "weights/metrics.json", "weights/curves.png", str(CURVES), "..%2F..%2F..%2Fetc%2Fpasswd"],
)
def test_the_file_route_serves_nothing_outside_the_cache(app_url, path):
    for route in ("gradio_api/file=", "file="):
        response = httpx.get(f"{app_url}{route}{path}", timeout=TIMEOUT_S)
        assert response.status_code in (403, 404), (route, path, response.status_code)
        assert not any(secret in response.text for secret in SECRETS.values())


def test_weights_only_go_into_the_architectures_model_defs_builds():
    """Only model_defs.load_model reads weights, into the model it has just built: no whole-model or pickled file."""
    found = set()
    for path in REPO.rglob("*.py"):
        if "tests" in path.relative_to(REPO).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("load_weights", "load_model"):
                found.add(f"{path.name}: {ast.unparse(node)}")
            elif isinstance(node, ast.keyword) and node.arg == "safe_mode":
                found.add(f"{path.name}: safe_mode")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                found.update(f"{path.name}: import {alias.name}" for alias in node.names if "pickle" in alias.name)
    found = {item for item in found if not item.endswith(": model_defs.load_model")}
    assert found == {"model_defs.py: model.load_weights"}
