"""Handwritten-digit studio: one digit, two Keras models, side by side.

    python app.py        # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Weights come from weights/, or from a Hugging Face model repo when WEIGHTS_REPO is set
(WEIGHTS_REVISION optional); either way each file must match the sha256 in metrics.json.
Gradio API: /classify takes an image file, /classify_sketch a sketchpad value; both return the CNN's
Label, the dense network's Label, the 28x28 view and a summary, and fail with "No digit found"
when there is nothing to classify; /explain takes an image file and returns both models' evidence maps
(explain.py). JSON API on the same port: POST /api/classify and /api/classify_batch
(json_api.py), listed at /api/docs.
"""

import asyncio
import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fastapi
import gradio as gr
import numpy as np
import tensorflow as tf
import uvicorn
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

import compare_page
import json_api
import model_defs
import number_page
import preprocess
import serving
import uploads
import why_page

MAX_FILE_SIZE = json_api.MAX_IMAGE_BYTES  # per file, for Gradio's uploads as for the JSON routes
# Uploads are deleted once this old and no request waiting or running names them (uploads.UploadCleaner).
UPLOAD_LIFETIME_S = 30
# Gradio 6.31's sketchpad starts with no tool selected and drops it again on every clear;
# whenever neither brush nor eraser of a sketchpad is active, pick its brush so the first stroke always draws.
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


def weights_dir() -> Path:
    """weights/ (or the folder WEIGHTS_DIR names) by default; a snapshot of WEIGHTS_REPO on the Hub when that is set."""
    repo_id = os.environ.get("WEIGHTS_REPO")
    if not repo_id:
        return Path(os.environ.get("WEIGHTS_DIR", model_defs.WEIGHTS_DIR))
    import huggingface_hub

    names = [model_defs.weights_file(name) for name in model_defs.MODEL_NAMES]
    try:
        folder = huggingface_hub.snapshot_download(
            repo_id,
            revision=os.environ.get("WEIGHTS_REVISION"),
            allow_patterns=[*names, model_defs.METRICS_FILE, "*.png"],
        )
    except Exception as error:  # offline, unknown repo or revision, no permission: all end the same way
        reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise model_defs.WeightsError(f"cannot download weights from {repo_id}: {reason}") from None
    return Path(folder)


def load_models() -> tuple[Path, dict]:
    """The weights folder and both models; exits with one line when the weights cannot be trusted."""
    try:
        folder = weights_dir()
        return folder, {name: model_defs.load_model(name, folder) for name in model_defs.MODEL_NAMES}
    except model_defs.WeightsError as error:
        raise SystemExit(f"app.py: {error}") from None


# One image is too small to share between threads: on one, both models take 1.0 ms of CPU instead of 1.5, and the
# other core stays free for Gradio's own work. Two inter-op threads let two calls run at once (serving.predict
# splits a large batch in two). Set before load_models(): TensorFlow fixes them at its first op.
with contextlib.suppress(RuntimeError):  # TensorFlow already ran in this process (a test importing app): as it is
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
WEIGHTS_DIR, models = load_models()
serving.MODELS.update(models)
METRICS = json.loads((WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())["models"]


def digit_from_sketch(value: dict | None) -> np.ndarray:
    with uploads.sketch_files(serving.sketch_payload_files(value, sketch)) as arrays:
        return preprocess.preprocess_sketch(arrays)


classify = serving.api_endpoint(serving.digit_from_upload)
classify_sketch = serving.api_endpoint(digit_from_sketch)


def names_in(value) -> Iterator[str]:
    """Every file path and sketch id in a request's payload, however deeply nested."""
    if isinstance(value, dict):
        yield from (value[key] for key in ("path", "id") if isinstance(value.get(key), str))
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            yield from names_in(item)


def still_needed(blocks: gr.Blocks) -> set[str]:
    """What a request waiting in Gradio 6.31's queue or running still names, and the files Gradio keeps for good."""
    queue = blocks._queue
    events = [event for waiting in list(queue.event_queue_per_concurrency_id.values()) for event in list(waiting.queue)]
    events += [event for job in list(queue.active_jobs) if job for event in job]
    needed = {name for event in events if event.data for name in names_in(event.data.data)}
    return needed.union(*(getattr(block, "keep_in_cache", set()) for block in list(blocks.blocks.values())))


def clean_uploads(blocks: gr.Blocks) -> None:
    """Every 10 s, delete what visitors sent (uploads, and sketches the page sent ahead) once no request needs it."""
    cleaner = uploads.UploadCleaner(UPLOAD_LIFETIME_S)
    while True:
        time.sleep(10)
        try:
            needed = still_needed(blocks)
            cleaner.sweep(blocks.temp_file_sets, needed)
            for pad in (sketch, number_page.number_sketch):
                cleaner.expire(pad.blob_storage, needed)
        except Exception:  # one bad pass must not end the cleaning for good, as it does Gradio's own
            serving.log.exception("cleaning uploads failed; trying again in 10 s")


EXAMPLES = sorted(str(path) for path in serving.EXAMPLES_DIR.iterdir() if path.suffix in {".png", ".jpg", ".webp"})

with gr.Blocks(title="Handwritten-digit studio") as demo:
    gr.Markdown(
        "# Handwritten-digit studio\nDraw a digit or upload a photo of one: a LeNet-style CNN and a plain "
        "dense network each say which digit they see, and how sure they are."
    )
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = serving.canvas(400, "Draw one digit", "sketchpad")
            with gr.Tab("Upload"):
                upload = serving.image_upload("Upload a digit", "upload")
                gr.Examples(
                    examples=EXAMPLES,
                    inputs=upload,
                    label="Examples: MNIST digits and synthetic photos, scans, drawings",
                )
            gr.ClearButton([sketch, upload], value="Clear")
        with gr.Column():
            summary = gr.Markdown(serving.HINT, elem_id="summary")
            with gr.Row():
                cnn_label = gr.Label(num_top_classes=10, label=model_defs.MODEL_TITLES["cnn"], elem_id="cnn_label")
                linear_label = gr.Label(
                    num_top_classes=10, label=model_defs.MODEL_TITLES["linear"], elem_id="linear_label"
                )
            preview = gr.HTML(label="What the models see (28x28)", elem_id="preview")
    outputs = [cnn_label, linear_label, preview, summary]
    current_digit = gr.State(None)  # the page's 28x28 input, for "Why they differ"

    # The sections, in page order: "Why they differ" explains the digit above it. Gradio numbers events as they
    # are made, so the number section's come below.
    why_refresh = why_page.why_section(current_digit, METRICS)
    number_page.layout()
    compare_page.comparison_section(WEIGHTS_DIR, METRICS)

    # Every input reaches our functions undecoded (preprocess=False) and is read by uploads.py, so every event,
    # the page's private ones too (anyone can call them through the queue), gets the same limits and messages.
    page_events = {
        "outputs": [*outputs, current_digit],
        "show_progress": "hidden",
        "api_visibility": "private",
        "preprocess": False,
    }
    sketch.change(serving.page_view(digit_from_sketch), sketch, trigger_mode="always_last", **page_events).success(
        **why_refresh
    )
    upload.change(serving.page_view(serving.digit_from_upload), upload, **page_events).success(**why_refresh)
    # The API endpoints hang off hidden buttons, so that they raise "No digit found" where the page shows a hint.
    gr.Button(visible=False).click(classify, upload, outputs, api_name="classify", preprocess=False)
    gr.Button(visible=False).click(classify_sketch, sketch, outputs, api_name="classify_sketch", preprocess=False)
    explain_outputs = [gr.JSON(visible=False), gr.HTML(visible=False)]
    gr.Button(visible=False).click(
        why_page.explain_endpoint, upload, explain_outputs, api_name="explain", preprocess=False
    )
    number_page.wire(page_events)
    if os.environ.get("DIGIT_STUDIO_BENCH") == "1":
        # benchmarks/bench.py's baseline: /classify's input and output types with constant values, so that the two
        # differ only by the app's own work; undocumented, and absent unless the benchmark asks for it.
        constant = (dict.fromkeys(model_defs.CLASS_NAMES, 0.1),) * 2 + (
            serving.preview_html(np.zeros((28, 28))),
            serving.HINT,
        )
        bench_events = {"api_name": "trivial", "api_visibility": "undocumented", "preprocess": False}
        gr.Button(visible=False).click(lambda upload: constant, upload, outputs, **bench_events)

# Up to 16 calls of each endpoint at once, not Gradio's 1: with 16 clients /classify served 8-34% more requests
# (README, Performance); uploads.MAX_PIXELS_IN_FLIGHT bounds the memory of all of them together. No batch=True: a
# batch shares one outcome, so one bad image would fail every request batched with it. Set here, not at launch, so
# that `gradio app.py` gets it too, and the cleaner with it.
demo.queue(default_concurrency_limit=16)
threading.Thread(target=clean_uploads, args=(demo,), daemon=True).start()

# The JSON routes live on a FastAPI app of their own, with Gradio mounted on it at "/" (gr.mount_gradio_app): one
# server and port for the page, Gradio's API and these, and an OpenAPI page that lists only these.
api = fastapi.FastAPI(
    title="Handwritten-digit studio: JSON API",
    description="Both models' answers for a digit image, as JSON. The page and Gradio's API are at /.",
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    redoc_url=None,
)
IMAGE_SCHEMA = {"type": "string", "format": "binary"}
ANSWER_DOC = {
    "200": {"description": '{"cnn": {"label", "confidence", "confidences"}, "linear": {...}, "agree": bool}'},
    "400": {"description": '{"error": ...}: no digit found, a damaged image, a malformed form'},
    "408": {"description": f"the body took over {json_api.BODY_TIMEOUT_S} s to arrive"},
    "413": {"description": "a file, an image's pixels or the number of images over the limit"},
    "415": {"description": "not an accepted image format, or another Content-Type"},
    "422": {"description": "no image, or no field of the expected name"},
}


async def read_body(request: fastapi.Request, max_bytes: int) -> bytes:
    """The request's body, refused once over max_bytes or once BODY_TIMEOUT_S have passed since it began."""
    too_large = json_api.ApiError(413, f"The request is over the limit of {max_bytes // 2**20} MB.")
    if int(request.headers.get("content-length") or 0) > max_bytes:  # uvicorn has checked it is a number
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(json_api.BODY_TIMEOUT_S):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise too_large
    except TimeoutError:
        raise json_api.ApiError(408, f"The request took over {json_api.BODY_TIMEOUT_S} s to arrive.") from None
    except ClientDisconnect:
        raise json_api.ApiError(400, "The request ended before its body did.") from None
    return bytes(body)


JSON_HANDLERS = {"classify": json_api.classify, "classify_batch": json_api.classify_batch}


async def json_route(request: fastapi.Request, route: str) -> JSONResponse:
    """Read the body here, in the event loop; decode, preprocess and run the models in a worker thread."""
    try:
        body = await read_body(request, json_api.MAX_BODY_BYTES[route])
    except json_api.ApiError as error:  # the body may still be coming: close the connection, or uvicorn reads on
        return JSONResponse({"error": error.message}, error.status, headers={"Connection": "close"})
    handle = JSON_HANDLERS[route]
    try:
        status, answer = await run_in_threadpool(handle, body, request.headers.get("content-type", ""), serving.predict)
    except Exception as error:  # a fault of ours, not the client's: logged, and told without internals
        status, answer = 500, {"error": serving.message_for(error)}
    return JSONResponse(answer, status)


@api.post(
    "/api/classify",
    summary="Classify one image",
    responses=ANSWER_DOC,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {"image": IMAGE_SCHEMA}}},
                "image/*": {"schema": IMAGE_SCHEMA},
            },
        }
    },
)
async def api_classify(request: fastapi.Request) -> JSONResponse:
    """One image (PNG, JPEG, WebP, BMP, GIF, TIFF; 10 MB, 25 megapixels): both models' answers."""
    return await json_route(request, "classify")


@api.post(
    "/api/classify_batch",
    summary="Classify up to 64 images",
    responses={**ANSWER_DOC, "200": {"description": '{"results": [answer or {"error": ...}, ...]}, in order'}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"images": {"type": "array", "items": IMAGE_SCHEMA}}}
                }
            },
        }
    },
)
async def api_classify_batch(request: fastapi.Request) -> JSONResponse:
    """Up to 64 images, each in a field named `images`: one entry per image, in order, each an answer or an error."""
    return await json_route(request, "classify_batch")


if __name__ == "__main__":
    gr.mount_gradio_app(api, demo, path="/", max_file_size=MAX_FILE_SIZE, js=PICK_BRUSH_JS)
    # Gradio 6.31 refuses a payload naming a file it did not receive only once demo.has_launched, which launch() sets
    # and mount_gradio_app does not: without it, /classify would copy any server file into its cache and read it.
    demo.has_launched = True
    demo.is_running = True  # also set by launch() only: without it the queue's event streams send no heartbeat
    # A batch's images preprocessed on every core, by processes forked now, before the server takes a request (Linux
    # only: fork is unsafe on macOS and absent on Windows, where batches are preprocessed in this process).
    cores = len(os.sched_getaffinity(0)) if sys.platform == "linux" else 1
    if cores > 1:
        workers = json_api.Workers(min(cores, 4))
        JSON_HANDLERS["classify_batch"] = functools.partial(json_api.classify_batch, workers=workers)
    # As demo.launch() would, and as a Space sets them (0.0.0.0, 7860)
    host, port = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"* Running on http://{host}:{port} (JSON API: /api/docs)", flush=True)
    uvicorn.run(api, host=host, port=port, log_level="warning")
