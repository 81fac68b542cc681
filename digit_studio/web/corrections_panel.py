"""Corrections (corrections.py's wiring): under the two answers, "Right", "Not a digit" or "It was a ..."; and the
/correct endpoint, for programs.

The folder is FEEDBACK_DIR (corrections/ in the repository unless set); with FEEDBACK_REPO set, hub.py pushes it to
that Hub dataset every few minutes. app.py calls configure() once, before the page is built.
"""

import os
from pathlib import Path

import gradio as gr
import numpy as np

import model_defs
from digit_studio import answers, corrections, hub, words
from digit_studio.web import callers, events
from digit_studio.web.page import PAGE_EVENT, Page, Wire, say, shown

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "corrections"
NO_ANSWER = words.text("no_answer")
DISAGREE = words.text("models_disagree")
CORRECT_DESCRIPTION = events.api_description(
    "Keeps a correction for retraining the models: a person's label for the digit in an image, '0' to '9' or "
    f"'{corrections.NOT_A_DIGIT}'. Send only labels a person gave; {corrections.PER_ADDRESS} corrections per "
    f"caller's address in {corrections.WINDOW_S // 60} minutes.",
    "the row kept: the label, each model's answer on the image (label, confidence, is_digit, digit_score), the "
    "time and the weights' sha256.",
)


class Settings:
    """Where corrections go: the store, and the Hub dataset it is pushed to (None: kept on this server)."""

    store: corrections.Store | None = None
    repo: str | None = None


SETTINGS = Settings()


def configure() -> corrections.Store:
    """The corrections store for this server: FEEDBACK_DIR (else corrections/), pushed to the Hub dataset
    FEEDBACK_REPO when that is set and reachable."""
    store = corrections.Store(Path(os.environ.get("FEEDBACK_DIR") or DEFAULT_DIR))
    repo = os.environ.get("FEEDBACK_REPO")
    scheduler = hub.push_corrections(store.folder, repo) if repo and not store.folder_error else None
    if scheduler is not None:
        store.lock = scheduler.lock  # no push reads a row half written
    SETTINGS.store, SETTINGS.repo = store, repo if scheduler is not None else None
    return store


def where_kept(language: str = words.ENGLISH) -> str:
    if SETTINGS.repo:
        return words.text("kept_on_hub", language, repo=SETTINGS.repo)
    return words.text("kept_here", language)


def note(language: str = words.ENGLISH) -> str:
    return words.text("correction_note", language, where=where_kept(language))


def weights_sha256(metrics: dict) -> dict:
    return {name: metrics[name]["weights_sha256"] for name in model_defs.MODEL_NAMES}


def keep(
    digit: np.ndarray, label: str, source: str, metrics: dict, request: gr.Request, strokes=None, pair=None
) -> dict:
    """Keep the correction with both models' answers on the digit (pair: answers.both's, if already run), counted
    by its caller's address (callers.py), whichever surface it came through; its row."""
    if SETTINGS.store is None:
        raise corrections.CorrectionError(words.text("corrections_off"))
    pair = pair or answers.both([digit])[0]
    models = {name: pair[name] for name in model_defs.MODEL_NAMES}
    return SETTINGS.store.add(digit, label, models, source, weights_sha256(metrics), callers.address(request), strokes)


def warning(error: Exception, request: gr.Request) -> str:
    """Why a correction was not kept, in the visitor's language: a refusal as it is worded, anything else as
    events.message_for says."""
    message = str(error) if isinstance(error, corrections.CorrectionError) else events.message_for(error)
    return words.translate(message, events.language_of(request))


def number_labels(pairs: list[dict], typed: str | None) -> list[str]:
    """Each piece's label (pairs: both models' answers on each piece): typed, one digit or ? (no digit) per piece;
    "right" takes the reading both models agree on."""
    if typed == "right":
        readings = {"".join(answers.read_as(pair[name]) for pair in pairs) for name in model_defs.MODEL_NAMES}
        if len(readings) > 1:
            raise corrections.CorrectionError(words.text("number_read_differently"))
        typed = readings.pop()
    typed = (typed or "").strip()
    if len(typed) != len(pairs) or any(char not in "0123456789?" for char in typed):
        raise corrections.CorrectionError(words.text("number_type_digits", count=len(pairs)))
    return [corrections.NOT_A_DIGIT if char == "?" else char for char in typed]


def label_for_right(pair: dict) -> str:
    """What "Right" confirms: the verdict on screen, which both models' answers (pair) give again."""
    if not pair["is_digit"]:
        return corrections.NOT_A_DIGIT
    if not pair["agree"]:
        raise corrections.CorrectionError(DISAGREE)
    return pair["cnn"]["label"]


def panel(page: Page) -> Wire:
    """The correction controls, placed where it is called (under the answer cards)."""
    with gr.Group(elem_id="correction"):
        gr.Markdown(shown(note), elem_id="correction_note")
        with gr.Row(equal_height=True):
            right = gr.Button(say("right"), size="sm", elem_id="correct_right")
            not_digit = gr.Button(say("not_a_digit"), size="sm", elem_id="correct_not_a_digit")
            it_was = gr.Dropdown(
                list(corrections.DIGITS),
                value=None,
                label=say("it_was_a"),
                elem_id="correct_digit",
                min_width=120,
                interactive=True,
            )
        thanks = gr.Markdown("", elem_id="correction_thanks")

    def correct(shown: dict | None, label: str | None, request: gr.Request) -> tuple:
        """Keep a correction of the answer on screen (shown: page.last_answer); the line under the buttons says
        what was kept, or why not."""
        try:
            if not shown or label is None:
                raise corrections.CorrectionError(NO_ANSWER)
            digit = shown["digit"]
            pair = answers.both([digit])[0]
            label = label_for_right(pair) if label == "right" else label
            row = keep(digit, label, shown["source"], page.metrics, request, shown.get("strokes"), pair)
        except Exception as error:
            return f"⚠️ {warning(error, request)}", None
        language = events.language_of(request)
        if row["label"] == corrections.NOT_A_DIGIT:
            return words.text("kept_as_not_a_digit", language), None
        return words.text("kept_as_digit", language, label=row["label"]), None

    def confirm(shown: dict | None, request: gr.Request) -> tuple:
        return correct(shown, "right", request)

    def no_digit(shown: dict | None, request: gr.Request) -> tuple:
        return correct(shown, corrections.NOT_A_DIGIT, request)

    def chosen(shown: dict | None, selected: gr.SelectData, request: gr.Request) -> tuple:
        return correct(shown, selected.value, request)

    def wire() -> None:
        # The API first, so that it takes the name "correct" before a page event named after its function could: an
        # image file and a label; the models run on the image, and the kept row comes back.
        label_box = gr.Textbox(visible=False)
        gr.Button(visible=False).click(
            correct_digit,
            [page.digit_upload, label_box],
            gr.JSON(visible=False),
            api_name="correct",
            api_description=CORRECT_DESCRIPTION,
            preprocess=False,
        )
        private = {"outputs": [thanks, it_was], **PAGE_EVENT, "preprocess": True}
        right.click(confirm, page.last_answer, **private)
        not_digit.click(no_digit, page.last_answer, **private)
        it_was.select(chosen, page.last_answer, **private)  # once per choice, even of the same digit again

    def correct_digit(upload: dict | None, label: str | None, request: gr.Request) -> dict:
        """/correct: keep a correction of an image file; returns the kept row. Its MCP tool takes its name.

        Args:
            upload: the image of one digit
            label: what the digit is: "0" to "9", or "not a digit"
        """
        try:
            label = corrections.check_label(label)
            digit = events.digit_from_upload(upload)
            return keep(digit, label, "api", page.metrics, request)
        except corrections.CorrectionError as error:
            raise gr.Error(str(error)) from None
        except gr.Error:
            raise
        except Exception as error:
            raise gr.Error(events.message_for(error)) from None

    return wire


def number_panel(page: Page, last: gr.State) -> Wire:
    """The correction controls under a read number: "Right", or the number it was, typed; one row per piece."""
    with gr.Group(elem_id="number_correction"):
        gr.Markdown(say("number_correction_note"))
        with gr.Row(equal_height=True):
            right = gr.Button(say("right"), size="sm", elem_id="number_correct_right")
            typed = gr.Textbox(
                label=say("it_was"), placeholder=say("it_was_placeholder"), elem_id="number_correct_text"
            )
            keep_typed = gr.Button(say("keep"), size="sm", elem_id="number_correct_keep")
        thanks = gr.Markdown("", elem_id="number_correction_thanks")

    def correct(shown: dict | None, text: str | None, request: gr.Request) -> tuple:
        try:
            if not shown:
                raise corrections.CorrectionError(words.text("number_no_answer"))
            pairs = answers.both(shown["digits"])  # one call of each model for every piece
            labels = number_labels(pairs, text)
            for digit, label, pair in zip(shown["digits"], labels, pairs, strict=True):
                keep(digit, label, shown["source"], page.metrics, request, shown.get("strokes"), pair)
        except Exception as error:
            return f"⚠️ {warning(error, request)}", gr.skip()
        kept = "".join("?" if len(label) > 1 else label for label in labels)
        return words.text("number_kept", events.language_of(request), count=len(labels), labels=kept), ""

    def confirm(shown: dict | None, request: gr.Request) -> tuple:
        return correct(shown, "right", request)

    def wire() -> None:
        private = {"outputs": [thanks, typed], **PAGE_EVENT, "preprocess": True}
        right.click(confirm, last, **private)
        for event in (keep_typed.click, typed.submit):
            event(correct, [last, typed], **private)

    return wire
