"""Every place the studio reaches past Gradio's public API, each with the reason no documented option does the job.

Written for Gradio 6.31.0. tests/test_gradio_fixes.py fails as soon as an assumption made here stops holding (an
attribute gone, or an upstream bug fixed), so that an upgrade is noticed rather than breaking something silently.
Nothing else in the studio touches Gradio's internals.

1. refuse_unreceived_files: Gradio refuses a payload naming a file it did not receive only once `has_launched` is
   set, which launch() does and gr.mount_gradio_app does not. Without it, /classify would copy any file of the
   server into its cache and read it.
2. UploadJanitor: deletes what visitors sent once no request needs it. gr.Blocks(delete_cache=...) does not do:
   it deletes files that requests still waiting in the queue name, it never expires the canvases anyone can send
   ahead of an event into a Sketchpad's blob storage (its images' bytes, kept until an event names them), and its
   loop iterates the live sets of files, so it dies for good the first time an upload lands mid-scan.
3. offer_callable_mcp_tools: Gradio's MCP server lists every public endpoint as a tool, but for an input that holds
   files inside an object (a Sketchpad's background, layers and composite) it writes a schema whose $ref points
   nowhere, so the mcp package refuses every call ("PointerToNowhere"), and it would not turn those strings into
   files anyway. Those tools are left out; /classify_sketch and /read_number_sketch stay in the Gradio API.
4. clean_mcp_files: Gradio's MCP server writes each data: URL it receives to its cache and tracks it nowhere, so
   those copies would stay for good; they are handed to the UploadJanitor like any upload.
5. spare_the_analytics: after every event its queue rebuilds a pandas summary of up to 10,000 past events, read only
   by the monitoring dashboard this app never enables; with a class drawing at once that was most of the queue's
   work per event (docs/performance.md). GRADIO_ANALYTICS_CACHE_FREQUENCY spaces it out; it is read when the queue
   is made, so this runs before demo.queue(), and a value set in the environment wins.

6. NAMED_EXAMPLES_JS: gr.Examples shows each example picture as a button holding an image with an empty alt, so a
   screen reader announces a row of unnamed buttons (axe-core's button-name); each is named after its file. A
   gr.Image's picture is such a button too; it is named after the image's label.
7. FirstInHead: Gradio picks its locale from navigator.language before it adds the `head` given to
   gr.mount_gradio_app, so a script there cannot choose the page's language (?lang=, or English for a browser in
   neither of the page's languages) for Gradio's own words. This serves the page with the script first in its
   <head>, ahead of Gradio's code.

Checked and not needed: setting `is_running` by hand (the lifespan gr.mount_gradio_app installs sets it at start-up).
The API endpoints hang off hidden buttons rather than gr.api, which would describe /classify's inputs and outputs
from type hints instead of its components (its Label outputs would change).
"""

import logging
import os
import threading
import time
from collections.abc import Iterator

import gradio as gr
from gradio.mcp import GradioMCPServer
from gradio_client.utils import is_http_url_like

from digit_studio.web import uploads

log = logging.getLogger("digit_studio")


ANALYTICS_EVERY = 10_000  # events between two rebuilds of the queue's unused analytics summary


def spare_the_analytics() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(ANALYTICS_EVERY))


def refuse_unreceived_files(blocks: gr.Blocks) -> None:
    """Make Gradio check that every file a payload names is one it received, as a launched app does (1.)."""
    blocks.has_launched = True


def mcp_server(blocks: gr.Blocks) -> GradioMCPServer:
    """The Blocks' MCP server; gr.mount_gradio_app(mcp_server=True) keeps why it failed to start and says nothing."""
    if blocks.mcp_server_obj is None:
        raise RuntimeError(f"Gradio's MCP server did not start: {blocks.mcp_error}")
    return blocks.mcp_server_obj


def offer_callable_mcp_tools(blocks: gr.Blocks) -> None:
    """Leave out the MCP tools whose files Gradio's MCP server cannot take, those nested in an object (3.)."""
    server = mcp_server(blocks)
    for tool in list(server.tool_to_endpoint):
        _, file_positions = server.get_input_schema(tool)
        if any(len(position) > 1 for position in file_positions):
            del server.tool_to_endpoint[tool]


def clean_mcp_files(blocks: gr.Blocks) -> None:
    """Track the files Gradio's MCP server makes of data: URLs, so that the UploadJanitor deletes them (4.)."""
    server = mcp_server(blocks)
    made: set[str] = set()
    convert = server.convert_strings_to_filedata

    def tracked(value: dict, file_positions: list) -> dict:
        converted = convert(value, file_positions)
        made.update(name for name in names_in(converted) if not is_http_url_like(name))
        return converted

    server.convert_strings_to_filedata = tracked
    blocks.temp_file_sets.append(made)


def names_in(value) -> Iterator[str]:
    """Every file path and sketch id in a request's payload, however deeply nested."""
    if isinstance(value, dict):
        yield from (value[key] for key in ("path", "id") if isinstance(value.get(key), str))
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            yield from names_in(item)


def still_needed(blocks: gr.Blocks) -> set[str]:
    """What a request waiting in the queue or running still names, and the files Gradio keeps for good (its
    examples' and components' own files)."""
    queue = blocks._queue
    events = [event for waiting in list(queue.event_queue_per_concurrency_id.values()) for event in list(waiting.queue)]
    events += [event for job in list(queue.active_jobs) if job for event in job]
    needed = {name for event in events if event.data for name in names_in(event.data.data)}
    return needed.union(*(getattr(block, "keep_in_cache", set()) for block in list(blocks.blocks.values())))


class UploadJanitor:
    """Every `period` seconds, deletes the uploads and the canvases sent ahead (2.) once `lifetime` seconds old and
    no request needs them, on a thread of its own."""

    def __init__(self, blocks: gr.Blocks, pads: list[gr.Sketchpad], lifetime: float, period: float = 10):
        self.blocks, self.pads, self.period = blocks, pads, period
        self.cleaner = uploads.UploadCleaner(lifetime)
        threading.Thread(target=self.run, daemon=True, name="upload-janitor").start()

    def sweep_once(self) -> None:
        needed = still_needed(self.blocks)
        self.cleaner.sweep(self.blocks.temp_file_sets, needed)
        for pad in self.pads:
            self.cleaner.expire(pad.blob_storage, needed)

    def run(self) -> None:
        while True:
            time.sleep(self.period)
            try:
                self.sweep_once()
            except Exception:  # one bad pass must not end the cleaning for good, as it does Gradio's own
                log.exception("cleaning uploads failed; trying again in %s s", self.period)


# Names each example button "Example 3: 2 paper photo" (window.studio_words, page.HEAD), as Gradio renders a page of
# examples; the names follow the files' own ("2_paper_photo.jpg"). Gradio fills each button only once its example
# component's script has loaded: until then the button is named by its place alone ("Example 3"), and the page's
# CSS gives the empty button its size (page.PAGE_CSS).
NAMED_EXAMPLES_JS = """
const nameExamples = () => {
  document.querySelectorAll(".gallery-item").forEach((button) => {
    const source = button.querySelector("img")?.getAttribute("src");
    const file = source
      ? decodeURIComponent(source.split("/").pop()).replace(/\\.[a-z]+$/i, "").replaceAll("_", " ")
      : "";
    const place = [...button.parentElement.children].indexOf(button) + 1;
    const name = `${window.studio_words.example} ${place}` + (file ? `: ${file}` : "");
    if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
  });
  document.querySelectorAll(".image-container > button:not([aria-label])").forEach((button) => {
    const label = button.closest(".block")?.querySelector("[data-testid=block-label]");
    if (label) button.setAttribute("aria-label", label.innerText.trim());
  });
};
new MutationObserver(nameExamples).observe(
  document.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["src"]}
);
"""


class FirstInHead:
    """ASGI middleware: the page at `path` (Gradio's index, plain HTML) with `html` first in its <head>."""

    def __init__(self, app, html: str, path: str = "/"):
        self.app, self.html, self.path = app, html.encode(), path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        start, body = None, []

        async def patched(message):
            nonlocal start
            if message["type"] not in ("http.response.start", "http.response.body"):
                return await send(message)  # as a test client's http.response.debug
            if message["type"] == "http.response.start":
                start = message
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page, headers = b"".join(body), start["headers"]
            names = {name.lower(): value for name, value in headers}
            if names.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in names:
                page = page.replace(b"<head>", b"<head>" + self.html, 1)
                headers = [(name, value) for name, value in headers if name.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, patched)
