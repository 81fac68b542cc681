"""The JSON routes, /api/classify and /api/classify_batch, whole: the FastAPI app that serves them (Gradio is mounted
on it at "/" by app.py), reading a request's body within MAX_BODY_BYTES and BODY_TIMEOUT_S, and its answer.

    status, answer = json_api.classify(body, content_type)        # one image
    status, answer = json_api.classify_batch(body, content_type)  # up to MAX_BATCH_IMAGES

`body` is the request's bytes, `content_type` its Content-Type header; the models run through answers.BATCHER with
every other surface's calls, or through `predict(model_name, batch)` where one is given (the models' probabilities
for an N x 28 x 28 x 1 batch). A batch's small images are preprocessed on the worker processes (processes.py),
once they are started. An image comes as the multipart/form-data field `image` (`images`,
repeated, for a batch) or, for one image, as the whole body with an image/* Content-Type. Each answer is JSON: a
result, or {"error": message} with a 4xx status, the same limits and messages as the page's; images are read through
uploads.py.
"""

import asyncio
import json
import os
from collections.abc import Callable

import fastapi
import numpy as np
from fastapi.responses import JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from digit_studio import answers
from digit_studio.core import preprocess
from digit_studio.web import events, pen_canvas, processes, uploads

MAX_BATCH_IMAGES = 64
# A batch's body in all: 64 photos of half a megabyte, or a few large ones; uploads.py bounds their pixels.
MAX_BATCH_BYTES = 32 * 2**20
MULTIPART_SLACK = 64 * 2**10  # room for a form's boundaries, headers and small fields beside its image
MAX_BODY_BYTES = {"classify": uploads.MAX_IMAGE_BYTES + MULTIPART_SLACK, "classify_batch": MAX_BATCH_BYTES}
MAX_PEN_BYTES = pen_canvas.MAX_PNG_CHARS + 2**10  # a canvas's drawing: its PNG as a data URL, its page and number
# The whole body must arrive within this: a 10 MB photo needs 4 Mbit/s; a client trickling bytes is cut off.
BODY_TIMEOUT_S = int(os.environ.get("JSON_BODY_TIMEOUT_S", "20"))  # seconds for a whole body to arrive
MAX_EXTRA_PARTS = 16  # form fields besides the images, ignored but counted, so that no form is endless
# A batch this long goes to the workers; a shorter one is preprocessed in less time than the round trip takes.
POOLED_IMAGES = 8
# The workers read images of up to this many pixels, one at a time each: at most 17 MB apiece (docs/api.md).
# Larger ones are read here, within uploads.BUDGET, as a single image is.
SMALL_PIXELS = 1_000_000

Predict = Callable[[str, np.ndarray], np.ndarray]


class ApiError(Exception):
    """A request the route cannot answer with a result: its HTTP status and a message for a person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def classify(body: bytes, content_type: str, predict: Predict | None = None) -> tuple[int, dict]:
    """One image: both models' answers, or an error."""
    try:
        (image,) = images_in(body, content_type, "image", 1)
        digit = digit_of(image)
    except ApiError as error:
        return error.status, {"error": error.message}
    except (preprocess.NoDigitError, preprocess.BadImageError) as error:
        return status_of(error), {"error": str(error)}
    return 200, answers.both([digit], predict)[0]


def classify_batch(
    body: bytes, content_type: str, predict: Predict | None = None, workers: processes.Workers | None = None
) -> tuple[int, dict]:
    """Up to MAX_BATCH_IMAGES images: {"results": [...]}, one entry per image in order, each an answer or an error.

    One image's problem is its own entry; the models run once each, on every digit found.
    """
    if parse_options_header(content_type)[0].startswith(b"image/"):
        return 415, {"error": "Send the images as multipart/form-data, each in a field named 'images'."}
    try:
        images = images_in(body, content_type, "images", MAX_BATCH_IMAGES)
    except ApiError as error:
        return error.status, {"error": error.message}
    workers = workers or processes.POOL
    pooled = workers.outcomes(images) if workers and len(images) >= POOLED_IMAGES else [None] * len(images)
    results: list[dict | None] = [None] * len(images)
    digits = {}
    for index, (data, outcome) in enumerate(zip(images, pooled, strict=True)):
        outcome = digit_outcome(data) if outcome is None else outcome
        if isinstance(outcome, dict):
            results[index] = outcome
        else:
            digits[index] = outcome
    if digits:
        for index, answer in zip(digits, answers.both(list(digits.values()), predict), strict=True):
            results[index] = answer
    return 200, {"results": results}


def images_in(body: bytes, content_type: str, field: str, most: int) -> list[bytes]:
    """The image(s) a request carries, at least one and at most `most`; anything else is an ApiError."""
    media_type, options = parse_options_header(content_type)
    how = f"send {'an image' if most == 1 else 'the images'} as multipart/form-data in the field '{field}'"
    if not body:
        raise ApiError(422, f"No image was sent: {how}.")
    if media_type.startswith(b"image/") and most == 1:
        return [body]
    if media_type != b"multipart/form-data":
        raw = " or as the body with an image/png, image/jpeg... Content-Type" if most == 1 else ""
        raise ApiError(415, f"Unsupported Content-Type: {how}{raw}.")
    parts = form_parts(body, options.get(b"boundary", b""), most + MAX_EXTRA_PARTS)
    images = [data for name, data in parts if name == field]
    if not images:
        raise ApiError(422, f"No field '{field}' in the form: {how}.")
    if most == 1 and len(images) > 1:
        raise ApiError(422, "Send one image in the field 'image'; to classify several, use /api/classify_batch.")
    if len(images) > most:
        raise ApiError(413, f"Too many images: at most {most} per request.")
    return images


def form_parts(body: bytes, boundary: bytes, most: int) -> list[tuple[str, bytes]]:
    """Each part of a multipart/form-data body as (field name, content); more than `most` parts is an ApiError."""
    if not boundary:
        raise ApiError(400, "The multipart/form-data Content-Type has no boundary.")
    parts: list[tuple[str, bytearray]] = []
    header: list[bytes] = [b"", b""]  # the part's header being read: name, value
    names: list[str] = []

    def on_part_begin() -> None:
        if len(parts) == most:  # checked as each part starts, so a flood of parts is refused without reading it
            raise ApiError(413, f"Too many parts in the form: at most {most}.")
        parts.append(("", bytearray()))
        names.clear()

    def on_header_end() -> None:
        if header[0].lower() == b"content-disposition":
            names.append(parse_options_header(header[1])[1].get(b"name", b"").decode("utf-8", "replace"))
        header[:] = [b"", b""]

    def on_headers_finished() -> None:
        parts[-1] = (names[0] if names else "", parts[-1][1])

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": lambda data, start, end: header.__setitem__(0, header[0] + data[start:end]),
        "on_header_value": lambda data, start, end: header.__setitem__(1, header[1] + data[start:end]),
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise ApiError(400, "The multipart/form-data body is malformed.") from None
    return [(name, bytes(data)) for name, data in parts]


def digit_of(data: bytes) -> np.ndarray:
    """One image's 28x28 digit, read within the page's limits."""
    if len(data) > uploads.MAX_IMAGE_BYTES:
        raise ApiError(
            413, f"That file is over the limit of {uploads.MAX_IMAGE_BYTES // 2**20} MB; please send a smaller one."
        )
    with uploads.image_file(data) as image:
        return preprocess.preprocess_image(image)


def digit_outcome(data: bytes) -> np.ndarray | dict:
    """One image of a batch: its digit, or its {"error": ...}."""
    try:
        return digit_of(data)
    except ApiError as error:
        return {"error": error.message}
    except (preprocess.NoDigitError, preprocess.BadImageError) as error:
        return {"error": str(error)}


def small_outcomes(images: list[bytes]) -> list[np.ndarray | dict | None]:
    """What a worker does: each image's digit_outcome, or None for one over SMALL_PIXELS (the caller reads it)."""
    return [digit_outcome(data) if pixels_at_most(data, SMALL_PIXELS) else None for data in images]


def pixels_at_most(data: bytes, most: int) -> bool:
    """Whether the image's header declares at most `most` pixels; a file that isn't an image counts as small, as
    reading it ends at the header."""
    try:
        with uploads.open_header(data, uploads.MAX_PIXELS) as image:
            return image.width * image.height <= most
    except preprocess.BadImageError:
        return True


def status_of(error: ValueError) -> int:
    """413 for an image over a limit, 415 for a file that is no accepted image, 400 for the rest."""
    if isinstance(error, uploads.TooLargeError):
        return 413
    if isinstance(error, uploads.NotAnImageError):
        return 415
    return 400


# The routes live on a FastAPI app of their own, with Gradio mounted on it at "/" (gr.mount_gradio_app): one server
# and port for the page, Gradio's API and these, and an OpenAPI page that lists only these.
api = fastapi.FastAPI(
    title="Handwritten-digit studio: JSON API",
    description="Both models' answers for a digit image, as JSON. The page and Gradio's API are at /.",
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    redoc_url=None,
)
IMAGE_SCHEMA = {"type": "string", "format": "binary"}
ANSWER_DOC = {
    "200": {
        "description": '{"cnn": {"label", "confidence", "confidences", "is_digit", "digit_score"}, "linear": {...}, '
        '"agree": bool, "is_digit": bool}: is_digit false where a model (or, at the top, either model) does not '
        "take the image for a digit it knows; digit_score from 0 to 1, 0.5 or more a digit"
    },
    "400": {"description": '{"error": ...}: no digit found, a damaged image, a malformed form'},
    "408": {"description": f"the body took over {BODY_TIMEOUT_S} s to arrive"},
    "413": {"description": "a file, an image's pixels or the number of images over the limit"},
    "415": {"description": "not an accepted image format, or another Content-Type"},
    "422": {"description": "no image, or no field of the expected name"},
}
HANDLERS = {"classify": classify, "classify_batch": classify_batch}


async def read_body(request: fastapi.Request, max_bytes: int) -> bytes:
    """The request's body, refused once over max_bytes or once BODY_TIMEOUT_S have passed since it began."""
    too_large = ApiError(413, f"The request is over the limit of {max_bytes // 2**20} MB.")
    if int(request.headers.get("content-length") or 0) > max_bytes:  # uvicorn has checked it is a number
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise too_large
    except TimeoutError:
        raise ApiError(408, f"The request took over {BODY_TIMEOUT_S} s to arrive.") from None
    except ClientDisconnect:
        raise ApiError(400, "The request ended before its body did.") from None
    return bytes(body)


async def json_route(request: fastapi.Request, route: str) -> JSONResponse:
    """Read the body here, in the event loop; decode, preprocess and run the models in a worker thread."""
    try:
        body = await read_body(request, MAX_BODY_BYTES[route])
    except ApiError as error:  # the body may still be coming: close the connection, or uvicorn reads on
        return JSONResponse({"error": error.message}, error.status, headers={"Connection": "close"})
    try:
        status, answer = await run_in_threadpool(HANDLERS[route], body, request.headers.get("content-type", ""))
    except Exception as error:  # a fault of ours, not the client's: logged, and told without internals
        status, answer = 500, {"error": events.message_for(error)}
    return JSONResponse(answer, status)


@api.post(
    "/api/classify",
    summary="Classify one image",
    responses=ANSWER_DOC,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {"image": IMAGE_SCHEMA}}},
                "image/*": {"schema": IMAGE_SCHEMA},
            },
        }
    },
)
async def api_classify(request: fastapi.Request) -> JSONResponse:
    """One image (PNG, JPEG, WebP, BMP, GIF, TIFF; 10 MB, 25 megapixels): both models' answers."""
    return await json_route(request, "classify")


@api.post(
    "/api/classify_batch",
    summary="Classify up to 64 images",
    responses={**ANSWER_DOC, "200": {"description": '{"results": [answer or {"error": ...}, ...]}, in order'}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"images": {"type": "array", "items": IMAGE_SCHEMA}}}
                }
            },
        }
    },
)
async def api_classify_batch(request: fastapi.Request) -> JSONResponse:
    """Up to 64 images, each in a field named `images`: one entry per image, in order, each an answer or an error."""
    return await json_route(request, "classify_batch")


async def pen_live(pad: str, request: fastapi.Request) -> JSONResponse:
    """The page's canvas while the pen moves, and at pen-up (pen_canvas.py): {"page", "drawing", "png", "lang"} in,
    the canvas's live answer out. Not in the API's docs: it answers with the page's HTML, for the page."""
    live = pen_canvas.LIVE.get(pad)
    if live is None:
        return JSONResponse({"error": "No such canvas."}, 404)
    try:
        body = await read_body(request, MAX_PEN_BYTES)
    except ApiError as error:
        return JSONResponse({"error": error.message}, error.status, headers={"Connection": "close"})
    try:
        data = json.loads(body)
    except ValueError:
        data = None  # refused by the canvas's own check, with its message
    return JSONResponse(await live(data))  # on the event loop: the drawing is read, and the models run, elsewhere


def with_pen_route(app):
    """The ASGI app `app` with POST /api/pen/{canvas} (pen_live) answered first, past every middleware: with a class
    drawing at once it is most of the server's requests, and Gradio's middleware, which the app's own routes pass
    through too, was about half of each one's cost in the serving thread (docs/performance.md)."""

    async def asgi(scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "POST" and path.startswith(PEN_PREFIX):
            response = await pen_live(path.removeprefix(PEN_PREFIX), Request(scope, receive))
            await response(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi


PEN_PREFIX = "/" + pen_canvas.LIVE_ROUTE
