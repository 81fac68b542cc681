"""The preprocessing against inputs whose answer is known.

Every kind of synthetic input (tests/synthetic.py) must come out as MNIST's digits are: 28x28 float32
in [0, 1], white on black, the longer side 20 px, the centre of mass at the centre, strokes as wide and
as solid as MNIST's; the committed CNN must read each one correctly; empty or broken input must raise
the errors the app shows.
"""

import functools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from digit_studio.core import preprocess, synthetic

HAVE_MNIST = (synthetic.MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST test set is not in {synthetic.MNIST_DIR}")
# three digits of each kind, different from kind to kind, so that every digit is drawn somewhere
KIND_LABELS = [(kind, (3 * index + offset) % 10) for index, kind in enumerate(synthetic.KINDS) for offset in (0, 4, 8)]
CASES = [
    pytest.param(kind, label, marks=needs_mnist if kind in synthetic.MNIST_KINDS else ()) for kind, label in KIND_LABELS
]


@functools.cache
def synthetic_output(kind: str, label: int) -> np.ndarray:
    return preprocess.preprocess_image(synthetic.make(kind, label))


def assert_mnist_like(digit: np.ndarray) -> None:
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == pytest.approx(1.0)
    rows, columns = np.flatnonzero((digit > 0.05).any(axis=1)), np.flatnonzero((digit > 0.05).any(axis=0))
    assert 19 <= max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 <= 21
    indices = np.arange(28)
    centre = (digit.sum(axis=1) @ indices / digit.sum(), digit.sum(axis=0) @ indices / digit.sum())
    assert np.allclose(centre, 14, atol=1.0), centre
    # MNIST's 1st to 99th percentiles: 4% to 24% of the field is stroke; its median ink pixel is 0.6 or more
    assert 0.04 <= (digit > 0.5).mean() <= 0.25
    assert np.median(digit[digit > 0.1]) >= 0.6, "strokes are faint, not solid"


@pytest.mark.parametrize(("kind", "label"), CASES)
def test_every_kind_comes_out_like_mnist(kind, label):
    assert_mnist_like(synthetic_output(kind, label))


@pytest.mark.parametrize("label", [1, 4, 8])
def test_a_sketchpad_layer_is_read_from_its_alpha(label):
    layer = synthetic.make("transparent_sketch", label)
    digit = preprocess.preprocess_sketch(synthetic.sketch_value(layer))
    assert_mnist_like(digit)
    assert np.array_equal(digit, preprocess.preprocess_image(layer))


def test_a_thin_pen_is_thickened_to_mnist_width():
    image = synthetic.make("thin_pen", 2)
    assert (np.asarray(image.convert("L")) < 128).mean() < 0.01  # a hairline on the canvas
    # at least as much solid stroke as the thinnest 5% of MNIST's 2s have
    assert (preprocess.preprocess_image(image) > 0.5).sum() >= 72


@needs_mnist
def test_mnist_digits_come_back_nearly_unchanged():
    images, labels = synthetic.mnist_test_set()
    differences = [
        np.abs(preprocess.preprocess_image(Image.fromarray(image)) - image / np.float32(255)).mean()
        for image in images[:50]
    ]
    # most come back as they were; the thinnest get a little thicker
    assert np.mean(differences) < 0.03 and max(differences) < 0.1


@needs_mnist
def test_the_phone_photo_is_turned_upright_by_its_exif_tag():
    photo = synthetic.make("phone_photo_exif", 1)
    assert photo.width > photo.height  # the pixels lie on their side
    digit = synthetic_output("phone_photo_exif", 1)
    rows, columns = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert rows[-1] - rows[0] > 2 * (columns[-1] - columns[0])  # a standing 1, not a lying one


def test_a_few_specks_do_not_move_the_digit():
    ink = np.asarray(synthetic.make("transparent_sketch", 7), np.float32)[..., 3] / 255
    speckled = ink.copy()
    speckled[[20, 30, 780, 790], [15, 770, 25, 760]] = 1.0
    assert np.abs(preprocess.to_mnist(speckled) - preprocess.to_mnist(ink)).max() < 0.05


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "1", "I;16", "I", "RGBA"])
def test_every_image_mode_gives_the_same_digit(mode):
    image = synthetic.make("dark_mode", 5)
    expected = preprocess.preprocess_image(image)
    if mode in ("I;16", "I"):  # 16-bit grey, as scanners write it
        converted = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257).convert(mode)
    else:
        converted = image.convert(mode, dither=Image.Dither.NONE)
    assert np.abs(preprocess.preprocess_image(converted) - expected).mean() < 0.03


def test_a_palette_image_with_a_transparent_colour_uses_the_alpha():
    layer = synthetic.make("transparent_sketch", 3)
    palette = Image.fromarray((np.asarray(layer)[..., 3] > 127).astype(np.uint8), "P")
    palette.putpalette([255, 255, 255, 0, 0, 0])  # white paper, black ink ...
    palette.info["transparency"] = 0  # ... and the paper is see-through
    assert np.abs(preprocess.preprocess_image(palette) - preprocess.preprocess_image(layer)).mean() < 0.03


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (400, 300), "white"),
        Image.new("L", (64, 64), 128),
        Image.new("RGB", (28, 28), "black"),
        Image.new("RGBA", (800, 800), (0, 0, 0, 0)),
        synthetic.jpeg(synthetic.photograph(None, (600, 800), np.random.default_rng(0)), 70),
    ],
    ids=["blank white", "uniform grey", "all black", "empty transparent", "photo of blank paper"],
)
def test_no_ink_raises_no_digit_error(image):
    with pytest.raises(preprocess.NoDigitError, match="No digit found"):
        preprocess.preprocess_image(image)


def empty_layer(size: int = 800) -> np.ndarray:
    return np.zeros((size, size, 4), np.uint8)


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"background": None, "layers": None, "composite": None},
        {"background": None, "layers": [], "composite": None},
        {"layers": [empty_layer()]},
        synthetic.sketch_value(Image.fromarray(empty_layer())),
        synthetic.sketch_value(Image.fromarray(empty_layer()), dark=True),
    ],
    ids=["None", "no keys", "all None", "no layers", "empty layer", "empty light canvas", "empty dark canvas"],
)
def test_an_empty_sketch_raises_no_digit_error(value):
    with pytest.raises(preprocess.NoDigitError, match="No digit found"):
        preprocess.preprocess_sketch(value)


def test_a_sketch_falls_back_to_its_composite_then_its_background():
    digit = synthetic.make("dark_mode", 6)
    expected = preprocess.preprocess_image(digit)
    pixels = np.asarray(digit.convert("RGBA"))
    for value in (
        {"background": None, "layers": [empty_layer()], "composite": pixels},
        {"layers": None, "composite": np.asarray(digit)},
        {"background": pixels},
    ):
        assert np.array_equal(preprocess.preprocess_sketch(value), expected)


def test_layers_of_different_sizes_raise_bad_image_error():
    value = {"layers": [empty_layer(800), empty_layer(600)], "composite": None}
    with pytest.raises(preprocess.BadImageError, match="different sizes"):
        preprocess.preprocess_sketch(value)


@pytest.mark.parametrize("array", [np.zeros((10, 10, 2), np.uint8), np.zeros(5, np.uint8), np.zeros((0, 4, 4))])
def test_an_array_that_is_no_image_raises_bad_image_error(array):
    with pytest.raises(preprocess.BadImageError, match="Expected an image"):
        preprocess.preprocess_sketch({"layers": None, "composite": array})


def test_to_mnist_wants_a_2d_ink_map():
    with pytest.raises(preprocess.BadImageError):
        preprocess.to_mnist(np.ones((28, 28, 3), np.float32))
    with pytest.raises(preprocess.NoDigitError):
        preprocess.to_mnist(np.zeros((28, 28), np.float32))


def test_the_committed_cnn_reads_every_kind(committed_models):
    import keras

    cases = [(kind, label) for kind, label in KIND_LABELS if HAVE_MNIST or kind not in synthetic.MNIST_KINDS]
    digits = np.stack([synthetic_output(kind, label) for kind, label in cases])[..., None]
    predictions = np.argmax(keras.ops.convert_to_numpy(committed_models["cnn"](digits, training=False)), axis=1)
    wrong = [(*case, int(guess)) for case, guess in zip(cases, predictions, strict=True) if guess != case[1]]
    assert not wrong, f"misread (kind, label, prediction): {wrong}"


@pytest.mark.parametrize("kind", ["paper_photo", "dark_mode", "thin_pen"])
def test_a_large_photo_read_at_half_size_gives_the_digit_read_at_full_size(kind):
    image = synthetic.make(kind, 4).convert("RGB")
    assert max(image.size) // preprocess.FAST_SIDE >= 2  # so that the fast path is the one taken
    full_size = preprocess.to_mnist(preprocess.ink_from_opaque(image))
    assert np.abs(preprocess.preprocess_image(image) - full_size).mean() < 0.05


def with_rounded_corners(photo: Image.Image, radius: int = 60) -> Image.Image:
    """The photo as a phone screenshot or sticker export saves it: RGBA, its corners transparent (and black)."""
    mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, photo.width - 1, photo.height - 1), radius, fill=255)
    pixels = np.asarray(photo.convert("RGB").convert("RGBA")).copy()
    pixels[..., 3] = np.asarray(mask)
    pixels[pixels[..., 3] == 0, :3] = 0
    return Image.fromarray(pixels, "RGBA")


@needs_mnist
def test_a_paper_photo_with_transparent_corners_is_read_as_paper(committed_models):
    """A few see-through pixels do not make the alpha the ink: 20 photos read as well as without the corners."""
    import keras

    cases = [(label, seed) for label in range(10) for seed in (0, 1)]
    digits = np.stack(
        [
            preprocess.preprocess_image(with_rounded_corners(synthetic.make("paper_photo", label, seed)))
            for label, seed in cases
        ]
    )
    predictions = np.argmax(
        keras.ops.convert_to_numpy(committed_models["cnn"](digits[..., None], training=False)), axis=1
    )
    assert [int(p) for p in predictions] == [label for label, _ in cases]


@pytest.mark.parametrize("top, left", [(4, 4), (-3, 2), (10, 12), (-25, 30)])
def test_placing_a_digit_clips_what_sticks_out_of_the_field_as_pasting_it_would(top, left):
    digit = np.arange(20 * 14, dtype=np.float32).reshape(20, 14) + 1
    field = Image.new("F", (preprocess.FIELD_SIZE, preprocess.FIELD_SIZE))
    field.paste(Image.fromarray(digit), (left, top))
    assert np.array_equal(preprocess.placed(digit, top, left), np.asarray(field))


# A digit that fills its picture: each rule of the photo path (preprocess.py's docstring) on a picture built for it.


def cropped_bar_picture(paper: int = 245, ink: int = 30) -> Image.Image:
    """A 200x200 L with a 7 of strokes 50 px wide that reach three edges, as a crop of a bold digit would show."""
    image = Image.new("L", (200, 200), paper)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 199, 49), fill=ink)
    draw.rectangle((90, 50, 139, 199), fill=ink)
    return image


def test_a_stroke_wide_for_its_picture_is_ink_not_shading():
    ink = preprocess.ink_from_image(cropped_bar_picture())
    assert ink[25, 100] > 0.95 and ink[150, 115] > 0.95  # the middle of each stroke, not only its edges
    assert max(ink[60:, :80].max(), ink[60:, 150:].max()) < 0.05  # the paper


def test_light_ink_filling_its_picture_reads_as_the_dark_ink_does():
    dark = preprocess.ink_from_image(cropped_bar_picture())
    light = preprocess.ink_from_image(cropped_bar_picture(paper=30, ink=245))
    assert light[25, 100] > 0.95 and np.abs(dark - light).max() < 0.05


def test_shading_of_a_page_is_still_taken_away():
    """Paper lit from one side, from 240 down to 140, with a thin stroke: the shading is no ink."""
    shading = np.linspace(240, 140, 400, dtype=np.float32)[None, :].repeat(300, axis=0)
    shading[100:200, 195:205] = 30
    ink = preprocess.ink_from_image(Image.fromarray(shading.astype(np.uint8)))
    assert ink[150, 200] > 0.95 and np.delete(ink, np.s_[180:220], axis=1).max() < 0.05


def test_when_ink_reaches_the_border_the_noise_is_measured_on_the_paper():
    """Grainy paper, a strong stroke across the picture and a faint one: the faint stroke survives, the grain not."""
    rng = np.random.default_rng(0)
    pixels = 235 + rng.normal(0, 3, (120, 160))
    pixels[:, 10:30] = 40  # touches the top and bottom edges
    pixels[40:80, 100:106] = 150  # under half the strong stroke's contrast
    ink = preprocess.ink_from_image(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
    assert ink[40:80, 101:105].min() > 0.2
    assert np.percentile(ink[:, 40:90], 99) < 0.05


def test_a_small_scans_grey_blocks_at_the_border_are_ink_not_grain():
    """A blocky scan cropped to its digit: the darkest blocks reach the border in one place, half-grey ones (a
    stroke that covered half a scanned pixel) in several. The grey strokes survive, the grain not."""
    rng = np.random.default_rng(0)
    pixels = 235 + rng.normal(0, 3, (120, 160))
    pixels[:50, 20:24] = 40  # dark, from the top edge: under 1% of the border
    pixels[:, 60:72] = 138  # half-grey, from the top edge to the bottom one
    pixels[70:, 120:132] = 138  # half-grey, from the bottom edge
    ink = preprocess.ink_from_image(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
    assert ink[:, 62:70].min() > 0.3 and ink[75:, 122:130].min() > 0.3
    assert np.percentile(ink[:, 80:115], 99) < 0.05


@pytest.mark.parametrize("colour", [(0, 0, 0), (40, 90, 200)])
def test_a_transparent_drawing_that_fills_its_canvas_is_read_from_its_alpha(colour):
    """Mostly opaque, but every visible pixel the pen's colour: the alpha is the ink, not paper."""
    alpha = np.zeros((200, 120), np.uint8)
    alpha[:, 20:100] = 255  # a bold 1, cropped to its ink
    alpha[:, 18:20] = alpha[:, 100:102] = 128
    layer = Image.new("RGBA", (120, 200), (*colour, 0))
    layer.putalpha(Image.fromarray(alpha))
    assert np.array_equal(preprocess.ink_from_image(layer), alpha / np.float32(255))


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (200, 200), 0),
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 300), dtype=np.uint8)),
        Image.fromarray(
            (128 + 60 * np.sin(np.arange(400)[:, None] / 3 + np.arange(400)[None, :] / 5)).astype(np.uint8)
        ),
        Image.new("RGBA", (200, 200), (0, 0, 0, 255)),
    ],
    ids=["black square", "page of noise", "textured surface", "opaque black layer"],
)
def test_a_picture_with_no_digit_in_it_gets_an_answer_or_no_digit_found(image):
    try:
        digit = preprocess.preprocess_image(image)
    except preprocess.NoDigitError:
        return
    assert digit.shape == (28, 28) and np.isfinite(digit).all()


def test_a_digit_cropped_through_its_strokes_gets_an_answer_or_no_digit_found():
    for label in range(10):
        digit = np.asarray(synthetic.make("transparent_sketch", label))[100:700, 250:550, 3]
        try:
            preprocess.preprocess_image(Image.fromarray(255 - digit))
        except preprocess.NoDigitError:
            pass


def test_heaviest_rows_and_columns_on_different_specks_are_no_digit():
    ink = np.zeros((200, 200), np.float32)
    ink[0:4, 0:100] = ink[0:4, 150:161] = 1.0  # the heaviest rows
    ink[100:200, 196:200] = ink[50:61, 196:200] = 1.0  # the heaviest columns
    with pytest.raises(preprocess.NoDigitError):
        preprocess.to_mnist(ink)


FILLED = {
    "dark on white": lambda digit: synthetic.dark_on_white(synthetic.enlarged(digit, 200)),
    "blurred": lambda digit: synthetic.dark_on_white(synthetic.enlarged(digit, 200)).filter(
        ImageFilter.GaussianBlur(4)
    ),
    "light on dark": lambda digit: synthetic.enlarged(digit, 200),
    "32 px high": lambda digit: synthetic.dark_on_white(synthetic.enlarged(digit, 32)),
    "sketch layer": lambda digit: synthetic.as_layer(synthetic.enlarged(digit, 400)),
}


@pytest.mark.parametrize("preparation", FILLED)
def test_mnist_digits_cropped_to_their_ink_read_as_well_as_mnist(preparation, committed_models, mnist_test):
    """The first 100 test digits cropped so that their ink touches all four edges, read through the photo path."""
    import keras

    images, labels = mnist_test
    digits = np.stack(
        [preprocess.preprocess_image(FILLED[preparation](synthetic.ink_box(image))) for image in images[:100]]
    )
    predictions = np.argmax(keras.ops.convert_to_numpy(committed_models["cnn"](digits[..., None], training=False)), 1)
    assert (predictions == labels[:100]).mean() >= 0.98
