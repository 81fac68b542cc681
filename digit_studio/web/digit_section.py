"""The page's first section: one digit, drawn or uploaded, and both models' answers; and the /classify and
/classify_sketch endpoints.
"""

import os

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers, words
from digit_studio.core import preprocess, segmentation
from digit_studio.web import corrections_panel, events, pen_canvas, processes, uploads
from digit_studio.web.page import (
    EXAMPLES_DIR,
    HINT,
    PAGE_EVENT,
    Page,
    Wire,
    answer_card,
    draw_or_upload,
    examples,
    language_switch,
    preview_html,
    say,
    shown,
    status_region,
)

EXAMPLES = sorted(str(path) for path in EXAMPLES_DIR.iterdir() if path.suffix in {".png", ".jpg", ".webp"})


CLASSIFY_DESCRIPTION = events.api_description(
    "Which digit (0-9) a picture of one handwritten digit shows, according to two models: a LeNet-style CNN and a "
    "dense network, each with how sure it is and whether it takes the picture for a digit at all.",
    "four values, in order: the CNN's answer and the dense network's, each {label, confidences: [{label, "
    "confidence}] for the ten digits, most likely first}; the 28x28 image the models see (an HTML <img>); and a "
    'summary that opens with the verdict: "Both models say **7**.", "The models disagree: ..." or "That doesn\'t '
    'look like a digit: ...".',
)


def reading(digit: np.ndarray, language: str = words.ENGLISH) -> tuple[dict, str]:
    """Both models' answers for one digit and the summary every surface shows: the verdict and the models' time."""
    pair, milliseconds = answers.timed(digit)
    timing = words.text("timing", language, **milliseconds)
    return pair, f"{answers.verdict(pair, language)}\n\n{timing}"


def describe(digit: np.ndarray) -> tuple:
    """The one-digit endpoints' outputs: the CNN's Label value, the dense network's, the 28x28 view and a summary."""
    pair, summary = reading(digit)
    return pair["cnn"]["confidences"], pair["linear"]["confidences"], preview_html(digit), summary


def show(digit: np.ndarray, drawing: int | None = None, language: str = words.ENGLISH) -> tuple:
    """The page's outputs for one digit, in the visitor's language: both models' answer cards (for the canvas's
    drawing number `drawing`, if drawn), the 28x28 view and the summary."""
    pair, summary = reading(digit, language)
    cards = (answer_card(name, pair[name], drawing, language) for name in model_defs.MODEL_NAMES)
    return *cards, seen_html(digit, language), f"### {summary}"  # the verdict as the page's headline


def seen_html(digit: np.ndarray, language: str = words.ENGLISH) -> str:
    view, caption = preview_html(digit, language=language), words.text("seen_caption", language)
    return f'<figure style="margin:0">{view}<figcaption>{caption}</figcaption></figure>'


async def live_view(number: int, sketch: dict, language: str = words.ENGLISH) -> dict:
    """What the page shows while the pen moves and at pen-up: both cards and the 28x28 view (the verdict waits for
    the queued pen-up event, once the drawing has settled). The drawing is read on a worker process, the models run
    in the batcher, and the event loop serves others meanwhile."""
    digit, seen = await processes.run_async(drawn_digit, sketch, language)
    pair = (await answers.both_async([digit]))[0]
    cards = {name: answer_card(name, pair[name], number, language) for name in model_defs.MODEL_NAMES}
    return {**cards, "preview": seen}


def drawn_digit(sketch: dict, language: str) -> tuple[np.ndarray, str]:
    """On a worker process: the digit in a canvas's drawing, and its 28x28 view."""
    digit = events.digit_from_sketch_files(sketch)
    return digit, seen_html(digit, language)


def upload_reading(upload: dict | None, language: str = words.ENGLISH) -> tuple[np.ndarray, str]:
    """An uploaded picture's digit, and what several_digits says of it: one decode for both."""
    with uploads.image_file(events.upload_path(upload)) as image:
        return preprocess.preprocess_image(image), several_digits(image, language)


def several_digits(image, language: str = words.ENGLISH) -> str:
    """A line pointing to the number reader when a picture holds more than one digit; else nothing."""
    try:
        count = len(segmentation.digits_in_image(image))
    except (preprocess.NoDigitError, preprocess.BadImageError):
        return ""
    if count < 2:
        return ""
    return "\n\n" + words.text("several_digits", language, count=count)


def empty(name: str) -> gr.i18n.I18nData:
    """A model's card before any answer, in the visitor's language."""
    return shown(lambda language: answer_card(name, None, language=language))


def layout(page: Page) -> Wire:
    language_switch()
    gr.Markdown(say("intro"), elem_id="intro")
    with gr.Row(elem_id="digit_row"):
        with gr.Column():
            pad, upload, sketch, tabbed = draw_or_upload(
                ("tab_draw", "tab_upload"),
                ("canvas_digit", "upload_digit"),
                ("sketchpad", "upload"),
                400,
                "clear",
                events.live_answers(live_view, "sketchpad"),
            )
        with gr.Column():
            summary = gr.Markdown(say("hint"), elem_id="summary")
            status_region("#summary")
            with gr.Row(elem_id="cards"):
                cards = [
                    gr.HTML(empty(name), elem_id=f"{name}_answer", **pen_canvas.follows("sketchpad", name))
                    for name in model_defs.MODEL_NAMES
                ]
            with gr.Row():  # side by side where there is room, so that the examples start within the first screen
                with gr.Column(scale=0, min_width=190):
                    preview = gr.HTML(elem_id="preview", **pen_canvas.follows("sketchpad", "preview"))
                with gr.Column(scale=1, min_width=260):
                    correction = corrections_panel.panel(page)
            # What /classify and /classify_sketch return first, as Gradio Label values; the page shows the cards.
            labels = [
                gr.Label(num_top_classes=10, visible=False, elem_id=f"{name}_label") for name in model_defs.MODEL_NAMES
            ]
            examples(EXAMPLES, "examples_digits", upload, tabbed)
    outputs = [*labels, preview, summary]
    page.current_digit = gr.State(None)
    page.last_answer = gr.State(None)
    page.digit_upload = upload
    page.sketchpads.append(sketch)

    def nothing(language: str, summary: str | None = None) -> tuple:
        """The page before any answer: cards, 28x28 view, summary (the hint unless given), states."""
        cards = (answer_card(name, None, language=language) for name in model_defs.MODEL_NAMES)
        return *cards, "", summary or words.text("hint", language), None, None

    def uploaded(value: dict | None, request: gr.Request) -> tuple:
        """The page's view of an upload: the cards, the 28x28 view and the summary (pointing to the number reader for
        a picture of several digits), and the digit itself, for "Why they differ" and a correction. A picture that
        holds no digit says why; with no picture the page shows its hint."""
        language = events.language_of(request)
        try:
            digit, note = upload_reading(value, language)
        except preprocess.NoDigitError as error:
            if events.file_path(value):
                return nothing(language, words.translate(str(error), language))
            raise
        *outputs, summary = show(digit, language=language)
        return *outputs, summary + note, digit, {"digit": digit, "source": "upload", "strokes": None}

    def drawn(evt: gr.EventData, request: gr.Request) -> tuple:
        """The page's view of the canvas's drawing: as uploaded's, its cards marked with the drawing's number."""
        with pen_canvas.drawing(evt, pad) as (number, strokes):
            digit = events.digit_from_pen(strokes)
            *outputs, summary = show(digit, number, events.language_of(request))
        return *outputs, summary, digit, {"digit": digit, "source": "canvas", "strokes": strokes["layers"][0]}

    def classify(value: dict | None) -> tuple:
        """/classify, as CLASSIFY_DESCRIPTION says.

        Args:
            value: the picture of one digit
        """
        return describe(events.digit_from_upload(value))

    def classify_sketch(value: dict | None) -> tuple:
        return describe(events.digit_from_sketch(value))

    def wire() -> None:
        page_outputs = {"outputs": [*cards, preview, summary, page.current_digit, page.last_answer], **PAGE_EVENT}
        correction()
        pad_view = events.guarded(drawn, no_digit=nothing)
        why = page.why_refresh  # its inputs: the current digit, which drawn_and_why has at hand, then the section's

        def drawn_and_why(evt: gr.EventData, request: gr.Request, *why_settings) -> tuple | dict:
            """The page's view of the canvas's drawing and, in the same request, "Why they differ" for its digit."""
            shown = pad_view(evt, request)
            if not isinstance(shown, tuple):  # a drawing overtaken by a newer one: nothing changes
                return shown
            return *shown, *why["fn"](request, shown[4], *why_settings)

        # While the pen moves, live_view answers through the canvas's route. At pen-up, Undo and Clear (change) the
        # page and "Why they differ" are one request, not the queue's join, stream and estimates, which with a class
        # drawing at once cost more than the answer itself (docs/performance.md).
        # Every drawing is sent with its own data ("multiple"): Gradio's always_last would send a deferred Clear with
        # the stroke's data. The canvas sends the next once this one's answer is shown (pen_canvas.in_order); one
        # overtaken by a newer drawing comes back as nothing to change (pen_canvas.Drawings).
        drawn_event = pad.change(
            drawn_and_why,
            why["inputs"][1:],
            trigger_mode="multiple",
            queue=False,
            **{**page_outputs, "outputs": page_outputs["outputs"] + why["outputs"]},
        )
        pen_canvas.in_order(drawn_event, pad)
        upload.change(events.guarded(uploaded, no_digit=nothing), upload, **page_outputs).success(**page.why_refresh)
        # The API endpoints hang off hidden buttons, so that they raise "No digit found" where the page shows a hint.
        api = {"outputs": outputs, "preprocess": False}
        gr.Button(visible=False).click(
            events.guarded(classify), upload, api_name="classify", api_description=CLASSIFY_DESCRIPTION, **api
        )
        gr.Button(visible=False).click(events.guarded(classify_sketch), sketch, api_name="classify_sketch", **api)
        if os.environ.get("DIGIT_STUDIO_BENCH") == "1":
            # benchmarks/bench.py's baseline: /classify's input and output types with constant values, so that the
            # two differ only by the studio's own work; undocumented, and absent unless the benchmark asks for it.
            constant = (dict.fromkeys(model_defs.CLASS_NAMES, 0.1),) * 2 + (preview_html(np.zeros((28, 28))), HINT)
            gr.Button(visible=False).click(
                lambda value: constant, upload, api_name="trivial", api_visibility="undocumented", **api
            )

    return wire
