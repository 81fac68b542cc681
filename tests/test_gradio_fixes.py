"""Each of gradio_fixes.py's assumptions about Gradio's internals, checked on the installed Gradio: a failure here
means an upgrade changed something a workaround relies on, or fixed what it works around (then drop it)."""

import base64
import contextlib
import importlib.metadata
import time
from pathlib import Path

import gradio as gr
import jsonschema
import pytest
import referencing.exceptions
from gradio import processing_utils, route_utils
from gradio.context import LocalContext
from gradio.mcp import GradioMCPServer

from conftest import REPO
from digit_studio.web import gradio_fixes, uploads


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


def with_mcp_server() -> gr.Blocks:
    """An app with an image endpoint and a sketch endpoint, and the MCP server gr.mount_gradio_app gives it."""
    with gr.Blocks() as demo:
        image, sketch, text = gr.Image(), gr.Sketchpad(), gr.Textbox()

        def read_image(value):
            return ""

        def read_sketch(value):
            return ""

        gr.Button().click(read_image, image, text, api_name="image")
        gr.Button().click(read_sketch, sketch, text, api_name="sketch")
    demo.mcp_server_obj = GradioMCPServer(demo)
    return demo


def test_gradios_mcp_server_cannot_take_files_inside_an_object():
    """Why offer_callable_mcp_tools exists: a sketch tool's schema points nowhere, and its files stay strings."""
    demo = with_mcp_server()
    server = demo.mcp_server_obj
    schema, file_positions = server.get_input_schema("read_sketch")
    arguments = {"value": {"layers": ["https://example.com/digit.png"]}}
    with pytest.raises(referencing.exceptions.Unresolvable):  # the mcp package checks every call so
        jsonschema.validate(arguments, schema)
    assert server.convert_strings_to_filedata(arguments, file_positions) == arguments
    gradio_fixes.offer_callable_mcp_tools(demo)
    assert server.tool_to_endpoint == {"read_image": "/image"}


def test_gradios_mcp_server_keeps_the_files_it_makes_of_data_urls(tmp_path):
    """Why clean_mcp_files exists: nothing tracks them, so nothing would ever delete them."""
    demo = with_mcp_server()
    server = demo.mcp_server_obj

    def made_of_data_url(content: bytes) -> Path:
        value = "data:image/png;base64," + base64.b64encode(content).decode()
        return Path(server.convert_strings_to_filedata({"value": value}, [["value"]])["value"]["path"])

    kept = made_of_data_url(f"untracked {tmp_path}".encode())
    try:
        assert kept.exists() and not any(str(kept) in files for files in demo.temp_file_sets)
    finally:
        kept.unlink()
    gradio_fixes.clean_mcp_files(demo)
    tracked = made_of_data_url(f"tracked {tmp_path}".encode())
    uploads.UploadCleaner(lifetime=0).sweep(demo.temp_file_sets, needed=set(), now=time.time() + 1)
    assert not tracked.exists()


def test_an_mcp_server_that_did_not_start_says_why():
    with gr.Blocks() as demo:
        pass
    demo.mcp_error = "Error launching MCP server: the reason"
    with pytest.raises(RuntimeError, match="the reason"):
        gradio_fixes.offer_callable_mcp_tools(demo)


def test_first_in_head_serves_a_script_ahead_of_gradios_code():
    """Gradio's page does not hold mount_gradio_app's head (its own code adds it later, once it has picked its
    locale); FirstInHead puts a script first in the page's <head>, and leaves every other response alone."""
    import fastapi
    from fastapi.testclient import TestClient

    with gr.Blocks() as blocks:
        gr.Markdown("a page")
    app = gr.mount_gradio_app(fastapi.FastAPI(), blocks, path="/", head="<script>/* given head */</script>")
    app.add_middleware(gradio_fixes.FirstInHead, html="<script>/* first */</script>")
    with TestClient(app) as client:
        page = client.get("/")
        config = client.get("/config")
    assert "<script>/* given head */" not in page.text  # only in the config Gradio embeds, for its code to add
    assert page.text.index("/* first */") < page.text.index('<script type="module"')
    assert int(page.headers["content-length"]) == len(page.content)
    assert "/* first */" not in config.text and config.json()["components"]
