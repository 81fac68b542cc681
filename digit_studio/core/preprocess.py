"""Turn a drawing, photo or scan into the 28x28 input the models were trained on, with MNIST's own recipe.

MNIST's digits are white ink (1.0) on black (0.0). Each was scaled, keeping its aspect ratio and with
anti-aliasing, so that its longer side is 20 px, then placed in a 28x28 field so that the centre of
mass of its pixel intensities sits at the centre of the field. We do the same:

1. Find the ink (``ink_from_image``, ``ink_from_sketch``): the alpha of a transparent sketch, or else
   each pixel's distance from the paper's colour, dark on light or light on dark, with the paper's
   shading, grain and JPEG noise taken away.
2. Crop the ink's bounding box at full resolution, ignoring specks far from the digit (``to_mnist``).
3. Scale the longer side to 20 px, thickening thin pen strokes to MNIST's width on the way, and move
   the centre of mass to the centre (``fit_to_field``).

What the photo path assumes (``ink_from_image``, ``ink_from_opaque``):

- The paper is what most of the picture's border shows: the border's median colour is the paper's, and the
  ink is the side (darker or lighter) that strays further from it. A picture whose border is mostly ink
  cannot be told from light ink on dark paper.
- The paper's shading changes slowly. Where the estimate of the shading steps sharply between neighbouring
  cells, it has kept ink (strokes wide for the picture's size): the picture is taken as cropped to its
  digit, on flat paper of the border's median colour.
- The border is paper, so its noise is the paper's. When ink reaches the border (a picture cropped to its
  digit), the noise is measured on the border's quieter half, which is taken to be paper.
- A transparent picture is a drawing, its alpha the ink, when most of it is see-through or when every
  visible pixel is one colour (a drawing that fills its canvas); otherwise it is opaque paper with
  see-through corners, read over its own paper.

Pure numpy and Pillow: about 1.5 ms for an 800x800 sketch layer, 3 ms for an 800x800 photo (read at half size),
well under 1 ms for a 28x28 image.
"""

import functools

import numpy as np
from PIL import Image, ImageChops, ImageOps

from digit_studio import words

FIELD_SIZE = 28
DIGIT_SIZE = 20
WORK_SIZE = 80  # strokes are thickened at 4x the digit's size, in steps of a quarter pixel
STROKE_WIDTH = 2.2  # px at 20 px: the thinner third of MNIST's digits, so MNIST itself stays as it is
MAX_SIDE = 1024  # larger photos are reduced to at least this for speed
FAST_SIDE = 400  # and opaque ones first read at about this size (see ink_from_image)
SHADING_CELLS = 32  # the paper's shading is followed on a grid this coarse
MAX_SHADING_STEP = 0.2  # of the cells' range: photos' shading steps by 0.08 at most, a wide stroke's edge by 0.3
ONE_COLOUR = 8  # channel spread within which the visible pixels of a transparent picture are one colour
MIN_CONTRAST = 0.15  # ink fainter than this against the paper is noise, not a digit
MIN_INK = 0.05
GRAIN_TAIL = 7  # twice a grain's 99th percentile over its 75th: 2 x 2.33 / 0.67 for Gaussian grain on paper
MAX_FILL = 0.8  # ink filling more of the 20x20 box is a solid block or noise; MNIST's boldest digits fill 65%

NO_DIGIT_MESSAGE = words.text("no_digit")


class NoDigitError(ValueError):
    """The input holds no digit: an empty sketch, a blank page, a uniform image, noise."""


class BadImageError(ValueError):
    """The input cannot be read as a picture of a digit; the message says what to fix."""


def preprocess_image(image: Image.Image) -> np.ndarray:
    """Any picture of a digit as MNIST's float32 28x28 white-on-black input."""
    return to_mnist(ink_from_image(image))


def preprocess_sketch(value: dict) -> np.ndarray:
    """A Gradio Sketchpad value as MNIST's float32 28x28 white-on-black input."""
    return to_mnist(ink_from_sketch(value))


def ink_from_image(image: Image.Image) -> np.ndarray:
    """Where the ink is, from 0 (paper) to 1 (full stroke), as float32 H x W."""
    image = ImageOps.exif_transpose(image)  # phone photos store their rotation as a tag
    if image.mode.startswith("I") or image.mode == "F":  # 16-bit or float grey: stretch its own range to 8 bits
        values = np.asarray(image, np.float32)
        image = Image.fromarray((values * (255 / max(float(values.max()), 1e-6))).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if (alpha < 128).mean() > 0.5:  # a drawing on a transparent canvas: the alpha is the ink
            return alpha * np.float32(1 / 255)
        if alpha.min() < 255:  # opaque paper with see-through parts (rounded corners): read it over its own paper
            sample = np.asarray(rgba.resize((max(1, rgba.width // 8), max(1, rgba.height // 8)), Image.NEAREST))
            opaque = sample[sample[..., 3] >= 128]
            # every visible pixel the pen's colour: not paper but a drawing that fills its canvas
            if len(opaque) and int(np.ptp(opaque[:, :3], axis=0).max()) <= ONE_COLOUR:
                return alpha * np.float32(1 / 255)
            colour = np.median(opaque if len(opaque) else sample.reshape(-1, 4), axis=0)[:3]
            image = Image.new("RGB", rgba.size, tuple(int(value) for value in colour))
            image.paste(rgba, (0, 0), rgba)
    mode = "L" if image.mode in ("1", "L", "LA") else "RGB"
    image = image if image.mode == mode else image.convert(mode)
    if max(image.size) >= 2 * MAX_SIDE:
        image = image.reduce(max(image.size) // MAX_SIDE)
    # Most photos show a digit far larger than the 80 px it is worked at: read them at half size or less first
    # (a quarter of the pixels), and at full size only when that leaves the digit smaller than WORK_SIZE.
    factor = max(image.size) // FAST_SIDE
    if factor >= 2:
        try:
            ink = ink_from_opaque(image.reduce(factor))
            (top, bottom), (left, right) = main_span(ink.sum(axis=1)), main_span(ink.sum(axis=0))
            if max(bottom - top, right - left) >= WORK_SIZE:
                return ink
        except NoDigitError:  # a faint hairline can fade below MIN_CONTRAST when averaged: look again at full size
            pass
    return ink_from_opaque(image)


def ink_from_opaque(image: Image.Image) -> np.ndarray:
    """The ink of an opaque L or RGB picture: each pixel's distance from the paper's colour, paper noise removed."""
    factor = max(image.size) // SHADING_CELLS
    cells = image.reduce(factor) if factor > 1 else image  # each cell the mean colour of its area
    grey = np.asarray(cells.convert("L"))
    dark_ink = is_dark_ink(grey)
    toward_paper, toward_ink = (np.maximum, np.minimum) if dark_ink else (np.minimum, np.maximum)
    # a closing of the cells (spread the paper over the ink, then back) removes the ink but keeps the shading
    paper = grow(grow(np.asarray(cells), 3, toward_paper), 3, toward_ink)
    if steepest_step(paper) > MAX_SHADING_STEP * (int(grey.max()) - int(grey.min())):
        # shading changes slowly, so a sharp step is ink the closing kept: strokes wide for the picture, which is
        # then taken as cropped to its digit, on flat paper of the border's median colour
        border = sorted_border(np.asarray(cells))
        paper = np.full_like(paper, border[len(border) // 2])
    paper = Image.fromarray(paper)
    if paper.size != image.size:  # a small picture is its own grid of cells
        paper = paper.resize(image.size, Image.Resampling.BILINEAR)
    # how much darker (or lighter) than the paper, in the channel that differs most: coloured ink counts too
    difference = ImageChops.subtract(paper, image) if dark_ink else ImageChops.subtract(image, paper)
    distance = np.maximum.reduce([np.asarray(channel) for channel in difference.split()])
    # the 20th strongest pixel, so that a few specks do not count; a histogram is far faster than sorting
    counts = np.bincount(distance.ravel(), minlength=256)
    strength = 255 - int(np.searchsorted(np.cumsum(counts[::-1]), min(20, distance.size)))
    if strength < MIN_CONTRAST * 255:
        raise NoDigitError(NO_DIGIT_MESSAGE)
    # grain, JPEG noise and leftover shading, measured where there is only paper: the border, as twice its 99th
    # percentile. For grain that is about GRAIN_TAIL times the 75th: loudest pixels further above the rest are ink
    # reaching the border (a picture cropped to its digit, a small scan's grey blocks), so the 75th sets the level;
    # when ink covers a quarter of the border, its median does, as at least half the border is paper
    border = sorted_border(distance)
    level = min(2 * float(border[len(border) * 99 // 100]), GRAIN_TAIL * float(border[len(border) * 3 // 4]))
    if level >= strength:
        level = 4 * float(border[len(border) // 2])
    noise = min(max(level, 0.05 * strength), 0.5 * strength)
    return np.clip((distance - np.float32(noise)) * np.float32(1 / (strength - noise)), 0, 1)


def steepest_step(paper: np.ndarray) -> int:
    """The largest change between neighbouring cells of the paper's estimate, in any channel."""
    paper = paper.astype(np.int16)
    return int(max(np.abs(np.diff(paper, axis=0)).max(initial=0), np.abs(np.diff(paper, axis=1)).max(initial=0)))


def is_dark_ink(brightness: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: the side that strays further from the border's brightness."""
    border = sorted_border(brightness)
    paper = int(border[len(border) // 2])
    return paper - int(brightness.min()) >= int(brightness.max()) - paper


def sorted_border(image: np.ndarray) -> np.ndarray:
    """The values along the image's four edges, sorted: where a picture of a digit shows only paper."""
    return np.sort(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]), axis=0)


def ink_from_sketch(value: dict) -> np.ndarray:
    """Where the ink is in a Sketchpad value: the layers' alpha, else the composite (or background) as a picture."""
    if value is None:
        raise NoDigitError(NO_DIGIT_MESSAGE)
    if not isinstance(value, dict):
        raise BadImageError("Expected a sketch with 'layers', 'composite' and 'background' images.")
    layers = [as_picture(layer) for layer in value.get("layers") or [] if layer is not None]
    if len({layer.shape[:2] for layer in layers}) > 1:
        raise BadImageError("The sketch's layers have different sizes; clear the canvas and draw again.")
    alphas = [layer[..., 3] for layer in layers if layer.ndim == 3 and layer.shape[2] == 4]
    if alphas:
        ink = functools.reduce(np.maximum, alphas) * np.float32(1 / 255)
        if ink.max() > 0:
            return ink
    for key in ("composite", "background"):
        if value.get(key) is not None:
            return ink_from_image(Image.fromarray(as_picture(value[key])))
    raise NoDigitError(NO_DIGIT_MESSAGE)


def as_picture(array) -> np.ndarray:
    """A sketch image as uint8 H x W, H x W x 3 or H x W x 4; anything else is a BadImageError."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
        raise BadImageError(f"Expected an image of H x W pixels with 1, 3 or 4 channels, got shape {array.shape}.")
    return array if array.dtype == np.uint8 else np.clip(array, 0, 255).astype(np.uint8)


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """MNIST's recipe on an ink map: crop, longer side to 20 px, MNIST's stroke width, centre of mass centred."""
    ink = np.asarray(ink, np.float32)
    if ink.ndim != 2:
        raise BadImageError(f"Expected a 2-D ink map, got shape {ink.shape}.")
    if ink.size == 0 or ink.max() < MIN_INK:
        raise NoDigitError(NO_DIGIT_MESSAGE)
    top, bottom = main_span(ink.sum(axis=1))
    left, right = main_span(ink.sum(axis=0))
    crop = ink[top:bottom, left:right]
    if crop.max() < MIN_INK:  # the heaviest rows and the heaviest columns hold different specks: no digit
        raise NoDigitError(NO_DIGIT_MESSAGE)
    return fit_to_field(crop)


def fit_to_field(ink: np.ndarray) -> np.ndarray:
    """Step 3 of the recipe on one digit's ink, already cropped to its box (segmentation.py crops its own)."""
    ink = np.ascontiguousarray(ink, np.float32)
    crop = picture(ink)
    small = resized(crop, min(WORK_SIZE, max(crop.size)))  # a small digit is measured before it is enlarged
    pixels = ink if small is crop else np.asarray(small)
    width = stroke_width(pixels) * WORK_SIZE / max(small.size)
    if max(small.size) == DIGIT_SIZE and thickening(width, WORK_SIZE) < 1:
        digit = small  # 20 px and thick enough already (most of MNIST): enlarged and reduced, it comes back the same
    else:
        work = pixels if max(small.size) == WORK_SIZE else np.asarray(resized(small, WORK_SIZE))
        digit = resized(picture(thicken(work, width)), DIGIT_SIZE)
    weights = np.asarray(digit)
    mass = weights.sum()
    centre_y = weights.sum(axis=1) @ PLACES[: weights.shape[0]] / mass
    centre_x = weights.sum(axis=0) @ PLACES[: weights.shape[1]] / mass
    out = placed(weights, round(FIELD_SIZE / 2 - centre_y), round(FIELD_SIZE / 2 - centre_x))
    out *= 1 / out.max()
    np.minimum(out, 1, out=out)  # the ink is never negative: only rounding can carry it past 1
    if out.sum() > MAX_FILL * DIGIT_SIZE**2:
        raise NoDigitError(NO_DIGIT_MESSAGE)
    return out


def picture(pixels: np.ndarray) -> Image.Image:
    """A C-contiguous float32 array as a Pillow "F" image sharing its memory: Image.fromarray's result, sooner."""
    return Image.frombuffer("F", pixels.shape[::-1], pixels, "raw", "F", 0, 1)


PLACES = np.arange(max(DIGIT_SIZE, FIELD_SIZE), dtype=np.float64)


def placed(digit: np.ndarray, top: int, left: int) -> np.ndarray:
    """The digit in a FIELD_SIZE square at (top, left), clipped where it would stick out."""
    field = np.zeros((FIELD_SIZE, FIELD_SIZE), np.float32)
    y0, x0 = min(max(top, 0), FIELD_SIZE), min(max(left, 0), FIELD_SIZE)
    y1, x1 = max(min(top + digit.shape[0], FIELD_SIZE), y0), max(min(left + digit.shape[1], FIELD_SIZE), x0)
    field[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return field


def main_span(profile: np.ndarray) -> tuple[int, int]:
    """Start and end of the heaviest run of ink in a row or column profile; runs part at wide gaps (specks)."""
    index = np.flatnonzero(profile > 0)
    gaps = np.diff(index) > max(2, (index[-1] - index[0]) // 10)
    if not gaps.any():  # one run, as in most drawings: the shortcut saves a third of a 28x28 image's time
        return int(index[0]), int(index[-1]) + 1
    breaks = np.flatnonzero(gaps)
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(index) - 1]
    mass = np.r_[0, np.cumsum(profile[index])]
    best = np.argmax(mass[ends + 1] - mass[starts])
    return int(index[starts[best]]), int(index[ends[best]]) + 1


def resized(image: Image.Image, longer_side: int) -> Image.Image:
    """Keeping the aspect ratio; the box filter makes each pixel the mean of the area it covers (anti-aliasing)."""
    scale = longer_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image if size == image.size else image.resize(size, Image.Resampling.BOX)


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: ink area over half the edges' length, as each stroke has two edges."""
    ink = framed(ink, 1)  # strokes that touch the crop's border have an edge there too
    gradient_y, gradient_x = ink[1:, :-1] - ink[:-1, :-1], ink[:-1, 1:] - ink[:-1, :-1]
    gradient_x *= gradient_x  # in place: a digit's recipe makes many small arrays, and each costs time
    gradient_y *= gradient_y
    gradient_x += gradient_y
    edge_length = np.sqrt(gradient_x, out=gradient_x).sum()  # total variation: blur leaves it unchanged
    return 2 * float(ink.sum()) / max(float(edge_length), 1e-6)


def thickening(width: float, side: int) -> int:
    """How many px to grow strokes `width` px wide in a box `side` px long so that they end STROKE_WIDTH wide at
    DIGIT_SIZE: growing by r on each side widens the box as well, (width + 2r) / (side + 2r) = target."""
    target = STROKE_WIDTH / DIGIT_SIZE
    return round((target * side - width) / (1 - target) / 2)


def thicken(work: np.ndarray, width: float) -> np.ndarray:
    """Dilate strokes thinner than MNIST's so that, once the box is 20 px, they are STROKE_WIDTH wide."""
    radius = thickening(width, max(work.shape))
    if radius < 1:
        return work
    # a hairline is fainter than its pen: bring its stronger pixels to full ink first
    inked = work[work > 0]
    rank = len(inked) - max(1, int(len(inked) * 0.2))
    strong = np.partition(inked, rank)[rank]
    field = framed(work, radius)
    field *= 1 / strong
    return grow(np.minimum(field, 1, out=field), radius, np.maximum)


def framed(image: np.ndarray, border: int) -> np.ndarray:
    """The image in a frame of zeros `border` px wide: np.pad's result, without its overhead on small images."""
    frame = np.zeros((image.shape[0] + 2 * border, image.shape[1] + 2 * border), image.dtype)
    frame[border:-border, border:-border] = image
    return frame


def grow(image: np.ndarray, radius: int, extreme: np.ufunc) -> np.ndarray:
    """Spread the maximum (dilate) or minimum (erode) over `radius` px, in an octagon close to a disk."""
    for step in range(radius):  # alternate 3x3 square and cross steps
        grown = image.copy()
        extreme(grown[1:], image[:-1], out=grown[1:])
        extreme(grown[:-1], image[1:], out=grown[:-1])
        source = grown if step % 2 == 0 else image
        extreme(grown[:, 1:], source[:, :-1], out=grown[:, 1:])
        extreme(grown[:, :-1], source[:, 1:], out=grown[:, :-1])
        image = grown
    return image
