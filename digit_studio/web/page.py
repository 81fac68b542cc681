"""What the page's sections share, and the one interface every section has.

Each section is a module with `layout(page) -> wire`: called inside app.py's `gr.Blocks`, where the section sits on
the page, it builds the section's components and returns a function that wires its events. app.py lays out every
section in page order, then wires them all, so that one section's events can reach another's components (a new
digit refreshes "Why they differ").
"""

import base64
import dataclasses
import io
import json
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

import model_defs
from digit_studio import words
from digit_studio.web import gradio_fixes, pen_canvas

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
HINT = words.text("hint")  # the API's; the page says it in the visitor's language
# The page's own events: inputs reach our functions undecoded and are read by uploads.py, so every event (anyone
# can call the private ones through the queue) gets the same limits and messages as the API.
PAGE_EVENT = {"show_progress": "hidden", "api_visibility": "private", "preprocess": False}

Wire = Callable[[], None]

# Gradio's labels, buttons and Markdown in the visitor's language: only strings without placeholders, the others are
# filled in by the server. The Portuguese table is Gradio's "pt", which pt-BR falls back to.
GRADIO_LOCALES = {words.ENGLISH: "en", words.PORTUGUESE: "pt"}
I18N = gr.I18n(
    **{
        GRADIO_LOCALES[language]: {key: value for key, value in table.items() if not words.placeholders(value)}
        for language, table in words.TABLES.items()
    }
)


def say(key: str) -> gr.i18n.I18nData:
    """A label, button or Markdown that Gradio shows in the visitor's language."""
    return I18N(key)


def shown(render: Callable[[str], str]) -> gr.i18n.I18nData:
    """What render(language) gives in each language, shown in the visitor's: for text the server makes once, at
    start-up (a table of the committed metrics, the page before any answer)."""
    key = f"made_{sum(key.startswith('made_') for key in I18N.translations['en'])}"
    for language, locale in GRADIO_LOCALES.items():
        I18N.translations[locale][key] = render(language)
    return I18N(key)


# Before Gradio starts: the page's language, which Gradio then takes for its own locale, so that its words (Drop Image
# Here, ...) and ours agree: ?lang= (the switch) if set, else the browser's first language, Portuguese or English.
HEAD = (
    """<script>
(() => {
  const chosen = new URLSearchParams(location.search).get("lang");
  const wanted = chosen || (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  const language = /^pt(-|$)/i.test(wanted) ? "pt-BR" : "en";
  Object.defineProperty(navigator, "language", {get: () => language});
  Object.defineProperty(navigator, "languages", {get: () => [language]});
  document.documentElement.lang = language;
  window.studio_language = language;
  window.studio_words = """
    + json.dumps({language: {"example": words.text("example", language)} for language in words.LANGUAGES})
    + """[language];
})();
</script>
<script>"""
    + gradio_fixes.NAMED_EXAMPLES_JS
    + "</script>"
)


def language_switch() -> gr.HTML:
    """A link to the page in the other language, named in that language; it also gives the browser's tab the page's
    title in the visitor's language."""
    return gr.HTML(
        html_template=(
            '<nav class="language-switch" aria-label="${names[studio_language].language_switch}">'
            '<a href="?lang=${other[studio_language]}" lang="${other[studio_language]}" '
            'hreflang="${other[studio_language]}">${names[studio_language].other_language}</a></nav>'
        ),
        names=words.every_language("language_switch", "other_language", "title"),
        js_on_load="document.title = props.names[window.studio_language || 'en'].title;",
        other={words.ENGLISH: words.PORTUGUESE, words.PORTUGUESE: words.ENGLISH},
        apply_default_css=False,
        elem_id="language",
    )


def status_region(source: str) -> gr.HTML:
    """A screen reader's status line, present from the start: it takes the first line of the element `source` (a
    verdict) whenever that changes, which the queued events alone do, once a drawing has settled."""
    return gr.HTML(
        html_template='<div class="visually-hidden" role="status" aria-live="polite"></div>',
        js_on_load=STATUS_JS,
        source=source,
        apply_default_css=False,
        padding=False,
        elem_classes="status-region",
    )


STATUS_JS = """
const status = element.querySelector("[role=status]");
const copy = (source) => {
  const line = (source.querySelector("h3, p") || source).innerText.trim();
  if (line && line !== status.textContent) status.textContent = line;
};
// The source may be drawn after this component: wait for it
const follow = () => {
  const source = document.querySelector(props.source);
  if (!source) return setTimeout(follow, 100);
  new MutationObserver(() => copy(source)).observe(source, {childList: true, subtree: true, characterData: true});
  copy(source);
};
follow();
"""


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
    tabs: tuple[str, str], labels: tuple[str, str], elem_ids: tuple[str, str], width: int, clear: str, live=None
) -> tuple[gr.HTML, gr.Image, gr.Sketchpad, gr.Tabs]:
    """A canvas `width` px wide with its tools (the last, `clear`, empties it; `live`, its server function for
    answers while the pen moves) and an upload box, in two tabs; and a hidden Sketchpad, the API's drawing input.
    tabs, labels and clear are keys of the page's words."""
    with gr.Tabs() as tabbed:
        with gr.Tab(say(tabs[0]), id="draw"):
            pad = pen_canvas.canvas(width, 400, elem_ids[0], clear, labels[0], live)
        with gr.Tab(say(tabs[1]), id="upload"):
            upload = image_upload(say(labels[1]), elem_ids[1])
    return pad, upload, api_sketchpad(width), tabbed


def examples(files: list[str], label: str, upload: gr.Image, tabbed: gr.Tabs) -> gr.Examples:
    """Example pictures for an upload box (label: a key of the page's words), shown whichever tab is open; choosing
    one shows the Upload tab."""
    gallery = gr.Examples(examples=files, inputs=upload, label=say(label), examples_per_page=20)
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


def image_upload(label: str | gr.i18n.I18nData, elem_id: str) -> gr.Image:
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


def model_name(name: str, language: str = words.ENGLISH) -> str:
    """A model's name as a sentence names it ("dense network"); model_defs.MODEL_TITLES heads a table."""
    return words.text(f"model_{name}", language)


def model_label(name: str, language: str = words.ENGLISH) -> str:
    """A model's name beside a square of its colour: the name says which model, the colour matches its cards."""
    return (
        f'<span style="font-weight:600"><span aria-hidden="true" style="color:{MODEL_COLOURS[name]}">■</span> '
        f"{model_name(name, language)}</span>"
    )


# The page's own style: a large verdict; on a phone (up to 600 px wide), a smaller heading and canvas and compact
# cards, so that the verdict and both answers show under the canvas without scrolling.
PAGE_CSS = """
/* No scroll anchoring: answers arriving while the pen moves must not scroll the canvas from under it */
html, body { overflow-anchor: none; }
#summary h3 { font-size: 1.7em; margin: 0.2em 0; }
/* While the pen moves the cards follow it; the verdict waits for the drawing to settle */
body:has(#sketchpad [data-pen="down"]) #summary h3 { opacity: 0.4; }
#summary h3 + p { font-size: 0.85em; color: #595959; }
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
/* Gradio's default theme, its orange accent and its subdued grey darkened to WCAG AA's 4.5:1 contrast on white */
:root { --color-accent: #c2410c !important; --body-text-color-subdued: #6b7280 !important; }
/* The language switch and the status lines take no room on the page: the switch sits in its top right corner */
#language {
  position: absolute !important; top: -30px; right: 0; left: auto !important; width: auto !important;
  min-width: 0 !important; z-index: 1;
}
#language a { display: inline-block; padding: 4px 8px; min-height: 24px; }
/* An example's button keeps a thumbnail's room while Gradio loads what fills it */
.gallery-item { min-width: 48px; min-height: 48px; }
.status-region { position: absolute !important; }
/* A visible focus on everything a keyboard reaches */
.pen-tools button:focus-visible, .answer-card summary:focus-visible, .gallery-item:focus-visible,
#language a:focus-visible, #correction input:focus-visible, #number_correction textarea:focus-visible {
  outline: 3px solid #1971c2 !important; outline-offset: 2px;
}
.answer-card summary { display: list-item; padding: 4px 0; cursor: pointer; font-size: 0.85em; }
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after {
    animation-duration: 0s !important; transition-duration: 0s !important; scroll-behavior: auto !important;
  }
}
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


def answer_card(model_name: str, answer: dict | None, drawing: int | None = None, language: str = "en") -> str:
    """One model's answer as a card, in the visitor's language: its digit large (or "not a digit I know" with its
    best guess beneath), how sure it is, its top three as bars (all ten on demand) and its digit score. For checks
    from outside the code, data-answer holds the digit, "not-a-digit", or nothing before any answer, and
    data-drawing the number of the canvas's drawing it answers (pen_canvas.py)."""
    colour = MODEL_COLOURS[model_name]
    parts = [f"<div>{model_label(model_name, language)}</div>"]
    if answer is None:
        value = ""
        parts.append(f'<div style="color:#595959">{words.text("card_no_answer", language)}</div>')
    elif answer["is_digit"]:
        value = answer["label"]
        parts.append(f'<div class="card-digit" style="font-size:3em;font-weight:700;line-height:1.1">{value}</div>')
        parts.append(f"<div>{words.text('card_sure', language, confidence=answer['confidence'])}</div>")
    else:
        value = "not-a-digit"
        style = "font-size:1.5em;font-weight:700;line-height:1.6"
        parts.append(f'<div class="card-verdict" style="{style}">{words.text("card_not_a_digit", language)}</div>')
        guess = words.text("card_best_guess", language, label=answer["label"], confidence=answer["confidence"])
        parts.append(f"<div>{guess}</div>")
    if answer is not None:
        ranked = sorted(answer["confidences"].items(), key=lambda item: -item[1])
        parts.extend(BAR.format(label=label, share=share, colour=colour) for label, share in ranked[:3])
        rest = "".join(BAR.format(label=label, share=share, colour=colour) for label, share in ranked[3:])
        parts.append(f"<details><summary>{words.text('card_all_ten', language)}</summary>{rest}</details>")
        score = words.text("card_score", language, score=answer["digit_score"], threshold=0.5)
        parts.append(f'<div class="card-score" style="font-size:0.85em;color:#555">{score}</div>')
    drawn = f' data-drawing="{drawing}"' if drawing is not None else ""
    return (
        f'<div class="answer-card" data-answer="{value}"{drawn} style="{CARD.format(colour=colour)}">'
        f"{''.join(parts)}</div>"
    )


def preview_html(digit: np.ndarray, width: int = 168, language: str = words.ENGLISH) -> str:
    """The 28x28 input, enlarged."""
    alt = words.text("input_alt", language)
    return image_html(np.round(digit * 255).astype(np.uint8), alt, width, "border:1px solid #888")
