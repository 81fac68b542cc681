"""What the page's sections share, and the one interface every section has.

Each section is a module with `layout(page) -> wire`: called inside app.py's `gr.Blocks`, where the section sits on
the page, it builds the section's components and returns a function that wires its events. app.py lays out every
section in page order, then wires them all, so that one section's events can reach another's components (a new
digit refreshes "Why they differ").
"""

import base64
import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import model_defs
from digit_studio import answers
from digit_studio.web import gradio_fixes

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
HINT = "Draw a digit on the canvas, or upload a photo of one."
# The page's own events: inputs reach our functions undecoded and are read by uploads.py, so every event (anyone
# can call the private ones through the queue) gets the same limits and messages as the API.
PAGE_EVENT = {"show_progress": "hidden", "api_visibility": "private", "preprocess": False}

Wire = Callable[[], None]


@dataclasses.dataclass
class Page:
    """The weights folder and metrics the page describes, and the components that sections share."""

    weights_dir: Path
    metrics: dict
    current_digit: gr.State = None  # the page's 28x28 input, for "Why they differ"
    digit_upload: gr.Image = None  # the one-digit upload box, which /explain reads too
    why_refresh: dict = dataclasses.field(default_factory=dict)  # the event that redraws "Why they differ"
    sketchpads: list = dataclasses.field(default_factory=list)  # every canvas, for the upload janitor


def draw_or_upload(
    tabs: tuple[str, str],
    labels: tuple[str, str],
    elem_ids: tuple[str, str],
    width: int,
    examples: tuple[list[str], str],
    clear: str,
) -> tuple[gr.Sketchpad, gr.Image]:
    """A canvas `width` px wide and an upload box with its examples (files, label) in two tabs, and a button that
    clears both."""
    with gr.Tab(tabs[0]):
        sketch = canvas(width, labels[0], elem_ids[0])
    with gr.Tab(tabs[1]):
        upload = image_upload(labels[1], elem_ids[1])
        gr.Examples(examples=examples[0], inputs=upload, label=examples[1])
    gradio_fixes.clear_button(clear, sketch, upload)
    return sketch, upload


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


def image_html(pixels: np.ndarray, alt: str, width: int, style: str = "") -> str:
    """A uint8 picture as an inline PNG shown `width` px wide, unsmoothed, so no file is written per request."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return (
        f'<img src="data:image/png;base64,{data}" alt="{alt}" '
        f'style="width:{width}px;image-rendering:pixelated;{style}">'
    )


MODEL_COLOURS = model_defs.MODEL_COLOURS  # one colour per model wherever the page names it
# In a sentence, as the verdict names them; model_defs.MODEL_TITLES heads a table
MODEL_NAMES = {name: title.removeprefix("the ") for name, title in answers.NAMES.items()}


CARD = "border:1px solid #ddd;border-top:5px solid {colour};border-radius:8px;padding:10px 12px"
BAR = (
    '<div style="display:flex;align-items:center;gap:6px;font-size:0.9em"><span style="width:1em">{label}</span>'
    '<span style="flex:1;background:#eee;height:8px;border-radius:4px"><span style="display:block;height:8px;'
    'border-radius:4px;width:{share:.0%};background:{colour}"></span></span>'
    '<span style="width:3em;text-align:right">{share:.0%}</span></div>'
)


def answer_card(model_name: str, answer: dict | None) -> str:
    """One model's answer as a card: its digit large (or "not a digit I know" with its best guess beneath), how
    sure it is, its top three as bars and its digit score. data-answer holds the digit, "not-a-digit", or nothing
    before any answer, for checks from outside the code."""
    colour = MODEL_COLOURS[model_name]
    parts = [f'<div style="color:{colour};font-weight:600">{MODEL_NAMES[model_name]}</div>']
    if answer is None:
        value = ""
        parts.append('<div style="color:#888">no answer yet</div>')
    elif answer["is_digit"]:
        value = answer["label"]
        parts.append(f'<div style="font-size:3em;font-weight:700;line-height:1.1">{value}</div>')
        parts.append(f"<div>{answer['confidence']:.0%} sure</div>")
    else:
        value = "not-a-digit"
        parts.append('<div style="font-size:1.5em;font-weight:700;line-height:1.6">not a digit I know</div>')
        parts.append(f"<div>best guess {answer['label']}, {answer['confidence']:.0%}</div>")
    if answer is not None:
        top = sorted(answer["confidences"].items(), key=lambda item: -item[1])[:3]
        parts.extend(BAR.format(label=label, share=share, colour=colour) for label, share in top)
        parts.append(
            f'<div style="font-size:0.85em;color:#555">digit score {answer["digit_score"]:.2f} '
            "(0.5 or more: a digit it knows)</div>"
        )
    return f'<div class="answer-card" data-answer="{value}" style="{CARD.format(colour=colour)}">{"".join(parts)}</div>'


def preview_html(digit: np.ndarray, width: int = 168) -> str:
    """The 28x28 input, enlarged."""
    return image_html(np.round(digit * 255).astype(np.uint8), "28x28 input", width, "border:1px solid #888")
