"""Every place the studio reaches past Gradio's public API, each with the reason no documented option does the job.

Written for Gradio 6.31.0. tests/test_gradio_fixes.py fails as soon as an assumption made here stops holding (an
attribute gone, or an upstream bug fixed), so that an upgrade is noticed rather than breaking something silently.
Nothing else in the studio touches Gradio's internals.

1. PICK_BRUSH_JS: the sketchpad starts with no tool selected and drops it again on every clear, so a visitor's first
   stroke would draw nothing. No Sketchpad option selects a tool.
2. refuse_unreceived_files: Gradio refuses a payload naming a file it did not receive only once `has_launched` is
   set, which launch() does and gr.mount_gradio_app does not. Without it, /classify would copy any file of the
   server into its cache and read it.
3. sketch_blobs: the page sends its canvas ahead of the event, into the sketchpad's blob storage, keyed by an id the
   event's payload names. Every input reaches the studio undecoded (preprocess=False, so that one reader applies
   the same limits to every event), so the studio takes the blobs out as Gradio's own decoding would.
4. clear_button: the sketchpad empties its canvas for a new value only when the value differs, and gr.ClearButton
   sets the same empty value at every press, so only its first press would clear the canvas. A fresh empty value
   would clear it, but its change event can read the canvas before it is emptied; the button presses the canvas's
   own "Clear canvas" instead (the last button of its top toolbar: its label is translated), which does both.
5. UploadJanitor: deletes what visitors sent once no request needs it. gr.Blocks(delete_cache=...) does not do:
   it deletes files that requests still waiting in the queue name, it never expires the canvases sent ahead of an
   event that is never run (3.), and its loop iterates the live sets of files, so it dies for good the first time
   an upload lands mid-scan.

Checked and not needed: setting `is_running` by hand (the lifespan gr.mount_gradio_app installs sets it at start-up).
The API endpoints hang off hidden buttons rather than gr.api, which would describe /classify's inputs and outputs
from type hints instead of its components (its Label outputs would change).
"""

import logging
import threading
import time
from collections.abc import Iterator

import gradio as gr

from digit_studio.web import uploads

log = logging.getLogger("digit_studio")

# Whenever neither brush nor eraser of a sketchpad is active, pick its brush so the first stroke always draws.
PICK_BRUSH_JS = """
() => {
  const pickBrush = () => {
    for (const pad of document.querySelectorAll("#sketchpad, #number_sketchpad")) {
      const tools = pad.querySelectorAll("button[aria-label='Brush'], button[aria-label='Erase']");
      if (tools.length && ![...tools].some((tool) => tool.classList.contains("highlight"))) tools[0].click();
    }
  };
  new MutationObserver(pickBrush).observe(document.body, {childList: true, subtree: true});
  pickBrush();
}
"""


def clear_button(label: str, pad: gr.Sketchpad, upload: gr.Image) -> gr.Button:
    """A button that empties the canvas (4.) and the upload box at every press; their change events then reset the
    answers."""
    button = gr.Button(label)
    press_clear_canvas = f"document.querySelectorAll('#{pad.elem_id} .top-panel button')"
    button.click(None, None, upload, js=f"() => ([...{press_clear_canvas}].at(-1).click(), null)")
    return button


def refuse_unreceived_files(blocks: gr.Blocks) -> None:
    """Make Gradio check that every file a payload names is one it received, as a launched app does (2.)."""
    blocks.has_launched = True


def sketch_blobs(pad: gr.Sketchpad, blob_id: str) -> dict:
    """The canvas the page sent ahead of an event (3.), as {"background", "layers", "composite"} images' bytes; taken
    out of the pad's storage, so that it is read once."""
    blobs = pad.blob_storage.pop(blob_id, None)
    return blobs.model_dump() if blobs else {}


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
    """Every `period` seconds, deletes the uploads and the canvases sent ahead (5.) once `lifetime` seconds old and
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
