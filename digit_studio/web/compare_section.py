"""The "How the two models compare" section: metrics.json as a table beside this server's own latency, the
training curves and both confusion matrices, all from the weights folder app.py serves.
"""

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers
from digit_studio.web.page import Page, Wire


def comparison_markdown(metrics: dict, latency_ms: dict[str, float]) -> str:
    """metrics.json as a table: the two served models, and any trained only for comparison (no latency)."""
    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {accuracy:.2%} | {loss:.4f} | {images} "
        f"| {entry['recipe']['epochs']} x {entry['seconds_per_epoch']:.0f} s ({entry['device']}) "
        f"| {f'{latency_ms[name]:.2f} ms' if name in latency_ms else 'not served'} |"
        for name, entry in metrics.items()
        for images, accuracy, loss in [model_defs.scored_on(entry)]
    )
    return (
        "| model | parameters | accuracy | loss | scored on (MNIST) | training: epochs x time per epoch "
        "| latency per image (this server) |\n|---|---|---|---|---|---|---|\n" + rows
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
                gr.Image(str(page.weights_dir / f"confusion_{name}.png"), label=f"Confusion matrix: {name}", buttons=[])
    return lambda: None
