"""How the served models do on visitors' corrections: what visitors draw that the models miss.

    python -m benchmarks.corrections_accuracy corrections/            # the app's FEEDBACK_DIR
    python -m benchmarks.corrections_accuracy someone/digit-feedback  # or the Hub dataset FEEDBACK_REPO pushes to
    python -m benchmarks.corrections_accuracy DIR --weights-dir DIR   # weights retrained with --extra-data

Runs both models (weights/ unless --weights-dir) on each correction's 28x28 image and prints, per model, how many
of the digits it reads as the visitor's label, how many of the "not a digit" ones it flags, and the digits it
misses most. Seconds for a few thousand corrections.
"""

import argparse
import collections
from pathlib import Path

import model_defs
from digit_studio import answers, corrections, hub


def report(folder: Path) -> dict:
    """Per model: digits read right (of all digits), non-digits flagged (of all), and its misses by true label."""
    digits, labels, others = corrections.load(folder)
    digit_pairs, other_pairs = (
        answers.both(list(images.astype("float32") / 255)) if len(images) else [] for images in (digits, others)
    )
    figures = {}
    for name in model_defs.MODEL_NAMES:
        read = [answers.read_as(pair[name]) for pair in digit_pairs]
        flagged = sum(not pair[name]["is_digit"] for pair in other_pairs)
        misses = collections.Counter(int(true) for true, seen in zip(labels, read, strict=True) if seen != str(true))
        figures[name] = {
            "digits": len(digits),
            "read_right": len(digits) - sum(misses.values()),
            "non_digits": len(others),
            "flagged": flagged,
            "misses_by_label": dict(sorted(misses.items())),
        }
    return figures


def markdown(figures: dict, source: str) -> str:
    lines = [
        f"# Both models on the corrections in {source}",
        "",
        "| model | digits read as the visitor's label | non-digits flagged | missed most |",
        "|---|---:|---:|---|",
    ]
    for name, entry in figures.items():
        share = f"{entry['read_right'] / entry['digits']:.1%}" if entry["digits"] else "-"
        flagged = f"{entry['flagged'] / entry['non_digits']:.1%}" if entry["non_digits"] else "-"
        worst = sorted(entry["misses_by_label"].items(), key=lambda item: -item[1])[:3]
        lines.append(
            f"| {model_defs.MODEL_TITLES[name]} | {entry['read_right']} of {entry['digits']} ({share}) "
            f"| {entry['flagged']} of {entry['non_digits']} ({flagged}) "
            f"| {', '.join(f'{label} ({count})' for label, count in worst) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a corrections folder, or a Hub dataset repo")
    parser.add_argument("--weights-dir", type=Path, default=model_defs.WEIGHTS_DIR)
    args = parser.parse_args()
    answers.load(args.weights_dir)
    try:
        folder = hub.corrections_folder(args.source)
    except OSError as error:
        parser.error(f"{args.source}: {error}")
    print(markdown(report(folder), args.source))


if __name__ == "__main__":
    main()
