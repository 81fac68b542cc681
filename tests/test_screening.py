"""screening.py: which corrections are set aside before training, and which digits the gate finds fallen."""

import json

import numpy as np
import pytest

from conftest import REPO
from digit_studio.core import screening

RNG = np.random.default_rng(0)
LEVELS = screening.Levels(label=0.2, digit_score=(0.6, 0.6), near=0.5)


def sure_of(digit: int, share: float = 0.97) -> np.ndarray:
    """One model's answer: share on digit, the rest spread over the other nine."""
    answer = np.full(10, (1 - share) / 9)
    answer[digit] = share
    return answer


def strokes(count: int) -> np.ndarray:
    """Distinct 28x28 images in [0, 1]: a bar at a different place each."""
    images = np.zeros((count, 28, 28), np.float32)
    for index in range(count):
        row, column = 2 + (index * 5) % 20, 2 + (index * 3) % 20
        images[index, row : row + 6, column : column + 3] = 1
    return images


def screen(images, labels, answers, caps=None) -> list:
    caps = caps or dict.fromkeys([*range(10), screening.NOT_A_DIGIT], 100)
    return screening.screen(images, np.array(labels), [np.array(answers)] * 2, LEVELS, caps)


def test_a_digit_label_both_models_find_implausible_is_set_aside():
    reasons = screen(strokes(3), [7, 1, 4], [sure_of(1), sure_of(1), sure_of(9, 0.75)])
    assert reasons == [screening.IMPLAUSIBLE, None, screening.IMPLAUSIBLE]
    one_model_agrees = [np.array([sure_of(1)]), np.array([sure_of(7)])]  # the other model backs the label
    assert screening.screen(strokes(1), np.array([7]), one_model_agrees, LEVELS, {7: 10}) == [None]


def test_not_a_digit_on_what_both_models_read_confidently_as_a_digit_is_set_aside():
    spread = np.full(10, 0.1)
    reasons = screen(strokes(2), [screening.NOT_A_DIGIT] * 2, [sure_of(3, 0.999), spread])
    assert reasons == [screening.READ_AS_DIGIT, None]


def test_duplicates_and_near_duplicates_of_an_earlier_correction_are_set_aside():
    images = strokes(3)
    noisy = np.clip(images[0] + RNG.normal(0, 0.02, (28, 28)), 0, 1)
    images = np.concatenate([images, images[:1], noisy[None]])
    reasons = screen(images, [1] * 5, [sure_of(1)] * 5)
    assert reasons == [None, None, None, screening.DUPLICATE, screening.DUPLICATE]


def test_a_label_beyond_its_cap_is_set_aside_and_the_first_ones_kept():
    caps = screening.class_caps({1: 25, 7: 100, screening.NOT_A_DIGIT: 10})
    assert caps == {1: 2, 7: 10, screening.NOT_A_DIGIT: 1}
    labels = [1, 1, 7, 1, screening.NOT_A_DIGIT, screening.NOT_A_DIGIT, 4]
    answers = [sure_of(1)] * 2 + [sure_of(7), sure_of(1)] + [np.full(10, 0.1)] * 2 + [sure_of(4)]
    reasons = screen(strokes(7), labels, answers, caps)
    assert reasons == [None, None, None, screening.OVER_CAP, None, screening.OVER_CAP, screening.OVER_CAP]


def test_levels_are_fitted_at_the_stated_rates_of_honest_drawings():
    labels = np.arange(1000) % 10
    support = np.linspace(0.01, 1, 1000)  # the probability each honest label gets
    answers = np.array([sure_of(label, share) for label, share in zip(labels, support, strict=True)])
    others = np.array([sure_of(0, share) for share in np.linspace(0.1, 1, 500)])
    drawings = (RNG.random((1000, 28, 28)) < 0.1).astype(np.float32)
    levels = screening.fit_levels([answers, answers], labels, drawings, [others, others * 0 + 0.1])
    assert levels.label == pytest.approx(np.quantile(support, screening.IMPLAUSIBLE_RATE))
    kept = screening.screen(drawings, labels, [answers] * 2, levels, dict.fromkeys(range(10), 1000))
    assert np.mean([reason == screening.IMPLAUSIBLE for reason in kept]) == pytest.approx(0.01, abs=0.002)
    assert levels.digit_score[1] == pytest.approx(0.0, abs=1e-9)  # an even spread scores 0
    nearest = screening.nearest_distances(drawings)
    assert levels.near == pytest.approx(np.quantile(nearest, screening.NEAR_DUPLICATE_RATE))
    assert np.mean(nearest < levels.near) == pytest.approx(screening.NEAR_DUPLICATE_RATE, abs=0.002)


def test_the_gate_names_the_digits_whose_accuracy_fell_beyond_the_margin():
    before = {1: 0.99, 3: 0.98, 7: 0.97}
    after = {1: 0.20, 3: 0.95, 7: 0.99}
    assert screening.fallen(before, after) == {1: (0.99, 0.20)}
    assert screening.fallen(before, after, margin=0.02) == {1: (0.99, 0.20), 3: (0.98, 0.95)}
    predictions, labels = np.array([1, 1, 7, 3]), np.array([1, 1, 1, 3])
    assert screening.per_digit_accuracy(predictions, labels) == {1: pytest.approx(2 / 3), 3: 1.0}


def test_the_poisoning_table_is_the_kept_results():
    """docs/corrections.md's table is benchmarks/results/poisoning.json's runs, figure for figure."""
    results = json.loads((REPO / "benchmarks" / "results" / "poisoning.json").read_text())
    rows = {}
    for line in (REPO / "docs" / "corrections.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if cells and cells[0].split(" (")[0] in results["runs"]:
            rows[cells[0].split(" (")[0]] = cells
    assert set(rows) == set(results["runs"])
    for name, figures in results["runs"].items():
        keys = ("accuracy", "ones_read_as_seven", "threes_flagged", "patched_read_as_backdoor")
        shown = [cell.strip("*") for cell in rows[name][1:5]]
        assert shown == [f"{figures[key]:.2f}%" for key in keys], name
        assert rows[name][5] == f"{figures['honest_used']} of {results['honest']}"
