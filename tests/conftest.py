"""Shared fixtures: paths, a tiny IDX writer, the committed models, and the running app."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import model_defs
from digit_studio.core import mnist_data
from digit_studio.core.synthetic import MNIST_DIR as SHARED_MNIST
from digit_studio.local_server import start_app, stop_app

REPO = Path(__file__).resolve().parents[1]

MNIST_SUBSET = REPO / "tests" / "data" / "mnist-test-first-1000"


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a gzipped IDX file of unsigned bytes, as MNIST's own files are laid out."""
    header = bytes([0, 0, mnist_data.UBYTE_TYPE, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(header + array.astype(np.uint8).tobytes())
    return path


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


@pytest.fixture(scope="session")
def feedback_dir(tmp_path_factory) -> Path:
    """Where the running app keeps visitors' corrections during the tests."""
    return tmp_path_factory.mktemp("corrections")


# The JSON routes' body timeout in the app the tests share: the trickling-client test waits it out.
BODY_TIMEOUT_S = 6


@pytest.fixture(scope="session")
def app_url(feedback_dir):
    """The app as on a Space: behind a proxy, which names each caller in X-Forwarded-For (callers.py)."""
    env = {"FEEDBACK_DIR": str(feedback_dir), "JSON_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "BEHIND_PROXY": "1"}
    process, url = start_app(env)
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


def pytest_collection_modifyitems(items):
    """Every test that uses the running app (or the page in Chromium) is in the server tier."""
    for item in items:
        if {"app_url", "client", "page"} & set(item.fixturenames):
            item.add_marker(pytest.mark.server)


# What the page showed when a browser test using the `page` fixture failed: the answers' words, each canvas's newest
# drawing sent and the drawings the answers name, and any message. In the failure's report, so that a failure where
# no screenshot can be looked at (CI) still says what a visitor would have seen.
PAGE_STATE_JS = """() => ({
  texts: Object.fromEntries(["#summary", "#number_summary", "#why_maps"].map(
    (selector) => [selector, (document.querySelector(selector)?.innerText || "").slice(0, 300)])),
  sent: [...document.querySelectorAll("[data-sent]")].map((element) => [element.id, element.dataset.sent]),
  answering: [...document.querySelectorAll("[data-drawing]")].map((element) => element.dataset.drawing),
  messages: [...document.querySelectorAll(".toast-body")].map((element) => element.innerText),
})"""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "funcargs", {}).get("page") if report.when == "call" and report.failed else None
    if page is not None:
        try:
            shown = json.dumps(page.evaluate(PAGE_STATE_JS), indent=1, ensure_ascii=False)
        except Exception as error:  # the page itself may be what failed
            shown = f"could not be read: {error}"
        report.sections.append(("what the page showed", shown))
    return report
