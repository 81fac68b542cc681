"""The non-digit drawings: deterministic, on seeds apart from the check set, never the held-out shapes in training,
and prepared as the app prepares a sketch."""

import numpy as np
import pytest

from digit_studio.core import non_digits


def test_the_same_seed_draws_the_same_and_another_seed_another():
    first = non_digits.training_non_digits(30, 0)
    assert first.dtype == np.uint8 and first.shape == (30, 28, 28)
    assert np.array_equal(first, non_digits.training_non_digits(30, 0))
    assert not np.array_equal(first, non_digits.training_non_digits(30, 1))


def test_training_never_draws_a_held_out_shape():
    rng = np.random.default_rng(0)
    for kind, (shapes, _) in non_digits.KINDS.items():
        if isinstance(shapes, dict):
            drawn = {non_digits.non_digit(kind, rng, training=True)[1] for _ in range(60)}
            assert drawn and not drawn & non_digits.HELD_OUT
            assert drawn <= set(shapes)


def test_check_set_has_every_kind_and_the_held_out_shapes_and_none_of_the_training_drawings():
    images, kinds, shapes = non_digits.check_set()
    assert images.dtype == np.float32 and images.shape == (len(kinds), 28, 28)
    counts = dict(zip(*np.unique(kinds, return_counts=True), strict=True))
    assert counts == dict.fromkeys([*non_digits.CHECK_KINDS, "two digits overlapped"], non_digits.CHECK_PER_KIND)
    assert set(shapes) >= non_digits.HELD_OUT  # the shapes training never draws are scored
    validation = non_digits.check_set(stream=non_digits.VALIDATION_STREAM)[0]
    check_bytes = {image.tobytes() for image in np.round(images * 255).astype(np.uint8)}
    assert not check_bytes & {image.tobytes() for image in np.round(validation * 255).astype(np.uint8)}
    assert not check_bytes & {image.tobytes() for image in non_digits.training_non_digits(300, 0)}


def test_every_drawing_is_an_mnist_like_input():
    images, _, _ = non_digits.check_set()
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.all(images.reshape(len(images), -1).max(axis=1) == 1.0)
    rows = images.sum(axis=2) @ np.arange(28) / images.sum(axis=(1, 2))
    assert np.all(np.abs(rows - 13.5) < 1.5)  # centred by its centre of mass, as MNIST


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        non_digits.training_non_digits(-1)
