"""The "How the two models compare" section: metrics.json as a table beside this server's own latency, the
training curves and both confusion matrices, all from the weights folder app.py serves; and how honest each
model's confidence is and how well it knows a non-digit (weights/not_a_digit.json, experiments/not_a_digit.py).
"""

import json

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers, words
from digit_studio.web.page import Page, Wire, model_name, say, shown

# Measured on the committed weights, so read from the repository's weights/ (not WEIGHTS_REPO), as robustness.json.
NOT_A_DIGIT = json.loads((model_defs.WEIGHTS_DIR / "not_a_digit.json").read_text())


def comparison_markdown(metrics: dict, latency_ms: dict[str, float], language: str = words.ENGLISH) -> str:
    """metrics.json as a table: the two served models, and any trained only for comparison (no latency)."""

    def say_in(key: str, **values) -> str:
        return words.text(key, language, **values)

    rows = []
    for name, entry in metrics.items():
        _, accuracy, loss = model_defs.scored_on(entry)
        split = "test" if entry.get("test_images") else "validation"  # as scored_on says it
        epochs = say_in("epochs", epochs=entry["recipe"]["epochs"], time=training_time(entry, language))
        latency = say_in("milliseconds", value=latency_ms[name]) if name in latency_ms else say_in("not_on_this_page")
        cells = (
            say_in(f"title_{name}") if f"title_{name}" in words.EN else entry["title"],
            say_in("count", count=entry["parameters"]),
            say_in("percent_2", share=accuracy),
            say_in("loss", loss=loss),
            say_in(f"images_{split}", count=entry[f"{split}_images"]),
            epochs,
            latency,
        )
        rows.append("| " + " | ".join(cells) + " |")
    return say_in("compare_header") + "\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)


def training_time(entry: dict, language: str = words.ENGLISH) -> str:
    """How long an entry of metrics.json trained, in words: "19 min", "1.2 h"."""
    minutes = entry["recipe"]["epochs"] * entry["seconds_per_epoch"] / 60
    if minutes < 90:
        return words.text("minutes", language, minutes=minutes)
    return words.text("hours", language, hours=minutes / 60)


def honesty_markdown(report: dict, language: str = words.ENGLISH) -> str:
    """Each model's calibration and how well it tells digits from non-digits, and the studio's verdict."""

    def percent(share: float) -> str:
        return words.text("percent", language, share=share)

    def flagged(shares: dict) -> list[str]:
        return [percent(shares[kind]) for kind in ("non-digits", "MNIST test digits", "handwriting check set")]

    rows = []
    for name, entry in report["models"].items():
        calibration = f"{percent(entry['calibration_error_before'])} → {percent(entry['calibration_error'])}"
        auroc = words.text("auroc", language, value=entry["auroc_test_digits"])
        rows.append([model_name(name, language), calibration, auroc, *flagged(entry["flagged"])])
    rows.append([words.text("the_studio", language), "", "", *flagged(report["studio"])])
    return (
        words.text("honesty", language)
        + "\n\n"
        + words.text("honesty_header", language)
        + "\n|---|---|---|---|---|---|\n"
        + "\n".join("| " + " | ".join(row) + " |" for row in rows)
    )


def measure_latency(repeats: int = 20) -> dict[str, float]:
    """Median milliseconds per single-image call of each model; also warms both up."""
    digit = np.zeros((model_defs.IMAGE_SIZE, model_defs.IMAGE_SIZE), dtype=np.float32)
    timings = [answers.timed(digit)[1] for _ in range(repeats)]
    return {name: float(np.median([t[name] for t in timings])) for name in model_defs.MODEL_NAMES}


def layout(page: Page) -> Wire:
    """The accordion, closed; measuring the latency shown in it also warms both models up before the first visitor."""
    latency = measure_latency()
    with gr.Accordion(say("compare"), open=False):
        gr.Markdown(shown(lambda language: comparison_markdown(page.metrics, latency, language)))
        gr.Image(str(page.weights_dir / "curves.png"), label=say("curves_figure"), buttons=[])
        with gr.Row():
            for name in model_defs.MODEL_NAMES:
                with gr.Column():  # the caption above the chart, not as a badge over its title
                    gr.Markdown(
                        shown(
                            lambda language, name=name: words.text(
                                "confusion", language, model=model_name(name, language)
                            )
                        )
                    )
                    gr.Image(str(page.weights_dir / f"confusion_{name}.png"), show_label=False, buttons=[])
        gr.Markdown(shown(lambda language: honesty_markdown(NOT_A_DIGIT, language)))
        gr.Image(str(model_defs.WEIGHTS_DIR / "not_a_digit.png"), label=say("honesty_figure"), buttons=[])
    return lambda: None
