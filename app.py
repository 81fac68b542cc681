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
import base64
import contextlib
import io
import json
import logging
import os
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
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

import explain
import json_api
import model_defs
import preprocess
import segmentation
import uploads

log = logging.getLogger("digit_studio")

MAX_FILE_SIZE = json_api.MAX_IMAGE_BYTES  # per file, for Gradio's uploads as for the JSON routes
# Uploads are deleted once this old and no request waiting or running names them (uploads.UploadCleaner).
UPLOAD_LIFETIME_S = 30
SERVER_FAULT = "Something went wrong on our side; please try again."
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
HINT = "Draw a digit on the canvas, or upload a photo of one."
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
# other core stays free for Gradio's own work. Set before load_models(): TensorFlow fixes them at its first op.
with contextlib.suppress(RuntimeError):  # TensorFlow already ran in this process (a test importing app): as it is
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


def digit_from_sketch(value: dict | None) -> np.ndarray:
    with uploads.sketch_files(sketch_payload_files(value, sketch)) as arrays:
        return preprocess.preprocess_sketch(arrays)


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


classify = api_endpoint(digit_from_upload)
classify_sketch = api_endpoint(digit_from_sketch)


# ---- Why they differ (explain.py): evidence maps, the inside of each network, the stress test, the experiments ----
# The experiments describe the committed weights, so they are read from the repository's weights/ (not WEIGHTS_REPO).
ROBUSTNESS = json.loads((model_defs.WEIGHTS_DIR / "robustness.json").read_text())
STRESS_NAMES = tuple(explain.STRESS_LIMITS)
MISTAKE_KINDS = {
    "only the CNN right": lambda cnn_right, linear_right: cnn_right & ~linear_right,
    "only the dense network right": lambda cnn_right, linear_right: ~cnn_right & linear_right,
    "both wrong": lambda cnn_right, linear_right: ~cnn_right & ~linear_right,
    "all the CNN's mistakes": lambda cnn_right, linear_right: ~cnn_right,
    "all the dense network's mistakes": lambda cnn_right, linear_right: ~linear_right,
}


def load_mistakes() -> dict[str, list[tuple[np.ndarray, str]]]:
    """The mistakes gallery: for each kind, (digit as float 28x28, caption) for each test digit of that kind."""
    with np.load(model_defs.WEIGHTS_DIR / "mistakes.npz") as data:
        found = {key: data[key] for key in data.files}
    right = {name: found[name] == found["label"] for name in model_defs.MODEL_NAMES}
    return {
        kind: [
            (
                found["image"][i].astype(np.float32) / 255,
                f"test #{found['index'][i]}: {found['label'][i]}; CNN {found['cnn'][i]}, dense {found['linear'][i]}",
            )
            for i in np.flatnonzero(select(right["cnn"], right["linear"]))
        ]
        for kind, select in MISTAKE_KINDS.items()
    }


MISTAKES = load_mistakes()


def stressed(digit: np.ndarray, settings: tuple) -> np.ndarray:
    """The digit as the stress controls leave it; a control out of its range is the user's error."""
    try:
        return explain.stress(digit, **dict(zip(STRESS_NAMES, settings, strict=True)))
    except ValueError as error:
        raise gr.Error(str(error)) from None


def label_value(probabilities: np.ndarray) -> dict[str, float]:
    return {model_defs.CLASS_NAMES[i]: float(p) for i, p in enumerate(probabilities)}


def explanation(digit: np.ndarray) -> dict:
    """Both models' label, confidence and evidence map for one 28x28 input."""
    return {name: explain.evidence(MODELS[name], digit) for name in model_defs.MODEL_NAMES}


def explain_json(digit: np.ndarray) -> tuple[dict, str]:
    """/explain: the input and each model's label, confidence and evidence map as JSON, and the maps as HTML."""
    results = explanation(digit)
    answer = {"input": np.round(digit, 4).tolist()}
    for name, result in results.items():
        answer[name] = {
            "label": model_defs.CLASS_NAMES[result["label"]],
            "confidence": result["confidence"],
            "saliency": np.round(result["saliency"], 5).tolist(),
        }
    return answer, evidence_html(digit, results)


def evidence_html(digit: np.ndarray, results: dict) -> str:
    """The input and both evidence maps side by side, each titled with the model's answer."""
    figures = [f"<figure style='margin:0'>{preview_html(digit)}<figcaption>what the models see</figcaption></figure>"]
    for name, result in results.items():
        picture = image_html(explain.overlay(digit, result["saliency"]), f"{name} evidence", 168)
        caption = f"{model_defs.MODEL_TITLES[name]}: {result['label']} ({result['confidence']:.1%})"
        figures.append(f"<figure style='margin:0'>{picture}<figcaption>{caption}</figcaption></figure>")
    legend = (
        "<p style='margin:4px 0 0'><b style='color:#e0261a'>red</b>: ink that pushed the model toward its answer; "
        "<b style='color:#2673ff'>blue</b>: ink that pushed against it (each map on its own scale). Occlusion: "
        "each 2x2 block of ink is blanked in turn, and the map shows how much less sure the model became.</p>"
    )
    return f"<div style='display:flex;gap:16px;flex-wrap:wrap'>{''.join(figures)}</div>{legend}"


def insides_html(digit: np.ndarray) -> str:
    """The CNN's two layers of feature maps and the dense network's most active first-layer units."""
    first, second = explain.feature_grids(explain.feature_maps(MODELS["cnn"], digit))
    units = explain.active_units(MODELS["linear"], digit)
    unit_text = ", ".join(f"#{unit['unit']} ({unit['activation']:.1f})" for unit in units)
    return (
        "<p><b>CNN, first convolution</b>: 32 maps of 28x28, one per 5x5 filter, brighter where it responds.</p>"
        + image_html(first, "CNN first-layer feature maps", first.shape[1])
        + "<p><b>CNN, second convolution</b>: 48 maps of 10x10, each combining the first layer's maps nearby.</p>"
        + image_html(second, "CNN second-layer feature maps", second.shape[1])
        + f"<p><b>Dense network</b>: its {len(units)} most active first-layer units ({unit_text}), each drawn as its "
        "784 weights: red pixels add to the unit, blue subtract, wherever the ink falls.</p>"
        + image_html(explain.template_grid(units), "dense first-layer templates", min(900, len(units) * 115))
    )


def guarded(function):
    """A page event of this section: the stress controls' range errors as they are, anything else via message_for."""

    def event(*args) -> tuple:
        try:
            return function(*args)
        except gr.Error:
            raise
        except Exception as error:
            raise gr.Error(message_for(error)) from None

    return event


def why_view(digit: np.ndarray | None, is_open: bool, *settings) -> tuple:
    """The whole section for the current input under the stress controls; skipped while the section is closed."""
    if not is_open:
        return (gr.skip(),) * 4
    if digit is None:
        return None, None, f"<p>{HINT}</p>", ""
    moved = stressed(digit, settings)
    results = explanation(moved)
    cnn, linear = (label_value(results[name]["probabilities"]) for name in model_defs.MODEL_NAMES)
    return cnn, linear, evidence_html(moved, results), insides_html(moved)


def stress_answers(digit: np.ndarray | None, *settings) -> tuple:
    """Both models' answers for the stressed input, fast enough to follow a slider as it moves."""
    if digit is None:
        return None, None
    moved = stressed(digit, settings)[None, :, :, None]
    return tuple(label_value(predict(name, moved)[0]) for name in model_defs.MODEL_NAMES)


def robustness_markdown() -> str:
    accuracy, permuted = ROBUSTNESS["accuracy"], ROBUSTNESS.get("permuted_pixels")
    shown = {"shift": (0, 4, 6, 8), "rotation": (0, 15, 30, 45)}
    header = " | ".join(
        f"{kind} {value}{' px' if kind == 'shift' else '°'}" for kind, values in shown.items() for value in values
    )
    rows = []
    for name in model_defs.MODEL_NAMES:
        cells = [
            f"{accuracy[name][kind][ROBUSTNESS[axis].index(value)]:.1%}"
            for (kind, values), axis in zip(shown.items(), ("shift_px", "rotation_deg"), strict=True)
            for value in values
        ]
        rows.append(f"| {model_defs.MODEL_TITLES[name]} | " + " | ".join(cells) + " |")
    if permuted:
        committed_epochs = {name: entry["recipe"]["epochs"] for name, entry in METRICS.items()}
        scores = ", ".join(
            f"{model_defs.MODEL_TITLES[n]} {permuted['unpermuted_test_accuracy'][n]:.2%} → "
            f"{permuted['test_accuracy'][n]:.2%}"
            + (
                f" ({permuted['epochs'][n]} epochs instead of {committed_epochs[n]})"
                if permuted["epochs"][n] != committed_epochs[n]
                else ""
            )
            for n in model_defs.MODEL_NAMES
        )
        permuted_text = (
            f"**Pixels shuffled.** Both architectures retrained on MNIST with one fixed permutation of the 784 pixels "
            f"(seed {permuted['permutation_seed']}): {scores}. A dense network's first layer sees every pixel "
            "alike, so shuffling them changes nothing it can use; the CNN's neighbourhoods no longer mean anything."
        )
    else:
        permuted_text = "**Pixels shuffled:** not measured yet (see `robustness.py`)."
    return (
        f"Accuracy on all {ROBUSTNESS['test_images']:,} MNIST test digits, moved without re-centring "
        f"(`{ROBUSTNESS['command']}`):\n\n| model | {header} |\n|---|"
        + "---|" * 8
        + "\n"
        + "\n".join(rows)
        + "\n\n"
        + permuted_text
    )


def mistakes_gallery(kind: str) -> list[tuple[np.ndarray, str]]:
    return [(explain.enlarge(digit, 3), caption) for digit, caption in MISTAKES[kind]]


def pick_mistake(kind: str, selected: gr.SelectData) -> np.ndarray:
    """The clicked gallery digit becomes the section's input."""
    try:
        return MISTAKES[kind][int(selected.index)][0]
    except (KeyError, IndexError, TypeError, ValueError):
        raise gr.Error("That gallery entry does not exist; pick a digit from the gallery.") from None


def why_section(current_digit: gr.State) -> dict:
    """The "Why they differ" accordion and its events; returns the refresh to chain after each new input."""
    is_open = gr.State(False)
    with gr.Accordion("Why they differ", open=False, elem_id="why") as accordion:
        gr.Markdown(
            "Where each model found its evidence, what is inside each network, and where each breaks: move the "
            "input with the controls (after preprocessing, without re-centring) and watch both answers."
        )
        with gr.Row():
            with gr.Column(scale=1):
                sliders = [
                    gr.Slider(
                        low,
                        high,
                        value=identity,
                        step=0.05 if name == "scale" else 0.5 if name == "thickness" else 1,
                        label=explain.STRESS_TITLES[name],
                        elem_id=f"stress_{name}",
                    )
                    for name, (low, high, identity) in explain.STRESS_LIMITS.items()
                ]
                reset = gr.Button("Reset to the input as drawn", elem_id="stress_reset")
            with gr.Column(scale=2):
                with gr.Row():
                    cnn = gr.Label(num_top_classes=3, label=model_defs.MODEL_TITLES["cnn"], elem_id="why_cnn")
                    linear = gr.Label(num_top_classes=3, label=model_defs.MODEL_TITLES["linear"], elem_id="why_linear")
                maps = gr.HTML(f"<p>{HINT}</p>", elem_id="why_maps")
        insides = gr.HTML(elem_id="why_insides")
        gr.Markdown("### The experiments\n" + robustness_markdown())
        gr.Image(str(model_defs.WEIGHTS_DIR / "robustness.png"), label="Accuracy under shift and rotation", buttons=[])
        gr.Markdown("### Mistakes on the test set (click one to explain it above)")
        kind = gr.Radio(list(MISTAKES), value=next(iter(MISTAKES)), label="Show the test digits where")
        gallery = gr.Gallery(mistakes_gallery(kind.value), columns=10, height=260, label="Mistakes", buttons=[])

    private = {"show_progress": "hidden", "api_visibility": "private"}
    refresh = {
        "fn": guarded(why_view),
        "inputs": [current_digit, is_open, *sliders],
        "outputs": [cnn, linear, maps, insides],
    }
    accordion.expand(lambda: True, None, is_open, **private).then(**refresh, **private)
    accordion.collapse(lambda: False, None, is_open, **private)
    for slider in sliders:
        slider.input(
            guarded(stress_answers), [current_digit, *sliders], [cnn, linear], trigger_mode="always_last", **private
        )
        slider.release(**refresh, trigger_mode="always_last", **private)
    identity = [value for _, _, value in explain.STRESS_LIMITS.values()]
    reset.click(lambda: identity, None, sliders, **private).then(**refresh, **private)
    kind.change(mistakes_gallery, kind, gallery, **private)
    gallery.select(pick_mistake, kind, current_digit, **private).then(**refresh, **private)
    return {**refresh, **private}


explain_endpoint = api_endpoint(digit_from_upload, explain_json)
# ---- end of Why they differ ----


# --- Read a number (issue 9): every digit of a drawing or photo, left to right, by both models -------------------
NUMBER_HINT = "Write a number on the wide canvas, or upload a photo of one: each digit is read by both models."
# A digit is marked for a second look when the models disagree or either is less sure than this; 80% is where
# the examples' digits start (tests/make_examples.py), and most misread digits fall below it.
UNSURE_BELOW = 0.8


def number_from_upload(upload: dict | None) -> list[segmentation.Digit]:
    with uploads.image_file(upload_path(upload)) as image:
        return segmentation.digits_in_image(image)


def number_from_sketch(value: dict | None) -> list[segmentation.Digit]:
    with uploads.sketch_files(sketch_payload_files(value, number_sketch)) as arrays:
        return segmentation.digits_in_sketch(arrays)


def read_digits(digits: list[segmentation.Digit]) -> tuple:
    """The outputs of both number endpoints: the JSON reading, the digits' views and a summary."""
    start = time.perf_counter()
    batch = np.stack([digit.image for digit in digits])[..., None]
    probabilities = {name: predict(name, batch) for name in MODELS}  # all digits in one call per model
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
    reading = {name: "".join(entry[name]["label"] for entry in entries) for name in MODELS}
    flagged = [
        entry["cnn"]["label"] != entry["linear"]["label"]
        or min(entry[name]["confidence"] for name in MODELS) < UNSURE_BELOW
        for entry in entries
    ]
    cards = "".join(
        f'<figure style="margin:0;padding:6px;text-align:center;border:2px solid {"#d9480f" if flag else "#ccc"}">'
        f"{preview_html(digit.image, 84)}<figcaption>CNN <b>{entry['cnn']['label']}</b> "
        f"{entry['cnn']['confidence']:.0%}<br>dense <b>{entry['linear']['label']}</b> "
        f"{entry['linear']['confidence']:.0%}{'<br>check' if flag else ''}</figcaption></figure>"
        for digit, entry, flag in zip(digits, entries, flagged, strict=True)
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
            raise gr.Error(message_for(error)) from None

    return show


read_number = api_endpoint(number_from_upload, read_digits)
read_number_sketch = api_endpoint(number_from_sketch, read_digits)
# --- end of Read a number ---------------------------------------------------------------------------------------


def comparison_markdown() -> str:
    """metrics.json as a table: the two served models, and any trained only for comparison (no latency)."""
    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {entry['test_accuracy']:.2%} | {entry['test_loss']:.4f} "
        f"| {entry['recipe']['epochs']} x {entry['seconds_per_epoch']:.0f} s ({entry['device']}) "
        f"| {f'{LATENCY_MS[name]:.2f} ms' if name in LATENCY_MS else 'not served'} |"
        for name, entry in METRICS.items()
    )
    return (
        "| model | parameters | test accuracy (10,000 MNIST images) | test loss | training: epochs x time per epoch "
        "| latency per image (this server) |\n|---|---|---|---|---|---|\n" + rows
    )


def measure_latency(repeats: int = 20) -> dict[str, float]:
    """Median milliseconds per single-image call of each model; also warms both up."""
    digit = np.zeros((model_defs.IMAGE_SIZE, model_defs.IMAGE_SIZE), dtype=np.float32)
    timings = [run_models(digit) for _ in range(repeats)]
    return {name: float(np.median([t[name][1] for t in timings])) for name in MODELS}


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
            for pad in (sketch, number_sketch):
                cleaner.expire(pad.blob_storage, needed)
        except Exception:  # one bad pass must not end the cleaning for good, as it does Gradio's own
            log.exception("cleaning uploads failed; trying again in 10 s")


LATENCY_MS = measure_latency()
EXAMPLES = sorted(str(path) for path in EXAMPLES_DIR.iterdir() if path.suffix in {".png", ".jpg", ".webp"})
NUMBER_EXAMPLES = sorted(str(path) for path in (EXAMPLES_DIR / "numbers").iterdir())  # issue 9

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
                gr.Examples(
                    examples=EXAMPLES,
                    inputs=upload,
                    label="Examples: MNIST digits and synthetic photos, scans, drawings",
                )
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
    current_digit = gr.State(None)  # the page's 28x28 input, for "Why they differ"

    # --- Read a number (issue 9) ---
    gr.Markdown("## Read a number\n" + NUMBER_HINT)
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw a number"):
                number_sketch = gr.Sketchpad(
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(800, 400),  # room for four digits as tall as the one-digit canvas's
                    fixed_canvas=True,
                    brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    transforms=(),
                    label="Write a number",
                    elem_id="number_sketchpad",
                )
            with gr.Tab("Upload a number"):
                number_upload = gr.Image(
                    type="filepath", sources=["upload", "clipboard"], label="Upload a number", elem_id="number_upload"
                )
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
    # --- end of Read a number ---

    with gr.Accordion("How the two models compare", open=False):
        gr.Markdown(comparison_markdown())
        gr.Image(str(WEIGHTS_DIR / "curves.png"), label="Accuracy and loss per epoch", buttons=[])
        with gr.Row():
            for name in model_defs.MODEL_NAMES:
                gr.Image(str(WEIGHTS_DIR / f"confusion_{name}.png"), label=f"Confusion matrix: {name}", buttons=[])
    why_refresh = why_section(current_digit)

    # Every input reaches our functions undecoded (preprocess=False) and is read by uploads.py, so every event,
    # the page's private ones too (anyone can call them through the queue), gets the same limits and messages.
    page_events = {
        "outputs": [*outputs, current_digit],
        "show_progress": "hidden",
        "api_visibility": "private",
        "preprocess": False,
    }
    sketch.change(page_view(digit_from_sketch), sketch, trigger_mode="always_last", **page_events).success(
        **why_refresh
    )
    upload.change(page_view(digit_from_upload), upload, **page_events).success(**why_refresh)
    # The API endpoints hang off hidden buttons, so that they raise "No digit found" where the page shows a hint.
    gr.Button(visible=False).click(classify, upload, outputs, api_name="classify", preprocess=False)
    gr.Button(visible=False).click(classify_sketch, sketch, outputs, api_name="classify_sketch", preprocess=False)
    explain_outputs = [gr.JSON(visible=False), gr.HTML(visible=False)]
    gr.Button(visible=False).click(explain_endpoint, upload, explain_outputs, api_name="explain", preprocess=False)
    # --- Read a number (issue 9): the page's events and the two endpoints, read by uploads.py as above ---
    number_events = {**page_events, "outputs": number_outputs}
    number_sketch.change(number_view(number_from_sketch), number_sketch, trigger_mode="always_last", **number_events)
    number_upload.change(number_view(number_from_upload), number_upload, **number_events)
    gr.Button(visible=False).click(read_number, number_upload, number_outputs, api_name="read_number", preprocess=False)
    gr.Button(visible=False).click(
        read_number_sketch, number_sketch, number_outputs, api_name="read_number_sketch", preprocess=False
    )
    # --- end of Read a number ---
    if os.environ.get("DIGIT_STUDIO_BENCH") == "1":
        # benchmarks/bench.py's baseline: /classify's input and output types with constant values, so that the two
        # differ only by the app's own work; undocumented, and absent unless the benchmark asks for it.
        constant = (dict.fromkeys(model_defs.CLASS_NAMES, 0.1),) * 2 + (preview_html(np.zeros((28, 28))), HINT)
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


async def json_route(request: fastapi.Request, route: str) -> JSONResponse:
    """Read the body here, in the event loop; decode, preprocess and run the models in a worker thread."""
    try:
        body = await read_body(request, json_api.MAX_BODY_BYTES[route])
    except json_api.ApiError as error:  # the body may still be coming: close the connection, or uvicorn reads on
        return JSONResponse({"error": error.message}, error.status, headers={"Connection": "close"})
    handle = getattr(json_api, route)
    try:
        status, answer = await run_in_threadpool(handle, body, request.headers.get("content-type", ""), predict)
    except Exception as error:  # a fault of ours, not the client's: logged, and told without internals
        status, answer = 500, {"error": message_for(error)}
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
    # As demo.launch() would, and as a Space sets them (0.0.0.0, 7860)
    host, port = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"* Running on http://{host}:{port} (JSON API: /api/docs)", flush=True)
    uvicorn.run(api, host=host, port=port, log_level="warning")
