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
import time
from pathlib import Path

import gradio as gr
import keras
import numpy as np
import preprocess
from PIL import Image

import model_defs

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_PIXELS = 25_000_000
MAX_FILE_SIZE = "10mb"
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
HINT = "Draw a digit on the canvas, or upload a photo of one."


def weights_dir() -> Path:
    """weights/ by default; a snapshot of WEIGHTS_REPO on the Hub when that is set."""
    repo_id = os.environ.get("WEIGHTS_REPO")
    if not repo_id:
        return model_defs.WEIGHTS_DIR
    import huggingface_hub

    names = [model_defs.weights_file(name) for name in model_defs.MODEL_NAMES]
    folder = huggingface_hub.snapshot_download(
        repo_id,
        revision=os.environ.get("WEIGHTS_REVISION"),
        allow_patterns=[*names, model_defs.METRICS_FILE, "*.png"],
    )
    return Path(folder)


WEIGHTS_DIR = weights_dir()
MODELS = {name: model_defs.load_model(name, WEIGHTS_DIR) for name in model_defs.MODEL_NAMES}
METRICS = json.loads((WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())["models"]


def run_models(digit: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Each model's ten probabilities and its time in milliseconds, for one 28x28 input."""
    batch = digit[None, :, :, None]
    results = {}
    for name, model in MODELS.items():
        start = time.perf_counter()
        # A direct call costs ~1 ms; model.predict() would add ~60 ms of set-up per request.
        probabilities = keras.ops.convert_to_numpy(model(batch, training=False))[0]
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


def open_image(path: str) -> Image.Image:
    """Open an uploaded file within the stated limits, decoding it fully so damage shows here."""
    try:
        image = Image.open(path, formats=ACCEPTED_FORMATS)
    except (Image.UnidentifiedImageError, OSError, ValueError):
        raise preprocess.BadImageError(
            "That file is not an image this app can read: use PNG, JPEG, WebP, BMP, GIF or TIFF."
        ) from None
    if image.width * image.height > MAX_PIXELS:
        raise preprocess.BadImageError(
            f"That image is {image.width}x{image.height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels."
        )
    try:
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise preprocess.BadImageError("That image file is damaged or incomplete; please upload it again.") from None
    return image


def digit_from_upload(image_path: str | None) -> np.ndarray:
    if not image_path:
        raise preprocess.NoDigitError("No image was sent: send one image file (PNG, JPEG, WebP, BMP, GIF or TIFF).")
    return preprocess.preprocess_image(open_image(image_path))


def digit_from_sketch(sketch: dict | None) -> np.ndarray:
    return preprocess.preprocess_sketch(sketch or {})


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
classify_sketch = api_endpoint(digit_from_sketch)


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
            clear = gr.ClearButton([sketch, upload], value="Clear")
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
    upload.change(page_view(digit_from_upload), upload, **page_events)
    # The API endpoints hang off hidden buttons, so that they raise "No digit found" where the page shows a hint.
    gr.Button(visible=False).click(classify, upload, outputs, api_name="classify")
    gr.Button(visible=False).click(classify_sketch, sketch, outputs, api_name="classify_sketch")


if __name__ == "__main__":
    demo.queue().launch(max_file_size=MAX_FILE_SIZE)
