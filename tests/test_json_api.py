"""The JSON routes, /api/classify and /api/classify_batch, on the running app, as a script with curl or httpx meets
them; and json_api.py's form reading on its own.

Every upload case of bad_inputs.CASES goes through /api/classify too, each followed by a good request; the rest
try what only a raw HTTP client can send: no body, a wrong field, too many images or parts, a trickling client.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from test_app import EXAMPLES, NON_DIGITS, label_of
from test_bad_input import assert_human

import bad_inputs
import model_defs
from conftest import BODY_TIMEOUT_S, REPO
from digit_studio import answers
from digit_studio.web import json_api, processes

TIMEOUT_S = 60
OVER_LIMIT = json_api.MAX_BODY_BYTES["classify"] + 1
# The answer each kind of refusal gets, by the piece of message bad_inputs expects.
STATUS_OF = {
    bad_inputs.NOT_IMAGE: 415,
    bad_inputs.DAMAGED: 400,
    bad_inputs.TOO_LARGE: 413,
    bad_inputs.NO_DIGIT: 400,
    bad_inputs.OVER_SIZE_LIMIT: 413,
}
FILE_CASES = [name for name, case in bad_inputs.CASES.items() if case.endpoint == "/classify"]


def png(image: Image.Image) -> bytes:
    return bad_inputs.encoded(image, "PNG")


def classify(app_url: str, **request) -> httpx.Response:
    return httpx.post(f"{app_url}api/classify", timeout=TIMEOUT_S, **request)


def assert_answer(answer: dict, label: str | None) -> None:
    """Both models' answers, whole; label: the digit both name, or None for an image neither takes for a digit."""
    if label is not None:
        assert answer["cnn"]["label"] == answer["linear"]["label"] == label, answer
        assert answer["agree"] is True
    assert answer["is_digit"] is (label is not None)
    for model in model_defs.MODEL_NAMES:
        confidences = answer[model]["confidences"]
        assert list(confidences) == model_defs.CLASS_NAMES
        assert abs(sum(confidences.values()) - 1) < 1e-3
        assert answer[model]["confidence"] == max(confidences.values())
        assert answer[model]["is_digit"] is (label is not None) and 0 <= answer[model]["digit_score"] <= 1
        assert (answer[model]["digit_score"] >= 0.5) is answer[model]["is_digit"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_as_a_form_field_and_as_the_body(app_url, path):
    as_field = classify(app_url, files={"image": (path.name, path.read_bytes())})
    content_type = f"image/{Image.registered_extensions()[path.suffix].lower()}"
    as_body = classify(app_url, content=path.read_bytes(), headers={"Content-Type": content_type})
    for response in (as_field, as_body):
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert_answer(response.json(), label_of(path))


@pytest.mark.parametrize("path", NON_DIGITS, ids=lambda path: path.name)
def test_a_drawing_that_is_no_digit_gets_an_answer_that_says_so(app_url, path):
    response = classify(app_url, files={"image": (path.name, path.read_bytes())})
    assert response.status_code == 200
    assert_answer(response.json(), None)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    return bad_inputs.build_all(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize("name", FILE_CASES)
def test_bad_or_odd_upload_gets_an_answer_or_a_clear_json_error(app_url, corpus, name):
    case, path = bad_inputs.CASES[name], corpus[name]
    response = classify(app_url, files={"image": (path.name, path.read_bytes())})
    if case.expected.isdigit():
        assert response.status_code == 200, response.text
        assert response.json()["cnn"]["label"] == case.expected
    else:
        assert response.status_code == STATUS_OF[case.expected], response.text
        message = response.json()["error"]
        expected = "over the limit of 10 MB" if case.expected == bad_inputs.OVER_SIZE_LIMIT else case.expected
        assert expected in message
        assert_human(message)
    good = classify(app_url, files={"image": ("7.png", png(bad_inputs.on_paper()))})
    assert good.json()["cnn"]["label"] == bad_inputs.LABEL


@pytest.mark.parametrize(
    ("request_args", "status", "message"),
    [
        ({}, 422, "No image was sent"),
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, 422, "No image was sent"),
        ({"files": {"picture": ("7.png", b"x")}}, 422, "No field 'image'"),
        ({"data": {"image": "not a file"}}, 415, "Unsupported Content-Type"),
        ({"files": [("image", ("a.png", b"x")), ("image", ("b.png", b"x"))]}, 422, "/api/classify_batch"),
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "Unsupported Content-Type"),
        ({"content": b"garbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 400, "malformed"),
        ({"content": b"abc", "headers": {"Content-Type": "multipart/form-data"}}, 400, "no boundary"),
        (
            {"content": bytes(OVER_LIMIT), "headers": {"Content-Type": "image/png"}},
            413,
            "",
        ),
    ],
    ids=[
        "no body",
        "empty image body",
        "wrong field",
        "urlencoded form",
        "two images",
        "JSON",
        "malformed form",
        "no boundary",
        "body over the limit",
    ],
)
def test_a_request_without_one_readable_image_gets_a_4xx_and_a_sentence(app_url, request_args, status, message):
    response = classify(app_url, **request_args)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert_human(response.json()["error"])


def test_a_batch_answers_each_image_in_order_and_one_bad_image_fails_only_itself(app_url):
    images, labels = bad_inputs.mnist_data.load_test_from_dir(bad_inputs.MNIST_SUBSET)
    files = [("images", (f"{i}.png", png(Image.fromarray(images[i])))) for i in range(61)]
    bad = {3: b"not an image", 17: png(Image.new("L", (50, 50), 255)), 40: bad_inputs.png_declaring(30_000, 30_000)}
    for index, data in bad.items():
        files.insert(index, ("images", ("bad.png", data)))
    response = httpx.post(f"{app_url}api/classify_batch", files=files, timeout=TIMEOUT_S)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == json_api.MAX_BATCH_IMAGES
    assert [results[index]["error"].split(":")[0].split(";")[0] for index in bad] == [
        "That file is not an image this app can read",
        "No digit found",
        "That image is over the limit of 25 megapixels",
    ]
    good = [result for index, result in enumerate(results) if index not in bad]
    correct = sum(result["cnn"]["label"] == str(label) for result, label in zip(good, labels[:61], strict=True))
    assert correct >= 60


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("images", ("7.png", b"x"))] * 65, 413, "at most 64"),
        ([("image", ("7.png", b"x"))], 422, "No field 'images'"),
    ],
    ids=["65 images", "wrong field"],
)
def test_a_batch_over_the_limit_or_without_its_field_is_refused(app_url, files, status, message):
    response = httpx.post(f"{app_url}api/classify_batch", files=files, timeout=TIMEOUT_S)
    assert response.status_code == status and message in response.json()["error"]


def test_a_batch_sent_as_one_raw_image_is_refused(app_url):
    body = png(bad_inputs.on_paper())
    response = httpx.post(f"{app_url}api/classify_batch", content=body, headers={"Content-Type": "image/png"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]


def test_thousands_of_tiny_files_are_refused_unread(app_url):
    files = [("images", (f"{i}.png", b"x")) for i in range(5000)]
    start = time.monotonic()
    response = httpx.post(f"{app_url}api/classify_batch", files=files, timeout=TIMEOUT_S)
    assert response.status_code == 413 and "Too many parts" in response.json()["error"]
    assert time.monotonic() - start < 10
    assert classify(app_url, files={"image": ("7.png", png(bad_inputs.on_paper()))}).status_code == 200


def test_a_client_trickling_its_body_is_cut_off_while_others_are_served(app_url):
    host, port = re.match(r"http://([^:/]+):(\d+)/", app_url).groups()
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_S + 30) as slow:
        slow.sendall(
            f"POST /api/classify HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
            "Content-Length: 100000\r\n\r\n".encode()
        )
        start = time.monotonic()

        def trickle() -> bytes:
            """One byte a second until the server answers; then the answer and whether it closed the connection."""
            slow.settimeout(1)
            while True:
                try:
                    reply = slow.recv(65536)
                except TimeoutError:
                    slow.sendall(b"x")
                    continue
                slow.settimeout(5)
                while rest := slow.recv(65536):  # to the end: the server closes the connection after its answer
                    reply += rest
                return reply

        with ThreadPoolExecutor(1) as pool:
            reply = pool.submit(trickle)
            time.sleep(2)
            served = [classify(app_url, files={"image": ("7.png", png(bad_inputs.on_paper()))}) for _ in range(3)]
            assert all(response.status_code == 200 for response in served)
            assert time.monotonic() - start < BODY_TIMEOUT_S
            answer = reply.result(timeout=BODY_TIMEOUT_S + 30)
    elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408") and f"took over {BODY_TIMEOUT_S} s".encode() in answer
    assert BODY_TIMEOUT_S - 1 < elapsed < BODY_TIMEOUT_S + 5  # cut off by the timeout, no sooner


def test_the_routes_are_listed_on_the_openapi_page(app_url):
    spec = httpx.get(f"{app_url}api/openapi.json", timeout=TIMEOUT_S).json()
    assert set(spec["paths"]) == {"/api/classify", "/api/classify_batch"}
    assert httpx.get(f"{app_url}api/docs", timeout=TIMEOUT_S).status_code == 200


def readme_blocks(language: str) -> list[str]:
    readme = (REPO / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", readme, flags=re.DOTALL)


def test_readme_curl_examples_run_against_the_app(app_url):
    """Each command's JSON names the digits its files' names start with."""
    (block,) = [block for block in readme_blocks("bash") if block.startswith("curl")]
    commands = block.strip().splitlines()
    assert len(commands) == 3
    for command in commands:
        result = subprocess.run(
            command.replace("http://127.0.0.1:7860/", app_url), shell=True, cwd=REPO, capture_output=True, timeout=120
        )
        answer = json.loads(result.stdout)
        answers = answer["results"] if "classify_batch" in command else [answer]
        files = re.findall(r"@examples/(\S+)", command)
        assert [a["cnn"]["label"] for a in answers] == [a["linear"]["label"] for a in answers] == [f[0] for f in files]


def test_readme_httpx_example_runs_against_the_app(app_url):
    (snippet,) = [block for block in readme_blocks("python") if block.startswith("import httpx")]
    code = snippet.replace("http://127.0.0.1:7860/", app_url)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = re.findall(r"# prints: (.*)", snippet)
    assert expected and result.stdout.strip().splitlines()[-len(expected) :] == expected


def test_form_parts_stops_at_the_first_part_over_the_limit():
    body = b"".join(b'--b\r\nContent-Disposition: form-data; name="images"\r\n\r\nx\r\n' for _ in range(10)) + b"--b--"
    assert json_api.form_parts(body, b"b", 10) == [("images", b"x")] * 10
    with pytest.raises(json_api.ApiError) as error:
        json_api.form_parts(body, b"b", 9)
    assert error.value.status == 413


def batch_of_every_kind() -> list[bytes]:
    """MNIST digits, and among them a file that is no image, a blank page, a bomb and a photo too large for a worker."""
    images, _ = bad_inputs.mnist_data.load_test_from_dir(bad_inputs.MNIST_SUBSET)
    batch = [png(Image.fromarray(image)) for image in images[:20]]
    batch[3:3] = [b"not an image", png(Image.new("L", (50, 50), 255)), bad_inputs.png_declaring(30_000, 30_000)]
    batch.insert(10, png(bad_inputs.on_paper(1100)))  # 1.2 megapixels: over SMALL_PIXELS
    return batch


def same_outcomes(first: list, second: list) -> bool:
    return len(first) == len(second) and all(
        a.keys() == b.keys() and a == b if isinstance(a, dict) else np.array_equal(a, b)
        for a, b in zip(first, second, strict=True)
    )


def test_workers_preprocess_small_images_as_the_server_does_and_leave_large_ones_to_it():
    batch = batch_of_every_kind()
    workers = processes.Workers(2)
    try:
        pooled = workers.outcomes(batch)
    finally:
        workers.close()
    assert [index for index, outcome in enumerate(pooled) if outcome is None] == [10]
    in_server = [json_api.digit_outcome(data) for data in batch]
    assert same_outcomes(pooled[:10] + pooled[11:], in_server[:10] + in_server[11:])
    errors = [outcome["error"] for outcome in in_server if isinstance(outcome, dict)]
    starts = ["That file is not an image", "No digit found", "That image is over the limit"]
    assert len(errors) == 3 and all(error.startswith(start) for error, start in zip(errors, starts, strict=True))


def test_a_batch_is_answered_in_full_after_a_worker_dies_and_then_without_workers():
    batch = batch_of_every_kind()
    request = httpx.Request("POST", "http://studio/", files=[("images", ("x.png", data)) for data in batch])
    body, content_type = request.read(), request.headers["content-type"]
    models = answers.load(model_defs.WEIGHTS_DIR)  # and their calibration, which every answer applies

    def predict(name: str, digits: np.ndarray) -> np.ndarray:
        return models[name].predict_on_batch(digits)

    expected = json_api.classify_batch(body, content_type, predict)
    workers = processes.Workers(2)
    try:
        assert json_api.classify_batch(body, content_type, predict, workers) == expected
        killed = workers.pids()[0]
        os.kill(killed, signal.SIGKILL)
        assert json_api.classify_batch(body, content_type, predict, workers) == expected
        # On a busy machine that batch can be done by the other worker before the pool sees the death; once it
        # has reaped the dead worker it has, and the next batch finds the pool broken and drops it
        deadline = time.monotonic() + 10
        while running(killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json_api.classify_batch(body, content_type, predict, workers) == expected
        assert workers.pool is None and workers.outcomes(batch) == [None] * len(batch)
        assert json_api.classify_batch(body, content_type, predict, workers) == expected
    finally:
        workers.close()
    assert expected[0] == 200 and sum("cnn" in result for result in expected[1]["results"]) == 21


@pytest.mark.server
def test_workers_end_with_their_server_even_one_killed_outright():
    script = (
        "from digit_studio.web import processes; import time; "
        "workers = processes.Workers(2); print(*workers.pids(), flush=True); time.sleep(60)"
    )
    server = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(pid) for pid in server.stdout.readline().split()]
        assert len(pids) == 2 and all(running(pid) for pid in pids)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(running(pid) for pid in pids)


def running(pid: int) -> bool:
    """Whether the process is alive: not gone, and not a zombie waiting for its parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone before, or while, its status was read
        return False
