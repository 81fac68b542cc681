"""The handwriting check set and training digits: deterministic, on disjoint seeds, MNIST-like, and digits.

The drawings must be what they claim: the committed CNN reads the plain style as its labels say, and the
continental shapes really carry their extra strokes. And both committed models, trained with such drawings, read
every style.
"""

import json
import shutil

import numpy as np
import pytest

import model_defs
from benchmarks import handwriting_accuracy
from digit_studio.answers import predicted_digits
from digit_studio.core import handwriting_styles


def test_accuracy_by_style_scores_each_style_on_its_own_drawings_only():
    labels = np.array([1, 1, 7, 7, 4])
    styles = np.array(["1 with flag", "1 with flag", "7 with crossbar", "7 with crossbar", "open-topped 4"])
    scores = handwriting_styles.accuracy_by_style(np.array([1, 7, 7, 7, 9]), labels, styles)
    assert list(scores) == list(handwriting_styles.STYLES)
    assert (scores["1 with flag"], scores["7 with crossbar"], scores["open-topped 4"]) == (0.5, 1.0, 0.0)


def test_the_same_seed_draws_the_same_digit_and_another_seed_another():
    first = np.asarray(handwriting_styles.style_drawing("1 with flag", 1, (5, 6)))
    assert np.array_equal(first, np.asarray(handwriting_styles.style_drawing("1 with flag", 1, (5, 6))))
    assert not np.array_equal(first, np.asarray(handwriting_styles.style_drawing("1 with flag", 1, (5, 7))))
    images, labels = handwriting_styles.training_digits(40, seed=3)
    again, again_labels = handwriting_styles.training_digits(40, seed=3)
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    assert not np.array_equal(images, handwriting_styles.training_digits(40, seed=4)[0])


def test_check_set_and_training_never_share_a_seed_or_a_drawing():
    check_seeds = {seed for _, _, seed in handwriting_styles.check_seeds()}
    validation_seeds = {
        seed for _, _, seed in handwriting_styles.check_seeds(stream=handwriting_styles.VALIDATION_STREAM)
    }
    training_seeds = {handwriting_styles.training_seed(seed, index) for seed in range(5) for index in range(2000)}
    seeded = {style.seeds or name for name, style in handwriting_styles.STYLES.items()}  # a scan's twins share
    assert len(check_seeds) == len(validation_seeds) == len(seeded) * handwriting_styles.CHECK_PER_STYLE
    assert not check_seeds & training_seeds and not validation_seeds & (check_seeds | training_seeds)
    check = {image.tobytes() for image in np.round(handwriting_styles.check_set()[0] * 255).astype(np.uint8)}
    training = handwriting_styles.training_digits(300, seed=0)[0]
    assert not check & {image.tobytes() for image in training}


def test_check_set_covers_each_style_with_its_digits():
    images, labels, styles = handwriting_styles.check_set()
    assert images.shape == (len(labels), 28, 28) and images.dtype == np.float32
    for name, style in handwriting_styles.STYLES.items():
        rows = styles == name
        assert rows.sum() == handwriting_styles.CHECK_PER_STYLE
        assert set(labels[rows]) == set(style.digits)


def assert_mnist_like(digit: np.ndarray) -> None:
    """MNIST's layout: longer side 20 px, centre of mass at the centre of the 28x28 field."""
    assert digit.shape == (28, 28) and 0 <= digit.min() and digit.max() == pytest.approx(1.0, abs=0.003)
    rows, columns = np.flatnonzero((digit > 0.05).any(axis=1)), np.flatnonzero((digit > 0.05).any(axis=0))
    assert 19 <= max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 <= 21
    indices = np.arange(28)
    centre = (digit.sum(axis=1) @ indices / digit.sum(), digit.sum(axis=0) @ indices / digit.sum())
    assert np.allclose(centre, 14, atol=1.0), centre


def test_every_drawing_is_laid_out_like_mnist():
    """Every drawing but the small scans, whose few blocky pixels the photo path may read as a digit and a speck."""
    images, _, styles = handwriting_styles.check_set()
    for digit in images[styles != handwriting_styles.SCAN_TWINS[1]]:
        assert_mnist_like(digit)
    images, labels = handwriting_styles.training_digits(200, seed=1)
    assert images.dtype == np.uint8 and np.bincount(labels).tolist() == [20] * 10
    for digit in images:
        assert_mnist_like(digit / np.float32(255))


def test_the_committed_cnn_reads_plain_drawings_as_their_digits(committed_models):
    images, labels, styles = handwriting_styles.check_set()
    plain = styles == "plain"
    answers = predicted_digits(committed_models["cnn"], np.round(images[plain] * 255).astype(np.uint8))
    assert np.mean(answers == labels[plain]) >= 0.95
    for digit in range(10):  # every digit, not just most of them
        assert np.mean(answers[labels[plain] == digit] == digit) >= 0.8


def test_both_committed_models_read_every_style_they_were_trained_to_read(committed_models):
    """Every style of the check set, which the recipe draws for training: 97% or more for the CNN, 95% for the
    dense network, the flagged 1 and the slashed 0 included."""
    images, labels, styles = handwriting_styles.check_set()
    for name, floor in (("cnn", 0.97), ("linear", 0.95)):
        answers = predicted_digits(committed_models[name], np.round(images * 255).astype(np.uint8))
        for style in handwriting_styles.STYLES:
            assert np.mean(answers[styles == style] == labels[styles == style]) >= floor, (name, style)


def test_both_committed_models_read_small_scans_within_two_points_of_the_whole_pages(committed_models):
    """The same pages scanned small: the photo path keeps their grey blocks as ink (preprocess.GRAIN_TAIL)."""
    images, labels, styles = handwriting_styles.check_set(styles=handwriting_styles.SCAN_TWINS)
    full, low = (styles == name for name in handwriting_styles.SCAN_TWINS)
    for name, model in committed_models.items():
        right = predicted_digits(model, np.round(images * 255).astype(np.uint8)) == labels
        assert right[low].mean() >= right[full].mean() - 0.02, name


def test_the_wider_mix_is_balanced_laid_out_as_mnist_and_not_the_nine_style_mix():
    """The recipe's training drawings: balanced digits, laid out as MNIST (its scans included), unlike the earlier
    nine-style mix's, and drawing the slashed 0 and long-tailed 9 shapes that mix has not."""
    images, labels = handwriting_styles.training_digits(300, seed=2, wider=True)
    assert np.bincount(labels).tolist() == [30] * 10
    for digit in images:
        assert_mnist_like(digit / np.float32(255))
    assert not np.array_equal(images, handwriting_styles.training_digits(300, seed=2)[0])
    assert {0, 9} <= set(handwriting_styles.WIDER_SHAPES) - set(handwriting_styles.STYLE_SHAPES)


def test_a_small_scan_is_the_same_page_blocky_with_few_grey_levels():
    full, low = handwriting_styles.SCAN_TWINS
    for digit, seed in ((3, (0, 1, 2)), (8, (4, 5, 6))):
        whole = np.asarray(handwriting_styles.style_drawing(full, digit, seed), np.float32)
        small = np.asarray(handwriting_styles.style_drawing(low, digit, seed), np.float32)
        assert whole.shape == small.shape and np.corrcoef(whole.ravel(), small.ravel())[0, 1] > 0.6  # the same page
        assert len(np.unique(small)) <= 8  # grey levels
        ink_rows = np.flatnonzero((small < small.max() - 1).any(axis=1))
        steps = np.count_nonzero(np.diff(small[ink_rows[0] : ink_rows[-1] + 1], axis=0).any(axis=1))
        assert 6 <= steps <= 17  # the digit's height in scanned pixels: 8-16 px, give or take an edge


def test_a_slashed_zero_carries_its_slash():
    images, labels, styles = handwriting_styles.check_set()
    zeros, slashed = images[(styles == "plain") & (labels == 0)], images[styles == "0 with slash"]
    middle = np.s_[:, 11:17, 11:17]  # the hole of an oval, the slash's crossing
    assert slashed[middle].mean() > 2 * zeros[middle].mean()


def mean_width(style: str, digit: int) -> float:
    """How wide, in the 28x28 field, the style draws this digit on average."""
    images, labels, styles = handwriting_styles.check_set()
    columns = (images[(styles == style) & (labels == digit)] > 0.3).any(axis=1)
    return float(np.mean([np.ptp(np.flatnonzero(row)) + 1 for row in columns]))


def test_continental_shapes_carry_their_extra_strokes():
    assert mean_width("1 with flag", 1) > 1.3 * mean_width("plain", 1)  # the flag
    images, labels, styles = handwriting_styles.check_set()

    def widest_base(digits):  # the longest run of ink in the bottom rows: a foot, or the stem alone
        return (digits[:, 20:24] > 0.5).sum(axis=2).max(axis=1).mean()

    assert widest_base(images[styles == "1 with flag and foot"]) > 2 * widest_base(images[styles == "1 with flag"])
    sevens = images[(labels == 7) & (styles != "marker")]

    def has_a_crossbar(digit):  # a row of at least 6 px of ink in the middle of the digit's height
        rows = np.flatnonzero((digit > 0.05).any(axis=1))
        top, height = rows[0], rows[-1] - rows[0]
        return (digit[top + int(0.35 * height) : top + int(0.75 * height) + 1] > 0.5).sum(axis=1).max() >= 6

    crossed = np.array([has_a_crossbar(digit) for digit in sevens])
    assert crossed[styles[(labels == 7) & (styles != "marker")] == "7 with crossbar"].mean() > 0.85
    assert crossed[styles[(labels == 7) & (styles != "marker")] != "7 with crossbar"].mean() < 0.2


def test_unknown_styles_digits_and_counts_are_refused():
    with pytest.raises(ValueError, match="unknown style"):
        handwriting_styles.style_drawing("copperplate", 1, 0)
    with pytest.raises(ValueError, match="draws only 7"):
        handwriting_styles.style_drawing("7 with crossbar", 1, 0)
    with pytest.raises(ValueError, match="count"):
        handwriting_styles.training_digits(-1)


def test_the_benchmark_scores_a_cnn_only_validation_run_on_the_validation_drawings(tmp_path, capsys):
    """A --validation run's folder holds the CNN alone: its table has the CNN's column and a dash for the dense one."""
    metrics = json.loads((model_defs.WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())
    metrics["models"] = {"cnn": metrics["models"]["cnn"]}
    (tmp_path / model_defs.METRICS_FILE).write_text(json.dumps(metrics))
    shutil.copy(model_defs.WEIGHTS_DIR / model_defs.weights_file("cnn"), tmp_path)
    handwriting_accuracy.main(["--validation", "--weights-dir", str(tmp_path)])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "%" in line]
    assert [row[0][2:] for row in rows] == list(handwriting_styles.STYLES)
    images, labels, styles = handwriting_styles.check_set(stream=handwriting_styles.VALIDATION_STREAM)
    predicted = model_defs.load_model("cnn").predict_on_batch(np.asarray(images)[..., None]).argmax(axis=1)
    for row, name in zip(rows, handwriting_styles.STYLES, strict=True):
        assert row[4] == "-"
        assert row[3] == f"{np.mean(predicted[styles == name] == labels[styles == name]):.0%}"
