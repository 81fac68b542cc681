"""The "Read a number" section (segmentation.py's wiring, issue 9): every digit of a drawing or photo, left to right,
read by both models; and the /read_number and /read_number_sketch endpoints.

app.py's layout calls layout() where the section sits and wire() where its events go (Gradio numbers events in the
order they are made), so the section's canvas, upload and outputs are this module's, set by layout().
"""

import time
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np

import model_defs
import preprocess
import segmentation
import serving
import uploads

NUMBER_HINT = "Write a number on the wide canvas, or upload a photo of one: each digit is read by both models."
# A digit is marked for a second look when the models disagree or either is less sure than this; 80% is where
# the examples' digits start (tests/make_examples.py), and most misread digits fall below it.
UNSURE_BELOW = 0.8
# At most MAX_DIGITS digits, fewer than SPLIT_BATCH: predict never splits a number's batch, so this thread never waits
# for serving.HALVES. Concurrent readings take turns on it, as they would on the machine's two cores anyway.
CNN_THREAD = ThreadPoolExecutor(1, thread_name_prefix="number-cnn")
NUMBER_EXAMPLES = sorted(str(path) for path in (serving.EXAMPLES_DIR / "numbers").iterdir())
number_sketch: gr.Sketchpad  # the page sends this canvas's strokes ahead of its event, into its blob storage
number_upload: gr.Image
number_outputs: list


def number_from_upload(upload: dict | None) -> list[segmentation.Digit]:
    with uploads.image_file(serving.upload_path(upload)) as image:
        return segmentation.digits_in_image(image)


def number_from_sketch(value: dict | None) -> list[segmentation.Digit]:
    with uploads.sketch_files(serving.sketch_payload_files(value, number_sketch)) as arrays:
        return segmentation.digits_in_sketch(arrays)


def read_digits(digits: list[segmentation.Digit]) -> tuple:
    """The outputs of both number endpoints: the JSON reading, the digits' views and a summary."""
    start = time.perf_counter()
    batch = np.stack([digit.image for digit in digits])[..., None]  # all digits in one call per model
    # The CNN runs on its own thread while this one makes the digits' views and then runs the dense network:
    # TensorFlow and Pillow's encoder both release the GIL. Always the same thread, which has not just decoded and
    # segmented the picture: the CNN's weights are more often still in its core's cache (README, Speed).
    cnn = CNN_THREAD.submit(serving.predict, "cnn", batch)
    previews = [serving.preview_html(digit.image, 84) for digit in digits]
    linear = serving.predict("linear", batch)
    probabilities = {"cnn": cnn.result(), "linear": linear}
    elapsed_ms = (time.perf_counter() - start) * 1000
    entries = [
        {
            "box": list(digit.box),
            **{
                name: {"label": model_defs.CLASS_NAMES[int(p[index].argmax())], "confidence": float(p[index].max())}
                for name, p in probabilities.items()
            },
        }
        for index, digit in enumerate(digits)
    ]
    reading = {name: "".join(entry[name]["label"] for entry in entries) for name in serving.MODELS}
    flagged = [
        entry["cnn"]["label"] != entry["linear"]["label"]
        or min(entry[name]["confidence"] for name in serving.MODELS) < UNSURE_BELOW
        for entry in entries
    ]
    cards = "".join(
        f'<figure style="margin:0;padding:6px;text-align:center;border:2px solid {"#d9480f" if flag else "#ccc"}">'
        f"{preview}<figcaption>CNN <b>{entry['cnn']['label']}</b> "
        f"{entry['cnn']['confidence']:.0%}<br>dense <b>{entry['linear']['label']}</b> "
        f"{entry['linear']['confidence']:.0%}{'<br>check' if flag else ''}</figcaption></figure>"
        for preview, entry, flag in zip(previews, entries, flagged, strict=True)
    )
    if reading["cnn"] == reading["linear"]:
        verdict = f"Both models read **{reading['cnn']}**."
    else:
        verdict = f"The CNN reads **{reading['cnn']}**, the dense network **{reading['linear']}**."
    checks = [str(index + 1) for index, flag in enumerate(flagged) if flag]
    check = (
        f"  \nCheck digit {', '.join(checks)}: the models disagree or one is under {UNSURE_BELOW:.0%} sure."
        if checks
        else ""
    )
    summary = f"{verdict}{check}  \n{len(digits)} digits · both models {elapsed_ms:.1f} ms"
    views = f'<div style="display:flex;gap:8px;flex-wrap:wrap">{cards}</div>'
    return {**reading, "digits": entries}, views, summary


def number_view(to_digits):
    """The page's twin of the number endpoints: with nothing to read it shows the hint instead of an error."""

    def show(value) -> tuple:
        try:
            return read_digits(to_digits(value))
        except preprocess.NoDigitError:
            return None, "", NUMBER_HINT
        except Exception as error:
            raise gr.Error(serving.message_for(error)) from None

    return show


read_number = serving.api_endpoint(number_from_upload, read_digits)
read_number_sketch = serving.api_endpoint(number_from_sketch, read_digits)


def layout() -> None:
    """The section's heading, canvas, upload with its examples, and outputs."""
    global number_sketch, number_upload, number_outputs
    gr.Markdown(
        "## Read a number\nEvery digit, left to right, by both models in one batch each; a digit where they "
        f"disagree, or either is under {UNSURE_BELOW:.0%} sure, is outlined for a second look."
    )
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw a number"):
                # room for four digits as tall as the one-digit canvas's
                number_sketch = serving.canvas(800, "Write a number", "number_sketchpad")
            with gr.Tab("Upload a number"):
                number_upload = serving.image_upload("Upload a number", "number_upload")
                gr.Examples(
                    examples=NUMBER_EXAMPLES, inputs=number_upload, label="Examples: a drawn and a photographed number"
                )
            gr.ClearButton([number_sketch, number_upload], value="Clear the number")
        with gr.Column():
            number_summary = gr.Markdown(NUMBER_HINT, elem_id="number_summary")
            number_views = gr.HTML(label="Each digit as the models see it (28x28)", elem_id="number_views")
            with gr.Accordion("As the API returns it (JSON)", open=False):
                number_json = gr.JSON(elem_id="number_json")
    number_outputs = [number_json, number_views, number_summary]


def wire(page_events: dict) -> None:
    """The section's page events and its two endpoints; every input is read by uploads.py, as app.py's are."""
    number_events = {**page_events, "outputs": number_outputs}
    number_sketch.change(number_view(number_from_sketch), number_sketch, trigger_mode="always_last", **number_events)
    number_upload.change(number_view(number_from_upload), number_upload, **number_events)
    gr.Button(visible=False).click(read_number, number_upload, number_outputs, api_name="read_number", preprocess=False)
    gr.Button(visible=False).click(
        read_number_sketch, number_sketch, number_outputs, api_name="read_number_sketch", preprocess=False
    )
