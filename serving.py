"""What every part of the page and every Gradio endpoint shares: the models' answers for one digit, the 28x28 view,
reading visitors' uploads and sketches (through uploads.py), and the messages a visitor is told.

app.py loads the models into MODELS at start-up; the sections (why_page.py, number_page.py) and app.py's own
one-digit endpoints build on these functions.
"""

import base64
import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import model_defs
import preprocess
import uploads

log = logging.getLogger("digit_studio")

MODELS: dict = {}  # both Keras models by name, filled by app.py at start-up, before any request can arrive
SERVER_FAULT = "Something went wrong on our side; please try again."
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
HINT = "Draw a digit on the canvas, or upload a photo of one."


def canvas(width: int, label: str, elem_id: str) -> gr.Sketchpad:
    """A fixed-size drawing canvas 400 px high, one black brush as thick as MNIST's strokes at that scale."""
    return gr.Sketchpad(
        type="numpy",
        image_mode="RGBA",
        canvas_size=(width, 400),
        fixed_canvas=True,
        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
        layers=False,
        transforms=(),
        label=label,
        elem_id=elem_id,
    )


def image_upload(label: str, elem_id: str) -> gr.Image:
    """An upload box for one image file, or one pasted from the clipboard."""
    return gr.Image(type="filepath", sources=["upload", "clipboard"], label=label, elem_id=elem_id)


def predict(model_name: str, batch: np.ndarray) -> np.ndarray:
    """Probabilities, N x 10, for an N x 28 x 28 x 1 float32 batch; a batch of SPLIT_BATCH or more in two halves
    at once, as TensorFlow runs calls from two threads side by side on its two inter-op threads (app.py)."""
    # predict_on_batch runs a graph traced once (~0.6 ms for the CNN); a direct eager call re-runs Keras's Python
    # for every layer (~7 ms), and predict() builds a dataset for every call (~100 ms).
    model = MODELS[model_name]
    if len(batch) < SPLIT_BATCH:
        return model.predict_on_batch(batch)
    return np.concatenate(list(HALVES.map(model.predict_on_batch, np.array_split(batch, 2))))


SPLIT_BATCH = 32  # the CNN on 64 digits: 10.9 ms in two halves at once, 18.5 ms in one call (README, Performance)
HALVES = ThreadPoolExecutor(2, thread_name_prefix="model-half")


def run_models(digit: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Each model's ten probabilities and its time in milliseconds, for one 28x28 input."""
    batch = digit[None, :, :, None]
    results = {}
    for name in MODELS:
        start = time.perf_counter()
        probabilities = predict(name, batch)[0]
        results[name] = (probabilities, (time.perf_counter() - start) * 1000)
    return results


def image_html(pixels: np.ndarray, alt: str, width: int, style: str = "") -> str:
    """A uint8 picture as an inline PNG shown `width` px wide, unsmoothed, so no file is written per request."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<img src="data:image/png;base64,{data}" alt="{alt}" '
        f'style="width:{width}px;image-rendering:pixelated;{style}">'
    )


def preview_html(digit: np.ndarray, width: int = 168) -> str:
    """The 28x28 input, enlarged."""
    return image_html(np.round(digit * 255).astype(np.uint8), "28x28 input", width, "border:1px solid #888")


def describe(digit: np.ndarray) -> tuple:
    """The outputs every endpoint shares: CNN Label, dense Label, preview, summary."""
    results = run_models(digit)
    labels = [
        {model_defs.CLASS_NAMES[i]: float(p) for i, p in enumerate(probabilities)}
        for probabilities, _ in results.values()
    ]
    (cnn_probs, cnn_ms), (linear_probs, linear_ms) = results["cnn"], results["linear"]
    cnn_digit, linear_digit = int(np.argmax(cnn_probs)), int(np.argmax(linear_probs))
    if cnn_digit == linear_digit:
        verdict = f"Both models say **{cnn_digit}**."
    else:
        verdict = f"The models disagree: the CNN says **{cnn_digit}**, the dense network **{linear_digit}**."
    # Wall time: TensorFlow runs part of each call on its own thread, so this thread's CPU time would undercount it.
    summary = f"{verdict}  \nCNN {cnn_ms:.1f} ms · dense network {linear_ms:.1f} ms (wall time, any wait included)"
    return labels[0], labels[1], preview_html(digit), summary


def file_path(file: dict | None) -> str | None:
    """The path in one of Gradio's file payloads (left undecoded, preprocess=False, so that uploads' limits apply)."""
    return file.get("path") if file else None


def upload_path(upload: dict | None) -> str:
    if not file_path(upload):
        raise preprocess.NoDigitError(f"No digit found: no image was sent. Send one file ({uploads.FORMATS_TEXT}).")
    return file_path(upload)


def digit_from_upload(upload: dict | None) -> np.ndarray:
    with uploads.image_file(upload_path(upload)) as image:
        return preprocess.preprocess_image(image)


def sketch_payload_files(value: dict | None, pad: gr.Sketchpad) -> dict:
    """A Sketchpad payload, undecoded: the page's canvas arrives ahead of the event, the API's as uploaded files."""
    value = value or {}
    if value.get("id") is not None:  # the page sends its canvas through the editor's accept_blobs, keyed by id
        blobs = pad.blob_storage.pop(value["id"], None)  # as Gradio's own decoding would
        return blobs.model_dump() if blobs else {}
    return {
        "background": file_path(value.get("background")),
        "layers": [file_path(layer) for layer in value.get("layers") or []],
        "composite": file_path(value.get("composite")),
    }


def message_for(error: Exception) -> str:
    """What a visitor is told: our own errors say what to fix; anything else is logged here, and shows no internals."""
    if isinstance(error, preprocess.NoDigitError | preprocess.BadImageError):
        return str(error)
    log.error("unexpected error while answering a request", exc_info=error)
    return SERVER_FAULT


def api_endpoint(to_digit, answer=describe):
    """An API function: input -> answer(digit), by default both models' Labels, the 28x28 view, a summary; no digit
    is an error."""

    def endpoint(value) -> tuple:
        try:
            return answer(to_digit(value))
        except Exception as error:
            raise gr.Error(message_for(error)) from None

    return endpoint


def page_view(to_digit):
    """The page's twin of an endpoint: with nothing to classify it shows the hint instead of an error.

    Its last output is the 28x28 digit (None without one), kept for "Why they differ".
    """

    def show(value) -> tuple:
        try:
            digit = to_digit(value)
            return *describe(digit), digit
        except preprocess.NoDigitError:
            return None, None, "", HINT, None
        except Exception as error:
            raise gr.Error(message_for(error)) from None

    return show
