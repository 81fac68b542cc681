"""Realistic synthetic inputs with known labels, for the preprocessing tests and the app's examples.

Sketches are drawn from hand-made stroke paths (with the jitter, slant and rotation of a hand);
scans and photos carry real MNIST test digits. ``make(kind, label, seed)`` returns a PIL image
and ``sketch_value(layer)`` wraps a transparent layer as Gradio's Sketchpad would send it.
"""

import io
import math
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from digit_studio.core import handwriting_styles, mnist_data

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "mnist"  # ../shared/mnist beside the repository
DARK_MODE_BACKGROUND = (39, 39, 42)
EXIF_ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF: the stored pixels must be turned 90 degrees clockwise to be seen upright


STROKES = handwriting_styles.PLAIN


def stroke_mask(
    label: int,
    size: tuple[int, int],
    height: float,
    centre: tuple[float, float],
    pen_width: float,
    rng: np.random.Generator,
    supersample: int = 4,
) -> Image.Image:
    """A hand-drawn digit as an anti-aliased 8-bit mask (255 = ink) of the given size."""
    slant, angle = rng.uniform(-0.25, 0.1), math.radians(rng.uniform(-6, 6))
    width = height * rng.uniform(0.55, 0.7)
    paths = handwriting_styles.place(STROKES[label], height, width, slant, angle, rng)
    return handwriting_styles.draw(paths, size, centre, pen_width, supersample)


@cache
def mnist_test_set(data_dir: Path = MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    return mnist_data.load_test_from_dir(data_dir)


def mnist_digit(label: int, seed: int) -> np.ndarray:
    """The seed-th MNIST test digit of this label, 28x28 uint8, white on black."""
    images, labels = mnist_test_set()
    return images[np.flatnonzero(labels == label)[seed]]


def mnist_mask(label: int, seed: int, height: int) -> Image.Image:
    return pen_mask(mnist_digit(label, seed), height)


def pen_mask(digit: np.ndarray, height: int) -> Image.Image:
    """A 28x28 MNIST digit enlarged to `height` px as a smooth pen-like mask (bicubic, then a soft threshold)."""
    big = np.asarray(Image.fromarray(digit).resize((height * 28 // 20,) * 2, Image.Resampling.BICUBIC), np.float32)
    return Image.fromarray(np.clip((big - 64) * 2.5, 0, 255).astype(np.uint8))


def on_canvas(mask: Image.Image, size: tuple[int, int], corner: tuple[int, int], paper, ink) -> Image.Image:
    """Paint a mask in `ink` colour onto a plain `paper` canvas."""
    canvas = Image.new("RGB", size, paper)
    canvas.paste(Image.new("RGB", mask.size, ink), corner, mask)
    return canvas


def jpeg(image: Image.Image, quality: int, exif: Image.Exif | None = None) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif or Image.Exif())
    return Image.open(io.BytesIO(buffer.getvalue()))


def photograph(mask: Image.Image | None, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Ballpoint-blue ink (or none) on off-white paper lit from one side, with a vignette, grain and a soft focus."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    direction = rng.uniform(0, 2 * math.pi)
    slope = math.cos(direction) * x + math.sin(direction) * y
    vignette = (x - x.mean()) ** 2 + (y - y.mean()) ** 2
    light = 1 - 0.3 * (slope - slope.min()) / (slope.max() - slope.min()) - 0.3 * vignette
    paper = np.array([242, 236, 214]) * light[..., None]
    paper += rng.normal(0, 5, (height, width, 1)) + rng.normal(0, 2, (height, width, 3))
    placed = Image.new("L", size)
    if mask is not None:
        placed.paste(mask, ((width - mask.width) // 2 + int(rng.integers(-40, 40)), (height - mask.height) // 2))
    alpha = np.asarray(placed)[..., None] / 255
    photo = paper * (1 - alpha) + np.array([35, 40, 85]) * alpha
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))


def mnist_image(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    return Image.fromarray(mnist_digit(label, seed))


def transparent_sketch(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """A Sketchpad layer: a black 18 px brush on a transparent 800x800 canvas."""
    return as_layer(stroke_mask(label, (800, 800), rng.uniform(450, 600), (400 + rng.uniform(-60, 60), 400), 18, rng))


def as_layer(mask: Image.Image) -> Image.Image:
    """A mask as a Sketchpad layer: black ink, transparent elsewhere."""
    layer = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    layer.paste(Image.new("RGBA", mask.size, (0, 0, 0, 255)), (0, 0), mask)
    return layer


def thin_pen(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """A 2-3 px pen on a white 800x800 canvas, the digit 450-600 px tall."""
    mask = stroke_mask(label, (800, 800), rng.uniform(450, 600), (400, 400), rng.uniform(2, 3), rng)
    return on_canvas(mask, (800, 800), (0, 0), "white", "black")


def dark_mode(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """The composite of a dark-theme Sketchpad: light ink on dark grey, opaque."""
    mask = stroke_mask(label, (800, 800), rng.uniform(400, 550), (400, 420), 12, rng)
    return on_canvas(mask, (800, 800), (0, 0), DARK_MODE_BACKGROUND, (230, 230, 235))


def small_in_scan(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """A ~40 px digit far from the centre of a white 1200x900 scan."""
    corner = (int(rng.integers(700, 1100)), int(rng.integers(80, 300)))
    return jpeg(on_canvas(mnist_mask(label, seed, 40), (1200, 900), corner, "white", (40, 40, 40)), 90)


def paper_photo(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """A 600x800 photo of a digit on shaded paper, saved as a JPEG of quality 70."""
    return jpeg(photograph(mnist_mask(label, seed, 300), (600, 800), rng), 70)


def phone_photo_exif(label: int, seed: int, rng: np.random.Generator) -> Image.Image:
    """A phone photo whose pixels are stored sideways, with the EXIF tag that says how to turn them upright."""
    upright = photograph(mnist_mask(label, seed, 450), (900, 1200), rng)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_90_CW
    return jpeg(upright.transpose(Image.Transpose.ROTATE_90), 80, exif)


MAKERS = {
    "mnist": mnist_image,
    "transparent_sketch": transparent_sketch,
    "thin_pen": thin_pen,
    "small_in_scan": small_in_scan,
    "paper_photo": paper_photo,
    "dark_mode": dark_mode,
    "phone_photo_exif": phone_photo_exif,
}
KINDS = tuple(MAKERS)
MNIST_KINDS = ("mnist", "small_in_scan", "paper_photo", "phone_photo_exif")


def make(kind: str, label: int, seed: int = 0) -> Image.Image:
    """One synthetic input of this kind showing digit `label`; the same seed gives the same image.

    For the MNIST-based kinds, `seed` picks which test digit of that label is used.
    """
    if kind not in MAKERS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    return MAKERS[kind](label, seed, np.random.default_rng([KINDS.index(kind), label, seed]))


def sketch_value(layer: Image.Image, dark: bool = False) -> dict:
    """A Sketchpad value around one RGBA layer: opaque background, the layer, and their composite."""
    background = Image.new("RGBA", layer.size, DARK_MODE_BACKGROUND if dark else "white")
    composite = Image.alpha_composite(background, layer)
    return {"background": np.asarray(background), "layers": [np.asarray(layer)], "composite": np.asarray(composite)}


# Gaps between neighbouring digits' boxes, as fractions of the number's digit height.
SPACINGS = {"ordinary": (0.15, 0.5), "tight": (0.02, 0.12), "touching": (-0.15, -0.03)}
NUMBER_KINDS = ("sketch", "photo")


@cache
def mnist_split(split: str, data_dir: Path = MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's "train" or "test" images and labels."""
    if split == "test":
        return mnist_test_set(data_dir)
    return mnist_data.load_from_dir(data_dir)[0]


def number_mask(
    digits: list[np.ndarray], height: float, spacing: str, rng: np.random.Generator
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """MNIST digits written side by side, in sizes of 75-100% of `height`, on baselines within ±10% of it.

    Returns the mask (255 = ink) with a margin of half a digit, and each digit's box (x0, y0, x1, y1, ends excluded).
    """
    crops = []
    for digit in digits:
        mask = pen_mask(digit, round(height * rng.uniform(0.75, 1.0)))
        crops.append(mask.crop(mask.getbbox()))
    margin = round(height / 2)
    gaps = [round(rng.uniform(*SPACINGS[spacing]) * height) for _ in crops[1:]]
    width = 2 * margin + sum(crop.width for crop in crops) + sum(gaps)
    canvas = Image.new("L", (width, round(2 * margin + 1.2 * height)))
    boxes, x = [], margin
    for crop, gap in zip(crops, [*gaps, 0], strict=True):
        bottom = round(margin + 1.1 * height + rng.uniform(-0.1, 0.1) * height)
        box = (x, bottom - crop.height, x + crop.width, bottom)
        canvas.paste(ImageChops.lighter(canvas.crop(box), crop), box)  # touching digits share their ink
        boxes.append(box)
        x += crop.width + gap
    return canvas, boxes


def mnist_number(
    length: int, seed: int, kind: str = "sketch", spacing: str = "ordinary", split: str = "test"
) -> tuple[Image.Image, str, list[tuple[int, int, int, int]]]:
    """A number of `length` random MNIST digits: the picture, its digits as a string and each digit's box.

    "sketch" is a transparent RGBA layer in black (digits 100-220 px tall); "photo" is blue ink on shaded
    paper, 60-200 px tall, saved as a JPEG of quality 80 (its boxes are not known: the paper moves the number).
    """
    rng = np.random.default_rng([NUMBER_KINDS.index(kind), list(SPACINGS).index(spacing), length, seed])
    images, labels = mnist_split(split)
    picks = rng.integers(len(images), size=length)
    text = "".join(str(labels[index]) for index in picks)
    if kind == "sketch":
        mask, boxes = number_mask([images[index] for index in picks], rng.uniform(100, 220), spacing, rng)
        return as_layer(mask), text, boxes
    mask, boxes = number_mask([images[index] for index in picks], rng.uniform(60, 200), spacing, rng)
    return jpeg(photograph(mask, (mask.width + 100, mask.height + 100), rng), 80), text, boxes


def drawn_number(text: str, seed: int = 0, size: tuple[int, int] = (800, 400), height: float = 250) -> Image.Image:
    """A number drawn with the page's 18 px brush on a transparent Sketchpad layer, its digits evenly spaced."""
    rng = np.random.default_rng([len(text), seed])
    masks = [
        np.asarray(stroke_mask(int(label), size, height, (size[0] * (index + 0.5) / len(text), size[1] / 2), 18, rng))
        for index, label in enumerate(text)
    ]
    return as_layer(Image.fromarray(np.maximum.reduce(masks)))


def ink_box(digit: np.ndarray, margin: int = 0) -> np.ndarray:
    """The digit cropped to the box of its nonzero pixels, with `margin` px of black around it."""
    rows, columns = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    crop = digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    return np.pad(crop, margin)


def enlarged(ink: np.ndarray, height: int) -> Image.Image:
    """White-on-black ink as an 8-bit grey picture `height` px high, keeping its aspect ratio."""
    image = Image.fromarray(ink)
    return image.resize((max(1, round(image.width * height / image.height)), height), Image.Resampling.BICUBIC)


def dark_on_white(image: Image.Image) -> Image.Image:
    return Image.eval(image, lambda value: 255 - value)
