"""pen_canvas.py without a browser: what its events accept, and which drawing's answer is stale."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from digit_studio.core import preprocess
from digit_studio.web import events, pen_canvas


class Event:
    """What Gradio passes as gr.EventData: the data the page's trigger() sent."""

    def __init__(self, data):
        self._data = data


class Pad:
    elem_id = "sketchpad"


def seven_png() -> str:
    """A 7 as the canvas sends it: black ink on a transparent 400x400 canvas, as a PNG data URL."""
    layer = np.zeros((400, 400, 4), np.uint8)
    layer[80:100, 80:320, 3] = 255
    for row in range(100, 340):
        column = 320 - (row - 100) * 150 // 240
        layer[row, column - 10 : column + 10, 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(layer, "RGBA").save(buffer, format="PNG")
    return pen_canvas.PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode()


def drawn(page: str, number: int, png: str) -> dict:
    """An event's data as the canvas sends it."""
    return {"page": page, "drawing": number, "png": png}


def test_a_drawing_is_read_as_the_canvas_drew_it():
    page, number, png = pen_canvas.parse(drawn("a", 3, seven_png()))
    assert (page, number) == ("a", 3) and png.startswith(b"\x89PNG")
    with pen_canvas.drawing(Event(drawn("a", 1, seven_png())), Pad()) as (number, sketch):
        digit = events.digit_from_pen(sketch)
    assert number == 1 and digit.shape == (28, 28) and digit.max() > 0.9


def test_an_empty_canvas_is_no_digit():
    assert pen_canvas.parse(drawn("b", 2, "")) == ("b", 2, None)
    with pytest.raises(preprocess.NoDigitError), pen_canvas.drawing(Event(drawn("b", 1, "")), Pad()):
        pass


@pytest.mark.parametrize(
    "data",
    [
        None,
        [1],
        {"page": "p", "png": ""},
        {"drawing": 1, "png": ""},
        {"page": "", "drawing": 1, "png": ""},
        {"page": "p" * 65, "drawing": 1, "png": ""},
        {"page": 7, "drawing": 1, "png": ""},
        drawn("p", "1", ""),
        drawn("p", True, ""),
        drawn("p", -1, ""),
        drawn("p", 1, 5),
        drawn("p", 1, "data:image/jpeg;base64,AAAA"),
        drawn("p", 1, pen_canvas.PNG_PREFIX + "not base64!"),
        drawn("p", 1, pen_canvas.PNG_PREFIX + "A" * pen_canvas.MAX_PNG_CHARS),
    ],
    ids=repr,
)
def test_anything_else_is_refused_with_one_message(data):
    with pytest.raises(preprocess.BadImageError, match="not a drawing from the page's canvas"):
        pen_canvas.parse(data)


def test_an_answer_to_an_overtaken_drawing_is_stale():
    drawings = pen_canvas.Drawings()
    assert drawings.see(("page", "sketchpad"), 1) and drawings.see(("page", "sketchpad"), 3)
    assert not drawings.see(("page", "sketchpad"), 2)  # arrived after 3
    assert drawings.see(("page", "number_sketchpad"), 1)  # each canvas counts its own drawings
    assert drawings.see(("other page", "sketchpad"), 1)
    assert drawings.is_newest(("page", "sketchpad"), 3) and not drawings.is_newest(("page", "sketchpad"), 1)


def test_a_drawing_overtaken_while_it_is_read_is_stale():
    event = Event(drawn("while-reading", 1, seven_png()))
    with pytest.raises(pen_canvas.Stale), pen_canvas.drawing(event, Pad()):
        pen_canvas.DRAWINGS.see(("while-reading", Pad.elem_id), 2)  # Clear, pressed meanwhile
    with pytest.raises(pen_canvas.Stale), pen_canvas.drawing(event, Pad()):
        pass  # and it stays stale when it arrives again


def test_a_stale_drawing_changes_nothing_on_the_page():
    def overtaken():
        raise pen_canvas.Stale

    skipped = events.guarded(overtaken, no_digit=("hint",))()
    assert skipped == {"__type__": "update"}  # gr.skip(): every output as it is


def test_the_drawings_remembered_are_bounded():
    drawings = pen_canvas.Drawings(capacity=3)
    for page in range(5):
        drawings.see((page, "sketchpad"), 7)
    assert len(drawings.newest) == 3 and (0, "sketchpad") not in drawings.newest
