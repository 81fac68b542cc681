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
from digit_studio import answers, corrections, hub
from digit_studio.web import callers, events
from digit_studio.web.page import PAGE_EVENT, Page, Wire

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "corrections"
NO_ANSWER = "Draw or upload a digit first; then say what it was."
DISAGREE = "The models disagree: choose the digit it was under It was a..."
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


def where_kept() -> str:
    if SETTINGS.repo:
        return f"pushed every few minutes to the Hugging Face dataset {SETTINGS.repo}"
    return "kept on this server only"


def note() -> str:
    return (
        "**Was it right?** Your answer helps retrain the models. Kept: the 28x28 image the models saw (a drawing's "
        "strokes too), both answers, your label and the time; never your photo as sent, nothing about you; "
        f"{where_kept()}."
    )


def weights_sha256(metrics: dict) -> dict:
    return {name: metrics[name]["weights_sha256"] for name in model_defs.MODEL_NAMES}


def keep(
    digit: np.ndarray, label: str, source: str, metrics: dict, request: gr.Request, strokes=None, pair=None
) -> dict:
    """Keep the correction with both models' answers on the digit (pair: answers.both's, if already run), counted
    by its caller's address (callers.py), whichever surface it came through; its row."""
    if SETTINGS.store is None:
        raise corrections.CorrectionError("Corrections are not switched on for this server.")
    pair = pair or answers.both([digit])[0]
    models = {name: pair[name] for name in model_defs.MODEL_NAMES}
    return SETTINGS.store.add(digit, label, models, source, weights_sha256(metrics), callers.address(request), strokes)


def number_labels(pairs: list[dict], typed: str | None) -> list[str]:
    """Each piece's label (pairs: both models' answers on each piece): typed, one digit or ? (no digit) per piece;
    "right" takes the reading both models agree on."""
    if typed == "right":
        readings = {"".join(answers.read_as(pair[name]) for pair in pairs) for name in model_defs.MODEL_NAMES}
        if len(readings) > 1:
            raise corrections.CorrectionError("The models read it differently: type the number it was.")
        typed = readings.pop()
    typed = (typed or "").strip()
    if len(typed) != len(pairs) or any(char not in "0123456789?" for char in typed):
        raise corrections.CorrectionError(
            f"Type one digit per piece, {len(pairs)} in all, with ? for a piece that is no digit."
        )
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
        gr.Markdown(note(), elem_id="correction_note")
        with gr.Row(equal_height=True):
            right = gr.Button("Right", size="sm", elem_id="correct_right")
            not_digit = gr.Button("Not a digit", size="sm", elem_id="correct_not_a_digit")
            it_was = gr.Dropdown(
                list(corrections.DIGITS),
                value=None,
                label="It was a ...",
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
        except corrections.CorrectionError as error:
            return f"⚠️ {error}", None
        except Exception as error:
            return f"⚠️ {events.message_for(error)}", None
        kept = "not a digit" if row["label"] == corrections.NOT_A_DIGIT else f"a {row['label']}"
        return f"Thank you: kept as {kept}.", None

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
        gr.Markdown("**Was it right?** As for a single digit, each piece is kept with its label.")
        with gr.Row(equal_height=True):
            right = gr.Button("Right", size="sm", elem_id="number_correct_right")
            typed = gr.Textbox(
                label="It was", placeholder="the number; ? for a piece that is no digit", elem_id="number_correct_text"
            )
            keep_typed = gr.Button("Keep", size="sm", elem_id="number_correct_keep")
        thanks = gr.Markdown("", elem_id="number_correction_thanks")

    def correct(shown: dict | None, text: str | None, request: gr.Request) -> tuple:
        try:
            if not shown:
                raise corrections.CorrectionError("Write or upload a number first; then say what it was.")
            pairs = answers.both(shown["digits"])  # one call of each model for every piece
            labels = number_labels(pairs, text)
            for digit, label, pair in zip(shown["digits"], labels, pairs, strict=True):
                keep(digit, label, shown["source"], page.metrics, request, shown.get("strokes"), pair)
        except corrections.CorrectionError as error:
            return f"⚠️ {error}", gr.skip()
        except Exception as error:
            return f"⚠️ {events.message_for(error)}", gr.skip()
        return f"Thank you: kept {len(labels)} pieces as {''.join('?' if len(x) > 1 else x for x in labels)}.", ""

    def confirm(shown: dict | None, request: gr.Request) -> tuple:
        return correct(shown, "right", request)

    def wire() -> None:
        private = {"outputs": [thanks, typed], **PAGE_EVENT, "preprocess": True}
        right.click(confirm, last, **private)
        for event in (keep_typed.click, typed.submit):
            event(correct, [last, typed], **private)

    return wire
