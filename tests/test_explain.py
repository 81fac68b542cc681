"""explain.py on the committed weights and real MNIST test digits: faithful maps, true insides, exact transforms."""

import re

import keras
import numpy as np
import pytest

import model_defs
from conftest import MNIST_SUBSET
from digit_studio.core import explain, mnist_data

DIGIT_COUNT = 40


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    return images[:DIGIT_COUNT].astype(np.float32) / 255, labels[:DIGIT_COUNT]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks = [np.argsort(np.argsort(values)).astype(float) for values in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


@pytest.mark.parametrize("name", model_defs.MODEL_NAMES)
def test_label_and_confidence_are_the_models_own(committed_models, digits, name):
    images, labels = digits
    probabilities = committed_models[name].predict_on_batch(images[:10, ..., None])
    for image, expected in zip(images[:10], probabilities, strict=True):
        result = explain.evidence(committed_models[name], image)
        assert result["label"] == int(np.argmax(expected))
        np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)
        assert result["confidence"] == pytest.approx(float(expected.max()), abs=1e-5)
        assert result["saliency"].shape == (28, 28) and np.all(result["saliency"][image == 0] == 0)


@pytest.mark.parametrize("name", model_defs.MODEL_NAMES)
def test_blanking_the_top_ranked_pixels_hurts_far_more_than_random_ink(committed_models, digits, name):
    """Deletion test: blank the 10% of ink pixels the map ranks highest, or as many random ink pixels."""
    model, rng = committed_models[name], np.random.default_rng(0)

    def confidence(image: np.ndarray, blanked: np.ndarray, label: int) -> float:
        image = image.ravel().copy()
        image[blanked] = 0
        return float(model.predict_on_batch(image.reshape(1, 28, 28, 1))[0, label])

    top_drops, random_drops = [], []
    for image in digits[0]:
        result = explain.evidence(model, image)
        ink = np.flatnonzero(image.ravel() > 0)
        count = len(ink) // 10
        top = np.argsort(-result["saliency"].ravel())[:count]
        top_drops.append(result["confidence"] - confidence(image, top, result["label"]))
        random_drops += [
            result["confidence"] - confidence(image, rng.choice(ink, count, replace=False), result["label"])
            for _ in range(3)
        ]
    # the README's figures: python -m pytest tests/test_explain.py -k blanking -s
    print(f"\n{name}: top 10% of ink {np.mean(top_drops):.3f}, random ink {np.mean(random_drops):.3f}")
    # Floor, not target: label smoothing caps the CNN's confidence near 91%, and after its clean epochs it keeps its
    # answer on most digits with a tenth of their ink gone (0.17 on average, against 0.31 before them)
    assert np.mean(top_drops) > 0.15
    assert np.mean(top_drops) > 8 * np.mean(random_drops)


@pytest.mark.parametrize("name", model_defs.MODEL_NAMES)
def test_maps_change_when_the_weights_are_randomised(committed_models, digits, name):
    """Adebayo et al. 2018: a map that survives random weights shows the input, not the model."""
    keras.utils.set_random_seed(1)
    untrained, reloaded = model_defs.build(name), model_defs.load_model(name)
    correlations = []
    for index, image in enumerate(digits[0][:20]):
        ink = image.ravel() > 0
        trained_map = explain.evidence(committed_models[name], image)["saliency"].ravel()[ink]
        if index == 0:  # the measure itself: the same weights in another model object give the same map
            assert spearman(trained_map, explain.evidence(reloaded, image)["saliency"].ravel()[ink]) > 0.999
        correlations.append(spearman(trained_map, explain.evidence(untrained, image)["saliency"].ravel()[ink]))
    assert np.mean(correlations) < 0.3  # measured: about 0.05 for both models


def test_feature_maps_are_the_convolutions_outputs(committed_models, digits):
    cnn, image = committed_models["cnn"], digits[0][0]
    first, second = explain.feature_maps(cnn, image)
    assert first.shape == (28, 28, 32) and second.shape == (10, 10, 48)
    kernel, bias = (keras.ops.convert_to_numpy(weight) for weight in cnn.layers[0].weights)
    padded = np.pad(image, 2)  # the first convolution is 5x5 with "same" padding
    for row, column in [(14, 14), (5, 20), (0, 0)]:
        patch = padded[row : row + 5, column : column + 5]
        expected = np.maximum(np.einsum("ij,ijk->k", patch, kernel[:, :, 0, :]) + bias, 0)
        np.testing.assert_allclose(first[row, column], expected, atol=1e-4)
    assert (second >= 0).all() and second.max() > 0
    grids = explain.feature_grids([first, second])
    assert [picture.dtype for picture in grids] == [np.uint8, np.uint8]


def test_active_units_are_the_strongest_of_the_first_dense_layer(committed_models, digits):
    linear, image = committed_models["linear"], digits[0][0]
    first_layer = keras.Model(linear.inputs, linear.layers[1].output)
    activations = np.asarray(first_layer.predict_on_batch(image[None, ..., None]))[0]
    units = explain.active_units(linear, image)
    assert [unit["unit"] for unit in units] == list(np.argsort(-activations)[: explain.TEMPLATE_COUNT])
    for unit in units:
        assert unit["activation"] == pytest.approx(float(activations[unit["unit"]]), rel=1e-4, abs=1e-5)
        assert unit["template"].shape == (28, 28)
    assert explain.template_grid(units).shape[0] == 28 * 4


def test_stress_identity_and_integer_shifts_are_exact(digits):
    image = digits[0][0]
    np.testing.assert_array_equal(explain.stress(image), image)
    moved = explain.stress(image, shift_x=3, shift_y=-2)
    expected = np.zeros_like(image)
    expected[:-2, 3:] = image[2:, :-3]
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    # 8 px at both limits: the digit partly leaves the field and is not brought back
    assert explain.stress(image, shift_x=8, shift_y=8).sum() < image.sum()


def test_stress_rotates_anticlockwise_and_scales_about_the_centre():
    dot = np.zeros((28, 28), np.float32)
    dot[4, 14] = 1  # 10 px above the centre
    rotated = explain.stress(dot, rotation=45)
    row, column = np.unravel_index(np.argmax(rotated), rotated.shape)
    assert row < 14 and column < 14  # up and to the left
    enlarged = explain.stress(dot, scale=1.4)
    assert np.unravel_index(np.argmax(enlarged), enlarged.shape) == (0, 14)


def test_thicken_and_thin(digits):
    image = digits[0][0]
    assert explain.stress(image, thickness=1).sum() > image.sum() > explain.stress(image, thickness=-1).sum()
    half = explain.stress(image, thickness=0.5).sum()
    assert image.sum() < half < explain.stress(image, thickness=1).sum()
    assert explain.stress(image, thickness=-2).max() <= 1 and explain.stress(image, thickness=2).max() <= 1


def test_stress_controls_at_their_limits_work_and_beyond_them_are_refused(digits):
    image = digits[0][0]
    for name, (lowest, highest, _) in explain.STRESS_LIMITS.items():
        for value in (lowest, highest):
            moved = explain.stress(image, **{name: value})
            assert moved.shape == (28, 28) and moved.dtype == np.float32 and 0 <= moved.min() <= moved.max() <= 1
        for bad in (highest + 0.01, lowest - 0.01, float("nan"), "a lot"):
            with pytest.raises(ValueError, match=re.escape(explain.STRESS_TITLES[name])):
                explain.stress(image, **{name: bad})
    with pytest.raises(ValueError, match="Unknown stress controls: zoom"):
        explain.stress(image, zoom=2)


def test_overlay_colours_evidence_for_red_and_against_blue(digits):
    image = digits[0][0]
    saliency = np.zeros_like(image)
    saliency[10, 10], saliency[20, 20] = 1.0, -1.0
    picture = explain.overlay(image, saliency, zoom=2)
    assert picture.shape == (56, 56, 3) and picture.dtype == np.uint8
    red, blue = picture[20, 20], picture[40, 40]
    assert red[0] > 200 > red[2] and blue[2] > 200 > blue[0]


def test_a_typed_control_value_past_its_range_stands_at_the_nearest_end():
    clamped = explain.clamp_stress({"rotation": 90, "shift_x": -20.5, "scale": 1.1, "thickness": "thick"})
    assert clamped == {"rotation": 45.0, "shift_x": -8.0, "scale": 1.1, "thickness": "thick"}
    with pytest.raises(ValueError, match="must be a number"):
        explain.check_stress(clamped)  # what is not a number is still refused, by name
    assert np.isnan(explain.clamp_stress({"rotation": float("nan")})["rotation"])
