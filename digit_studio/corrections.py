"""Visitors' corrections, kept as an append-only image dataset: the `imagefolder` layout that the `datasets` library
and the Hub's viewer read (image files plus one metadata.jsonl row per correction).

    store = corrections.Store(folder)                   # FEEDBACK_DIR; made at the first correction
    row = store.add(digit, "4", answers, "canvas", weights_sha256, caller=address, strokes=png_bytes)
    digits, labels = corrections.load(folder)          # labelled 28x28 digits, for training and evaluation

Each row: file_name (the 28x28 image the models saw, images/<id>.png), label ("0"-"9" or "not a digit"), source
("canvas", "upload" or "api"), each model's label, confidence, is_digit and digit_score, the time (UTC, to the
second), the weights' sha256 and, for a drawing, strokes_file (the canvas's ink, strokes/<id>.png). Never an upload
as it was sent (it may show more than a digit), and nothing that identifies the visitor: the caller's address
(web/callers.py) counts their corrections in memory only (RateLimits), however many sessions it opens.

Crash-safe: image files are written whole under a temporary name and renamed into place; then the row is appended
to metadata.jsonl in one write, under a lock, and flushed to disk. A failed write (a full disk) is cut back off the
file; a crash mid-write leaves at most a partial last line, which the next Store cuts off before appending. So a
crash or a full disk loses at most the correction being written, and earlier rows stay intact and in order.
"""

import bisect
import collections
import datetime
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from digit_studio import words

DIGITS = tuple("0123456789")
NOT_A_DIGIT = "not a digit"
LABELS = (*DIGITS, NOT_A_DIGIT)
METADATA = "metadata.jsonl"
ANSWER_KEYS = ("label", "confidence", "is_digit", "digit_score")
WINDOW_S, DAY_S = 600, 86_400
PER_ADDRESS = 100  # corrections kept per caller's address per WINDOW_S, however many sessions it opens
PER_ADDRESS_DAY = 1_000  # per address per day: one address needs 20 days to fill the collection
PER_SERVER = 1_000  # from all callers together per WINDOW_S: ten addresses at their limit
PER_SERVER_DAY = 5_000  # from all callers together per day: no flood fills the collection in under 4 days
MAX_ROWS = 20_000  # the folder's capacity: a few kB a row, under 100 MB in all
MAX_STROKES_BYTES = 1_000_000  # a canvas's ink is a few kB; more is not from the page

LABEL_MESSAGE = words.text("correction_label", not_a_digit=NOT_A_DIGIT)
FLOOD_MESSAGE = words.text("correction_flood", count=PER_ADDRESS, minutes=WINDOW_S // 60)
DAY_MESSAGE = words.text("correction_day", count=PER_ADDRESS_DAY)
BUSY_MESSAGE = words.text("correction_busy", count=PER_SERVER, minutes=WINDOW_S // 60)
BUSY_DAY_MESSAGE = words.text("correction_busy_day", count=PER_SERVER_DAY)
FULL_MESSAGE = words.text("correction_full", count=MAX_ROWS)
STORAGE_MESSAGE = words.text("correction_storage")


class CorrectionError(ValueError):
    """A correction that is not kept, with the message a visitor is shown."""


class Limit(NamedTuple):
    most: int  # corrections kept
    seconds: int  # in any window this long
    per_address: bool  # from one caller's address, else from all callers together
    message: str


LIMITS = (
    Limit(PER_ADDRESS, WINDOW_S, True, FLOOD_MESSAGE),
    Limit(PER_ADDRESS_DAY, DAY_S, True, DAY_MESSAGE),
    Limit(PER_SERVER, WINDOW_S, False, BUSY_MESSAGE),
    Limit(PER_SERVER_DAY, DAY_S, False, BUSY_DAY_MESSAGE),
)


class RateLimits:
    """Sliding windows over the times of the corrections kept, per caller's address and for the whole server. In
    memory only: an address counts, and is never written down. Memory stays small: every time held is within a day
    and the server's daily limit bounds their number."""

    def __init__(self, limits: tuple[Limit, ...] = LIMITS, clock=time.monotonic):
        self.limits, self.clock = limits, clock
        self.longest = max((limit.seconds for limit in limits), default=0)
        self.by_address: dict[str, collections.deque] = {}
        self.everyone: collections.deque = collections.deque()
        self.lock = threading.Lock()

    def admit(self, address: str) -> None:
        """Count one correction from address, or raise CorrectionError with the first limit it would pass."""
        now = self.clock()
        with self.lock:
            mine = self.by_address.get(address, collections.deque())
            for times in (mine, self.everyone):
                while times and now - times[0] >= self.longest:
                    times.popleft()
            for limit in self.limits:
                times = mine if limit.per_address else self.everyone
                if len(times) - bisect.bisect_right(times, now - limit.seconds) >= limit.most:
                    raise CorrectionError(limit.message)
            mine.append(now)
            self.everyone.append(now)
            self.by_address[address] = mine
            if len(self.by_address) > 2 * len(self.everyone) + 100:  # forget the addresses idle for a day
                for key in [key for key, times in self.by_address.items() if now - times[-1] >= self.longest]:
                    del self.by_address[key]


def check_label(label) -> str:
    if not isinstance(label, str) or label.strip() not in LABELS:
        raise CorrectionError(LABEL_MESSAGE)
    return label.strip()


def png_bytes(digit: np.ndarray) -> bytes:
    """A 28x28 float image (0 paper, 1 ink) as a greyscale PNG, white on black as MNIST."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(digit, 0, 1) * 255).astype(np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


class Store:
    """One corrections folder, appended to by any number of threads of one process."""

    def __init__(self, folder: Path, lock=None, max_rows: int = MAX_ROWS, limits: RateLimits | None = None):
        self.folder, self.max_rows = Path(folder), max_rows
        # CommitScheduler's lock, when it pushes the folder: no push reads a row half written
        self.lock = lock or threading.Lock()
        self.limits = limits or RateLimits()
        self.rows = 0
        try:  # nothing is made until the first correction: a server nobody corrects leaves no folder
            with self.lock:
                self.rows = self.repair()
        except OSError:
            self.folder_error = True  # the page answers anyway; each correction says it cannot be kept
        else:
            self.folder_error = False

    def repair(self) -> int:
        """Cut off a partial last row (a crash mid-write); returns the number of whole rows."""
        path = self.folder / METADATA
        if not path.exists():
            return 0
        data = path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) < len(data):
            with open(path, "r+b") as file:
                file.truncate(len(whole))
                os.fsync(file.fileno())
        return whole.count(b"\n")

    def admit(self, caller: str) -> None:
        """Refuse a correction over the folder's limits or the caller's address's; else count it."""
        if self.folder_error:
            raise CorrectionError(STORAGE_MESSAGE)
        if self.rows >= self.max_rows:
            raise CorrectionError(FULL_MESSAGE)
        self.limits.admit(caller)

    def add(
        self,
        digit: np.ndarray,
        label: str,
        answers: dict,
        source: str,
        weights_sha256: dict,
        caller: str,
        strokes: bytes | None = None,
    ) -> dict:
        """Keep one correction from caller (its address, which counts it and is not kept); returns its row. Raises
        CorrectionError with the visitor's message."""
        label = check_label(label)
        if strokes is not None and len(strokes) > MAX_STROKES_BYTES:
            raise CorrectionError(words.text("correction_too_large"))
        self.admit(caller)
        key = uuid.uuid4().hex
        row = {
            "file_name": f"images/{key}.png",
            "label": label,
            "source": source,
            **{name: {k: answer[k] for k in ANSWER_KEYS} for name, answer in answers.items()},
            "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "weights_sha256": weights_sha256,
            "strokes_file": f"strokes/{key}.png" if strokes is not None else None,
        }
        line = (json.dumps(row, sort_keys=True) + "\n").encode()
        written = []
        try:
            with self.lock:
                if self.rows >= self.max_rows:
                    raise CorrectionError(FULL_MESSAGE)
                for folder in ("images", "strokes"):
                    (self.folder / folder).mkdir(parents=True, exist_ok=True)
                written.append(self.write_whole(row["file_name"], png_bytes(digit)))
                if strokes is not None:
                    written.append(self.write_whole(row["strokes_file"], strokes))
                self.append(line)
                self.rows += 1
        except OSError:
            for path in written:
                path.unlink(missing_ok=True)
            raise CorrectionError(STORAGE_MESSAGE) from None
        return row

    def write_whole(self, name: str, content: bytes) -> Path:
        """A file that exists whole or not at all."""
        final = self.folder / name
        partial = final.with_name(f".{final.name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, final)
        except OSError:
            partial.unlink(missing_ok=True)
            raise
        return final

    def append(self, line: bytes) -> None:
        """One row at the end of metadata.jsonl, or nothing: a failed write is cut back off."""
        with open(self.folder / METADATA, "ab") as file:
            start = file.tell()
            try:
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
            except OSError:
                file.truncate(start)
                raise


def rows(folder: Path) -> Iterator[dict]:
    """Every whole row of a corrections folder, in order; a partial last line (a crash mid-write) is skipped."""
    path = Path(folder) / METADATA
    if not path.exists():
        return
    with open(path, "rb") as file:
        for line in file:
            if line.endswith(b"\n"):
                yield json.loads(line)


def entries(folder: Path) -> Iterator[tuple[dict, np.ndarray]]:
    """Each whole row of a corrections folder with a label it may hold and an image that exists, and that image as
    a uint8 28x28 (white on black), in order."""
    for row in rows(folder):
        path = Path(folder) / row["file_name"]
        if row.get("label") not in LABELS or not path.is_file():
            continue
        with Image.open(path) as image:
            yield row, np.asarray(image.convert("L").resize((28, 28)), np.uint8)


def load(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A corrections folder's labelled digits as uint8 28x28 images (white on black) and int labels, and its
    "not a digit" images; rows whose image is missing are left out."""
    digits, labels, others = [], [], []
    for row, pixels in entries(folder):
        if row["label"] == NOT_A_DIGIT:
            others.append(pixels)
        else:
            digits.append(pixels)
            labels.append(int(row["label"]))
    empty = np.zeros((0, 28, 28), np.uint8)
    return (
        np.stack(digits) if digits else empty,
        np.array(labels, np.int64),
        np.stack(others) if others else empty,
    )
