"""Temperature scaling, calibration error, the digit score and AUROC, each against a case whose answer is known."""

import itertools

import numpy as np
import pytest

from digit_studio.core import confidence


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_tempered_is_softmax_of_the_logits_over_t():
    logits = np.random.default_rng(0).normal(0, 3, (50, 10))
    for temperature in (0.5, 1.0, 2.5):
        assert np.allclose(confidence.tempered(softmax(logits), temperature), softmax(logits / temperature))


def test_fit_temperature_finds_the_temperature_the_labels_were_drawn_with():
    """Labels drawn from softmax(logits / 2): the fitted temperature of softmax(logits) is 2."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (20000, 10))
    truth = softmax(logits / 2)
    labels = np.array([rng.choice(10, p=row) for row in truth])
    assert confidence.fit_temperature(softmax(logits), labels) == pytest.approx(2.0, rel=0.05)


def test_calibration_error_is_near_zero_for_honest_answers_and_the_gap_for_overconfident_ones():
    rng = np.random.default_rng(2)
    probabilities = softmax(rng.normal(0, 3, (40000, 10)))
    honest = np.array([rng.choice(10, p=row) for row in probabilities])
    assert confidence.calibration_error(probabilities, honest) < 0.01
    sure = np.tile([0.99] + [0.01 / 9] * 9, (1000, 1))  # 99% on 0, right half of the time
    labels = np.where(np.arange(1000) % 2, 0, 1)
    assert confidence.calibration_error(sure, labels) == pytest.approx(0.49, abs=1e-6)
    table = confidence.reliability(sure, labels)
    assert table["counts"].sum() == 1000 and table["counts"][-1] == 1000 and table["accuracy"][-1] == 0.5


def test_digit_score_is_one_for_a_sure_answer_and_zero_for_an_even_spread():
    sure, even = np.eye(10)[3], np.full(10, 0.1)
    half = np.array([0.5, 0.5] + [0.0] * 8)
    scores = confidence.digit_score(np.stack([sure, even, half]))
    assert scores == pytest.approx([1.0, 0.0, 1 - np.log(2) / np.log(10)])


def test_auroc_counts_the_pairs_a_digit_wins_ties_half():
    digits, non_digits = np.array([0.9, 0.5, 0.5, 0.2]), np.array([0.5, 0.1, 0.3])
    pairs = list(itertools.product(digits, non_digits))
    expected = sum(1.0 if d > n else 0.5 if d == n else 0.0 for d, n in pairs) / len(pairs)
    assert confidence.auroc(digits, non_digits) == pytest.approx(expected)
    assert confidence.auroc(np.array([1.0, 2.0]), np.array([0.0])) == 1.0


def test_threshold_flags_the_chosen_share_of_digits():
    scores = np.linspace(0, 1, 1001)
    assert np.mean(scores < confidence.threshold(scores, 0.02)) == pytest.approx(0.02, abs=0.001)


def test_scaled_score_puts_each_models_threshold_at_one_half():
    scores = np.linspace(0, 1, 101)
    for threshold in (0.05, 0.3, 0.9):
        scaled = confidence.scaled_score(scores, threshold)
        assert scaled[0] == 0.0 and scaled[-1] == pytest.approx(1.0)
        assert confidence.scaled_score(threshold, threshold) == pytest.approx(0.5)
        assert np.all(np.diff(scaled) > 0) and np.array_equal(scaled >= 0.5, scores >= threshold)
