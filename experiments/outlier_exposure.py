"""How the recipe's last phase (outlier exposure, train.train_outliers) was chosen: on held-out images only.

    python train.py --validation 5000 --set outlier_epochs=0 --data-dir ../shared/mnist --output-dir DIR
    python -m experiments.outlier_exposure --data-dir ../shared/mnist DIR                       # the recipe's phase
    python -m experiments.outlier_exposure --data-dir ../shared/mnist DIR --set outlier_weight=0.5 --model cnn

The first command trains both models by the recipe without its last phase, holding out MNIST's last 5,000
training images. This script scores those models as they are, then runs the phase on them (the recipe's, changed
by --set) and scores them again, on what the recipe never trains on: the 5,000 held-out digits, the handwriting
validation set and the non-digit validation set (the check sets' twins, on other seeds). Each row: held-out and
handwriting accuracy, the calibration error before and after a temperature fitted on the first half of the
held-out digits (scored on the second half), the AUROC of the digit score (held-out digits against non-digits),
the non-digits flagged where 1% of held-out digits are, and the share of evidence maps on the first 200 held-out
digits read right that are mostly against the answer. About 2 minutes a model on 2 cores.
"""

import json
import sys
from pathlib import Path

import numpy as np

import model_defs
import train
from digit_studio.core import confidence, handwriting_styles, mnist_data, non_digits
from experiments.not_a_digit import maps_against, probabilities


def scores(model, held_out: tuple, styles: tuple, others: np.ndarray) -> dict:
    images, labels = held_out
    held, drawn, other = (probabilities(model, x) for x in (images, styles[0], others))
    half = len(labels) // 2
    temperature = confidence.fit_temperature(held[:half], labels[:half])
    digit_scores = confidence.digit_score(held)
    flag_at = confidence.threshold(digit_scores, train.DIGIT_FLAG_RATE)
    flags = {
        key: confidence.digit_score(p) < flag_at for key, p in (("held", held), ("drawn", drawn), ("other", other))
    }
    return {
        "flags": flags,
        "accuracy": float(np.mean(np.argmax(held, axis=1) == labels)),
        "handwriting": float(np.mean(np.argmax(drawn, axis=1) == styles[1])),
        "calibration_error": confidence.calibration_error(held[half:], labels[half:]),
        "after_temperature": confidence.calibration_error(confidence.tempered(held[half:], temperature), labels[half:]),
        "auroc": confidence.auroc(digit_scores, confidence.digit_score(other)),
        "flagged": float(np.mean(flags["other"])),
        "maps_against": maps_against(model, images[:200], labels[:200])["mostly_against"],
    }


def main(argv=None) -> None:
    parser = train.argument_parser("outlier_exposure.py", __doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a --validation run of the recipe with --set outlier_epochs=0")
    parser.add_argument("--model", choices=(*model_defs.MODEL_NAMES, "all"), default="all")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    entries = json.loads((run_dir / model_defs.METRICS_FILE).read_text())["models"]
    names = model_defs.MODEL_NAMES if args.model == "all" else (args.model,)
    try:
        (images, labels), _ = mnist_data.load_mnist(args.data_dir)
    except mnist_data.DataError as error:
        sys.exit(f"outlier_exposure.py: error: {error}")
    rows = []
    for name in names:
        entry = entries[name]
        if not entry["validation_images"] or entry["recipe"].get("outlier_epochs"):
            sys.exit(f"outlier_exposure.py: error: {run_dir}: not a --validation run without outlier epochs")
        phase = {key: value for key, value in train.RECIPES[name].items() if key in train.OUTLIER_KEYS}
        recipe = train.recipe_of({**entry["recipe"], **phase}, args)
        (x_train, y_train), held_out = train.held_out(images, labels, entry["validation_images"])
        x_train, y_train = train.with_drawn_digits(x_train, y_train, recipe.get("style_digits", 0), args.seed)
        held_out = held_out[0][..., 0], held_out[1]
        styles = handwriting_styles.check_set(stream=handwriting_styles.VALIDATION_STREAM)[:2]
        others, kinds, _ = non_digits.check_set(stream=non_digits.VALIDATION_STREAM)
        others = others[np.isin(kinds, non_digits.CHECK_KINDS)]
        model = model_defs.load_model(name, run_dir)
        before = scores(model, held_out, styles, others)
        fit = train.fit_arguments(
            x_train, y_train, (held_out[0][..., None], held_out[1]), {**recipe, "label_smoothing": 0}
        )
        train.train_outliers(model, recipe, fit, args.seed)
        after = scores(model, held_out, styles, others)
        setting = ", ".join(f"{key}={recipe[key]}" for key in train.OUTLIER_KEYS if key in recipe)
        rows += [(name, "as trained", before), (name, setting, after)]
    print(
        "| model | phase | held-out accuracy | handwriting | calibration error (after T) | AUROC "
        "| non-digits flagged at 1% | maps mostly against |\n|---|---|---|---|---|---|---|---|"
    )
    for name, setting, row in rows:
        print(
            f"| {name} | {setting} | {row['accuracy']:.2%} | {row['handwriting']:.1%} "
            f"| {row['calibration_error']:.2%} ({row['after_temperature']:.2%}) | {row['auroc']:.4f} "
            f"| {row['flagged']:.1%} | {row['maps_against']:.1%} |"
        )
    after = [row for _, setting, row in rows if setting != "as trained"]
    if len(after) == 2:  # the studio's verdict: not a digit when either model flags it
        either = {key: after[0]["flags"][key] | after[1]["flags"][key] for key in ("held", "drawn", "other")}
        print(
            f"\nEither model flags: {np.mean(either['held']):.2%} of held-out digits, {np.mean(either['drawn']):.2%} "
            f"of handwriting drawings, {np.mean(either['other']):.1%} of non-digits."
        )


if __name__ == "__main__":
    main()
