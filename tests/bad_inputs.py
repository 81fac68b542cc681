"""Bad and odd inputs for the app's API, each with the answer a person should get.

``CASES`` maps a case's name to a ``Case``: its endpoint, a function that writes its file(s) into a
folder and returns the value to send (a file path for /classify, a Sketchpad value of file paths for
/classify_sketch), and what must come back: a digit, or a piece of the error message. ``build_all``
writes every case, ``to_api`` wraps a value for gradio_client. Used by test_bad_input.py (each case
once) and test_soak.py (mixed with good requests).
"""

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from gradio_client import handle_file
from PIL import Image

from conftest import MNIST_SUBSET
from digit_studio.core import mnist_data

# Pieces of the app's messages; the case passes when the message holds its piece.
NOT_IMAGE = "not an image this app can read"
DAMAGED = "damaged or incomplete"
TOO_LARGE = "over the limit of 25 megapixels"
SKETCH_TOO_LARGE = "over the limit of 4 megapixels"
SKETCH_TOO_LARGE_IN_ALL = "over the limit of 4 megapixels in all"
NO_DIGIT = "No digit found"
LAYER_SIZES = "layers have different sizes"
OVER_SIZE_LIMIT = "exceeds the maximum file size"  # gradio_client's own refusal, before anything is sent
LABEL = "7"  # the digit every readable case shows: the first MNIST test image
ORIENTATION_TAG, ROTATE_90_CW = 0x0112, 6
UPLOAD_LIMIT_BYTES = 10 * 2**20  # app.MAX_FILE_SIZE


@dataclass(frozen=True)
class Case:
    endpoint: str
    build: Callable[[Path], Path | dict]
    expected: str  # LABEL for an answer, else a piece of the error message


@cache
def digit_mask() -> np.ndarray:
    """The first MNIST test digit (a 7) enlarged to 200x200 as uint8 ink, 255 = ink."""
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    assert str(labels[0]) == LABEL
    return np.asarray(Image.fromarray(images[0]).resize((200, 200), Image.Resampling.BICUBIC))


def on_paper(size: int = 200) -> Image.Image:
    """The digit in black on white paper, L mode."""
    return Image.fromarray(255 - digit_mask()).resize((size, size), Image.Resampling.BICUBIC)


def on_transparent() -> Image.Image:
    """The digit as a Sketchpad layer: black ink whose alpha is the stroke, on a transparent canvas."""
    layer = np.zeros((200, 200, 4), np.uint8)
    layer[..., 3] = digit_mask()
    return Image.fromarray(layer, "RGBA")


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims another size: a decompression bomb's calling card."""
    data = bytearray(encoded(Image.new("L", (64, 64), 255), "PNG"))
    header = struct.pack(">II", width, height) + data[24:29]
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(encoded(Image.new("L", (64, 64), 255), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(encoded(on_paper(), "JPEG"))
    start = data.index(b"\xff\xc0") + 5  # SOF0: marker, length, precision, then height and width
    data[start : start + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def file_case(name: str, content: Callable[[], bytes | Image.Image], expected: str, **save) -> Case:
    """An upload to /classify: raw bytes, or an image saved in the format its name's suffix says (or `format`)."""
    image_format = save.pop("format", None) or Image.registered_extensions().get(Path(name).suffix)

    def build(folder: Path) -> Path:
        value = content()
        (folder / name).write_bytes(encoded(value, image_format, **save) if isinstance(value, Image.Image) else value)
        return folder / name

    return Case("/classify", build, expected)


def sketch_case(expected: str, **parts: Callable[[], bytes | Image.Image | list]) -> Case:
    """A Sketchpad value for /classify_sketch; each part's images are written as PNG files (bytes as they are)."""

    def build(folder: Path) -> dict:
        def write(value: bytes | Image.Image, name: str) -> Path:
            path = folder / f"{name}.png"
            path.write_bytes(value if isinstance(value, bytes) else encoded(value, "PNG"))
            return path

        value = {}
        for key, make in parts.items():
            made = make()
            value[key] = [write(v, f"{key}{i}") for i, v in enumerate(made)] if key == "layers" else write(made, key)
        return value

    return Case("/classify_sketch", build, expected)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corrupted(data: bytes) -> bytes:
    """The same file with its compressed pixels scrambled in the middle, the header intact."""
    middle = len(data) // 2
    return data[:middle] + bytes(255 - b for b in data[middle : middle + 64]) + data[middle + 64 :]


def with_exif_rotation() -> bytes:
    """Stored sideways, with the EXIF tag a phone writes to say it must be turned 90 degrees clockwise."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = ROTATE_90_CW
    return encoded(on_paper().transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)


def palette_with_transparency() -> Image.Image:
    """A grey palette image whose white entry is transparent."""
    image = on_paper().convert("P")
    image.putpalette([level for level in range(256) for _ in range(3)])
    image.info["transparency"] = 255
    return image


def frames() -> list[Image.Image]:
    return [on_paper().convert("RGB"), Image.new("RGB", (200, 200), "white"), Image.new("RGB", (200, 200), "black")]


def grey16() -> Image.Image:
    return Image.fromarray(np.asarray(on_paper(), np.uint16) * 257)


def noise() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))


def one_column(height: int) -> Image.Image:
    """A 1-pixel-wide strip, white with a dark run in its middle."""
    column = np.full((height, 1), 255, np.uint8)
    column[height // 4 : 3 * height // 4] = 0
    return Image.fromarray(column)


def mismatched_layers() -> list[Image.Image]:
    return [on_transparent(), on_transparent().resize((120, 90))]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><path d="M20 20 H180 L80 190"/></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert('hi')</script><img src=x></body></html>"

CASES = {
    "zero-byte file": file_case("empty.png", lambda: b"", NOT_IMAGE),
    "text file named .png": file_case("notes.png", lambda: b"just some text, not a picture\n" * 10, NOT_IMAGE),
    "HTML named .png": file_case("page.png", lambda: HTML, NOT_IMAGE),
    "SVG": file_case("drawing.svg", lambda: SVG, NOT_IMAGE),
    "PDF": file_case("scan.pdf", lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", NOT_IMAGE),
    "ICO (not an accepted format)": file_case("digit.ico", on_paper, NOT_IMAGE),
    "PPM (not an accepted format)": file_case("digit.ppm", on_paper, NOT_IMAGE),
    "truncated PNG": file_case("cut.png", lambda: truncated(encoded(on_paper(), "PNG")), DAMAGED),
    "truncated JPEG": file_case("cut.jpg", lambda: truncated(encoded(on_paper(), "JPEG")), DAMAGED),
    "PNG with scrambled pixels": file_case("scrambled.png", lambda: corrupted(encoded(on_paper(), "PNG")), DAMAGED),
    "PNG bomb 30000x30000": file_case("bomb.png", lambda: png_declaring(30_000, 30_000), TOO_LARGE),
    "PNG just over the pixel limit": file_case("over.png", lambda: png_declaring(5001, 5000), TOO_LARGE),
    "GIF bomb 30000x30000": file_case("bomb.gif", lambda: gif_declaring(30_000, 30_000), TOO_LARGE),
    "JPEG bomb 60000x60000": file_case("bomb.jpg", lambda: jpeg_declaring(60_000, 60_000), TOO_LARGE),
    "file over the upload size limit": file_case(
        "huge.png", lambda: encoded(on_paper(), "PNG") + bytes(UPLOAD_LIMIT_BYTES), OVER_SIZE_LIMIT
    ),
    "1x1 image": file_case("dot.png", lambda: Image.new("L", (1, 1), 0), NO_DIGIT),
    "1x5000 image": file_case("strip.png", lambda: one_column(5000), "1"),  # one vertical stroke: a 1
    "all white": file_case("white.png", lambda: Image.new("RGB", (200, 200), "white"), NO_DIGIT),
    "all black": file_case("black.png", lambda: Image.new("RGB", (200, 200), "black"), NO_DIGIT),
    "uniform grey": file_case("grey.jpg", lambda: Image.new("RGB", (200, 200), (128, 128, 128)), NO_DIGIT),
    "fully transparent": file_case("clear.png", lambda: Image.new("RGBA", (200, 200), (0, 0, 0, 0)), NO_DIGIT),
    "random noise": file_case("noise.png", noise, NO_DIGIT),
    "16-bit grey": file_case("grey16.png", grey16, LABEL),
    "palette with transparency": file_case("palette.png", palette_with_transparency, LABEL),
    "grey with alpha": file_case("la.png", lambda: on_transparent().convert("LA"), LABEL),
    "1-bit": file_case("bilevel.png", lambda: on_paper().point(lambda v: 255 * (v > 128)).convert("1"), LABEL),
    "CMYK JPEG": file_case("cmyk.jpg", lambda: on_paper().convert("CMYK"), LABEL),
    "float TIFF": file_case("float.tiff", lambda: Image.fromarray(digit_mask().astype(np.float32) / 255), LABEL),
    "multi-frame GIF": file_case("frames.gif", lambda: frames()[0], LABEL, save_all=True, append_images=frames()[1:]),
    "multi-page TIFF": file_case("pages.tiff", lambda: frames()[0], LABEL, save_all=True, append_images=frames()[1:]),
    "EXIF rotation": file_case("phone.jpg", with_exif_rotation, LABEL),
    "JPEG named .png": file_case("actually-jpeg.png", on_paper, LABEL, format="JPEG"),
    "WebP": file_case("digit.webp", on_paper, LABEL),
    "BMP": file_case("digit.bmp", on_paper, LABEL),
    "12-megapixel photo": file_case("large.jpg", lambda: on_paper(3500), LABEL),
    "sketch with no keys": sketch_case(NO_DIGIT),
    "sketch with an empty layer": sketch_case(NO_DIGIT, layers=lambda: [Image.new("RGBA", (400, 400))]),
    "sketch background only": sketch_case(LABEL, background=on_paper),
    "sketch background with EXIF rotation": sketch_case(LABEL, background=with_exif_rotation),
    "sketch with mismatched layer sizes": sketch_case(LAYER_SIZES, layers=mismatched_layers),
    "sketch layer that is a bomb": sketch_case(SKETCH_TOO_LARGE, layers=lambda: [png_declaring(30_000, 30_000)]),
    "sketch layer truncated": sketch_case(DAMAGED, layers=lambda: [truncated(encoded(on_transparent(), "PNG"))]),
    "sketch layer that is text": sketch_case(NOT_IMAGE, layers=lambda: [b"not a picture"]),
    "sketch composite that is SVG": sketch_case(NOT_IMAGE, composite=lambda: SVG),
    "sketch layer of 5 megapixels": sketch_case(SKETCH_TOO_LARGE, layers=lambda: [Image.new("RGBA", (2500, 2000))]),
    "sketch of 6 layers, 6 megapixels in all": sketch_case(
        SKETCH_TOO_LARGE_IN_ALL, layers=lambda: [Image.new("RGBA", (1000, 1000))] * 6
    ),
    "sketch layer of 1x1": sketch_case(NO_DIGIT, layers=lambda: [Image.new("RGBA", (1, 1), (0, 0, 0, 255))]),
}


def build_all(folder: Path) -> dict[str, Path | dict]:
    """Every case's value, each case's files in a folder of their own (sketch cases reuse file names)."""
    values = {}
    for index, (name, case) in enumerate(CASES.items()):
        (folder / str(index)).mkdir()
        values[name] = case.build(folder / str(index))
    return values


def to_api(value: Path | dict) -> object:
    """A case's value as gradio_client sends it: every file path wrapped by handle_file."""
    if isinstance(value, Path):
        return handle_file(str(value))
    if isinstance(value, list):
        return [to_api(item) for item in value]
    if isinstance(value, dict):
        return {key: to_api(item) for key, item in value.items()}
    return value
