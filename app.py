"""Handwritten-digit studio: one digit, two Keras models, side by side.

    python app.py        # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Weights come from weights/, or from a Hugging Face model repo when WEIGHTS_REPO is set
(WEIGHTS_REVISION optional); either way each file must match the sha256 in metrics.json.
API: /classify takes an image file, /classify_sketch a sketchpad value; both return the CNN's
Label, the dense network's Label, the 28x28 view and a summary, and fail with "No digit found"
when there is nothing to classify.
"""

import base64
import io
import json
import os
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import tensorflow as tf
from PIL import Image

import model_defs
import preprocess

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
FORMATS_TEXT = "PNG, JPEG, WebP, BMP, GIF or TIFF"
MAX_PIXELS = 25_000_000
# A sketch's images in all (the page's canvas is 400x400): each decoded layer is held until all are read.
MAX_SKETCH_PIXELS = 4_000_000
MAX_FILE_SIZE = "10mb"
# Gradio decodes the page's sketch itself: Pillow then refuses a decompression bomb (over twice this) unread.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Uploads are deleted once this old (see delete_old_files): not at once, as Gradio stores identical uploads as one
# file, which another request may still be about to read.
UPLOAD_LIFETIME_S = 30
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
HINT = "Draw a digit on the canvas, or upload a photo of one."
# Gradio 6.31's sketchpad starts with no tool selected and drops it again on every clear;
# whenever neither brush nor eraser is active, pick the brush so the first stroke always draws.
PICK_BRUSH_JS = """
() => {
  const pickBrush = () => {
    const tools = document.querySelectorAll(
      "#sketchpad button[aria-label='Brush'], #sketchpad button[aria-label='Erase']");
    if (tools.length && ![...tools].some((tool) => tool.classList.contains("highlight"))) tools[0].click();
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
# other core stays free for Gradio's own work. Set before load_models(): TensorFlow fixes them at its first op.
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
WEIGHTS_DIR, MODELS = load_models()
METRICS = json.loads((WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())["models"]


def predict(model_name: str, batch: np.ndarray) -> np.ndarray:
    """Probabilities, N x 10, for an N x 28 x 28 x 1 float32 batch."""
    # predict_on_batch runs a graph traced once (~0.6 ms for the CNN); a direct eager call re-runs Keras's Python
    # for every layer (~7 ms), and predict() builds a dataset for every call (~100 ms).
    return MODELS[model_name].predict_on_batch(batch)


def run_models(digit: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Each model's ten probabilities and its time in milliseconds, for one 28x28 input."""
    batch = digit[None, :, :, None]
    results = {}
    for name in MODELS:
        start = time.perf_counter()
        probabilities = predict(name, batch)[0]
        results[name] = (probabilities, (time.perf_counter() - start) * 1000)
    return results


def preview_html(digit: np.ndarray) -> str:
    """The 28x28 input as an inline PNG, enlarged without smoothing, so no file is written per request."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(digit * 255).astype(np.uint8)).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<img src="data:image/png;base64,{data}" alt="28x28 input" '
        'style="width:168px;height:168px;image-rendering:pixelated;border:1px solid #888">'
    )


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
    summary = f"{verdict}  \nCNN {cnn_ms:.1f} ms · dense network {linear_ms:.1f} ms"
    return labels[0], labels[1], preview_html(digit), summary


def open_image(path: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an uploaded file within the stated limits, decoding it fully so damage shows here."""
    too_large = f"That image is over the limit of {max_pixels // 1_000_000} megapixels; please send a smaller one."
    try:
        image = Image.open(path, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:  # Pillow's own check (twice MAX_PIXELS) comes before ours
        raise preprocess.BadImageError(too_large) from None
    except (Image.UnidentifiedImageError, OSError, ValueError):
        raise preprocess.BadImageError(f"That file is not an image this app can read: use {FORMATS_TEXT}.") from None
    if image.width * image.height > max_pixels:
        raise preprocess.BadImageError(too_large)
    try:
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise preprocess.BadImageError("That image file is damaged or incomplete; please upload it again.") from None
    return image


def digit_from_upload(upload: dict | None) -> np.ndarray:
    """`upload` is Gradio's file payload, left undecoded (preprocess=False) so that open_image's limits apply."""
    if not upload or not upload.get("path"):
        raise preprocess.NoDigitError(f"No image was sent: send one image file ({FORMATS_TEXT}).")
    return preprocess.preprocess_image(open_image(upload["path"]))


def digit_from_sketch(sketch: dict | None) -> np.ndarray:
    return preprocess.preprocess_sketch(sketch or {})


def digit_from_sketch_files(sketch: dict | None) -> np.ndarray:
    """The API's sketch as Gradio's file payloads (preprocess=False), each decoded like an upload by open_image.

    Its images share one limit, MAX_SKETCH_PIXELS, so that no number of layers can exhaust the memory.
    """
    sketch = sketch or {}
    pixels = 0

    def decode(file: dict | None) -> np.ndarray | None:
        nonlocal pixels
        if not file:
            return None
        image = open_image(file["path"], MAX_SKETCH_PIXELS)
        pixels += image.width * image.height
        if pixels > MAX_SKETCH_PIXELS:
            raise preprocess.BadImageError(
                f"That sketch's images are over the limit of {MAX_SKETCH_PIXELS // 1_000_000} megapixels in all."
            )
        return np.asarray(image.convert("RGBA"))

    layers = [decode(layer) for layer in sketch.get("layers") or []]
    return digit_from_sketch(
        {"background": decode(sketch.get("background")), "layers": layers, "composite": decode(sketch.get("composite"))}
    )


def api_endpoint(to_digit):
    """An API function: input -> both models' Labels, the 28x28 view, a summary; no digit is an error."""

    def endpoint(value) -> tuple:
        try:
            return describe(to_digit(value))
        except (preprocess.NoDigitError, preprocess.BadImageError) as error:
            raise gr.Error(str(error)) from None

    return endpoint


def page_view(to_digit):
    """The page's twin of an endpoint: with nothing to classify it shows the hint instead of an error."""

    def show(value) -> tuple:
        try:
            return describe(to_digit(value))
        except preprocess.NoDigitError:
            return None, None, "", HINT
        except preprocess.BadImageError as error:
            raise gr.Error(str(error)) from None

    return show


classify = api_endpoint(digit_from_upload)
classify_sketch = api_endpoint(digit_from_sketch_files)


def comparison_markdown() -> str:
    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {entry['test_accuracy']:.2%} | {entry['test_loss']:.4f} "
        f"| {entry['seconds_per_epoch']:.0f} s ({entry['device']}) | {LATENCY_MS[name]:.2f} ms |"
        for name, entry in METRICS.items()
    )
    return (
        "| model | parameters | test accuracy (10,000 MNIST images) | test loss | training time per epoch "
        "| latency per image (this server) |\n|---|---|---|---|---|---|\n" + rows
    )


def measure_latency(repeats: int = 20) -> dict[str, float]:
    """Median milliseconds per single-image call of each model; also warms both up."""
    digit = np.zeros((model_defs.IMAGE_SIZE, model_defs.IMAGE_SIZE), dtype=np.float32)
    timings = [run_models(digit) for _ in range(repeats)]
    return {name: float(np.median([t[name][1] for t in timings])) for name in MODELS}


def delete_old_files(blocks: gr.Blocks) -> None:
    """Every 10 s, delete what visitors sent (and any file Gradio made for them) once UPLOAD_LIFETIME_S old.

    Gradio's delete_cache would do this, but in 6.31 its loop reads the live sets of files and dies for good
    the first time an upload lands mid-scan, so under load it soon stops deleting anything.
    """
    while True:
        time.sleep(10)
        kept = set().union(*(getattr(block, "keep_in_cache", set()) for block in list(blocks.blocks.values())))
        cutoff = time.time() - UPLOAD_LIFETIME_S
        for files in blocks.temp_file_sets:
            for name in files.copy() - kept:  # a copy: uploads keep arriving meanwhile
                path = Path(name)
                try:
                    if path.stat().st_ctime > cutoff:
                        continue
                    path.unlink()
                    path.parent.rmdir()  # Gradio gives each upload a folder of its own, named by its hash
                except OSError:  # gone already, or its folder holds the same bytes under another name
                    pass
                files.discard(name)


LATENCY_MS = measure_latency()
EXAMPLES = sorted(str(path) for path in EXAMPLES_DIR.iterdir() if path.suffix in {".png", ".jpg", ".webp"})

with gr.Blocks(title="Handwritten-digit studio") as demo:
    gr.Markdown(
        "# Handwritten-digit studio\nDraw a digit or upload a photo of one: a LeNet-style CNN and a plain "
        "dense network each say which digit they see, and how sure they are."
    )
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = gr.Sketchpad(
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(400, 400),
                    fixed_canvas=True,
                    brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    transforms=(),
                    label="Draw one digit",
                    elem_id="sketchpad",
                )
            with gr.Tab("Upload"):
                upload = gr.Image(
                    type="filepath", sources=["upload", "clipboard"], label="Upload a digit", elem_id="upload"
                )
                gr.Examples(examples=EXAMPLES, inputs=upload, label="Examples: clean MNIST digits and real-world ones")
            gr.ClearButton([sketch, upload], value="Clear")
        with gr.Column():
            summary = gr.Markdown(HINT, elem_id="summary")
            with gr.Row():
                cnn_label = gr.Label(num_top_classes=10, label=model_defs.MODEL_TITLES["cnn"], elem_id="cnn_label")
                linear_label = gr.Label(
                    num_top_classes=10, label=model_defs.MODEL_TITLES["linear"], elem_id="linear_label"
                )
            preview = gr.HTML(label="What the models see (28x28)", elem_id="preview")
    outputs = [cnn_label, linear_label, preview, summary]

    with gr.Accordion("How the two models compare", open=False):
        gr.Markdown(comparison_markdown())
        gr.Image(str(WEIGHTS_DIR / "curves.png"), label="Accuracy and loss per epoch", buttons=[])
        with gr.Row():
            for name in model_defs.MODEL_NAMES:
                gr.Image(str(WEIGHTS_DIR / f"confusion_{name}.png"), label=f"Confusion matrix: {name}", buttons=[])

    page_events = {"outputs": outputs, "show_progress": "hidden", "api_visibility": "private"}
    sketch.change(page_view(digit_from_sketch), sketch, trigger_mode="always_last", **page_events)
    # Files reach our functions undecoded (preprocess=False), so every bad one gets our limits and message; the
    # page's sketch is the exception: the browser sends it in pieces that only Gradio's own decoding reassembles.
    upload.change(page_view(digit_from_upload), upload, preprocess=False, **page_events)
    # The API endpoints hang off hidden buttons, so that they raise "No digit found" where the page shows a hint.
    gr.Button(visible=False).click(classify, upload, outputs, api_name="classify", preprocess=False)
    gr.Button(visible=False).click(classify_sketch, sketch, outputs, api_name="classify_sketch", preprocess=False)
    if os.environ.get("DIGIT_STUDIO_BENCH") == "1":
        # benchmarks/bench.py's baseline: /classify's input and output types with constant values, so that the two
        # differ only by the app's own work; undocumented, and absent unless the benchmark asks for it.
        constant = (dict.fromkeys(model_defs.CLASS_NAMES, 0.1),) * 2 + (preview_html(np.zeros((28, 28))), HINT)
        bench_events = {"api_name": "trivial", "api_visibility": "undocumented", "preprocess": False}
        gr.Button(visible=False).click(lambda upload: constant, upload, outputs, **bench_events)


if __name__ == "__main__":
    threading.Thread(target=delete_old_files, args=(demo,), daemon=True).start()
    # Up to 16 calls of each endpoint at once, not Gradio's 1: with 16 clients /classify served 8-34% more requests
    # (README, Performance), and the bound caps the memory of many large uploads. No batch=True: a batch
    # shares one outcome, so one bad image would fail every request batched with it.
    demo.queue(default_concurrency_limit=16).launch(max_file_size=MAX_FILE_SIZE, js=PICK_BRUSH_JS)
