"""The studio as a person starts it, `python app.py`, on a free port of 127.0.0.1, and its clients closed: for the
tests and the benchmarks.

    process, url = local_server.start_app()
    ...
    local_server.stop_app(process)
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def close_clients(clients: list) -> None:
    """Close many clients at once: each gradio_client.Client's close waits most of a second for its heartbeat."""
    with ThreadPoolExecutor(max(1, len(clients))) as pool:
        list(pool.map(lambda client: client.close(), clients))
