"""corrections.py: the append-only dataset of visitors' corrections, its limits, and what survives a crash."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.requests import Request
from test_limits import config, drawing, join, page_drawing_event
from test_mcp import call

import bad_inputs
from conftest import REPO
from digit_studio import corrections
from digit_studio.web import callers

ANSWER = {"label": "7", "confidence": 0.93, "confidences": {}, "is_digit": True, "digit_score": 0.98}
ANSWERS = {"cnn": ANSWER, "linear": {**ANSWER, "label": "1"}}
SHA = {"cnn": "a" * 64, "linear": "b" * 64}


def seven() -> np.ndarray:
    digit = np.zeros((28, 28), np.float32)
    digit[6:8, 8:20] = 1
    digit[8:22, 14:16] = 1
    return digit


def add(store: corrections.Store, label: str = "7", caller: str = "192.0.2.1", **extra) -> dict:
    return store.add(seven(), label, ANSWERS, "canvas", SHA, caller, **extra)


def test_a_correction_is_one_imagefolder_row_with_its_image_and_strokes(tmp_path):
    store = corrections.Store(tmp_path)
    row = add(store, "4", caller="203.0.113.77", strokes=b"\x89PNG strokes")
    assert set(row) == {"file_name", "label", "source", "cnn", "linear", "time", "weights_sha256", "strokes_file"}
    assert row["label"] == "4" and row["cnn"] == {
        "label": "7",
        "confidence": 0.93,
        "is_digit": True,
        "digit_score": 0.98,
    }
    assert "203.0.113" not in (tmp_path / "metadata.jsonl").read_text()  # nothing about the visitor
    assert (tmp_path / row["strokes_file"]).read_bytes() == b"\x89PNG strokes"
    with Image.open(tmp_path / row["file_name"]) as image:
        assert image.size == (28, 28) and image.mode == "L" and np.asarray(image)[7, 10] == 255
    assert [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()] == [row]
    digits, labels, others = corrections.load(tmp_path)
    assert digits.shape == (1, 28, 28) and labels.tolist() == [4] and len(others) == 0
    add(store, corrections.NOT_A_DIGIT)
    assert len(corrections.load(tmp_path)[2]) == 1


@pytest.mark.parametrize("label", ["10", "seven", "", None, 7, "not_a_digit"])
def test_a_label_that_is_no_digit_nor_not_a_digit_is_refused(tmp_path, label):
    with pytest.raises(corrections.CorrectionError, match="a digit from 0 to 9"):
        add(corrections.Store(tmp_path), label)
    assert not (tmp_path / "metadata.jsonl").exists()


def test_one_address_is_held_to_the_limit_and_others_are_not(tmp_path):
    store = corrections.Store(tmp_path)
    for _ in range(corrections.PER_ADDRESS):
        add(store, caller="198.51.100.7")
    with pytest.raises(corrections.CorrectionError, match="That is 100 corrections in 10 minutes"):
        add(store, caller="198.51.100.7")
    add(store, caller="203.0.113.9")
    assert len(list(corrections.rows(tmp_path))) == corrections.PER_ADDRESS + 1


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_address_at_its_limit_waits_ten_minutes_and_a_day_at_its_daily_limit():
    clock = Clock()
    limits = corrections.RateLimits(clock=clock)
    for _ in range(corrections.PER_ADDRESS_DAY // corrections.PER_ADDRESS):
        for _ in range(corrections.PER_ADDRESS):
            limits.admit("198.51.100.7")
        with pytest.raises(corrections.CorrectionError, match="in 10 minutes"):
            limits.admit("198.51.100.7")
        clock.now += corrections.WINDOW_S
    with pytest.raises(corrections.CorrectionError, match="1,000 corrections in a day"):
        limits.admit("198.51.100.7")  # 1,000 in the last 100 minutes
    limits.admit("203.0.113.9")
    clock.now += corrections.DAY_S - 10 * corrections.WINDOW_S  # a day after the first hundred
    limits.admit("198.51.100.7")


def test_the_whole_server_is_held_to_its_rate_whatever_the_addresses():
    clock = Clock()
    limits = corrections.RateLimits(clock=clock)
    for index in range(corrections.PER_SERVER):
        limits.admit(f"10.0.{index // 256}.{index % 256}")
    with pytest.raises(corrections.CorrectionError, match="Corrections are paused"):
        limits.admit("203.0.113.9")
    for hour in range(1, corrections.PER_SERVER_DAY // corrections.PER_SERVER):
        clock.now = hour * corrections.WINDOW_S
        for index in range(corrections.PER_SERVER):
            limits.admit(f"10.{hour}.{index // 256}.{index % 256}")
    clock.now += corrections.WINDOW_S
    with pytest.raises(corrections.CorrectionError, match="5,000 in a day"):
        limits.admit("203.0.113.9")
    clock.now += corrections.DAY_S
    limits.admit("203.0.113.9")
    assert list(limits.by_address) == ["203.0.113.9"]  # the addresses idle for a day are forgotten


def test_a_full_collection_closes_corrections(tmp_path):
    store = corrections.Store(tmp_path, max_rows=2)
    add(store, caller="192.0.2.1")
    add(store, caller="192.0.2.2")
    with pytest.raises(corrections.CorrectionError, match="Corrections are closed"):
        add(store, caller="192.0.2.3")
    assert corrections.Store(tmp_path, max_rows=2).rows == 2  # counted again at start


def test_an_unwritable_folder_says_so_and_keeps_nothing(tmp_path):
    (tmp_path / "a file").write_text("")
    store = corrections.Store(tmp_path / "a file" / "corrections")
    with pytest.raises(corrections.CorrectionError, match="cannot write them"):
        add(store)


def test_a_full_disk_loses_only_the_row_being_written(tmp_path, monkeypatch):
    store = corrections.Store(tmp_path)
    first = add(store)
    real_fsync = os.fsync

    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(corrections.CorrectionError, match="cannot write them"):
        add(store)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert list(corrections.rows(tmp_path)) == [first]
    assert [path.name for path in (tmp_path / "images").iterdir()] == [first["file_name"].split("/")[1]]
    third = add(store)
    assert list(corrections.rows(tmp_path)) == [first, third]


def test_many_visitors_at_once_never_interleave_a_row(tmp_path):
    store = corrections.Store(tmp_path)
    threads = [
        threading.Thread(target=lambda v=v: [add(store, str(i % 10), caller=f"192.0.2.{v}") for i in range(20)])
        for v in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = list(corrections.rows(tmp_path))
    assert len(rows) == 160 == store.rows
    assert all((tmp_path / row["file_name"]).is_file() for row in rows)


WRITER = """
import sys
import numpy as np
from digit_studio import corrections
store = corrections.Store(sys.argv[1], max_rows=10**9, limits=corrections.RateLimits(limits=()))
answers = {"cnn": {"label": "1", "confidence": 0.5, "is_digit": True, "digit_score": 0.9}}
print("ready", flush=True)
for index in range(10**9):
    store.add(np.full((28, 28), 0.5), str(index % 10), answers, "api", {}, caller="192.0.2.1")
"""


def test_killing_the_writer_mid_write_leaves_every_earlier_row_whole(tmp_path):
    """A writer killed outright (SIGKILL) at some moment of its writing: every row left is whole and in order,
    each names an image that exists, and the folder takes new rows."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], cwd=REPO, stdout=subprocess.PIPE)
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(0.5 + attempt * 0.37)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        store = corrections.Store(folder)  # cuts off a row half written, if the kill landed in one
        rows = list(corrections.rows(folder))
        assert len(rows) == store.rows > 10
        assert [row["label"] for row in rows] == [str(index % 10) for index in range(len(rows))]
        assert all((folder / row["file_name"]).is_file() for row in rows)
        assert (folder / "metadata.jsonl").read_bytes().endswith(b"\n")
        add(store)
        assert len(list(corrections.rows(folder))) == len(rows) + 1


def test_a_partial_last_line_is_cut_off_before_the_next_row(tmp_path):
    store = corrections.Store(tmp_path)
    first = add(store)
    with open(tmp_path / "metadata.jsonl", "ab") as file:
        file.write(b'{"file_name": "images/half')  # a crash in the middle of a row
    assert list(corrections.rows(tmp_path)) == [first]  # a reader skips it
    store = corrections.Store(tmp_path)
    second = add(store)
    assert list(corrections.rows(tmp_path)) == [first, second]


def request(forwarded_for: list[str], connection: str = "10.16.3.80", **headers: str) -> gr.Request:
    raw = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return gr.Request(Request({"type": "http", "headers": raw, "client": (connection, 443)}))


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        (["198.51.100.7"], "198.51.100.7"),
        (["1.2.3.4, 198.51.100.7"], "198.51.100.7"),  # the caller wrote 1.2.3.4; the proxy appended the rest
        (["1.2.3.4", "198.51.100.7"], "198.51.100.7"),  # the proxy's own header line, after the caller's
        ([], "10.16.3.80"),  # no proxy header: the connection's address
        ([" , "], "10.16.3.80"),
    ],
)
def test_behind_a_proxy_the_caller_is_the_proxys_last_entry(monkeypatch, forwarded_for, expected):
    monkeypatch.setenv("SPACE_ID", "someone/digit-studio")
    assert callers.address(request(forwarded_for)) == expected


def test_without_a_proxy_the_caller_is_the_connection_and_mcp_calls_share_one_count(monkeypatch):
    for name in ("SPACE_ID", "BEHIND_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert callers.address(request(["1.2.3.4, 5.6.7.8"], "198.51.100.7")) == "198.51.100.7"
    mcp = request(["1.2.3.4"], "127.0.0.1", x_gradio_user="mcp")  # Gradio's MCP client, with its caller's headers
    assert callers.address(mcp) == "mcp"


FLOOD = "198.51.100.7"


def test_one_address_keeps_its_limit_through_new_sessions_and_forged_headers(app_url, feedback_dir):
    """A script that opens a new session for every correction and writes an X-Forwarded-For entry of its own before
    the proxy's keeps PER_ADDRESS corrections in 10 minutes, through /correct, the page and MCP alike; a visitor from
    another address is still kept, whatever entries it forges."""
    image = REPO / "examples/7_mnist.png"
    (index,) = [d["id"] for d in config(app_url)["dependencies"] if d.get("api_name") == "correct"]
    with open(image, "rb") as file:
        uploaded = httpx.post(f"{app_url}gradio_api/upload", files={"files": file}).json()[0]
    data = [{"path": uploaded, "orig_name": image.name, "meta": {"_type": "gradio.FileData"}}, "7"]

    def correct(forwarded_for: str) -> dict:
        return join(app_url, index, None, uuid.uuid4().hex, data, {"X-Forwarded-For": forwarded_for})

    with ThreadPoolExecutor(8) as pool:
        flood = list(pool.map(correct, [f"10.0.{i}.1, {FLOOD}" for i in range(corrections.PER_ADDRESS + 2)]))
    refused = [message["output"]["error"] for message in flood if not message["success"]]
    assert refused == [corrections.FLOOD_MESSAGE] * 2
    assert correct(f"{FLOOD}, 203.0.113.9")["success"]
    page = config(app_url)
    (button,) = [c["id"] for c in page["components"] if c.get("props", {}).get("elem_id") == "correct_not_a_digit"]
    (not_a_digit,) = [d["id"] for d in page["dependencies"] if [button, "click"] in d["targets"]]

    def on_the_page(forwarded_for: str) -> str:
        """Draw on the page in a new session, then press "Not a digit": the line under the buttons."""
        session = uuid.uuid4().hex
        drawn = bad_inputs.encoded(bad_inputs.on_transparent(), "PNG")
        assert join(app_url, page_drawing_event(app_url), drawing(drawn), session)["success"]
        message = join(app_url, not_a_digit, None, session, [None], {"X-Forwarded-For": forwarded_for})
        return message["output"]["data"][0]

    assert on_the_page(f"10.9.9.9, {FLOOD}") == f"⚠️ {corrections.FLOOD_MESSAGE}"
    assert "⚠️" not in on_the_page(f"{FLOOD}, 203.0.113.11")
    failed, text = call(app_url, "correct_digit", image.read_bytes(), headers={"X-Forwarded-For": FLOOD}, label="7")
    assert failed and corrections.FLOOD_MESSAGE in text
    forged = {"X-Forwarded-For": f"{FLOOD}, 203.0.113.10"}
    failed, text = call(app_url, "correct_digit", image.read_bytes(), headers=forged, label="7")
    assert not failed, text
    assert "198.51.100" not in (feedback_dir / corrections.METADATA).read_text()  # counted, never written down
