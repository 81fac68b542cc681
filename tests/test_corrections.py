"""corrections.py: the append-only dataset of visitors' corrections, its limits, and what survives a crash."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from digit_studio import corrections

ANSWER = {"label": "7", "confidence": 0.93, "confidences": {}, "is_digit": True, "digit_score": 0.98}
ANSWERS = {"cnn": ANSWER, "linear": {**ANSWER, "label": "1"}}
SHA = {"cnn": "a" * 64, "linear": "b" * 64}


def seven() -> np.ndarray:
    digit = np.zeros((28, 28), np.float32)
    digit[6:8, 8:20] = 1
    digit[8:22, 14:16] = 1
    return digit


def add(store: corrections.Store, label: str = "7", visitor: str = "a", **extra) -> dict:
    return store.add(seven(), label, ANSWERS, "canvas", SHA, visitor, **extra)


def test_a_correction_is_one_imagefolder_row_with_its_image_and_strokes(tmp_path):
    store = corrections.Store(tmp_path)
    row = add(store, "4", visitor="visitor-7f3e", strokes=b"\x89PNG strokes")
    assert set(row) == {"file_name", "label", "source", "cnn", "linear", "time", "weights_sha256", "strokes_file"}
    assert row["label"] == "4" and row["cnn"] == {
        "label": "7",
        "confidence": 0.93,
        "is_digit": True,
        "digit_score": 0.98,
    }
    assert "visitor-7f3e" not in (tmp_path / "metadata.jsonl").read_text()  # nothing about the visitor
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


def test_one_visitor_is_held_to_the_limit_and_others_are_not(tmp_path):
    store = corrections.Store(tmp_path)
    for _ in range(corrections.PER_VISITOR):
        add(store, visitor="flood")
    with pytest.raises(corrections.CorrectionError, match="Please wait a few minutes"):
        add(store, visitor="flood")
    add(store, visitor="someone else")
    assert len(list(corrections.rows(tmp_path))) == corrections.PER_VISITOR + 1


def test_a_full_collection_closes_corrections(tmp_path):
    store = corrections.Store(tmp_path, max_rows=2)
    add(store, visitor="a")
    add(store, visitor="b")
    with pytest.raises(corrections.CorrectionError, match="Corrections are closed"):
        add(store, visitor="c")
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
        threading.Thread(target=lambda v=v: [add(store, str(i % 10), visitor=f"v{v}") for i in range(20)])
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
store = corrections.Store(sys.argv[1], max_rows=10**9)
answers = {"cnn": {"label": "1", "confidence": 0.5, "is_digit": True, "digit_score": 0.9}}
print("ready", flush=True)
for index in range(10**9):
    store.add(np.full((28, 28), 0.5), str(index % 10), answers, "api", {}, visitor=str(index))
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
