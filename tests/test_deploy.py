"""deploy_space.py as a user runs it: the files it uploads stand alone, and every failure is one clear line.

No test contacts the real Hub: HF_ENDPOINT always points at 127.0.0.1, at a dead port or at a tiny fake Hub.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from test_space import hub_cache, hub_env

import deploy_space
from conftest import REPO
from digit_studio.hub import space_readme
from digit_studio.local_server import free_port, start_app, stop_app

SPACE = "someone/digit-studio"
FEEDBACK = "someone/digit-feedback"


def run_deploy(*args: str, endpoint: str, home, token: str | None = "hf_not_a_real_token", **env_vars: str):
    """`python deploy_space.py ...` with no Hugging Face setting of this machine, and the Hub at endpoint."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING_FACE"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", **env_vars)
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "deploy_space.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_dry_run_lists_what_the_space_needs(tmp_path):
    result = run_deploy(SPACE, "--dry-run", endpoint=dead_endpoint(), token=None, home=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.splitlines()
    assert listed == sorted(set(listed))
    assert {name for name in listed if "/" not in name} == {"app.py", "model_defs.py", "requirements.txt", "README.md"}
    for folder in ("digit_studio", "weights", "examples"):
        on_disk = {
            path.relative_to(REPO).as_posix()
            for path in (REPO / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert {name for name in listed if name.startswith(f"{folder}/")} == on_disk
    assert not [name for name in listed if name.startswith(("tests/", "benchmarks/")) or name.startswith("train")]
    assert not [name for name in listed if name.startswith("requirements-")]


def test_the_space_gets_the_listed_files_and_folders_and_nothing_else(tmp_path):
    """The entry, the networks, the package, the pins and README, weights/ and examples/; no hidden or cached file."""
    files = {
        "app.py": "",
        "model_defs.py": "",
        "digit_studio/__init__.py": "",
        "digit_studio/web/page.py": "",
        "digit_studio/web/__pycache__/page.cpython-311.pyc": "",
        "train.py": "",
        "deploy_space.py": "",
        "experiments/wide_cnn.py": "",
        "tests/test_x.py": "",
        "docs/api.md": "",
        "requirements.txt": "",
        "requirements-dev.txt": "",
        "README.md": "",
        "weights/w.h5": "",
        "examples/1.png": "",
        "examples/.hidden": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert deploy_space.space_files(tmp_path) == [
        "README.md",
        "app.py",
        "digit_studio/__init__.py",
        "digit_studio/web/page.py",
        "examples/1.png",
        "model_defs.py",
        "requirements.txt",
        "weights/w.h5",
    ]


@pytest.mark.server
def test_the_uploaded_files_run_the_app_alone_on_weights_from_a_hub_repo(tmp_path):
    """A copy of exactly the listed files serves, as a Space does, here with WEIGHTS_REPO set (its snapshot in a
    local Hub cache, offline)."""
    listed = run_deploy(SPACE, "--dry-run", endpoint=dead_endpoint(), token=None, home=tmp_path).stdout.splitlines()
    space = tmp_path / "space"
    for name in listed:
        (space / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, space / name)
    from gradio_client import Client, handle_file

    cache, _ = hub_cache(tmp_path, "someone/digit-studio")
    process, url = start_app({"PYTHONPATH": "", **hub_env(cache)}, cwd=space)
    try:
        client = Client(url, verbose=False)
        for example in (space / "examples/2_paper_photo.jpg", space / "examples/7_mnist.png"):
            cnn, linear, _, _ = client.predict(handle_file(str(example)), api_name="/classify")
            assert cnn["label"] == linear["label"] == example.name[0]
        client.close()
    finally:
        stop_app(process)


@pytest.mark.parametrize("space_id", ["digit-studio", "someone/digit studio", "a/b/c", "someone/-studio", "x--y/z"])
def test_a_malformed_space_id_is_one_line(tmp_path, space_id):
    result = run_deploy(space_id, endpoint=dead_endpoint(), home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"deploy_space.py: {space_id!r} is not a Space id: give it as owner/name")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_no_token_is_one_line(tmp_path):
    result = run_deploy(SPACE, endpoint=dead_endpoint(), token=None, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "deploy_space.py: no Hugging Face token: run `hf auth login`, or set HF_TOKEN to a token with write access."
        " Nothing was changed on the Hub.\n"
    )


def test_offline_is_one_line(tmp_path):
    endpoint = dead_endpoint()
    result = run_deploy(SPACE, endpoint=endpoint, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"deploy_space.py: cannot reach the Hub at {endpoint} (")
    assert result.stderr.endswith("). Nothing was changed on the Hub.\n") and result.stderr.count("\n") == 1


def test_hub_offline_mode_is_one_line(tmp_path):
    result = run_deploy(SPACE, endpoint=dead_endpoint(), home=tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode == 1
    assert result.stderr == (
        "deploy_space.py: HF_HUB_OFFLINE is set, so the Hub cannot be reached. Nothing was changed on the Hub.\n"
    )


class FakeHub(BaseHTTPRequestHandler):
    """The Hub's answers for one Space, recording what it is sent. Creating a Space is always allowed."""

    sdk: str | None  # the Space's SDK; None: no such Space yet
    writable: bool  # False: every write to the Space is refused, as for a read-only token
    on_space: list[str]  # files already on the Space
    requests: list[tuple[str, str]]
    sent: dict  # what a write sent, by kind: "commit" (parsed ndjson lines), "variables", "hardware"

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def answer(self, status: int, body, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path))
        if self.path.startswith(f"/api/spaces/{SPACE}/tree/"):
            self.answer(200, [{"type": "file", "path": path, "size": 1, "oid": "0" * 40} for path in self.on_space])
        elif self.path.startswith(f"/api/spaces/{SPACE}") and self.sdk is not None:
            self.answer(200, {"id": SPACE, "sdk": self.sdk, "private": False})
        else:
            self.answer(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

    def do_POST(self) -> None:
        self.requests.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = self.path.split("?")[0].rsplit("/", 1)[-1]
        if self.path == "/api/repos/create":
            created = json.loads(body)
            self.sent.setdefault("create", []).append(created)
            kind, name = f"{created.get('type', 'model')}s/", f"{created['organization']}/{created['name']}"
            self.answer(200, {"url": f"http://{self.headers['Host']}/{kind}{name}", "name": name})
        elif self.path == "/api/validate-yaml":
            self.answer(200, {"errors": [], "warnings": []})
        elif not self.writable:
            message = "You don't have the rights to write to this repository"
            self.answer(403, {"error": message}, {"X-Error-Message": message})
        elif self.path.startswith(f"/api/datasets/{FEEDBACK}/preupload/"):
            files = json.loads(body)["files"]
            self.answer(
                200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        elif self.path.startswith(f"/api/datasets/{FEEDBACK}/commit/"):
            self.sent.setdefault("dataset commits", []).append([json.loads(line) for line in body.splitlines()])
            url = f"http://{self.headers['Host']}/datasets/{FEEDBACK}/commit/{'2' * 40}"
            self.answer(200, {"commitUrl": url, "commitOid": "2" * 40, "pullRequestUrl": None})
        elif self.path.startswith(f"/api/spaces/{SPACE}/preupload/"):
            files = json.loads(body)["files"]
            self.answer(
                200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        elif self.path.startswith(f"/api/spaces/{SPACE}/commit/"):
            self.sent["commit"] = [json.loads(line) for line in body.splitlines()]
            url = f"http://{self.headers['Host']}/spaces/{SPACE}/commit/{'1' * 40}"
            self.answer(200, {"commitUrl": url, "commitOid": "1" * 40, "pullRequestUrl": None})
        elif kind in ("variables", "hardware"):
            self.sent.setdefault(kind, []).append(json.loads(body))
            self.answer(200, {} if kind == "variables" else {"stage": "BUILDING", "hardware": {"current": None}})
        else:
            self.answer(404, {"error": f"the fake Hub does not know {self.path}"})


@pytest.fixture
def fake_hub():
    """Start a fake Hub on 127.0.0.1; yields a function that sets up its Space and returns (endpoint, handler)."""
    handler = type("Hub", (FakeHub,), {"requests": [], "sent": {}, "on_space": [], "writable": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def with_space(sdk: str | None, **settings):
        handler.sdk = sdk
        for key, value in settings.items():
            setattr(handler, key, value)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    try:
        yield with_space
    finally:
        server.shutdown()
        server.server_close()


def test_deploy_uploads_exactly_the_listed_files_in_one_commit(tmp_path, fake_hub):
    endpoint, hub = fake_hub("gradio", writable=True, on_space=[".gitattributes", "app.py", "old_module.py"])
    listed = run_deploy(SPACE, "--dry-run", endpoint=endpoint, home=tmp_path).stdout.splitlines()
    options = ["--weights-repo", "someone/digit-weights", "--weights-revision", "v1", "--hardware", "cpu-upgrade"]
    result = run_deploy(SPACE, *options, endpoint=endpoint, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"uploaded {len(listed)} files in one commit: {endpoint}/spaces/{SPACE}/commit/")
    header, *operations = hub.sent["commit"]
    assert header["key"] == "header"
    added = {op["value"]["path"]: base64.b64decode(op["value"]["content"]) for op in operations if op["key"] == "file"}
    assert sorted(added) == listed
    readme = (REPO / "README.md").read_text()
    assert added.pop("README.md").decode() == space_readme(readme, "someone/digit-weights")
    assert all(content == (REPO / path).read_bytes() for path, content in added.items())
    assert [op["value"]["path"] for op in operations if op["key"] == "deletedFile"] == ["old_module.py"]
    assert hub.sent["variables"] == [
        {"key": "WEIGHTS_REPO", "value": "someone/digit-weights"},
        {"key": "WEIGHTS_REVISION", "value": "v1"},
    ]
    assert [request["flavor"] for request in hub.sent["hardware"]] == ["cpu-upgrade"]
    assert [method for method, path in hub.requests if "/commit/" in path] == ["POST"]
    assert result.stdout.splitlines()[1] == (
        "Also: set the Space variable WEIGHTS_REPO=someone/digit-weights; set the Space variable WEIGHTS_REVISION=v1;"
        " requested cpu-upgrade hardware"
    )


def test_a_space_with_another_sdk_is_refused(tmp_path, fake_hub):
    endpoint, hub = fake_hub("docker")
    result = run_deploy(SPACE, endpoint=endpoint, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"deploy_space.py: {SPACE} is a docker Space, and this app needs a Gradio one: choose another Space id."
        " Nothing was changed on the Hub.\n"
    )
    assert [method for method, _ in hub.requests] == ["GET"]


def test_a_token_without_write_access_is_one_line(tmp_path, fake_hub):
    endpoint, hub = fake_hub("gradio")
    result = run_deploy(SPACE, endpoint=endpoint, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"deploy_space.py: the token has no write access to {SPACE} (HTTP 403)")
    assert "You don't have the rights" in result.stderr
    assert result.stderr.endswith("Nothing was changed on the Hub.\n") and result.stderr.count("\n") == 1
    assert ("POST", f"/api/spaces/{SPACE}/preupload/main") in hub.requests


def test_a_failure_says_what_changed_before_it(tmp_path, fake_hub):
    """The Space is created, then the upload is refused: the line says the Space exists now, empty."""
    endpoint, hub = fake_hub(None)
    result = run_deploy(SPACE, endpoint=endpoint, home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"deploy_space.py: the token has no write access to {SPACE} (HTTP 403)")
    assert result.stderr.endswith(
        f"Already done on the Hub: created the Gradio Space {SPACE}; no file was uploaded"
        " (the upload is one commit, made last).\n"
    )
    assert ("POST", "/api/repos/create") in hub.requests


def test_a_feedback_repo_is_made_private_and_named_to_the_space(tmp_path, fake_hub):
    """--feedback-repo creates the dataset repo (private), sets FEEDBACK_REPO and says how to add the token."""
    endpoint, hub = fake_hub("gradio", writable=True)
    result = run_deploy(SPACE, "--feedback-repo", "someone/digit-feedback", endpoint=endpoint, home=tmp_path)
    assert result.returncode == 0, result.stderr
    (created,) = hub.sent["create"]
    assert (created["organization"], created["name"], created["type"], created["visibility"]) == (
        "someone", "digit-feedback", "dataset", "private"
    )  # fmt: skip
    assert hub.sent["variables"] == [{"key": "FEEDBACK_REPO", "value": "someone/digit-feedback"}]
    assert "add a token that may write to it as the secret HF_TOKEN" in result.stdout


def test_a_malformed_feedback_repo_is_one_line(tmp_path):
    result = run_deploy(SPACE, "--feedback-repo", "no slash", endpoint=dead_endpoint(), home=tmp_path)
    assert result.returncode == 2 and "dataset repo" in result.stderr and "Traceback" not in result.stderr


def app_env(endpoint: str, folder, **settings: str) -> dict:
    """The app's environment with no Hugging Face setting of this machine, the Hub at endpoint."""
    env = {key: "" for key in os.environ if key.startswith(("HF_", "HUGGING_FACE"))}
    return {**env, "HF_ENDPOINT": endpoint, "HF_HOME": str(folder / "hf"), "FEEDBACK_DIR": str(folder / "kept"),
            "HF_TOKEN": "hf_not_a_real_token", "FEEDBACK_REPO": FEEDBACK, **settings}  # fmt: skip


def correct_one(url: str) -> dict:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    try:
        return client.predict(handle_file(str(REPO / "examples/7_mnist.png")), "7", api_name="/correct")
    finally:
        client.close()


@pytest.mark.server
def test_the_app_pushes_corrections_to_its_feedback_repo(tmp_path, fake_hub):
    """With FEEDBACK_REPO, a correction reaches the dataset repo in the scheduler's next commit: its row in
    metadata.jsonl and its image; the page says where corrections go."""
    endpoint, hub = fake_hub("gradio", writable=True)
    process, url = start_app(app_env(endpoint, tmp_path, FEEDBACK_PUSH_MINUTES="0.03"))
    try:
        assert f"pushed every few minutes to the Hugging Face dataset {FEEDBACK}" in json.dumps(
            httpx.get(url + "config", timeout=30).json()
        )
        row = correct_one(url)
        for _ in range(60):
            pushed = {
                op["value"]["path"]: base64.b64decode(op["value"]["content"])
                for commit in hub.sent.get("dataset commits", [])
                for op in commit
                if op["key"] == "file"
            }
            if row["file_name"] in pushed:
                break
            time.sleep(0.5)
        assert row["file_name"] in pushed, hub.requests[-10:]
        assert json.loads(pushed["metadata.jsonl"].splitlines()[-1]) == row
        assert not any(".partial" in path for path in pushed)
    finally:
        stop_app(process)


def test_an_unreachable_feedback_repo_keeps_corrections_on_the_server(tmp_path):
    """No Hub at start: one line on stderr, no scheduler, and the app keeps its corrections locally (its page then
    says "kept on this server only", as every test app's does)."""
    code = f"from digit_studio import hub; print(hub.push_corrections({str(tmp_path / 'kept')!r}, 'a/b'))"
    env = {**os.environ, **app_env(dead_endpoint(), tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout == "None\n" and "Traceback" not in result.stderr
    assert result.stderr.startswith("app.py: corrections stay on this server: cannot use a/b:")
