"""The "Read a number" section (segmentation.py's wiring): every digit of a drawing or photo, left to right, read by
both models; and the /read_number and /read_number_sketch endpoints.
"""

import time

import gradio as gr
import numpy as np

from digit_studio import answers, words
from digit_studio.core import segmentation
from digit_studio.web import corrections_panel, events, pen_canvas, uploads
from digit_studio.web.page import (
    EXAMPLES_DIR,
    PAGE_EVENT,
    Page,
    Wire,
    draw_or_upload,
    examples,
    model_label,
    preview_html,
    say,
    shown,
    status_region,
)

# A digit is marked for a second look when the models disagree or either is less sure than this; 80% is where
# the examples' digits start (tests/make_examples.py), and most misread digits fall below it.
UNSURE_BELOW = 0.8
NUMBER_EXAMPLES = sorted(str(path) for path in (EXAMPLES_DIR / "numbers").iterdir())
READ_NUMBER_DESCRIPTION = events.api_description(
    f"Reads a handwritten number of up to {segmentation.MAX_DIGITS} digits, left to right, each digit by two models: "
    "a LeNet-style CNN and a dense network.",
    "three values, in order: the reading {cnn: the CNN's number, linear: the dense network's, each with ? for a "
    "piece that model does not take for a digit; digits: for each, left to right, its box [x0, y0, x1, y1] in the "
    "picture's pixels and both models' label, confidence, is_digit and digit_score}; the digits' 28x28 views "
    '(HTML); and a summary such as "Both models read **2026**.".',
)


def number_from_upload(upload: dict | None) -> list[segmentation.Digit]:
    with uploads.image_file(events.upload_path(upload)) as image:
        return segmentation.digits_in_image(image)


def number_from_sketch(value: dict | None) -> list[segmentation.Digit]:
    return number_from_pen(events.sketch_sources(value))


def number_from_pen(sketch: dict) -> list[segmentation.Digit]:
    """The digits of a drawing from the page's canvas (pen_canvas.drawing's sketch), or any sketch of sources as
    uploads.sketch_files reads them."""
    with uploads.sketch_files(sketch) as arrays:
        return segmentation.digits_in_sketch(arrays)


PIECE_KEYS = ("label", "confidence", "is_digit", "digit_score")


def piece_html(piece: dict, language: str) -> str:
    if not piece["is_digit"]:
        return words.text("piece_not_a_digit", language, label=piece["label"])
    return f"<b>{piece['label']}</b> {piece['confidence']:.0%}"


def read_digits(digits: list[segmentation.Digit], language: str = words.ENGLISH) -> tuple:
    """The outputs of both number endpoints: the JSON reading, the digits' views and a summary (in English for the
    API, in the visitor's language on the page)."""
    start = time.perf_counter()
    batch = np.stack([digit.image for digit in digits])[..., None]  # all digits in one batch, with other callers'
    probabilities, _ = answers.BATCHER.run(batch)
    elapsed_ms = (time.perf_counter() - start) * 1000
    previews = [preview_html(digit.image, 84, language) for digit in digits]
    entries = []
    for index, digit in enumerate(digits):
        pair = {name: answers.answer(p[index], name) for name, p in probabilities.items()}
        entries.append(
            {"box": list(digit.box), **{name: {key: a[key] for key in PIECE_KEYS} for name, a in pair.items()}}
        )
    reading = {name: "".join(answers.read_as(entry[name]) for entry in entries) for name in probabilities}
    flagged = [
        entry["cnn"]["label"] != entry["linear"]["label"]
        or min(entry[name]["confidence"] for name in probabilities) < UNSURE_BELOW
        or not all(entry[name]["is_digit"] for name in probabilities)
        for entry in entries
    ]
    cards = "".join(
        f'<figure style="margin:0;padding:6px;text-align:center;border:2px solid {"#d9480f" if flag else "#ccc"}">'
        f"{preview}<figcaption>"
        f"{'<br>'.join(f'{model_label(n, language)} {piece_html(entry[n], language)}' for n in probabilities)}"
        f"{'<br>' + words.text('piece_check', language) if flag else ''}</figcaption></figure>"
        for preview, entry, flag in zip(previews, entries, flagged, strict=True)
    )
    if reading["cnn"] == reading["linear"]:
        verdict = words.text("number_both", language, number=reading["cnn"])
    else:
        verdict = words.text("number_differ", language, **reading)
    checks = [str(index + 1) for index, flag in enumerate(flagged) if flag]
    check = (
        "  \n" + words.text("number_check", language, pieces=", ".join(checks), unsure=UNSURE_BELOW) if checks else ""
    )
    timing = words.text("number_timing", language, count=len(digits), milliseconds=elapsed_ms)
    summary = f"{verdict}{check}  \n{timing}"
    views = f'<div style="display:flex;gap:8px;flex-wrap:wrap">{cards}</div>'
    return {**reading, "digits": entries}, views, summary


def layout(page: Page) -> Wire:
    """The section's heading, canvas, upload with its examples, and outputs."""
    gr.Markdown(shown(lambda language: words.text("number_heading", language, unsure=UNSURE_BELOW)))
    last = gr.State(None)  # the reading on screen: {"digits", "source", "strokes"}, what a correction is about
    with gr.Row():
        with gr.Column():
            pad, upload, sketch, tabbed = draw_or_upload(
                ("tab_draw_number", "tab_upload_number"),
                ("canvas_number", "upload_number"),
                ("number_sketchpad", "number_upload"),
                800,  # room for four digits as tall as the one-digit canvas's
                "clear_number",
            )
        with gr.Column():
            summary = gr.Markdown(say("number_hint"), elem_id="number_summary")
            status_region("#number_summary")
            views = gr.HTML(label=say("number_views"), elem_id="number_views")
            with gr.Accordion(say("number_json"), open=False):
                reading = gr.JSON(elem_id="number_json")
            correction = corrections_panel.number_panel(page, last)
            examples(NUMBER_EXAMPLES, "examples_numbers", upload, tabbed)
    outputs = [reading, views, summary, last]
    page.sketchpads.append(sketch)

    def read_number(value: dict | None) -> tuple:
        """/read_number, as READ_NUMBER_DESCRIPTION says.

        Args:
            value: the picture of the number
        """
        return read_digits(number_from_upload(value))

    def read_number_sketch(value: dict | None) -> tuple:
        return read_digits(number_from_sketch(value))

    def uploaded(value: dict | None, request: gr.Request) -> tuple:
        digits = number_from_upload(value)
        reading = read_digits(digits, events.language_of(request))
        return *reading, {"digits": [d.image for d in digits], "source": "upload", "strokes": None}

    def drawn(evt: gr.EventData, request: gr.Request) -> tuple:
        """The page's reading of the canvas's drawing, its views marked with the drawing's number."""
        with pen_canvas.drawing(evt, pad) as (number, strokes):
            digits = number_from_pen(strokes)
            result, views, summary = read_digits(digits, events.language_of(request))
        shown = {"digits": [digit.image for digit in digits], "source": "canvas", "strokes": strokes["layers"][0]}
        return result, f'<div data-drawing="{number}">{views}</div>', summary, shown

    def wire() -> None:
        # The endpoints first: they take their functions' names as API names before the page's events could.
        api = {"outputs": outputs[:3], "preprocess": False}
        gr.Button(visible=False).click(
            events.guarded(read_number), upload, api_name="read_number", api_description=READ_NUMBER_DESCRIPTION, **api
        )
        gr.Button(visible=False).click(events.guarded(read_number_sketch), sketch, api_name="read_number_sketch", **api)

        def hint(language: str) -> tuple:
            return None, "", words.text("number_hint", language), None

        page_events = {"outputs": outputs, **PAGE_EVENT}
        pad_view = events.guarded(drawn, no_digit=hint)
        # While the pen moves (input) and at pen-up, Undo and Clear (change), the canvas sends the newest drawing once
        # the one being read is answered (pen_canvas.in_order), each with its own data.
        for event in (pad.input, pad.change):
            pen_canvas.in_order(event(pad_view, None, trigger_mode="multiple", **page_events), pad)
        upload.change(events.guarded(uploaded, no_digit=hint), upload, **page_events)
        correction()

    return wire
