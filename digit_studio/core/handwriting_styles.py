"""Digits written the ways MNIST rarely shows, drawn from stroke paths and prepared as the app prepares a sketch.

MNIST's writers were American Census staff and students; visitors also write a continental 1 (a long flag
rising to the top, and a foot), a 7 with a crossbar, an open-topped 4 (two parallel arms), a slashed 0, a 9
with a small loop on a long tail, a strong slant either way, a thick marker, a very heavy pen or a hairline;
and they photograph small handwriting, which a scan at low resolution shows as a few blocky grey pixels. Each
style below draws such digits from stroke paths in a unit box, randomised from a seed (the glyph's own
proportions, a smooth warp and a jitter of the path, pen width, slant, rotation, aspect, size and place on a
200-400 px canvas), as an anti-aliased Sketchpad layer, then sends that layer through
``preprocess.preprocess_sketch``; a scanned style puts it on paper as a grey picture, scanned whole or with the
digit 8-16 px tall and enlarged again, and sends it through ``preprocess.preprocess_image``, as an upload. The
28x28 is what the app feeds its models.

    images, labels, styles = check_set()        # the fixed check set: 100 drawings per style, float32
    images, labels = training_digits(5000, 0)   # the same generators on other seeds, uint8, to mix into training
    python -m benchmarks.handwriting_accuracy   # both committed models' accuracy per style

Pure numpy and Pillow, about 4 ms of CPU a digit: 5,000 training digits take about 20 s on one core.
"""

import math
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

from digit_studio.core import preprocess

CANVAS_SIDES = (200, 400)  # px, a sketch pad or a photo cropped around the digit
SUPERSAMPLE = 2  # strokes are drawn at twice the canvas size, then averaged down: anti-aliasing
# First word of every seed: the check set, training and validation (for choosing a recipe) never share one
CHECK_STREAM, TRAINING_STREAM, VALIDATION_STREAM = 0, 1, 2
CHECK_PER_STYLE = 100


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[tuple[float, float]]:
    """Points along an ellipse, angles in degrees with y pointing down (90 is the bottom)."""
    angles = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 10))))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


# Each digit as strokes in a unit box (x right, y down), the way American schools teach them.
PLAIN = {
    0: [arc(0.5, 0.5, 0.45, 0.5, -100, 268)],
    1: [[(0.62, 0.0), (0.4, 1.0)]],
    2: [arc(0.5, 0.28, 0.42, 0.28, 190, 400) + [(0.05, 1.0), (0.97, 0.98)]],
    3: [arc(0.48, 0.26, 0.4, 0.26, 205, 450) + arc(0.48, 0.75, 0.46, 0.25, 270, 510)],
    4: [[(0.28, 0.0), (0.05, 0.6), (0.97, 0.6)], [(0.72, 0.05), (0.7, 1.0)]],
    5: [[(0.92, 0.02), (0.22, 0.0), (0.16, 0.45)] + arc(0.5, 0.7, 0.42, 0.3, 220, 505)],
    6: [arc(0.95, 0.75, 0.8, 0.75, 255, 180) + arc(0.52, 0.73, 0.37, 0.27, 180, 535)],
    7: [[(0.02, 0.03), (0.97, 0.0), (0.38, 1.0)]],
    8: [arc(0.5, 0.25, 0.33, 0.25, 90, 450), arc(0.5, 0.73, 0.4, 0.27, 270, 630)],
    9: [arc(0.5, 0.28, 0.42, 0.28, 0, 362) + [(0.9, 0.3), (0.82, 1.0)]],
}
# Other everyday shapes: the printed closed 4, a 9 whose stem hangs straight from the loop's side.
PLAIN_VARIANTS = {
    4: [[(0.72, 1.0), (0.72, 0.0), (0.03, 0.66), (0.97, 0.66)]],
    9: [arc(0.45, 0.27, 0.4, 0.27, -20, 345), [(0.86, 0.12), (0.84, 1.0)]],
}


def plain(digit: int, rng: np.random.Generator) -> list:
    shapes = [PLAIN[digit]] + ([PLAIN_VARIANTS[digit]] if digit in PLAIN_VARIANTS else [])
    return shapes[rng.integers(len(shapes))]


def flagged_one(digit: int, rng: np.random.Generator) -> list:
    """The continental 1: a long flag from a third to a half of the way down rises to the top, the stem falls."""
    flag = (rng.uniform(0.0, 0.2), rng.uniform(0.3, 0.6))
    return [[flag, (0.7, 0.0), (rng.uniform(0.5, 0.62), 1.0)]]


def footed_one(digit: int, rng: np.random.Generator) -> list:
    """The continental 1 with a foot across the stem's base, as many also write it."""
    (stroke,) = flagged_one(digit, rng)
    stem_x, half_foot = stroke[-1][0], rng.uniform(0.25, 0.45)
    return [stroke, [(stem_x - half_foot, 1.0), (stem_x + half_foot * 0.9, 0.99)]]


def crossed_seven(digit: int, rng: np.random.Generator) -> list:
    """The continental 7: a bar (sometimes with a small serif at its left end), the stem, a bar across the stem."""
    bar = [(0.02, rng.uniform(0.0, 0.06)), (0.97, 0.0)]
    if rng.random() < 0.4:
        bar.insert(0, (0.0, rng.uniform(0.15, 0.25)))
    foot_x = rng.uniform(0.3, 0.45)
    height = rng.uniform(0.45, 0.6)
    centre_x = 0.97 + (foot_x - 0.97) * height  # where the crossbar meets the stem
    half = rng.uniform(0.2, 0.32)
    return [bar + [(foot_x, 1.0)], [(centre_x - half, height + 0.02), (centre_x + half * 0.8, height - 0.02)]]


def open_four(digit: int, rng: np.random.Generator) -> list:
    """The open-topped 4: a left arm parallel to the stem, down then across (or round like a u), then the stem."""
    left_x, stem_x, bar = rng.uniform(0.05, 0.2), rng.uniform(0.68, 0.8), rng.uniform(0.5, 0.66)
    top = (left_x + rng.uniform(0.0, 0.06), rng.uniform(0.0, 0.12))
    stem = [(stem_x + rng.uniform(-0.03, 0.03), rng.uniform(0.0, 0.1)), (stem_x, 1.0)]
    if rng.random() < 0.5:
        return [[top, (left_x, bar), (min(1.0, stem_x + rng.uniform(0.12, 0.25)), bar)], stem]
    depth = rng.uniform(0.15, 0.25)
    bowl = arc((left_x + stem_x) / 2, bar - depth, (stem_x - left_x) / 2, depth, 180, 0)
    return [[top] + bowl, stem]


def slashed_zero(digit: int, rng: np.random.Generator) -> list:
    """The zero with a slash, as programmers and engineers write it: the oval, then a stroke from its lower left
    to its upper right, sometimes past the oval."""
    reach = rng.uniform(-0.05, 0.08)
    oval = PLAIN[0] if rng.random() < 0.5 else [arc(0.5, 0.5, 0.42, 0.5, -80, 285)]
    return oval + [[(0.12 - reach, 0.88 + reach), (0.88 + reach, 0.12 - reach)]]


def long_tailed_nine(digit: int, rng: np.random.Generator) -> list:
    """A 9 with a small loop on a long tail: the loop a quarter to a third of the height, the tail straight or
    hooked to the left at its end."""
    loop = rng.uniform(0.25, 0.34)
    stem_x = rng.uniform(0.72, 0.9)
    tail = [(stem_x, loop), (stem_x - rng.uniform(0.0, 0.15), 1.0)]
    if rng.random() < 0.5:
        tail = [(stem_x, loop), (stem_x - 0.05, 0.8)] + arc(stem_x - 0.3, 0.8, 0.25, 0.2, 0, 150)
    return [arc(0.5, loop / 2 + 0.02, stem_x - 0.5 + 0.02, loop / 2, 0, 362) + tail]


STYLE_SHAPES = {1: (flagged_one, footed_one), 4: (open_four,), 7: (crossed_seven,)}  # the nine-style mix's
WIDER_SHAPES = {**STYLE_SHAPES, 0: (slashed_zero,), 9: (long_tailed_nine,)}  # and the wider mix's, the recipe's


def some_shape(shapes_of: dict, digit: int, rng: np.random.Generator):
    """One of the digit's shapes in `shapes_of` half the time where it has some, else the plain one."""
    shapes = shapes_of.get(digit, ())
    return shapes[rng.integers(len(shapes))] if shapes and rng.random() < 0.5 else plain


def any_shape(digit: int, rng: np.random.Generator) -> list:
    """A drawing's strokes in one of WIDER_SHAPES' shapes for the digit half the time, else the plain one."""
    return some_shape(WIDER_SHAPES, digit, rng)(digit, rng)


@dataclass(frozen=True)
class Style:
    digits: tuple[int, ...]
    shape: object  # (digit, rng) -> strokes in the unit box
    pen: str  # a key of PENS
    slant: tuple[float, float]  # degrees, forward (top to the right) positive
    scan: str = ""  # "full": ink on paper, uploaded as a picture; "low": that scanned 8-16 px tall and enlarged
    seeds: str = ""  # the style whose seeds it draws on (the same drawings), if not its own


UPRIGHT = (-8.0, 12.0)  # the slant of ordinary handwriting, mostly a little forward
ALL_DIGITS = tuple(range(10))
STYLES = {
    "plain": Style(ALL_DIGITS, plain, "pen", UPRIGHT),
    "1 with flag": Style((1,), flagged_one, "pen", UPRIGHT),
    "1 with flag and foot": Style((1,), footed_one, "pen", UPRIGHT),
    "7 with crossbar": Style((7,), crossed_seven, "pen", UPRIGHT),
    "open-topped 4": Style((4,), open_four, "pen", UPRIGHT),
    "slant forward": Style(ALL_DIGITS, plain, "pen", (20.0, 30.0)),
    "slant backward": Style(ALL_DIGITS, plain, "pen", (-30.0, -20.0)),
    "0 with slash": Style((0,), slashed_zero, "pen", UPRIGHT),
    "9 with long tail": Style((9,), long_tailed_nine, "pen", UPRIGHT),
    "marker": Style(ALL_DIGITS, plain, "marker", UPRIGHT),
    "very heavy pen": Style(ALL_DIGITS, plain, "heavy", UPRIGHT),
    "hairline": Style(ALL_DIGITS, plain, "hairline", UPRIGHT),
}
SCAN_TWINS = ("scanned page", "scanned 8-16 px tall")  # the same drawings, the second scanned small
STYLES[SCAN_TWINS[0]] = Style(ALL_DIGITS, any_shape, "pen", UPRIGHT, scan="full")
STYLES[SCAN_TWINS[1]] = Style(ALL_DIGITS, any_shape, "pen", UPRIGHT, scan="low", seeds=SCAN_TWINS[0])
# The styles only the wider mix, the recipe's, draws for training (training_digits(wider=True)); the earlier
# nine-style mix (wider=False) draws the rest.
WIDER_ONLY = ("0 with slash", "9 with long tail", "very heavy pen", *SCAN_TWINS)
EARLIER_STYLES = tuple(name for name in STYLES if name not in WIDER_ONLY)
LOW_RESOLUTION = (8, 16)  # px, a scanned digit's height: small handwriting on a page scanned at 100-150 dpi


def pen_width(pen: str, height: float, rng: np.random.Generator) -> float:
    """Stroke width in canvas px: a pen or brush is 5-13% of the digit's height (MNIST's range), a marker
    20-28%, a very heavy pen 28-36%, a hairline 1-1.6 px whatever the size."""
    if pen == "marker":
        return height * rng.uniform(0.2, 0.28)
    if pen == "heavy":
        return height * rng.uniform(0.28, 0.36)
    if pen == "hairline":
        return rng.uniform(1.0, 1.6)
    return height * rng.uniform(0.05, 0.13)


def warp(strokes: list, rng: np.random.Generator, amount: float = 0.035) -> list[np.ndarray]:
    """A smooth random bend of the unit box, so corners and curves move as a hand moves them."""
    amplitude, frequency, phase = rng.normal(0, amount, 4), rng.uniform(0.5, 1.5, 4), rng.uniform(0, 2 * np.pi, 4)
    bent = []
    for stroke in strokes:
        x, y = np.array(stroke, dtype=float).T
        wave = amplitude * np.sin(np.pi * frequency * np.stack([y, x, x, y], axis=1) + phase)
        bent.append(np.stack([x + wave[:, 0] + wave[:, 1], y + wave[:, 2] + wave[:, 3]], axis=1))
    return bent


def place(
    strokes: list, height: float, width: float, slant: float, angle: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Strokes in px around the digit's centre: a drift along each and a little per-point noise, then scaled
    to width x height, sheared by `slant` (x shift per unit of height, top to the right) and rotated."""
    paths = []
    for stroke in strokes:
        points = np.array(stroke) - 0.5
        wobble = rng.normal(0, 0.015, (2, 2))  # a slow drift along the stroke, not per-point noise
        points += np.linspace(wobble[0], wobble[1], len(points)) + rng.normal(0, 0.004, points.shape)
        x = points[:, 0] * width - slant * points[:, 1] * height
        y = points[:, 1] * height
        cos, sin = math.cos(angle), math.sin(angle)
        paths.append(np.stack([x * cos - y * sin, x * sin + y * cos], axis=1))
    return paths


def draw(
    paths: list[np.ndarray], size: tuple[int, int], centre: tuple[float, float], pen: float, supersample: int
) -> Image.Image:
    """The paths as an anti-aliased 8-bit mask (255 = ink) with round joints and tips."""
    big = Image.new("L", (size[0] * supersample, size[1] * supersample))
    canvas = ImageDraw.Draw(big)
    radius = pen * supersample / 2
    for path in paths:
        xy = [tuple(point) for point in (path + centre) * supersample]
        canvas.line(xy, fill=255, width=max(1, round(2 * radius)), joint="curve")
        for px, py in (xy[0], xy[-1]):
            canvas.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return big.resize(size, Image.Resampling.BOX)


def drawing(
    digit: int, shape, pen: str, slant_range: tuple[float, float], rng: np.random.Generator, aspect=(0.5, 0.75)
) -> Image.Image:
    """One hand-drawn digit (or any shape(digit, rng) gives) as a square canvas mask, the whole drawing on the
    canvas; aspect: the range of its width over its height."""
    side = int(rng.integers(CANVAS_SIDES[0], CANVAS_SIDES[1] + 1))
    height = side * rng.uniform(0.45, 0.8)
    width = height * rng.uniform(*aspect)
    slant = math.tan(math.radians(rng.uniform(*slant_range)))
    angle = math.radians(rng.uniform(-5, 5))
    pen_px = pen_width(pen, height, rng)
    paths = place(warp(shape(digit, rng), rng), height, width, slant, angle, rng)
    low, high = np.min([p.min(0) for p in paths], 0), np.max([p.max(0) for p in paths], 0)
    room = side - pen_px - 9  # the pen's half width and at least 4 px of paper on each side
    scale = min(1.0, room / max(high - low))  # a strong slant widens the digit: shrink it to fit
    paths = [path * scale for path in paths]
    low, high = low * scale, high * scale
    centre = tuple(rng.uniform(pen_px / 2 + 4 - low, side - pen_px / 2 - 4 - high))
    return draw(paths, (side, side), centre, pen_px, SUPERSAMPLE)


def as_model_input(mask: Image.Image) -> np.ndarray:
    """The app's path for a Sketchpad layer: black ink whose alpha is the mask, through preprocess_sketch."""
    layer = np.zeros((mask.height, mask.width, 4), np.uint8)
    layer[..., 3] = np.asarray(mask)
    return preprocess.preprocess_sketch({"background": None, "layers": [layer], "composite": None})


def scanned(mask: Image.Image, scan: str, rng: np.random.Generator) -> Image.Image:
    """The drawing as grey ink on off-white paper, an L picture as a scanner gives it; "low": scanned with the
    digit LOW_RESOLUTION px tall and few grey levels, then enlarged to its size again pixel by pixel (blocky)."""
    ink = np.asarray(mask, np.float32) / 255
    paper, darkest = rng.uniform(200, 250), rng.uniform(10, 80)
    picture = Image.fromarray(paper - ink * (paper - darkest))
    if scan == "low":
        rows = np.flatnonzero(ink.max(axis=1) > 0.5)
        scale = rng.uniform(*LOW_RESOLUTION) / (rows[-1] - rows[0] + 1)
        small = np.asarray(picture.resize((round(mask.width * scale), round(mask.height * scale)), Image.BOX))
        levels = int(rng.integers(3, 9)) - 1  # 3-8 grey levels, spread from the darkest ink to the paper
        low, high = small.min(), small.max()
        small = low + np.round((small - low) / max(high - low, 1) * levels) * ((high - low) / levels)
        picture = Image.fromarray(small.astype(np.float32)).resize(mask.size, Image.Resampling.NEAREST)
    return picture.convert("L")


def style_drawing(style: str, digit: int, seed) -> Image.Image:
    """One drawing of `digit` in a named style, as the app receives it: a sketch layer's mask (255 = ink), or a
    scan's L picture; the same seed (anything numpy's default_rng takes) gives the same."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    chosen = STYLES[style]
    if digit not in chosen.digits:
        raise ValueError(f"style {style!r} draws only {', '.join(map(str, chosen.digits))}")
    rng = np.random.default_rng(seed)
    mask = drawing(digit, chosen.shape, chosen.pen, chosen.slant, rng)
    return scanned(mask, chosen.scan, rng) if chosen.scan else mask


def style_input(style: str, digit: int, seed) -> np.ndarray:
    """style_drawing's model input, through the app's path for a sketch or an uploaded picture."""
    picture = style_drawing(style, digit, seed)
    return preprocess.preprocess_image(picture) if STYLES[style].scan else as_model_input(picture)


def accuracy_by_style(answers: np.ndarray, labels: np.ndarray, styles: np.ndarray) -> dict[str, float]:
    """Each style's share of right answers, for drawings labelled labels in styles (a check set's)."""
    return {name: float(np.mean(answers[styles == name] == labels[styles == name])) for name in STYLES}


def check_seeds(
    per_style: int = CHECK_PER_STYLE, stream: int = CHECK_STREAM, styles: tuple[str, ...] | None = None
) -> list[tuple[str, int, tuple[int, ...]]]:
    """(style, digit, seed) of every drawing in the check set (or, with VALIDATION_STREAM, its validation twin):
    the style's digits in turn; of the named styles only, where given."""
    return [
        (name, style.digits[index % len(style.digits)], (stream, zlib.crc32((style.seeds or name).encode()), index))
        for name, style in STYLES.items()
        if styles is None or name in styles
        for index in range(per_style)
    ]


@cache
def _check_set(
    per_style: int, stream: int, styles: tuple[str, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    seeds = check_seeds(per_style, stream, styles)
    images = np.stack([style_input(*entry) for entry in seeds])
    labels = np.array([digit for _, digit, _ in seeds], np.int64)
    styles = np.array([name for name, _, _ in seeds])
    for array in (images, labels, styles):
        array.flags.writeable = False  # cached: shared by every caller
    return images, labels, styles


def check_set(
    per_style: int = CHECK_PER_STYLE, stream: int = CHECK_STREAM, styles: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed check set: float32 N x 28 x 28 model inputs, int64 labels, and each drawing's style name.
    stream=VALIDATION_STREAM gives as many other drawings of each style, to choose a recipe on; styles, those
    styles' drawings alone."""
    return _check_set(per_style, stream, styles)


def training_seed(seed: int, index: int) -> tuple[int, int, int]:
    return (TRAINING_STREAM, seed, index)


def scan_input(mask: Image.Image, scan: str, rng: np.random.Generator) -> np.ndarray:
    """The drawing scanned, as the app prepares an upload; where the scan lost it (a faint, thin pen scanned small
    on grey paper), the drawing as sketched."""
    try:
        return preprocess.preprocess_image(scanned(mask, scan, rng))
    except preprocess.NoDigitError:
        return as_model_input(mask)


WIDER_PENS = {"pen": 0.55, "marker": 0.15, "heavy": 0.1, "hairline": 0.2}  # the wider mix's pens
WIDER_SCANS = {"": 0.6, "full": 0.1, "low": 0.3}  # drawn on a pad; scanned; scanned small


def training_digits(count: int, seed: int = 0, wider: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`count` drawings for training, uint8 N x 28 x 28 (white on black, as MNIST) and int64 labels, in random
    order, on seeds no check drawing uses. Digits are balanced; each mixes the styles: the continental shape of
    1, 4 and 7 half the time, a pen 60% / marker 20% / hairline 20%, upright 50% / forward 25% / backward 25%.
    wider: the wider mix instead (wider_drawing), every style of the check set, as the recipe draws them."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    images = np.zeros((count, 28, 28), np.uint8)
    labels = np.arange(count, dtype=np.int64) % 10
    slants = [UPRIGHT, STYLES["slant forward"].slant, STYLES["slant backward"].slant]
    for index, digit in enumerate(labels):
        rng = np.random.default_rng(training_seed(seed, index))
        if wider:
            images[index] = np.round(wider_drawing(int(digit), slants, rng) * 255)
            continue
        shape = some_shape(STYLE_SHAPES, int(digit), rng)
        pen = rng.choice(["pen", "marker", "hairline"], p=[0.6, 0.2, 0.2])
        slant = slants[rng.choice(3, p=[0.5, 0.25, 0.25])]
        images[index] = np.round(as_model_input(drawing(int(digit), shape, str(pen), slant, rng)) * 255)
    order = np.random.default_rng((TRAINING_STREAM, seed)).permutation(count)
    return images[order], labels[order]


def wider_drawing(digit: int, slants: list, rng: np.random.Generator) -> np.ndarray:
    """One model input of the wider mix: a shape of WIDER_SHAPES half the time where the digit has some,
    WIDER_PENS' pens, upright 50% / forward 25% / backward 25%, and WIDER_SCANS' share of pictures scanned
    whole or small (scanned)."""
    pen = str(rng.choice(list(WIDER_PENS), p=list(WIDER_PENS.values())))
    scan = str(rng.choice(list(WIDER_SCANS), p=list(WIDER_SCANS.values())))
    if scan == "low" and pen == "hairline":
        pen = "pen"  # a hairline scanned small is gone: no scanner keeps it
    slant = slants[rng.choice(3, p=[0.5, 0.25, 0.25])]
    mask = drawing(digit, any_shape, pen, slant, rng)
    return scan_input(mask, scan, rng) if scan else as_model_input(mask)
