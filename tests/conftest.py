"""Shared fixtures: paths, a tiny IDX writer, the committed models, and the running app."""

import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mnist_data  # noqa: E402
import model_defs  # noqa: E402
from synthetic import MNIST_DIR as SHARED_MNIST  # noqa: E402

MNIST_SUBSET = REPO / "tests" / "data" / "mnist-test-first-1000"


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a gzipped IDX file of unsigned bytes, as MNIST's own files are laid out."""
    header = bytes([0, 0, mnist_data.UBYTE_TYPE, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(header + array.astype(np.uint8).tobytes())
    return path


def classify_batch(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Predicted digits for uint8 N x 28 x 28 images, fed as train.py feeds them."""
    import keras

    predictions = []
    for start in range(0, len(images), batch_size):
        batch = (images[start : start + batch_size].astype("float32") / 255.0)[..., None]
        predictions.append(np.argmax(keras.ops.convert_to_numpy(model(batch, training=False)), axis=1))
    return np.concatenate(predictions)


@pytest.fixture(scope="session")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"the full MNIST test set is not at {SHARED_MNIST}")
    return mnist_data.load_test_from_dir(SHARED_MNIST)


@pytest.fixture(scope="session")
def committed_models() -> dict:
    return {name: model_defs.load_model(name) for name in model_defs.MODEL_NAMES}


def front_matter(readme: str) -> dict:
    """The YAML block at the top of a README, as the Hub reads it."""
    import yaml

    return yaml.safe_load(readme.split("---\n")[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(env: dict | None = None, timeout: float = 120, cwd: Path = REPO) -> tuple[subprocess.Popen, str]:
    """Start `python app.py` in cwd as a person would, on a free port; returns the process and its URL."""
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # not a pipe: Gradio logs each refused request, and a full pipe stalls the app
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=cwd,
        env={**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"app.py exited with {process.returncode}: {log.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise RuntimeError(f"app.py did not answer within {timeout} s")


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def app_url():
    process, url = start_app()
    try:
        yield url
    finally:
        stop_app(process)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    try:
        yield client
    finally:
        client.close()
