"""What every page event and Gradio endpoint shares: reading its input (left undecoded, preprocess=False, so that
uploads.py applies the same limits to every event), and one error policy.

    event = events.guarded(function)                     # an endpoint: "No digit found" is an error
    event = events.guarded(function, no_digit=outputs)   # a page event: with nothing to read, show those outputs
    api_description=events.api_description(does, returns)  # an image endpoint's description, API page and MCP tool

A page event whose drawing was overtaken by a newer one (pen_canvas.Stale) changes nothing on the page.

    live = events.live_answers(outputs_of, pad_id)   # a canvas's live function, with the same policy
"""

import asyncio
import contextlib
import functools
import logging

import gradio as gr
import numpy as np

from digit_studio import words
from digit_studio.core import preprocess
from digit_studio.web import pen_canvas, processes, uploads

log = logging.getLogger("digit_studio")

SERVER_FAULT = words.text("server_fault")


def message_for(error: Exception) -> str:
    """What a visitor is told: our own errors say what to fix; anything else is logged here, and shows no internals."""
    if isinstance(error, preprocess.NoDigitError | preprocess.BadImageError):
        return str(error)
    log.error("unexpected error while answering a request", exc_info=error)
    return SERVER_FAULT


def guarded(function, no_digit=None):
    """function as an event or endpoint: a gr.Error passes as it is, "No digit found" returns no_digit(language)
    where it is given (the page's hint) and is an error where it is not, a stale drawing updates nothing, and
    anything else is shown as message_for says. A page event's messages are in its visitor's language (a function
    taking a gr.Request); an endpoint's, in English."""

    @functools.wraps(function)
    def event(*args):
        language = language_of(next((arg for arg in args if isinstance(arg, gr.Request)), None))
        try:
            return function(*args)
        except gr.Error:
            raise
        except pen_canvas.Stale:
            return gr.skip()
        except preprocess.NoDigitError as error:
            if no_digit is None:
                raise gr.Error(words.translate(str(error), language)) from None
            return no_digit(language)
        except Exception as error:
            raise gr.Error(words.translate(message_for(error), language)) from None

    return event


def language_of(request: gr.Request | None) -> str:
    """A page visitor's language: the page's switch (?lang=), else the browser's first language; English for a
    program."""
    if request is None:
        return words.ENGLISH
    return words.language(request.headers.get("accept-language"), request.query_params.get("lang"))


def api_description(does: str, returns: str) -> str:
    """An image endpoint's description on Gradio's API page, which is also its MCP tool's: what it does, the image it
    takes and its limits, how an MCP client sends one, what it returns, and its errors."""
    return (
        f"{does} The image: {uploads.FORMATS_TEXT}, at most {uploads.MAX_PIXELS // 1_000_000} megapixels and "
        f"{uploads.MAX_IMAGE_BYTES // 2**20} MB, dark ink on a light background or light ink on dark. An MCP client "
        "sends it as a public http(s) URL or as a data: URL (data:image/png;base64,...), within the 4 MB an MCP "
        f"request may hold. Returns {returns} A picture without a digit, or over a limit, is an error saying what "
        f'to fix, such as "{preprocess.NO_DIGIT_MESSAGE}"'
    )


def file_path(file: dict | None) -> str | None:
    """The path in one of Gradio's file payloads."""
    return file.get("path") if file else None


def upload_path(upload: dict | None) -> str:
    if not file_path(upload):
        raise preprocess.NoDigitError(words.text("no_image", formats=uploads.FORMATS_TEXT))
    return file_path(upload)


def sketch_sources(value: dict | None) -> dict:
    """A Sketchpad payload's images as uploads.py reads them: the files the API user uploaded."""
    value = value or {}
    return {
        "background": file_path(value.get("background")),
        "layers": [file_path(layer) for layer in value.get("layers") or []],
        "composite": file_path(value.get("composite")),
    }


def digit_from_upload(upload: dict | None) -> np.ndarray:
    with uploads.image_file(upload_path(upload)) as image:
        return preprocess.preprocess_image(image)


def digit_from_sketch(value: dict | None) -> np.ndarray:
    return digit_from_pen(sketch_sources(value))


def digit_from_pen(sketch: dict) -> np.ndarray:
    """The digit in a drawing from the page's canvas (pen_canvas.drawing's sketch), read on a worker process, or any
    sketch of sources as uploads.sketch_files reads them."""
    if all(isinstance(layer, bytes) for layer in sketch.get("layers", ())) and not sketch.get("background"):
        return processes.run(digit_from_sketch_files, sketch)
    return digit_from_sketch_files(sketch)


def digit_from_sketch_files(sketch: dict) -> np.ndarray:
    with uploads.sketch_files(sketch) as arrays:
        return preprocess.preprocess_sketch(arrays)


class PenLanes:
    """Drawings sent while the pen moves are read and answered at most `most` at once, and, while `crowded` or more
    finished (pen-up) drawings are being answered, not at all: a finished drawing passes them by, so that with a class
    drawing at once its answer waits behind a few, not dozens, and a crowd gets fewer live answers, not late ones."""

    def __init__(self, most: int = 4, crowded: int = 2):
        self.moving = asyncio.Semaphore(most)
        self.crowded, self.settling = crowded, 0
        self.clear = asyncio.Event()
        self.clear.set()

    @contextlib.asynccontextmanager
    async def lane(self, settled: bool):
        if settled:
            self.settling += 1
            if self.settling >= self.crowded:
                self.clear.clear()
            try:
                yield
            finally:
                self.settling -= 1
                if self.settling < self.crowded:
                    self.clear.set()
        else:
            async with self.moving:
                await self.clear.wait()
                yield


PEN_LANES = PenLanes()


def live_answers(outputs_of, pad_id: str):
    """The live function of canvas pad_id (pen_canvas.canvas's `live`), a coroutine: {"page", "drawing", "png",
    "lang", "settled"} in; out, the drawing's number and `await outputs_of(number, sketch, language)`, in the page's
    language, or {"stale": True} for a drawing overtaken by a newer one, {"empty": True} for a blank canvas, or
    {"error": message}. Every limit and message of the queued events applies."""

    async def live(data) -> dict:
        number = data.get("drawing") if isinstance(data, dict) else None
        try:
            with pen_canvas.drawing_in(data, pad_id) as (number, sketch):
                chosen = data.get("lang") if isinstance(data.get("lang"), str) else None
                async with PEN_LANES.lane(data.get("settled") is True):
                    outputs = await outputs_of(number, sketch, words.language(chosen=chosen))
                return {"drawing": number, "outputs": outputs}
        except pen_canvas.Stale:
            return {"drawing": number, "stale": True}
        except preprocess.NoDigitError:
            return {"drawing": number, "empty": True}
        except Exception as error:  # told as the queued events tell it; ours are logged there
            return {"drawing": number, "error": message_for(error)}

    return live
