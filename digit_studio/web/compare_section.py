"""The "How the two models compare" section: metrics.json as a table beside this server's own latency, the
training curves and both confusion matrices, all from the weights folder app.py serves; and how honest each
model's confidence is and how well it knows a non-digit (weights/not_a_digit.json, experiments/not_a_digit.py).
"""

import json

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers
from digit_studio.web.page import MODEL_NAMES, Page, Wire

# Measured on the committed weights, so read from the repository's weights/ (not WEIGHTS_REPO), as robustness.json.
NOT_A_DIGIT = json.loads((model_defs.WEIGHTS_DIR / "not_a_digit.json").read_text())


def comparison_markdown(metrics: dict, latency_ms: dict[str, float]) -> str:
    """metrics.json as a table: the two served models, and any trained only for comparison (no latency)."""
    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {accuracy:.2%} | {loss:.4f} | {images} "
        f"| {entry['recipe']['epochs']} epochs, {training_time(entry)} "
        f"| {f'{latency_ms[name]:.2f} ms' if name in latency_ms else 'not on this page'} |"
        for name, entry in metrics.items()
        for images, accuracy, loss in [model_defs.scored_on(entry)]
    )
    return (
        "| model | parameters | accuracy | loss | scored on (MNIST) | training on a 2-core CPU "
        "| latency per image (this server) |\n|---|---|---|---|---|---|---|\n" + rows
    )


def training_time(entry: dict) -> str:
    """How long an entry of metrics.json trained, in words: "19 min", "1.2 h"."""
    minutes = entry["recipe"]["epochs"] * entry["seconds_per_epoch"] / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def honesty_markdown(report: dict) -> str:
    """Each model's calibration and how well it tells digits from non-digits, and the studio's verdict."""
    rows = [
        f"| {MODEL_NAMES[name]} | {entry['calibration_error_before']:.1%} → {entry['calibration_error']:.1%} "
        f"| {entry['auroc_test_digits']:.3f} | {entry['flagged']['non-digits']:.1%} "
        f"| {entry['flagged']['MNIST test digits']:.1%} | {entry['flagged']['handwriting check set']:.1%} |"
        for name, entry in report["models"].items()
    ]
    studio = report["studio"]
    rows.append(
        f"| the studio (either model) | | | {studio['non-digits']:.1%} | {studio['MNIST test digits']:.1%} "
        f"| {studio['handwriting check set']:.1%} |"
    )
    return (
        "**Does each model know when it does not know?** A model that says 90% should be right 9 times in 10: "
        "the calibration error is the gap between the two, before and after each model's confidences are "
        "softened or sharpened to fit digits it was not trained on. Its digit score tells a drawing it knows from "
        "a letter, a doodle or a scribble (AUROC: 1.0 always tells them apart, 0.5 is a coin toss).\n\n"
        "| model | calibration error (MNIST test) | AUROC, digits vs non-digits | non-digits flagged "
        "| MNIST test digits flagged | handwriting flagged |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def measure_latency(repeats: int = 20) -> dict[str, float]:
    """Median milliseconds per single-image call of each model; also warms both up."""
    digit = np.zeros((model_defs.IMAGE_SIZE, model_defs.IMAGE_SIZE), dtype=np.float32)
    timings = [answers.timed(digit)[1] for _ in range(repeats)]
    return {name: float(np.median([t[name] for t in timings])) for name in model_defs.MODEL_NAMES}


def layout(page: Page) -> Wire:
    """The accordion, closed; measuring the latency shown in it also warms both models up before the first visitor."""
    with gr.Accordion("How the two models compare", open=False):
        gr.Markdown(comparison_markdown(page.metrics, measure_latency()))
        gr.Image(str(page.weights_dir / "curves.png"), label="Accuracy and loss per epoch", buttons=[])
        with gr.Row():
            for name in model_defs.MODEL_NAMES:
                with gr.Column():  # the caption above the chart, not as a badge over its title
                    gr.Markdown(f"**Confusion matrix: {MODEL_NAMES[name]}**")
                    gr.Image(str(page.weights_dir / f"confusion_{name}.png"), show_label=False, buttons=[])
        gr.Markdown(honesty_markdown(NOT_A_DIGIT))
        gr.Image(
            str(model_defs.WEIGHTS_DIR / "not_a_digit.png"),
            label="How sure vs how often right, and the digit score on digits and non-digits",
            buttons=[],
        )
    return lambda: None
