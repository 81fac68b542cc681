"""Read a visitor's images within the app's limits, whichever endpoint they arrive through.

Every endpoint, a Gradio event or a plain HTTP route, reads its input with one of these:

    with uploads.image_file(source) as image: ...     # one image: a PIL image, fully decoded
    with uploads.sketch_files(value) as sketch: ...   # a sketch's images, as preprocess.preprocess_sketch takes them

A source is a file path or the file's bytes. Each checks the format and the pixel count in the file's
header before decoding anything, then waits for its share of MAX_PIXELS_IN_FLIGHT, which bounds the
memory of all requests decoding and preprocessing at once, and gives it back when the block ends.
Problems are preprocess.BadImageError with a message a person can act on.
"""

import collections
import contextlib
import io
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from digit_studio import words
from digit_studio.core import preprocess

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
FORMATS_TEXT = "PNG, JPEG, WebP, BMP, GIF or TIFF"
MAX_PIXELS = 25_000_000
MAX_IMAGE_BYTES = 10 * 2**20  # per file: Gradio's max_file_size (app.py) and the JSON routes'
# A sketch's images in all (the page's canvas is 400x400): each decoded layer is held until all are read.
MAX_SKETCH_PIXELS = 4_000_000
# Across all requests at once: preprocessing peaks at about 17 bytes per pixel (docs/api.md), so about 1.7 GB.
MAX_PIXELS_IN_FLIGHT = 4 * MAX_PIXELS
# Pillow's own check, twice this, then refuses a bomb in any decoder we do not reach first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

Source = str | os.PathLike | bytes


class PixelBudget:
    """Pixels that may be decoded at once across all threads; first come, first served, so none starves."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_use = 0
        self.waiting: collections.deque[object] = collections.deque()
        self.condition = threading.Condition()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        assert 0 <= pixels <= self.limit, pixels  # callers check MAX_PIXELS first
        ticket = object()
        with self.condition:
            self.waiting.append(ticket)
            self.condition.wait_for(lambda: self.waiting[0] is ticket and self.in_use + pixels <= self.limit)
            self.waiting.popleft()
            self.in_use += pixels
            self.condition.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self.condition:
                self.in_use -= pixels
                self.condition.notify_all()


BUDGET = PixelBudget(MAX_PIXELS_IN_FLIGHT)


class TooLargeError(preprocess.BadImageError):
    """An image over a limit of pixels (HTTP 413 on the JSON routes)."""


class NotAnImageError(preprocess.BadImageError):
    """A file in none of ACCEPTED_FORMATS (HTTP 415 on the JSON routes)."""


def too_large(max_pixels: int, in_all: bool = False) -> TooLargeError:
    return TooLargeError(words.text("too_large_in_all" if in_all else "too_large", megapixels=max_pixels // 1_000_000))


def open_header(source: Source, max_pixels: int) -> Image.Image:
    """The image with only its header read: an accepted format and at most max_pixels, or a BadImageError."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:  # Pillow's own check (twice MAX_PIXELS) comes before ours
        raise too_large(max_pixels) from None
    except (Image.UnidentifiedImageError, OSError, ValueError):
        raise NotAnImageError(words.text("not_an_image", formats=FORMATS_TEXT)) from None
    if image.width * image.height > max_pixels:
        image.close()
        raise too_large(max_pixels)
    return image


def decode(image: Image.Image) -> Image.Image:
    """Decode the pixels now, so that a damaged file shows here rather than deep in preprocessing."""
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # Pillow's PNG reader raises SyntaxError
        raise preprocess.BadImageError(words.text("damaged")) from None
    return image


@contextlib.contextmanager
def image_file(source: Source) -> Iterator[Image.Image]:
    """One uploaded image, decoded within MAX_PIXELS and the shared budget, for the length of the block."""
    with open_header(source, MAX_PIXELS) as image, BUDGET.hold(image.width * image.height):
        yield decode(image)


@contextlib.contextmanager
def sketch_files(value: dict | None) -> Iterator[dict]:
    """A sketch whose background, layers and composite are sources (or None), as RGBA arrays in the same shape.

    Its images share one limit, MAX_SKETCH_PIXELS, so that no number of layers can exhaust the memory; each is
    turned upright by its EXIF tag, as a phone photo sent as the background must be.
    """
    value = value or {}
    parts = {
        "background": value.get("background"),
        "layers": list(value.get("layers") or []),
        "composite": value.get("composite"),
    }
    sources = [source for source in all_sources(parts) if source is not None]
    pixels = 0
    for source in sources:  # headers only, each closed at once: a sketch may name many files
        with open_header(source, MAX_SKETCH_PIXELS) as image:
            pixels += image.width * image.height
        if pixels > MAX_SKETCH_PIXELS:
            raise too_large(MAX_SKETCH_PIXELS, in_all=True)

    def read(source: Source | None) -> np.ndarray | None:
        if source is None:
            return None
        with open_header(source, MAX_SKETCH_PIXELS) as image:
            ImageOps.exif_transpose(decode(image), in_place=True)
            return np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"))

    with BUDGET.hold(pixels):
        yield {
            "background": read(parts["background"]),
            "layers": [read(layer) for layer in parts["layers"]],
            "composite": read(parts["composite"]),
        }


def all_sources(parts: dict) -> Iterable[Source | None]:
    yield parts["background"]
    yield from parts["layers"]
    yield parts["composite"]


class UploadCleaner:
    """Deletes uploaded files once `lifetime` seconds old, unless a request still waiting or running names them.

    Gradio's delete_cache would do this, but in 6.31 its loop reads the live sets of files and dies for good the
    first time an upload lands mid-scan, so under load it soon stops deleting anything. A path not on disk yet
    (its upload still being written) stays tracked from the moment it is first seen.
    """

    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self.first_seen: dict[str, float] = {}

    def sweep(self, tracked: Iterable[set[str]], needed: set[str], now: float | None = None) -> None:
        """Delete every tracked path that is old enough and not needed, and stop tracking it."""
        now = time.time() if now is None else now
        for files in tracked:
            for name in files.copy():  # a copy: uploads keep arriving meanwhile
                first_seen = self.first_seen.setdefault(name, now)
                path = Path(name)
                try:
                    if name in needed or path.stat().st_ctime > now - self.lifetime:
                        continue
                    path.unlink()
                except FileNotFoundError:
                    if first_seen > now - 10 * self.lifetime:  # not written yet, or gone long ago: forget it then
                        continue
                except OSError:
                    pass
                with contextlib.suppress(OSError):  # Gradio gives each upload a folder of its own, named by its hash
                    path.parent.rmdir()
                files.discard(name)
                self.first_seen.pop(name, None)

    def expire(self, entries: dict, needed: set[str], now: float | None = None) -> None:
        """Drop the entries first seen over `lifetime` ago that no request needs: data sent for an event never run."""
        now = time.time() if now is None else now
        for key in list(entries.keys() - needed):
            if self.first_seen.setdefault(key, now) <= now - self.lifetime:
                entries.pop(key, None)
                self.first_seen.pop(key)
