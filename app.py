"""Handwritten-digit studio: one digit, two Keras models, side by side.

    python app.py        # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Weights come from weights/, or from a Hugging Face model repo when WEIGHTS_REPO is set (WEIGHTS_REVISION optional);
either way each file must match the sha256 in metrics.json. The page's sections live in digit_studio/web, one module
each: Gradio API /classify and /classify_sketch (digit_section.py), /explain (why_section.py), /read_number and
/read_number_sketch (number_section.py). JSON API on the same port: POST /api/classify and /api/classify_batch
(json_api.py), listed at /api/docs. MCP tools on the same port, at /gradio_api/mcp/: /classify, /read_number,
/explain and /correct, through Gradio's MCP server (docs/api.md). Every surface's model calls go through one batcher
(answers.BATCHER); the canvas's answers while the pen moves skip the queue (pen_canvas.py).
"""

import contextlib
import gc
import json
import os

import gradio as gr
import tensorflow as tf
import uvicorn

import model_defs
from digit_studio import answers, hub, words
from digit_studio.web import (
    compare_section,
    corrections_panel,
    digit_section,
    gradio_fixes,
    json_api,
    number_section,
    processes,
    uploads,
    why_section,
)
from digit_studio.web.page import HEAD, I18N, PAGE_CSS, Page

MAX_FILE_SIZE = uploads.MAX_IMAGE_BYTES  # per file, for Gradio's uploads as for the JSON routes
# Uploads are deleted once this old and no request waiting or running names them (30 s unless set).
UPLOAD_LIFETIME_S = float(os.environ.get("UPLOAD_LIFETIME_S", "30"))


def load_models() -> tuple:
    """The weights folder and both models; exits with one line when the weights cannot be trusted."""
    try:
        folder = hub.weights_dir()
        return folder, answers.load(folder)
    except model_defs.WeightsError as error:
        raise SystemExit(f"app.py: {error}") from None


# One image is too small to share between threads: on one, both models take 1.0 ms of CPU instead of 1.5, and the
# other core stays free for Gradio's own work. Two inter-op threads let two calls run at once (answers.predict
# splits a large batch in two). Set before load_models(): TensorFlow fixes them at its first op.
with contextlib.suppress(RuntimeError):  # TensorFlow already ran in this process (a test importing app): as it is
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
WEIGHTS_DIR, models = load_models()
METRICS = json.loads((WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())["models"]

# Visitors' corrections: FEEDBACK_DIR (corrections/ unless set), pushed to the Hub dataset FEEDBACK_REPO if set.
corrections_panel.configure()

with gr.Blocks(title=words.text("title")) as demo:  # language_switch() retitles it for the visitor
    page = Page(WEIGHTS_DIR, METRICS)
    # In page order: "Why they differ" explains the digit above it.
    sections = [section.layout(page) for section in (digit_section, why_section, number_section, compare_section)]
    for wire in sections:
        wire()

# Up to 16 calls of each endpoint at once, not Gradio's 1: with 16 clients /classify served 8-34% more requests
# (docs/performance.md); uploads.MAX_PIXELS_IN_FLIGHT bounds the memory of all of them together. No batch=True: a
# batch shares one outcome, so one bad image would fail every request batched with it (answers.BATCHER batches the
# models' calls instead, each caller with its own outcome). The queue's place estimates go out every 10 s, not to
# every waiting client after each event: the page shows none. Set here, not at launch, so that `gradio app.py` gets
# them too, and the janitor with them.
gradio_fixes.spare_the_analytics()
demo.queue(default_concurrency_limit=16, status_update_rate=10)
gradio_fixes.UploadJanitor(demo, page.sketchpads, UPLOAD_LIFETIME_S, period=min(10, UPLOAD_LIFETIME_S / 3))

if __name__ == "__main__":
    # The page in the visitor's language (page.HEAD chooses it, I18N holds Gradio's share of its words)
    gr.mount_gradio_app(
        json_api.api, demo, path="/", max_file_size=MAX_FILE_SIZE, css=PAGE_CSS, i18n=I18N, mcp_server=True
    )
    json_api.api.add_middleware(gradio_fixes.FirstInHead, html=HEAD)
    gradio_fixes.refuse_unreceived_files(demo)
    gradio_fixes.offer_callable_mcp_tools(demo)
    gradio_fixes.clean_mcp_files(demo)
    # Everything made so far (Gradio, TensorFlow, the models, the page) lives as long as the server: out of the
    # garbage collector's full passes, each of which would otherwise walk all of it while a class waits for its
    # answers (docs/performance.md), and shared with the workers forked next rather than copied when a pass touches it.
    gc.freeze()
    processes.start()
    # As demo.launch() would, and as a Space sets them (0.0.0.0, 7860)
    host, port = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"* Running on http://{host}:{port} (JSON API: /api/docs)", flush=True)
    # On shutdown, requests in flight get 3 s to finish; open event streams (a page's or gradio_client's heartbeat)
    # would otherwise hold the server for as long as their clients live.
    server = json_api.with_pen_route(json_api.api)
    uvicorn.run(server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
