"""Honest confidences and the digit score: how sure each model is, and whether it knows the input is a digit.

- ``tempered(probabilities, temperature)``: temperature scaling (Guo, Pleiss, Sun and Weinberger, "On calibration
  of modern neural networks", ICML 2017): softmax(logits / T), computed from the probabilities themselves, as
  log p differs from the logits by a constant per row. One T per model, fitted on held-out MNIST digits by
  ``fit_temperature``, makes "91%" mean right about 91% of the time.
- ``calibration_error`` and ``reliability``: the expected calibration error over equal-width confidence bins, and
  the bins themselves for a reliability diagram.
- ``digit_score(probabilities)``: 1 minus the entropy of the answer over its largest possible value, log 10: 1
  for an answer all on one digit, 0 for an even spread. A model trained to spread its answer evenly over
  non-digits (outlier exposure, train.py) says "not a digit I know" through this score.
- ``auroc`` and ``threshold``: how well a score separates digits from non-digits, and the score below which a
  chosen share of digits falls.

Pure numpy; the thresholds and temperatures themselves are chosen by train.py on held-out images and kept in
metrics.json.
"""

import numpy as np

LOG_CLASSES = np.log(10)
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20), 2001))  # the fit's grid: 0.3% steps


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) over the last axis: T > 1 softens the answer, T < 1 sharpens it."""
    logs = np.log(np.maximum(np.asarray(probabilities, np.float64), 1e-30)) / temperature
    logs -= logs.max(axis=-1, keepdims=True)
    exp = np.exp(logs)
    return exp / exp.sum(axis=-1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that gives the held-out digits' labels the highest likelihood."""
    logs = np.log(np.maximum(np.asarray(probabilities, np.float64), 1e-30))
    logs -= logs.max(axis=1, keepdims=True)
    right = logs[np.arange(len(labels)), labels]

    def loss(temperature: float) -> float:
        scaled = logs / temperature
        return float(np.mean(np.log(np.exp(scaled).sum(axis=1)) - right / temperature))

    coarse = TEMPERATURES[::50]
    best = coarse[np.argmin([loss(t) for t in coarse])]
    fine = TEMPERATURES[(TEMPERATURES >= best / 1.2) & (TEMPERATURES <= best * 1.2)]
    return float(fine[np.argmin([loss(t) for t in fine])])


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict:
    """Per equal-width bin of top confidence: the count, the mean confidence and the share right."""
    confidence = np.max(probabilities, axis=1)
    right = np.argmax(probabilities, axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        return {
            "edges": np.linspace(0, 1, bins + 1),
            "counts": counts,
            "confidence": np.bincount(which, confidence, bins) / counts,
            "accuracy": np.bincount(which, right, bins) / counts,
        }


def calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the gap between confidence and accuracy, averaged over bins by their count."""
    table = reliability(probabilities, labels, bins)
    filled = table["counts"] > 0
    gaps = np.abs(table["confidence"][filled] - table["accuracy"][filled])
    return float(np.sum(gaps * table["counts"][filled]) / len(labels))


def digit_score(probabilities: np.ndarray) -> np.ndarray:
    """1 - entropy / log 10 per row: 1 when the answer is all on one digit, 0 when spread evenly over ten."""
    p = np.maximum(np.asarray(probabilities, np.float64), 1e-30)
    return np.clip(1 + np.sum(p * np.log(p), axis=-1) / LOG_CLASSES, 0.0, 1.0)


def scaled_score(score: np.ndarray | float, digit_threshold: float) -> np.ndarray:
    """A digit score rescaled so that the model's threshold falls at 0.5: linear from 0 to the threshold and from
    the threshold to 1, so every model's "digit or not" reads the same way."""
    score = np.asarray(score, np.float64)
    low = 0.5 * score / max(digit_threshold, 1e-12)
    high = 0.5 + 0.5 * (score - digit_threshold) / max(1 - digit_threshold, 1e-12)
    return np.where(score < digit_threshold, low, high)


def auroc(digits: np.ndarray, non_digits: np.ndarray) -> float:
    """The chance that a random digit scores higher than a random non-digit (ties count half)."""
    scores = np.concatenate([digits, non_digits])
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores[np.diff(np.sort(scores), prepend=np.nan) == 0]):  # tied scores share a rank
        ranks[scores == value] = ranks[scores == value].mean()
    wins = ranks[: len(digits)].sum() - len(digits) * (len(digits) + 1) / 2
    return float(wins / (len(digits) * len(non_digits)))


def threshold(digit_scores: np.ndarray, flagged_share: float) -> float:
    """The score below which flagged_share of these digits fall."""
    return float(np.quantile(digit_scores, flagged_share))
