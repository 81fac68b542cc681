"""Finding the digits of a number: composed from real MNIST test digits, hand-drawn cases, and bad input.

Numbers from MNIST digits are read by the committed CNN and checked against their labels; boxes are checked
against where each digit was placed. The hand-made cases are drawn with tests/synthetic.py's strokes.
"""

import functools
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

import model_defs
from digit_studio.core import preprocess, segmentation, synthetic

HAVE_MNIST = (synthetic.MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST test set is not in {synthetic.MNIST_DIR}")
CANVAS = (800, 400)


@functools.cache
def cnn():
    return model_defs.load_model("cnn")


def cnn_reads(digits: list[segmentation.Digit]) -> str:
    batch = np.stack([digit.image for digit in digits])[..., None]
    return "".join(str(label) for label in cnn().predict_on_batch(batch).argmax(axis=1))


def overlap(a, b) -> float:
    """Intersection over union of two boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(width, 0) * max(height, 0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def digit_mask(label: int, centre_x: float, seed: int = 0, height: float = 250, pen: float = 18) -> np.ndarray:
    rng = np.random.default_rng([label, seed])
    return np.asarray(synthetic.stroke_mask(label, CANVAS, height, (centre_x, CANVAS[1] / 2), pen, rng))


def sketch(*masks: np.ndarray) -> dict:
    return synthetic.sketch_value(synthetic.as_layer(Image.fromarray(np.maximum.reduce(masks))))


def assert_mnist_like(image: np.ndarray) -> None:
    assert image.shape == (28, 28) and image.dtype == np.float32 and image.max() == pytest.approx(1.0)
    rows, columns = np.flatnonzero(image.max(axis=1) > 0.05), np.flatnonzero(image.max(axis=0) > 0.05)
    assert 19 <= max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 <= 21
    indices = np.arange(28)
    centre = (image.sum(axis=1) @ indices / image.sum(), image.sum(axis=0) @ indices / image.sum())
    assert np.allclose(centre, 14, atol=1.0), centre


@needs_mnist
@pytest.mark.parametrize("length", [2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_sketched_mnist_numbers_are_found_boxed_and_read(length, seed):
    layer, text, boxes = synthetic.mnist_number(length, seed, "sketch")
    digits = segmentation.digits_in_sketch(synthetic.sketch_value(layer))
    assert len(digits) == length
    assert all(overlap(digit.box, box) > 0.75 for digit, box in zip(digits, boxes, strict=True))
    for digit in digits:
        assert_mnist_like(digit.image)
    assert sum(a == b for a, b in zip(cnn_reads(digits), text, strict=True)) >= length - 1


@needs_mnist
@pytest.mark.parametrize("length", [2, 4, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_photographed_mnist_numbers_are_read(length, seed):
    photo, text, _ = synthetic.mnist_number(length, seed, "photo")
    digits = segmentation.digits_in_image(photo)
    assert len(digits) == length
    assert [digit.box[0] for digit in digits] == sorted(digit.box[0] for digit in digits)
    assert sum(a == b for a, b in zip(cnn_reads(digits), text, strict=True)) >= length - 1


@needs_mnist
def test_tight_mnist_numbers_keep_their_digit_count():
    counts = [
        len(segmentation.digits_in_image(synthetic.mnist_number(4, seed, "sketch", "tight")[0])) for seed in range(10)
    ]
    assert counts.count(4) >= 9, counts


@needs_mnist
def test_boxes_are_in_the_pixels_of_a_large_reduced_photo():
    photo, text, _ = synthetic.mnist_number(3, 0, "photo")
    big = photo.resize((photo.width * 3, photo.height * 3), Image.Resampling.BICUBIC)  # read at a reduced size
    small_boxes = [digit.box for digit in segmentation.digits_in_image(photo)]
    big_boxes = [digit.box for digit in segmentation.digits_in_image(big)]
    assert all(overlap(tuple(3 * v for v in a), b) > 0.8 for a, b in zip(small_boxes, big_boxes, strict=True))


def test_drawn_number_on_the_wide_canvas():
    digits = segmentation.digits_in_sketch(synthetic.sketch_value(synthetic.drawn_number("2026")))
    assert cnn_reads(digits) == "2026"
    assert all(0 <= digit.box[0] < digit.box[2] <= 800 and 0 <= digit.box[1] < digit.box[3] <= 400 for digit in digits)


@pytest.mark.parametrize("pen", [6, 12, 18, 30])
def test_a_thick_pen_is_read_at_half_size_with_the_same_digits_and_boxes(pen, monkeypatch):
    value = sketch(*(digit_mask(label, 120 + 180 * index, pen=pen) for index, label in enumerate((2, 0, 2, 6))))
    halved = segmentation.digits_in_sketch(value)
    monkeypatch.setattr(segmentation, "HALVE_STROKE", np.inf)  # every pen at full size
    full = segmentation.digits_in_sketch(value)
    assert cnn_reads(halved) == cnn_reads(full) == "2026"
    for a, b in zip(halved, full, strict=True):
        assert max(abs(x - y) for x, y in zip(a.box, b.box, strict=True)) <= 1
        # the same 28x28 view to a few grey levels, or moved by a pixel where the centre of mass rounds the other way
        shifts = [np.roll(a.image, (dy, dx), axis=(0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert min(np.abs(shifted - b.image).mean() for shifted in shifts) < 0.01


def test_halving_averages_each_two_by_two_block_and_an_odd_edge_meets_paper():
    ink = np.arange(15, dtype=np.float32).reshape(3, 5)
    expected = [[(0 + 1 + 5 + 6) / 4, (2 + 3 + 7 + 8) / 4, (4 + 9) / 4], [(10 + 11) / 4, (12 + 13) / 4, 14 / 4]]
    assert np.array_equal(segmentation.halved(ink), np.float32(expected))


def test_halving_an_even_map_averages_its_blocks_and_leaves_the_map_as_it_was():
    ink = np.arange(16, dtype=np.float32).reshape(4, 4)
    expected = [[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4], [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]]
    assert np.array_equal(segmentation.halved(ink), np.float32(expected))
    assert np.array_equal(ink, np.arange(16, dtype=np.float32).reshape(4, 4))


def test_a_one_beside_a_seven():
    assert cnn_reads(segmentation.digits_in_sketch(sketch(digit_mask(1, 300), digit_mask(7, 450)))) == "17"


def test_a_five_with_a_detached_flag_is_one_digit():
    five = digit_mask(5, 400)
    flag = np.zeros_like(five)
    rows = np.flatnonzero(five.any(axis=1))
    top = rows[0] + 30  # cut the flag off below its own stroke
    flag[: rows[0] + 24] = five[: rows[0] + 24]
    body = five.copy()
    body[:top] = 0
    digits = segmentation.digits_in_sketch(sketch(flag, body))
    assert cnn_reads(digits) == "5"


def test_a_four_in_two_strokes_that_do_not_touch_and_a_broken_seven():
    four = np.asarray(synthetic.stroke_mask(4, CANVAS, 250, (250, 200), 18, np.random.default_rng(0))).copy()
    four[:, 300:320] = 0  # the vertical stroke no longer touches the bar
    seven = digit_mask(7, 560).copy()
    seven[240:252] = 0  # a break across the long stroke
    assert cnn_reads(segmentation.digits_in_sketch(sketch(four, seven))) == "47"


def test_three_touching_digits_are_cut_apart():
    """Touching digits are cut at the column of least ink once their group is too wide for one digit."""
    masks = [digit_mask(3, 250), digit_mask(8, 400), digit_mask(3, 550)]
    touching = np.maximum.reduce(masks)
    assert ndimage.label(touching > 64, structure=np.ones((3, 3)))[1] == 1  # one piece of ink
    digits = segmentation.digits_in_sketch(sketch(*masks))
    assert len(digits) >= 2 and all(a.box[2] <= b.box[0] for a, b in zip(digits, digits[1:], strict=False))


def test_dots_specks_and_a_hyphen_are_not_digits():
    masks = [digit_mask(4, 150), digit_mask(2, 650)]
    extra = Image.new("L", CANVAS)
    draw = ImageDraw.Draw(extra)
    draw.ellipse((390, 300, 408, 318), fill=255)  # a full stop
    draw.line((330, 200, 450, 200), fill=255, width=14)  # a hyphen
    for x, y in [(30, 30), (770, 380), (500, 40)]:
        draw.point((x, y), fill=255)  # specks
    assert cnn_reads(segmentation.digits_in_sketch(sketch(*masks, np.asarray(extra)))) == "42"


def test_one_digit_alone():
    digits = segmentation.digits_in_sketch(synthetic.sketch_value(synthetic.make("transparent_sketch", 6)))
    assert cnn_reads(digits) == "6"


def test_more_than_twelve_digits_is_a_clear_error():
    layer = synthetic.drawn_number("1234567890123", size=(2600, 400), height=180)
    with pytest.raises(preprocess.BadImageError, match="Found 13 separate marks, .* at most 12 digits"):
        segmentation.digits_in_sketch(synthetic.sketch_value(layer))


def noise_page() -> Image.Image:
    return Image.fromarray(np.random.default_rng(1).integers(0, 256, (600, 800, 3), dtype=np.uint8))


def ruled_page() -> Image.Image:
    page = Image.new("RGB", (800, 600), (250, 250, 245))
    draw = ImageDraw.Draw(page)
    for y in range(40, 600, 40):
        draw.line((0, y, 800, y), fill=(150, 170, 220), width=2)
    return page


def forty_dots() -> Image.Image:
    mask = Image.new("L", CANVAS)
    draw = ImageDraw.Draw(mask)
    for x, y in np.random.default_rng(2).integers((20, 20), (780, 380), (40, 2)):
        draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=255)
    return synthetic.as_layer(mask)


def scribble() -> Image.Image:
    mask = Image.new("L", CANVAS)
    points = [tuple(point) for point in np.random.default_rng(3).integers((50, 50), (750, 350), (60, 2))]
    ImageDraw.Draw(mask).line(points, fill=255, width=18)
    return synthetic.as_layer(mask)


def enormous_eight() -> Image.Image:
    mask = synthetic.stroke_mask(8, (3000, 3000), 2800, (1500, 1500), 90, np.random.default_rng(4))
    return synthetic.as_layer(mask)


@pytest.mark.parametrize(
    "make, outcome",
    [
        (noise_page, "No digit found|at most 12 digits"),
        (ruled_page, "No digit found"),
        (forty_dots, None),
        (scribble, None),
        (enormous_eight, "8"),
        (lambda: Image.fromarray(np.random.default_rng(5).integers(0, 256, (300, 400), dtype=np.uint8)), "marks"),
    ],
    ids=["noise", "ruled-lines", "forty-dots", "scribble", "enormous-digit", "grey-noise"],
)
def test_bad_input_gets_a_message_or_a_sensible_reading(make, outcome):
    try:
        reading = cnn_reads(segmentation.digits_in_image(make()))
    except (preprocess.NoDigitError, preprocess.BadImageError) as error:
        reading = str(error)
    if outcome is None:  # never one digit per dot, or per bend of a scribble
        assert len(reading) <= 3 or "No digit found" in reading
    else:
        assert re.search(outcome, reading), reading


def test_not_an_ink_map():
    with pytest.raises(preprocess.BadImageError, match="2-D ink map"):
        segmentation.digits_in_ink(np.zeros((4, 4, 4)))
    with pytest.raises(preprocess.NoDigitError):
        segmentation.digits_in_ink(np.zeros((40, 40)))
