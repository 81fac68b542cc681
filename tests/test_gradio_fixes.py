"""Each of gradio_fixes.py's assumptions about Gradio's internals, checked on the installed Gradio: a failure here
means an upgrade changed something a workaround relies on, or fixed what it works around (then drop it)."""

import contextlib
import importlib.metadata

import gradio as gr
import pytest
from gradio import processing_utils, route_utils
from gradio.context import LocalContext

from conftest import REPO
from digit_studio.web import gradio_fixes


def test_the_workarounds_are_for_the_pinned_gradio():
    pinned = next(line for line in (REPO / "requirements.txt").open() if line.startswith("gradio[mcp]=="))
    assert importlib.metadata.version("gradio") == pinned.strip().split("==")[1] == "6.31.0"


@contextlib.contextmanager
def events_of(blocks: gr.Blocks):
    token = LocalContext.blocks.set(blocks)
    try:
        yield
    finally:
        LocalContext.blocks.reset(token)


def test_unreceived_files_pass_until_the_app_counts_as_launched():
    """Gradio checks a payload's files only once has_launched is set, which gr.mount_gradio_app never does."""
    with gr.Blocks() as demo:
        gr.Image()
    with events_of(demo):
        processing_utils._check_allowed("/etc/hostname", check_in_upload_folder=True)  # the gap: no check at all
        gradio_fixes.refuse_unreceived_files(demo)
        with pytest.raises(processing_utils.InvalidPathError):
            processing_utils._check_allowed("/etc/hostname", check_in_upload_folder=True)


def test_the_queue_still_shows_its_waiting_and_running_events():
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    demo.queue()
    queue = demo._queue
    assert isinstance(queue.event_queue_per_concurrency_id, dict) and isinstance(queue.active_jobs, list)
    assert isinstance(demo.temp_file_sets, list)
    assert gradio_fixes.still_needed(demo) == set()


def test_names_in_finds_every_file_and_sketch_id_in_a_payload():
    payload = [{"path": "/a.png", "meta": {}}, {"id": "sketch-1", "layers": [{"path": "/b.png"}]}, "text", 3]
    assert set(gradio_fixes.names_in(payload)) == {"/a.png", "sketch-1", "/b.png"}


class GrowingSet(set):
    """A set of uploads that gains one while it is being read, as when a visitor's upload lands mid-scan."""

    def __iter__(self):
        items = super().__iter__()
        yield next(items)
        self.add("/tmp/arrived-mid-scan")
        yield from items


def test_gradios_own_cache_deletion_still_dies_when_an_upload_lands_mid_scan():
    """Why UploadJanitor exists: gr.Blocks(delete_cache=...) stops for good at the first such upload."""
    with gr.Blocks() as demo:
        pass
    demo.temp_file_sets = [GrowingSet({"/tmp/an-old-upload"})]
    with pytest.raises(RuntimeError, match="changed size"):
        route_utils.delete_files_created_by_app(demo, age=0)
