"""What the CNN recipe's clean epochs buy, measured on finished validation runs of the recipe without them.

    python train.py --model cnn --validation 5000 --seed 1 --set clean_epochs=0 --output-dir /tmp/s1  # and so on
    python -m experiments.clean_epochs --data-dir ../shared/mnist /tmp/s0 /tmp/s1 ...
    python -m experiments.clean_epochs --epochs 4 --learning-rate 3e-4 ...  # a variant of the phase

Each run's saved CNN (its weight average after the augmented epochs) goes through train.train_clean, the very
phase the recipe now ends with (RECIPES["cnn"]'s clean_epochs and clean_learning_rate, or --epochs and
--learning-rate), on the same training images and drawn digits as the run. Prints a markdown table: the
held-out MNIST accuracy before and after, and the worst style's accuracy on the validation drawings of
handwriting_styles.py. Nothing is written. One run takes about as long as that many training epochs (about
2 minutes for 2 on a 2-core CPU). docs/recipe.md has the figures it gave for the adopted phase.
"""

import argparse
import json
import sys
from pathlib import Path

import keras
import numpy as np

import model_defs
import train
from digit_studio import answers
from digit_studio.core import handwriting_styles, mnist_data


def worst_style(model: keras.Model, drawings: tuple) -> str:
    images, labels, styles = drawings
    predicted = answers.predicted_digits(model, images[..., 0])
    accuracy = handwriting_styles.accuracy_by_style(predicted, labels, styles)
    name = min(accuracy, key=accuracy.get)
    return f"{accuracy[name]:.0%} ({name})"


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> str:
    return f"{np.mean(answers.predicted_digits(model, images[..., 0]) == labels):.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="output dirs of train.py --validation runs of the CNN")
    parser.add_argument("--data-dir", help="folder with the four MNIST .gz IDX files (default: $MNIST_DIR)")
    parser.add_argument("--epochs", type=int, default=train.RECIPES["cnn"]["clean_epochs"])
    parser.add_argument("--learning-rate", type=float, default=train.RECIPES["cnn"]["clean_learning_rate"])
    args = parser.parse_args()
    (x_train, y_train), _ = mnist_data.load_mnist(args.data_dir)
    drawn, drawn_labels, styles = handwriting_styles.check_set(stream=handwriting_styles.VALIDATION_STREAM)
    drawings = np.asarray(drawn)[..., None], drawn_labels, styles
    clean = {"clean_epochs": args.epochs, "clean_learning_rate": args.learning_rate}
    print(f"clean phase: {clean}\n")
    print("| run | seed | validation, before | after | worst style, before | after |")
    print("|---|---|---|---|---|---|")
    for folder in args.runs:
        entry = json.loads((folder / model_defs.METRICS_FILE).read_text())["models"]["cnn"]
        recipe, seed = {**entry["recipe"], **clean}, entry["seed"]
        if not entry["validation_images"] or entry["recipe"].get("clean_epochs"):
            sys.exit(f"clean_epochs.py: error: {folder}: not a --validation run without clean epochs")
        (images, labels), validation = train.held_out(x_train, y_train, entry["validation_images"])
        images, labels = train.with_drawn_digits(images, labels, recipe.get("style_digits", 0), seed)
        model = model_defs.load_model("cnn", folder)
        before = accuracy(model, *validation), worst_style(model, drawings)
        keras.utils.set_random_seed(seed)
        train.train_clean(model, recipe, train.fit_arguments(images, labels, validation, recipe, verbose=0))
        print(
            f"| {folder.name} | {seed} | {before[0]} | {accuracy(model, *validation)} | {before[1]} | "
            f"{worst_style(model, drawings)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
