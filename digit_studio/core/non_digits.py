"""Drawings that are not digits: letters, symbols, doodles, scribbles and digits drawn over each other, drawn as
handwriting_styles.py draws digits (stroke paths in a unit box, a random warp, pen, slant, size and place on a
200-400 px canvas) and prepared as the app prepares a sketch.

They teach the models what lies outside the ten digits (outlier exposure: Hendrycks, Mazeika and Dietterich,
"Deep anomaly detection with outlier exposure", ICLR 2019) and measure how well each model tells them apart.
A quarter of the shapes (HELD_OUT) are never drawn for training: the check set scores them apart, to show how
the models judge shapes of a kind they were not shown.

    images, kinds, shapes = check_set()           # the fixed check set, 100 drawings per kind, float32
    images = training_non_digits(20000, 0)        # drawings on other seeds, uint8, to mix into training
    python -m experiments.not_a_digit             # both committed models against the check set

Letters that are drawn like digits (O, I, l, Z, S, s, b, g, q, G) are left out: a visitor who draws an O gets a
0 and is right to. Pure numpy and Pillow, about 4 ms of CPU a drawing.
"""

import zlib
from functools import cache

import numpy as np

from digit_studio.core import handwriting_styles, preprocess
from digit_studio.core.handwriting_styles import PLAIN, arc

CHECK_STREAM, TRAINING_STREAM, VALIDATION_STREAM = 10, 11, 12  # apart from handwriting_styles' streams
CHECK_PER_KIND = 100


def circle(cx: float, cy: float, r: float, start: float = 0, end: float = 360) -> list[tuple[float, float]]:
    return arc(cx, cy, r, r, start, end)


def polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [*points, points[0]]


LETTERS = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "C": [arc(0.55, 0.5, 0.45, 0.5, -40, -320)],
    "D": [[(0.1, 0.0), (0.1, 1.0)], arc(0.1, 0.5, 0.85, 0.5, -90, 90)],
    "E": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0)], [(0.1, 0.48), (0.7, 0.48)]],
    "H": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.9, 1.0)], [(0.1, 0.5), (0.9, 0.5)]],
    "J": [[(0.3, 0.0), (0.95, 0.0)], [(0.7, 0.0), (0.7, 0.7), *arc(0.4, 0.7, 0.3, 0.3, 0, 180)]],
    "K": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.1, 0.58)], [(0.35, 0.42), (0.9, 1.0)]],
    "L": [[(0.1, 0.0), (0.1, 1.0), (0.85, 1.0)]],
    "M": [[(0.05, 1.0), (0.1, 0.0), (0.5, 0.6), (0.9, 0.0), (0.95, 1.0)]],
    "N": [[(0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0)]],
    "P": [[(0.1, 1.0), (0.1, 0.0)], arc(0.1, 0.27, 0.78, 0.27, -90, 90)],
    "Q": [circle(0.5, 0.5, 0.5), [(0.6, 0.7), (1.0, 1.0)]],
    "R": [[(0.1, 1.0), (0.1, 0.0)], arc(0.1, 0.27, 0.78, 0.27, -90, 90), [(0.35, 0.54), (0.9, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.1, 0.0), (0.1, 0.6), *arc(0.5, 0.6, 0.4, 0.4, 180, 0), (0.9, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5)], [(1.0, 0.0), (0.5, 0.5), (0.5, 1.0)]],
    "a": [arc(0.45, 0.65, 0.38, 0.35, -20, 340), [(0.85, 0.3), (0.87, 1.0)]],
    "e": [[(0.1, 0.55), (0.9, 0.55), *arc(0.5, 0.55, 0.4, 0.45, 0, -320)]],
    "h": [[(0.1, 0.0), (0.1, 1.0)], [(0.1, 0.65), *arc(0.48, 0.65, 0.38, 0.3, 180, 360), (0.86, 1.0)]],
    "k": [[(0.15, 0.0), (0.15, 1.0)], [(0.8, 0.35), (0.15, 0.75)], [(0.4, 0.6), (0.85, 1.0)]],
    "m": [[(0.0, 1.0), (0.0, 0.4), *arc(0.25, 0.5, 0.25, 0.2, 180, 360), (0.5, 1.0)],
          [(0.5, 0.5), *arc(0.75, 0.5, 0.25, 0.2, 180, 360), (1.0, 1.0)]],
    "n": [[(0.1, 1.0), (0.1, 0.3)], [(0.1, 0.55), *arc(0.5, 0.55, 0.4, 0.3, 180, 360), (0.9, 1.0)]],
    "r": [[(0.2, 1.0), (0.2, 0.3)], [(0.2, 0.6), *arc(0.6, 0.6, 0.4, 0.3, 180, 290)]],
    "t": [[(0.5, 0.0), (0.5, 0.85), *arc(0.7, 0.85, 0.2, 0.15, 180, 60)], [(0.15, 0.3), (0.85, 0.3)]],
    "u": [[(0.1, 0.3), (0.1, 0.7), *arc(0.45, 0.7, 0.35, 0.3, 180, 0), (0.8, 0.3), (0.85, 1.0)]],
    "w": [[(0.0, 0.3), (0.25, 1.0), (0.5, 0.45), (0.75, 1.0), (1.0, 0.3)]],
    "x": [[(0.1, 0.3), (0.9, 1.0)], [(0.9, 0.3), (0.1, 1.0)]],
    "y": [[(0.1, 0.3), (0.5, 0.7)], [(0.9, 0.3), (0.2, 1.0)]],
}  # fmt: skip

SYMBOLS = {
    "+": [[(0.5, 0.0), (0.5, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "=": [[(0.0, 0.3), (1.0, 0.3)], [(0.0, 0.7), (1.0, 0.7)]],
    "#": [[(0.35, 0.0), (0.25, 1.0)], [(0.75, 0.0), (0.65, 1.0)], [(0.0, 0.33), (1.0, 0.33)],
          [(0.0, 0.67), (1.0, 0.67)]],
    "?": [[*arc(0.5, 0.25, 0.4, 0.25, 180, 430), (0.5, 0.7)], circle(0.5, 0.95, 0.04)],
    "%": [[(0.9, 0.0), (0.1, 1.0)], circle(0.2, 0.18, 0.16), circle(0.8, 0.82, 0.16)],
    "@": [[*circle(0.5, 0.5, 0.18, 0, 360), (0.68, 0.75), *arc(0.5, 0.5, 0.48, 0.48, 45, -300)]],
    "&": [[(0.95, 1.0), (0.25, 0.35), *arc(0.45, 0.25, 0.22, 0.22, 150, -160), (0.15, 0.75),
           *arc(0.4, 0.75, 0.28, 0.25, 180, 60), (0.95, 0.5)]],
    "*": [[(0.5, 0.0), (0.5, 1.0)], [(0.07, 0.25), (0.93, 0.75)], [(0.93, 0.25), (0.07, 0.75)]],
    "<": [[(0.9, 0.0), (0.1, 0.5), (0.9, 1.0)]],
    ">": [[(0.1, 0.0), (0.9, 0.5), (0.1, 1.0)]],
}  # fmt: skip


def star(points: int) -> list:
    angles = np.radians(np.arange(2 * points) * 180 / points - 90)
    radii = np.where(np.arange(2 * points) % 2, 0.2, 0.5)
    return [polygon(list(zip(0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles), strict=True)))]


def spiral(turns: float) -> list:
    angles = np.radians(np.linspace(0, 360 * turns, int(60 * turns)))
    radii = np.linspace(0.03, 0.5, len(angles))
    return [list(zip(0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles), strict=True))]


DOODLES = {
    "smiley": [circle(0.5, 0.5, 0.5), circle(0.33, 0.35, 0.05), circle(0.67, 0.35, 0.05),
               arc(0.5, 0.55, 0.28, 0.22, 20, 160)],
    "star": star(5),
    "house": [polygon([(0.1, 0.45), (0.9, 0.45), (0.9, 1.0), (0.1, 1.0)]), [(0.0, 0.5), (0.5, 0.0), (1.0, 0.5)],
              [(0.42, 1.0), (0.42, 0.72), (0.58, 0.72), (0.58, 1.0)]],
    "heart": [[(0.5, 1.0), (0.05, 0.45), *arc(0.27, 0.3, 0.24, 0.24, 150, 350), *arc(0.73, 0.3, 0.24, 0.24, 190, 390),
               (0.95, 0.45), (0.5, 1.0)]],
    "spiral": spiral(2.5),
    "arrow": [[(0.0, 0.5), (1.0, 0.5)], [(0.65, 0.15), (1.0, 0.5), (0.65, 0.85)]],
    "triangle": [polygon([(0.5, 0.0), (1.0, 1.0), (0.0, 1.0)])],
    "square": [polygon([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])],
    "sun": [circle(0.5, 0.5, 0.22)] + [[(0.5 + 0.3 * np.cos(a), 0.5 + 0.3 * np.sin(a)),
                                         (0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a))]
                                        for a in np.radians(np.arange(0, 360, 45))],
    "flower": [circle(0.5, 0.5, 0.12)] + [arc(0.5 + 0.3 * np.cos(a), 0.5 + 0.3 * np.sin(a), 0.17, 0.17, 0, 360)
                                           for a in np.radians(np.arange(0, 360, 60))],
    "tree": [[(0.5, 0.0), (0.05, 0.7), (0.95, 0.7), (0.5, 0.0)], [(0.42, 0.7), (0.42, 1.0), (0.58, 1.0), (0.58, 0.7)]],
    "fish": [[*arc(0.42, 0.5, 0.4, 0.3, -150, 150), (1.0, 0.2), (1.0, 0.8), (0.07, 0.35)], circle(0.25, 0.42, 0.04)],
    "cloud": [[*arc(0.2, 0.6, 0.18, 0.18, 90, 270), *arc(0.45, 0.38, 0.25, 0.25, 200, 340),
               *arc(0.78, 0.55, 0.2, 0.2, 250, 450), (0.2, 0.78)]],
    "lightning": [[(0.6, 0.0), (0.2, 0.55), (0.55, 0.5), (0.35, 1.0), (0.85, 0.38), (0.5, 0.43), (0.75, 0.0)]],
    "moon": [[*arc(0.5, 0.5, 0.5, 0.5, 60, 300), *arc(0.75, 0.5, 0.35, 0.45, 240, 120)]],
    "envelope": [polygon([(0.0, 0.15), (1.0, 0.15), (1.0, 0.85), (0.0, 0.85)]),
                 [(0.0, 0.15), (0.5, 0.55), (1.0, 0.15)]],
    "tick": [[(0.0, 0.6), (0.35, 1.0), (1.0, 0.0)]],
    "cat": [circle(0.5, 0.58, 0.42), [(0.15, 0.35), (0.2, 0.0), (0.42, 0.17)], [(0.58, 0.17), (0.8, 0.0), (0.85, 0.35)],
            circle(0.35, 0.5, 0.04), circle(0.65, 0.5, 0.04), [(0.4, 0.72), (0.5, 0.78), (0.6, 0.72)]],
}  # fmt: skip

# Never drawn for training: the check set's "unseen" kinds show how well what was learned carries over.
HELD_OUT = {"K", "R", "W", "e", "h", "t", "y", "%", "&", "<", "house", "fish", "cloud", "cat", "moon"}


def scribble(rng: np.random.Generator) -> list:
    """A pen moving at random: a few to a dozen points joined by smooth curves, sometimes lifted once."""
    strokes = []
    for _ in range(1 + (rng.random() < 0.3)):
        points = rng.uniform(0, 1, (int(rng.integers(4, 13)), 2))
        fine = np.linspace(0, len(points) - 1, 12 * len(points))
        strokes.append(list(zip(*(np.interp(fine, np.arange(len(points)), points[:, axis]) for axis in (0, 1)),
                                strict=True)))  # fmt: skip
    return strokes


def zigzag(rng: np.random.Generator) -> list:
    """Back and forth across the box, as in crossing something out."""
    count = int(rng.integers(4, 10))
    y = np.linspace(0, 1, count) + rng.normal(0, 0.03, count)
    x = np.where(np.arange(count) % 2, 1.0, 0.0) + rng.normal(0, 0.05, count)
    return [list(zip(x, y, strict=True))] if rng.random() < 0.5 else [list(zip(y, x, strict=True))]


def loops(rng: np.random.Generator) -> list:
    """A coil of loops moving across the box, like a telephone cord."""
    turns = rng.uniform(2, 5)
    angles = np.radians(np.linspace(0, 360 * turns, int(50 * turns)))
    radius = rng.uniform(0.15, 0.3)
    x = np.linspace(radius, 1 - radius, len(angles)) + radius * np.cos(angles)
    y = 0.5 + radius * 1.6 * np.sin(angles)
    return [list(zip(x, y, strict=True))]


def overlap(rng: np.random.Generator) -> list:
    """Two different digits drawn over each other, a little apart; never a 1, which over another digit can look
    like that digit alone."""
    first, second = rng.choice([0, 2, 3, 4, 5, 6, 7, 8, 9], 2, replace=False)
    offset = rng.uniform(-0.25, 0.25, 2)
    return PLAIN[int(first)] + [[(x + offset[0], y + offset[1]) for x, y in stroke] for stroke in PLAIN[int(second)]]


# kind -> (its named shapes, or a function of an rng that draws one; the range of width over height)
KINDS = {
    "letters": (LETTERS, (0.6, 1.0)),
    "symbols": (SYMBOLS, (0.6, 1.0)),
    "doodles": (DOODLES, (0.8, 1.2)),
    "scribbles": (scribble, (0.6, 1.4)),
    "zigzags and coils": (lambda rng: (zigzag if rng.random() < 0.5 else loops)(rng), (0.8, 1.4)),
    "two digits overlapped": (overlap, (0.8, 1.3)),
}
CHECK_KINDS = ("letters", "symbols", "doodles", "scribbles", "zigzags and coils")  # what visitors draw to test it
TRAINING_SHARE = {"letters": 0.3, "symbols": 0.15, "doodles": 0.2, "scribbles": 0.15, "zigzags and coils": 0.1,
                  "two digits overlapped": 0.1}  # fmt: skip


def non_digit(kind: str, rng: np.random.Generator, training: bool, index: int | None = None) -> tuple[np.ndarray, str]:
    """One drawing of `kind` as the 28x28 float32 the app would feed its models, and the name of its shape (the
    kind's own name for the random kinds): the index-th of the kind's shapes in turn, or one at random, for
    training never one of the HELD_OUT shapes. A drawing the app would answer with "No digit found" (a marker's
    zigzag can be mostly ink) is drawn again."""
    shapes, aspect = KINDS[kind]
    while True:
        name = kind
        if isinstance(shapes, dict):
            names = [name for name in shapes if not (training and name in HELD_OUT)]
            name = names[rng.integers(len(names)) if index is None else index % len(names)]
            strokes = shapes[name]
        else:
            strokes = shapes(rng)
        pen = str(rng.choice(["pen", "marker", "hairline"], p=[0.6, 0.2, 0.2]))
        mask = handwriting_styles.drawing(0, lambda _, __, strokes=strokes: strokes, pen, (-15.0, 15.0), rng, aspect)
        try:
            return handwriting_styles.as_model_input(mask), name
        except preprocess.NoDigitError:
            continue


def seed(stream: int, kind: str, index: int) -> tuple[int, int, int]:
    return stream, zlib.crc32(kind.encode()), index


@cache
def _check_set(per_kind: int, stream: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kinds, images, shapes = [], [], []
    for kind in (*CHECK_KINDS, "two digits overlapped"):
        for index in range(per_kind):
            image, shape = non_digit(kind, np.random.default_rng(seed(stream, kind, index)), False, index)
            images.append(image)
            kinds.append(kind)
            shapes.append(shape)
    images, kinds, shapes = np.stack(images), np.array(kinds), np.array(shapes)
    for array in (images, kinds, shapes):
        array.flags.writeable = False  # cached: shared by every caller
    return images, kinds, shapes


def check_set(per_kind: int = CHECK_PER_KIND, stream: int = CHECK_STREAM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed check set of non-digits: float32 N x 28 x 28 model inputs, each drawing's kind and its shape's
    name (HELD_OUT names are shapes training never draws), per_kind of each kind in CHECK_KINDS and of "two digits
    overlapped" (scored apart: it is what the models train on, not what visitors draw). stream=VALIDATION_STREAM
    gives as many other drawings, to choose a recipe on."""
    return _check_set(per_kind, stream)


def training_non_digits(count: int, seed_: int = 0) -> np.ndarray:
    """count non-digits for training, uint8 N x 28 x 28 (white on black, as MNIST), the kinds in TRAINING_SHARE's
    proportions, in random order, on seeds no check drawing uses and never of the HELD_OUT shapes."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    rng = np.random.default_rng((TRAINING_STREAM, seed_))
    kinds = rng.choice(list(TRAINING_SHARE), count, p=list(TRAINING_SHARE.values()))
    images = np.zeros((count, 28, 28), np.uint8)
    for index, kind in enumerate(kinds):
        drawn, _ = non_digit(str(kind), np.random.default_rng((TRAINING_STREAM, seed_, index)), training=True)
        images[index] = np.round(drawn * 255)
    return images
