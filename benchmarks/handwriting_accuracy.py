"""Both committed models on the handwriting check set, style by style (handwriting_styles.py).

    python -m benchmarks.handwriting_accuracy                    # the committed weights/, about half a minute
    python -m benchmarks.handwriting_accuracy --weights-dir DIR  # other weights with their metrics.json
    python -m benchmarks.handwriting_accuracy --sheet out.png    # also a picture of the first drawings of each style
    python -m benchmarks.handwriting_accuracy --validation --weights-dir DIR  # other drawings, to choose a recipe on

Prints a markdown table: per style, its digits, how many drawings, each model's accuracy and the CNN's
most frequent wrong answer.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import model_defs
from digit_studio import answers
from digit_studio.core import handwriting_styles

SHEET_COLUMNS = 10
CELL = 96  # px per drawing on the sheet


def predictions(weights_dir: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    trained = json.loads((weights_dir / model_defs.METRICS_FILE).read_text())["models"]
    models = {name: model_defs.load_model(name, weights_dir) for name in model_defs.MODEL_NAMES if name in trained}
    return {name: answers.predicted_digits(model, images) for name, model in models.items()}


def table(labels: np.ndarray, styles: np.ndarray, predicted: dict[str, np.ndarray]) -> str:
    lines = [
        "| style | digits | drawings | CNN | dense | CNN's most frequent mistake |",
        "|---|---|---|---|---|---|",
    ]
    by_style = {
        model: handwriting_styles.accuracy_by_style(answers, labels, styles) for model, answers in predicted.items()
    }
    for name, style in handwriting_styles.STYLES.items():
        rows = styles == name
        mistake = "-"  # a run that trained the dense network alone
        if "cnn" in predicted:
            wrong = Counter(
                f"{label} read as {answer}"
                for label, answer in zip(labels[rows], predicted["cnn"][rows], strict=True)
                if label != answer
            )
            mistake = f"{wrong.most_common(1)[0][0]} ({wrong.most_common(1)[0][1]}x)" if wrong else "none"
        accuracy = dict.fromkeys(model_defs.MODEL_NAMES, "-")  # "-": a run that trained one model alone
        accuracy.update({model: f"{scores[name]:.0%}" for model, scores in by_style.items()})
        digits = "0-9" if len(style.digits) == 10 else ", ".join(map(str, style.digits))
        lines.append(f"| {name} | {digits} | {rows.sum()} | {accuracy['cnn']} | {accuracy['linear']} | {mistake} |")
    full, low = handwriting_styles.SCAN_TWINS
    gaps = [
        f"{model_defs.MODEL_TITLES[model]} {100 * (scores[low] - scores[full]):+.0f}"
        for model, scores in by_style.items()
    ]
    lines += ["", f"{low} against the same pages at full resolution, in points: {', '.join(gaps)}."]
    return "\n".join(lines)


def write_sheet(path: Path) -> None:
    """One row per style: its first drawings as drawn (ink dark), from the check set's own seeds."""
    seeds = handwriting_styles.check_seeds(SHEET_COLUMNS)
    sheet = Image.new("L", (SHEET_COLUMNS * CELL, len(handwriting_styles.STYLES) * CELL), 255)
    for index, entry in enumerate(seeds):
        drawn = handwriting_styles.style_drawing(*entry).resize((CELL, CELL), Image.Resampling.BOX)
        picture = drawn if handwriting_styles.STYLES[entry[0]].scan else ImageOps.invert(drawn)  # a scan: as is
        sheet.paste(picture, ((index % SHEET_COLUMNS) * CELL, (index // SHEET_COLUMNS) * CELL))
    sheet.save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=model_defs.WEIGHTS_DIR)
    parser.add_argument("--sheet", type=Path, help="write a PNG of each style's first drawings here")
    parser.add_argument(
        "--validation", action="store_true", help="as many other drawings of each style, to choose a recipe on"
    )
    args = parser.parse_args(argv)
    stream = handwriting_styles.VALIDATION_STREAM if args.validation else handwriting_styles.CHECK_STREAM
    images, labels, styles = handwriting_styles.check_set(stream=stream)
    print(table(labels, styles, predictions(args.weights_dir, np.asarray(images))))
    if args.sheet:
        write_sheet(args.sheet)


if __name__ == "__main__":
    main()
