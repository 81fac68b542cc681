"""Visitors' corrections read against the served models and the rest of the data before training on them, and the
retrained models checked against the served ones after.

Anyone can send a correction, so a few thousand of them can plant a label (every 1 a 7) or a backdoor (a small
patch that makes any digit a 7). Before training, ``screen`` sets aside, for a person to look at, each correction:

- **implausible label**: a digit label every served model finds implausible, giving it less probability than the
  level below which IMPLAUSIBLE_RATE of honest held-out labels fall;
- **not a digit, read as a digit**: "not a digit" on a drawing every served model reads as a digit with a digit
  score only CONFIDENT_DIGIT_RATE of honest held-out non-digits reach;
- **duplicate**: an image that is the same as an earlier correction's, or nearly: nearer to it than
  NEAR_DUPLICATE_RATE of honest held-out drawings are to their nearest neighbour (14x14, so a pixel of noise or a
  faint speck does not make it new);
- **over the class cap**: a label's corrections beyond CLASS_CAP of that class's training images (the first ones
  in the folder's order are kept).

The levels are fitted (``fit_levels``) on honest drawings the served models never trained on, at rates chosen
before any attack was tried: handwriting_styles' and non_digits' validation drawings. After training, ``fallen``
names the digits whose accuracy on such drawings fell more than GATE_MARGIN against the served models.

    levels = screening.honest_levels(served)     # served: images -> each served model's probabilities
    reasons = screening.screen(images, labels, served(images), levels, caps)   # None: kept; else why set aside
    screening.gate(served_cnn, new_cnn)           # {digit: (accuracy before, after)} of the digits that fell

No Keras here: the models come in as functions (or their probabilities as arrays). docs/corrections.md measures it
against a poisoning: python -m benchmarks.poisoning.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digit_studio.core import confidence, handwriting_styles, non_digits

Predict = Callable[[np.ndarray], list[np.ndarray]]  # N x 28 x 28 images in [0, 1] -> each model's N x 10

NOT_A_DIGIT = -1  # the label of a "not a digit" correction
IMPLAUSIBLE_RATE = 0.01  # the share of honest labels set aside as implausible (as DIGIT_FLAG_RATE in train.py)
CONFIDENT_DIGIT_RATE = 0.02  # the share of honest non-digits whose "not a digit" is set aside
NEAR_DUPLICATE_RATE = 0.005  # the share of honest drawings with a neighbour near enough to be a near-duplicate
CLASS_CAP = 0.1  # a label's corrections at most a tenth of that class's training images
GATE_MARGIN = 0.05  # a digit's accuracy may fall at most 5 points: above the noise of 100 or more drawings a digit
HONEST_PER_STYLE = 200  # handwriting validation drawings per style: 1,800, at least 100 of each digit
IMPLAUSIBLE, READ_AS_DIGIT, DUPLICATE, OVER_CAP = (
    "implausible label",
    "not a digit, read as a digit",
    "duplicate",
    "over the class cap",
)
REASONS = (IMPLAUSIBLE, READ_AS_DIGIT, DUPLICATE, OVER_CAP)


@dataclass(frozen=True)
class Levels:
    label: float  # a digit label is implausible when every model gives it less probability than this
    digit_score: tuple[float, ...]  # per model: "not a digit" is set aside when every score is above its level
    near: float  # two images nearer than this (pooled, L2) are near-duplicates


def label_support(probabilities: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """The most probability any model gives each row's label (digit labels only)."""
    rows = np.arange(len(labels))
    return np.max([p[rows, labels] for p in probabilities], axis=0)


def pooled(images: np.ndarray) -> np.ndarray:
    """N x 28 x 28 images in [0, 1] averaged over 2x2 blocks: N x 196."""
    images = np.asarray(images, np.float32).reshape(len(images), 14, 2, 14, 2)
    return images.mean(axis=(2, 4)).reshape(len(images), -1)


def distances(vectors: np.ndarray, block: int = 1000):
    """(start, rows x N squared distances) from each block of rows to every vector, so memory stays small."""
    norms = np.sum(vectors**2, axis=1)
    for start in range(0, len(vectors), block):
        part = vectors[start : start + block]
        yield start, np.maximum(norms[start : start + block, None] + norms[None] - 2 * part @ vectors.T, 0)


def nearest_distances(images: np.ndarray) -> np.ndarray:
    """Each image's distance to its nearest other image (pooled, L2)."""
    nearest = np.empty(len(images))
    for start, squared in distances(pooled(images)):
        squared[np.arange(len(squared)), start + np.arange(len(squared))] = np.inf
        nearest[start : start + len(squared)] = np.sqrt(squared.min(axis=1))
    return nearest


def near_earlier(images: np.ndarray, near: float) -> np.ndarray:
    """Per image: whether an earlier image lies nearer than near (pooled, L2)."""
    found = np.zeros(len(images), bool)
    for start, squared in distances(pooled(images)):
        rows = start + np.arange(len(squared))
        earlier = np.arange(len(images))[None] < rows[:, None]
        found[rows] = np.any((squared < near**2) & earlier, axis=1)
    return found


def fit_levels(
    digit_probabilities: list[np.ndarray],
    digit_labels: np.ndarray,
    digit_images: np.ndarray,
    non_digit_probabilities: list[np.ndarray],
) -> Levels:
    """The levels for screen, from honest held-out drawings: digits (each model's probabilities, their labels and
    the images) and non-digits (each model's probabilities), in the same order of models as screen gets."""
    return Levels(
        label=float(np.quantile(label_support(digit_probabilities, digit_labels), IMPLAUSIBLE_RATE)),
        digit_score=tuple(
            float(np.quantile(confidence.digit_score(p), 1 - CONFIDENT_DIGIT_RATE)) for p in non_digit_probabilities
        ),
        near=float(np.quantile(nearest_distances(digit_images), NEAR_DUPLICATE_RATE)),
    )


def class_caps(class_counts: dict[int, int], share: float = CLASS_CAP) -> dict[int, int]:
    """How many corrections each label (NOT_A_DIGIT included) may add, from its count of training images."""
    return {label: int(share * count) for label, count in class_counts.items()}


def screen(
    images: np.ndarray, labels: np.ndarray, probabilities: list[np.ndarray], levels: Levels, caps: dict[int, int]
) -> list[str | None]:
    """Per correction (images N x 28 x 28 in [0, 1], labels 0-9 or NOT_A_DIGIT, each served model's probabilities),
    None where it is kept, else the first reason (REASONS) it is set aside."""
    labels = np.asarray(labels)
    digit = labels != NOT_A_DIGIT
    reasons: list[str | None] = [None] * len(labels)
    support = label_support(probabilities, np.where(digit, labels, 0))
    scores = np.array([confidence.digit_score(p) for p in probabilities])
    read_as_digit = np.all(scores > np.array(levels.digit_score)[:, None], axis=0)
    duplicate = near_earlier(images, levels.near)
    kept = dict.fromkeys(caps, 0)
    for index, label in enumerate(labels.tolist()):
        if digit[index] and support[index] < levels.label:
            reasons[index] = IMPLAUSIBLE
        elif not digit[index] and read_as_digit[index]:
            reasons[index] = READ_AS_DIGIT
        elif duplicate[index]:
            reasons[index] = DUPLICATE
        elif kept.get(label, 0) >= caps.get(label, 0):
            reasons[index] = OVER_CAP
        else:
            kept[label] += 1
    return reasons


def per_digit_accuracy(predictions: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Each digit's share of right answers, for the digits labels holds."""
    return {int(digit): float(np.mean(predictions[labels == digit] == digit)) for digit in np.unique(labels)}


def fallen(before: dict[int, float], after: dict[int, float], margin: float = GATE_MARGIN) -> dict[int, tuple]:
    """The digits whose accuracy fell by more than margin from before to after: {digit: (before, after)}."""
    return {digit: (before[digit], after[digit]) for digit in before if before[digit] - after[digit] > margin}


def honest_digits() -> tuple[np.ndarray, np.ndarray]:
    """The honest held-out digits: handwriting_styles' validation drawings (N x 28 x 28 in [0, 1]) and labels, of
    the nine styles every served recipe has trained on (EARLIER_STYLES): levels fitted on styles a served model was
    never taught would let through labels it cannot judge."""
    images, labels, _ = handwriting_styles.check_set(
        HONEST_PER_STYLE, handwriting_styles.VALIDATION_STREAM, handwriting_styles.EARLIER_STYLES
    )
    return images, labels


def honest_levels(predict: Predict) -> Levels:
    """fit_levels on honest drawings the served models (predict) never trained on: handwriting_styles' and
    non_digits' validation drawings."""
    images, labels = honest_digits()
    others, _, _ = non_digits.check_set(stream=non_digits.VALIDATION_STREAM)
    return fit_levels(predict(images), labels, images, predict(others))


def gate(served: Predict, retrained: Predict, margin: float = GATE_MARGIN) -> dict[int, tuple]:
    """The digits a retrained model (retrained: its probabilities, in a list of one) reads worse than the served
    one by more than margin on the honest held-out digits: {digit: (accuracy before, after)}."""
    images, labels = honest_digits()
    before, after = (
        per_digit_accuracy(np.argmax(predict(images)[0], axis=1), labels) for predict in (served, retrained)
    )
    return fallen(before, after, margin)
