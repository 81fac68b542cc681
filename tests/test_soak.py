"""Soak: many mixed good and bad requests from 16 concurrent clients against one freshly started server.

    SOAK_REQUESTS=2000 python -m pytest tests/test_soak.py -s -n 0  # the README's run, one process; prints its figures

CI runs SOAK_REQUESTS's default. Two of every three requests are good (a digit upload, or a sketch layer,
each file unique as a visitor's would be) and must be answered correctly; the third is a case of
bad_inputs.CASES and must get its answer or message. No request may take over REQUEST_TIMEOUT_S; the
server's resident memory may grow at most RSS_GROWTH_LIMIT_MB from the MEASURE_AT-th request to the
last; and once Gradio's cache cleaner has had its turn, no uploaded file is left on disk.
"""

import os
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

import bad_inputs
from conftest import MNIST_SUBSET
from digit_studio.core import mnist_data
from digit_studio.local_server import close_clients, start_app, stop_app

pytestmark = pytest.mark.server

REQUESTS = int(os.environ.get("SOAK_REQUESTS", "300"))
CLIENTS = 16
REQUEST_TIMEOUT_S = 60
MEASURE_AT = 200
RSS_GROWTH_LIMIT_MB = 100
UPLOAD_LIFETIME_S = 10  # set for the soak's server: its uploads are deleted 10-14 s after they arrive
CLEANUP_WAIT_S = 60
GOOD_DIGITS = range(5)  # the first MNIST test digits: 7 2 1 0 4


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def file_count(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))  # os.walk shrugs off folders deleted meanwhile


def good_images() -> list[tuple[str, bytes, bytes]]:
    """Each good digit's label, as PNGs of dark ink on 300x300 paper and of a 400x400 transparent sketch layer."""
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    result = []
    for index in GOOD_DIGITS:
        ink = Image.fromarray(images[index]).resize((300, 300), Image.Resampling.BICUBIC)
        layer = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
        layer.paste(Image.new("RGBA", ink.size, (0, 0, 0, 255)), (50, 50), ink)
        paper = Image.eval(ink, lambda value: 255 - value)
        result.append((str(labels[index]), bad_inputs.encoded(paper, "PNG"), bad_inputs.encoded(layer, "PNG")))
    return result


def unique_png(png: bytes, tag: str) -> bytes:
    """The PNG with a text chunk added, pixels unchanged: each upload is a new file in the cache, as a visitor's is."""
    text = b"tEXt" + b"request\0" + tag.encode()
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    return png[:-12] + chunk + png[-12:]  # before the closing IEND chunk


def request(index: int, folder: Path, goods: list, bads: list) -> tuple[str, object, str]:
    """The index-th request: endpoint, value for gradio_client, expected digit or piece of message."""
    if index % 3 == 2:
        case, value = bads[index // 3 % len(bads)]
        return case.endpoint, bad_inputs.to_api(value), case.expected
    label, paper, layer = goods[index % len(goods)]
    path = folder / f"{index}.png"
    path.write_bytes(unique_png(layer if index % 2 else paper, str(index)))
    if index % 2:
        return "/classify_sketch", {"background": None, "layers": [handle_file(str(path))], "composite": None}, label
    return "/classify", handle_file(str(path)), label


def outcome(client: Client, endpoint: str, value, expected: str) -> str | None:
    """None when the answer is the expected one, else what went wrong."""
    try:
        cnn, _, _, summary = client.submit(value, api_name=endpoint).result(timeout=REQUEST_TIMEOUT_S)
    except TimeoutError:
        return f"hung for over {REQUEST_TIMEOUT_S} s"
    except Exception as error:  # every failure counts, whatever its kind; a good request must succeed, full stop
        return None if not expected.isdigit() and expected in str(error) else f"{type(error).__name__}: {error}"
    return None if cnn["label"] == expected else f"answered {cnn['label']}: {summary}"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_soak(tmp_path):
    bads = list(zip(bad_inputs.CASES.values(), bad_inputs.build_all(tmp_path).values(), strict=True))
    goods, uploads = good_images(), tmp_path / "uploads"
    uploads.mkdir()
    cache = tmp_path / "gradio_cache"
    process, url = start_app({"GRADIO_TEMP_DIR": str(cache), "UPLOAD_LIFETIME_S": str(UPLOAD_LIFETIME_S)})
    try:
        clients = [Client(url, verbose=False) for _ in range(CLIENTS)]
        figures = {"requests": REQUESTS, "clients": CLIENTS, "files_at_start": file_count(cache)}
        figures["rss_mb_every_100"] = []
        failures, lock, next_index, done = [], threading.Lock(), iter(range(REQUESTS)), [0]

        def run(client: Client) -> None:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                endpoint, value, expected = request(index, uploads, goods, bads)
                problem = outcome(client, endpoint, value, expected)
                with lock:
                    if problem:
                        failures.append((index, endpoint, expected, problem))
                    done[0] += 1
                    if done[0] % 100 == 0:
                        figures["rss_mb_every_100"].append(round(rss_mb(process.pid)))
                    if done[0] == min(MEASURE_AT, REQUESTS):
                        figures["rss_mb_at_request_200"] = rss_mb(process.pid)
                        figures["files_at_request_200"] = file_count(cache)

        start = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(run, clients))
        figures["wall_s"] = round(time.monotonic() - start, 1)
        figures["requests_per_s"] = round(REQUESTS / figures["wall_s"], 1)
        figures["rss_mb_at_end"] = rss_mb(process.pid)
        figures["files_at_end"] = file_count(cache)
        close_clients(clients)

        deadline = time.monotonic() + CLEANUP_WAIT_S
        while file_count(cache) > figures["files_at_start"] and time.monotonic() < deadline:
            time.sleep(1)
        figures["files_after_cleanup"] = file_count(cache)
        figures["server_still_up"] = process.poll() is None
        rounded = {key: round(value, 1) if isinstance(value, float) else value for key, value in figures.items()}
        print("\nsoak:", rounded)
    finally:
        stop_app(process)

    assert not failures, f"{len(failures)} of {REQUESTS} requests went wrong, e.g. {failures[:5]}"
    assert figures["server_still_up"]
    assert figures["rss_mb_at_end"] - figures["rss_mb_at_request_200"] < RSS_GROWTH_LIMIT_MB
    assert figures["files_after_cleanup"] <= figures["files_at_start"]
