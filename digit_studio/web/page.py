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
from digit_studio.web import pen_canvas

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
    # the answer the cards show: {"digit", "source", "strokes"}, what a correction is about
    last_answer: gr.State = None
    digit_upload: gr.Image = None  # the one-digit upload box, which /explain reads too
    why_refresh: dict = dataclasses.field(default_factory=dict)  # the event that redraws "Why they differ"
    sketchpads: list = dataclasses.field(default_factory=list)  # every canvas, for the upload janitor


def draw_or_upload(
    tabs: tuple[str, str], labels: tuple[str, str], elem_ids: tuple[str, str], width: int, clear: str
) -> tuple[gr.HTML, gr.Image, gr.Sketchpad, gr.Tabs]:
    """A canvas `width` px wide with its tools (the last, `clear`, empties it) and an upload box, in two tabs; and a
    hidden Sketchpad, the API's drawing input."""
    with gr.Tabs() as tabbed:
        with gr.Tab(tabs[0], id="draw"):
            pad = pen_canvas.canvas(width, 400, elem_ids[0], clear, labels[0])
        with gr.Tab(tabs[1], id="upload"):
            upload = image_upload(labels[1], elem_ids[1])
    return pad, upload, api_sketchpad(width), tabbed


def examples(files: list[str], label: str, upload: gr.Image, tabbed: gr.Tabs) -> gr.Examples:
    """Example pictures for an upload box, shown whichever tab is open; choosing one shows the Upload tab."""
    gallery = gr.Examples(examples=files, inputs=upload, label=label, examples_per_page=20)
    gallery.dataset.click(lambda: gr.Tabs(selected="upload"), None, tabbed, queue=False, **TAB_SWITCH)
    return gallery


# Showing the Upload tab needs no server work beyond Gradio's own: not queued, and not part of the API.
TAB_SWITCH = {"show_progress": "hidden", "api_visibility": "private"}


def api_sketchpad(width: int) -> gr.Sketchpad:
    """The drawing input of /classify_sketch and /read_number_sketch: a Sketchpad value, as an API user sends it.
    Hidden: the page draws on pen_canvas's canvas."""
    return gr.Sketchpad(
        type="numpy", image_mode="RGBA", canvas_size=(width, 400), layers=False, transforms=(), visible=False
    )


def image_upload(label: str, elem_id: str) -> gr.Image:
    """An upload box for one image file, or one pasted from the clipboard; at most 320 px high, so that a portrait
    photo does not push the answers out of view."""
    return gr.Image(type="filepath", sources=["upload", "clipboard"], label=label, elem_id=elem_id, height=320)


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


# The page's own style: a large verdict; on a phone (up to 600 px wide), a smaller heading and canvas and compact
# cards, so that the verdict and both answers show under the canvas without scrolling.
PAGE_CSS = """
/* No scroll anchoring: answers arriving while the pen moves must not scroll the canvas from under it */
html, body { overflow-anchor: none; }
#summary h3 { font-size: 1.7em; margin: 0.2em 0; }
#summary h3 + p { font-size: 0.85em; color: #666; }
@media (max-width: 600px) {
  /* the canvases and cards reach into the page's 32 px side margins, which custom CSS cannot change on a phone */
  #sketchpad, #number_sketchpad, #cards { margin: 0 -24px !important; width: calc(100% + 48px) !important; }
  #sketchpad .html-container, #number_sketchpad .html-container { padding: 4px 0 !important; }
  h1 { font-size: 1.5em !important; margin-bottom: 0.2em !important; }
  #intro p { font-size: 0.9em; line-height: 1.35; }
  #summary h3 { font-size: 1.3em; }
  #summary h3 + p { display: none; }
  .pen-canvas { --canvas-height: 36vh; align-items: center; }
  .answer-card { padding: 6px 8px !important; }
  .answer-card .card-digit { font-size: 2.2em !important; }
  .answer-card .card-verdict { font-size: 1.1em !important; line-height: 1.3 !important; }
  .answer-card .card-score { display: none; }
}
"""

CARD = "border:1px solid #ddd;border-top:5px solid {colour};border-radius:8px;padding:10px 12px"
BAR = (
    '<div style="display:flex;align-items:center;gap:6px;font-size:0.9em"><span style="width:1em">{label}</span>'
    '<span style="flex:1;background:#eee;height:8px;border-radius:4px"><span style="display:block;height:8px;'
    'border-radius:4px;width:{share:.0%};background:{colour}"></span></span>'
    '<span style="width:3em;text-align:right">{share:.0%}</span></div>'
)


def answer_card(model_name: str, answer: dict | None, drawing: int | None = None) -> str:
    """One model's answer as a card: its digit large (or "not a digit I know" with its best guess beneath), how
    sure it is, its top three as bars (all ten on demand) and its digit score. For checks from outside the code,
    data-answer holds the digit, "not-a-digit", or nothing before any answer, and data-drawing the number of the
    canvas's drawing it answers (pen_canvas.py)."""
    colour = MODEL_COLOURS[model_name]
    parts = [f'<div style="color:{colour};font-weight:600">{MODEL_NAMES[model_name]}</div>']
    if answer is None:
        value = ""
        parts.append('<div style="color:#888">no answer yet</div>')
    elif answer["is_digit"]:
        value = answer["label"]
        parts.append(f'<div class="card-digit" style="font-size:3em;font-weight:700;line-height:1.1">{value}</div>')
        parts.append(f"<div>{answer['confidence']:.0%} sure</div>")
    else:
        value = "not-a-digit"
        style = "font-size:1.5em;font-weight:700;line-height:1.6"
        parts.append(f'<div class="card-verdict" style="{style}">not a digit I know</div>')
        parts.append(f"<div>best guess {answer['label']}, {answer['confidence']:.0%}</div>")
    if answer is not None:
        ranked = sorted(answer["confidences"].items(), key=lambda item: -item[1])
        parts.extend(BAR.format(label=label, share=share, colour=colour) for label, share in ranked[:3])
        rest = "".join(BAR.format(label=label, share=share, colour=colour) for label, share in ranked[3:])
        parts.append(f'<details><summary style="font-size:0.85em;cursor:pointer">all ten</summary>{rest}</details>')
        parts.append(
            f'<div class="card-score" style="font-size:0.85em;color:#555">digit score {answer["digit_score"]:.2f} '
            "(0.5 or more: a digit it knows)</div>"
        )
    drawn = f' data-drawing="{drawing}"' if drawing is not None else ""
    return (
        f'<div class="answer-card" data-answer="{value}"{drawn} style="{CARD.format(colour=colour)}">'
        f"{''.join(parts)}</div>"
    )


def preview_html(digit: np.ndarray, width: int = 168) -> str:
    """The 28x28 input, enlarged."""
    return image_html(np.round(digit * 255).astype(np.uint8), "28x28 input", width, "border:1px solid #888")
