"""Find every digit of a handwritten number, left to right, each made into MNIST's 28x28 input.

1. The ink map comes from preprocess.py (a sketch's alpha, or a photo's distance from its paper). Ink drawn
   with a thick pen (strokes HALVE_STROKE px or more, as the page's brush draws) is read at half size: a quarter
   of the pixels to label and crop, with strokes still 4 px or more, far more than a 20 px digit shows.
2. Its connected pieces (scipy.ndimage.label, 8-connected, ink over INK_THRESHOLD) are measured;
   specks (under SPECK_FRACTION of the tallest piece) and ruled lines (flat and wider than
   LINE_FRACTION x the tallest piece) are dropped.
3. Pieces of one digit are joined again: pieces stacked over each other (a 5's detached flag, a broken
   8) and pieces whose columns lie mostly inside another's (a 4 or 7 drawn in two strokes that do not
   touch, a broken stroke). Digits side by side never share most of their columns.
4. Groups of dots only (no longer than DOT_STROKES stroke widths), scribbles and noise (far more stroke
   than a digit of their size holds) are dropped. A group wider
   than WIDE_ASPECT x its height (or the digits' median height) is digits that touch or overlap when a
   column near its middle crosses a single short run of ink (CUT_STROKES) and leaves two parts of a
   digit's height, or when it is too wide for one digit (SURE_ASPECT): it is cut there, at the column
   of least ink, and each part again while still too wide.
5. Groups far shorter than the tallest (a hyphen, a comma) are dropped; the rest, left to right, each
   cropped to its own ink (a neighbour's ink in its box is masked out), go through preprocess.fit_to_field.

The thresholds were chosen on numbers composed from MNIST's training digits (benchmarks/read_numbers.py).
Pure numpy, Pillow and scipy: about 3 ms for a 4-digit 800x400 sketch, 40% of it the digits' recipes.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digit_studio.core import preprocess

MAX_DIGITS = 12
INK_THRESHOLD = 0.25  # pieces are found where the ink is at least this strong; fainter edges still count in a digit
DOT_STROKES = 3  # a piece no longer than this many stroke widths is a dot or a pen tap
SPECK_FRACTION = 0.15  # a piece shorter and narrower than this fraction of the tallest piece is a speck
LINE_FRACTION = 1.5  # a flat piece wider than this many times the tallest piece is a ruled line or an underline
FLAT_ASPECT = 0.2  # flat: height under this fraction of the width
STACKED_OVERLAP = 0.4  # stacked pieces share at least this fraction of the narrower one's columns...
STACKED_ROWS = 0.3  # ...and at most this fraction of the shorter one's rows
NESTED_OVERLAP = 0.8  # a piece with this fraction of its columns inside another's belongs to it
WIDE_ASPECT = 1.25  # a group wider than the digits' usual height may be digits that touch...
CUT_STROKES = 2.5  # ...and is cut where a column crosses at most this many stroke widths of ink...
SURE_ASPECT = 1.6  # ...or wherever the least ink is, when it is wider than this many times the height
PART_HEIGHT = 0.5  # a cut must leave two parts at least this fraction of the group's height
CUT_WINDOW = 0.25  # a cut is searched within this fraction of the width either side of the middle
SHORT_FRACTION = 0.4  # a group shorter than this fraction of the tallest is not a digit (a hyphen, a comma)
MAX_STROKE_LENGTH = 15  # a digit's strokes add up to 2-6 times its longer side; more is a scribble or noise
HALVE_STROKE = 8  # ink with strokes this many px wide or more is read at half size: they stay 4 px or more
MAX_PIECES = 5 * MAX_DIGITS  # beyond this many digit-sized pieces, joining them is not worth trying


@dataclass(frozen=True)
class Digit:
    """One digit: its box (x0, y0, x1, y1, ends excluded) in the input's pixels and its 28x28 MNIST image."""

    box: tuple[int, int, int, int]
    image: np.ndarray


def digits_in_image(image: Image.Image) -> list[Digit]:
    """Every digit in a picture of a number, left to right; boxes in the picture's upright pixels."""
    upright = image.size[::-1] if image.getexif().get(0x0112, 1) in (5, 6, 7, 8) else image.size
    ink = preprocess.ink_from_image(image)
    return digits_in_ink(ink, scale=upright[0] / ink.shape[1])  # large photos are read reduced


def digits_in_sketch(value: dict) -> list[Digit]:
    """Every digit in a Gradio Sketchpad value, left to right; boxes in the canvas's pixels."""
    return digits_in_ink(preprocess.ink_from_sketch(value))


def digits_in_ink(ink: np.ndarray, scale: float = 1.0) -> list[Digit]:
    """Every digit in an ink map (0 paper, 1 ink), left to right; boxes multiplied by `scale`.

    Raises preprocess.NoDigitError when there is none, preprocess.BadImageError when there are more
    than MAX_DIGITS.
    """
    ink = np.asarray(ink, np.float32)
    if ink.ndim != 2:
        raise preprocess.BadImageError(f"Expected a 2-D ink map, got shape {ink.shape}.")
    mask = ink >= INK_THRESHOLD
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        raise preprocess.NoDigitError(preprocess.NO_DIGIT_MESSAGE)
    # everything below works in the ink's box plus one pixel of paper (so strokes keep their edges): far less to label
    y0, x0 = max(int(rows[0]) - 1, 0), max(int(columns[0]) - 1, 0)
    ink, mask = ink[y0 : rows[-1] + 2, x0 : columns[-1] + 2], mask[y0 : rows[-1] + 2, x0 : columns[-1] + 2]
    (box_height, box_width), factor = ink.shape, 1
    stroke = stroke_width(mask)
    if stroke >= HALVE_STROKE:  # a thick pen (the page's brush): read at half size, a quarter of the pixels
        ink, factor = halved(ink), 2
        mask = ink >= INK_THRESHOLD
        stroke = stroke_width(mask)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
    slices = ndimage.find_objects(labels)
    found = pieces(slices)
    areas = {piece[4][0]: np.count_nonzero(labels[slices[piece[4][0] - 1]] == piece[4][0]) for piece in found}
    strokes = {group[4][0] for group in found if max(group[2] - group[0], group[3] - group[1]) > DOT_STROKES * stroke}
    groups = [
        group
        for group in join(found)
        if strokes.intersection(group[4])  # dots, even in a row, are not a digit
        and sum(areas[i] for i in group[4]) / stroke
        <= MAX_STROKE_LENGTH * max(group[2] - group[0], group[3] - group[1])
    ]
    if groups:
        height = float(np.median([bottom - top for _, top, _, bottom, _ in groups]))
        groups = [part for group in groups for part in split_wide(group, labels, height, stroke)]
        tallest = max(bottom - top for _, top, _, bottom, _ in groups)
        groups = [group for group in groups if group[3] - group[1] >= SHORT_FRACTION * tallest]
    if len(groups) > MAX_DIGITS:
        raise too_many(len(groups))
    digits = []
    for left, top, right, bottom, members in sorted(groups, key=lambda group: group[0] + group[2]):
        own = labelled(labels[top:bottom, left:right], (0, *members))  # unlabelled faint edges stay
        crop = np.where(own, ink[top:bottom, left:right], 0)
        try:
            image = preprocess.fit_to_field(crop)
        except preprocess.NoDigitError:  # a solid block is not a digit
            continue
        full = (left * factor, top * factor, min(right * factor, box_width), min(bottom * factor, box_height))
        box = tuple(round((value + offset) * scale) for value, offset in zip(full, (x0, y0, x0, y0), strict=True))
        digits.append(Digit(box, image))
    if not digits:
        raise preprocess.NoDigitError(preprocess.NO_DIGIT_MESSAGE)
    return digits


def halved(ink: np.ndarray) -> np.ndarray:
    """The ink map at half size, each pixel the mean of a 2x2 block (an odd last row or column meets paper)."""
    if ink.shape[0] % 2 or ink.shape[1] % 2:
        even = np.zeros((ink.shape[0] + ink.shape[0] % 2, ink.shape[1] + ink.shape[1] % 2), np.float32)
        even[: ink.shape[0], : ink.shape[1]] = ink
        ink = even
    mean = ink[0::2, 0::2] + ink[1::2, 0::2]
    mean += ink[0::2, 1::2]  # in place, in the same order as before: no temporary arrays
    mean += ink[1::2, 1::2]
    mean *= np.float32(0.25)
    return mean


def too_many(count: int) -> preprocess.BadImageError:
    return preprocess.BadImageError(
        f"Found {count} separate marks, where a number has at most {MAX_DIGITS} digits. "
        "Write fewer digits, or crop the photo to the number."
    )


# A piece or group: left, top, right, bottom (ends excluded) and the labels of its pieces.
Group = tuple[int, int, int, int, tuple[int, ...]]


def labelled(labels: np.ndarray, members: tuple[int, ...]) -> np.ndarray:
    """Where `labels` is one of `members`: a comparison each, far faster than np.isin for a digit's few pieces."""
    own = labels == members[0]
    for member in members[1:]:
        own |= labels == member
    return own


def pieces(slices: list[tuple[slice, slice]]) -> list[Group]:
    """The labelled pieces (ndimage.find_objects' boxes) that can be part of a digit: not specks or ruled lines."""
    boxes = [(s[1].start, s[0].start, s[1].stop, s[0].stop, (index + 1,)) for index, s in enumerate(slices)]
    tallest = max(bottom - top for _, top, _, bottom, _ in boxes)
    kept = []
    for box in boxes:
        width, height = box[2] - box[0], box[3] - box[1]
        is_speck = max(width, height) < SPECK_FRACTION * tallest
        is_line = height < FLAT_ASPECT * width and width > LINE_FRACTION * tallest
        if not (is_speck or is_line):
            kept.append(box)
    if len(kept) > MAX_PIECES:
        raise too_many(len(kept))
    return kept


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the area over the perimeter (counted along rows and columns)."""
    edges = np.count_nonzero(mask[:, 1:] != mask[:, :-1]) + np.count_nonzero(mask[1:] != mask[:-1])
    # a boundary in every direction measures 4/pi times longer along rows and columns than it is
    return 2 * float(np.count_nonzero(mask)) / max(edges * np.pi / 4, 1.0)


def belong_together(a: Group, b: Group) -> bool:
    """Whether two pieces are parts of one digit: stacked (a 5's flag), or one within the other's columns."""
    narrower = min(a[2] - a[0], b[2] - b[0])
    shorter = min(a[3] - a[1], b[3] - b[1])
    columns = min(a[2], b[2]) - max(a[0], b[0])
    rows = min(a[3], b[3]) - max(a[1], b[1])
    stacked = columns >= STACKED_OVERLAP * narrower and rows <= STACKED_ROWS * shorter
    return stacked or columns >= NESTED_OVERLAP * narrower


def join(groups: list[Group]) -> list[Group]:
    """Join pieces that belong together until no two groups do; a few dozen pieces at most."""
    groups = list(groups)
    joined = True
    while joined:
        joined = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if belong_together(groups[i], groups[j]):
                    a, b = groups[i], groups.pop(j)
                    groups[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] + b[4])
                    joined = True
                    break
            if joined:
                break
    return groups


def split_wide(group: Group, labels: np.ndarray, height: float, stroke: float) -> list[Group]:
    """A group wider than a digit cut in two at its column of least ink, again while a part is still too wide.

    `height` is the digits' usual height. Unless the group is too wide to be one digit at all, a cut must
    cross one short run of ink (a touching point, not a 0's two strokes) and leave two parts of a digit's height.
    """
    left, top, right, bottom, members = group
    width = right - left
    height = max(height, bottom - top)
    if width <= WIDE_ASPECT * height:
        return [group]
    forced = width > SURE_ASPECT * height
    own = labelled(labels[top:bottom, left:right], members)
    low, high = round(width * (0.5 - CUT_WINDOW)), round(width * (0.5 + CUT_WINDOW))
    window = own[:, low:high]
    ink = np.count_nonzero(window, axis=0)
    runs = np.count_nonzero(window[1:] & ~window[:-1], axis=0) + window[0]
    acceptable = forced | ((runs <= 1) & (ink <= CUT_STROKES * stroke))
    if not acceptable.any():
        return [group]
    cut = low + int(np.argmin(np.where(acceptable, ink, own.shape[0] + 1)))
    parts = []
    for start, stop in ((0, cut), (cut, width)):
        rows = np.flatnonzero(own[:, start:stop].any(axis=1))
        columns = np.flatnonzero(own[:, start:stop].any(axis=0))
        if len(rows):
            x0, x1 = left + start + int(columns[0]), left + start + int(columns[-1]) + 1
            parts.append((x0, top + int(rows[0]), x1, top + int(rows[-1]) + 1, members))
    if not forced and min(part[3] - part[1] for part in parts) < PART_HEIGHT * (bottom - top):
        return [group]
    return [piece for part in parts for piece in split_wide(part, labels, height, stroke)]
