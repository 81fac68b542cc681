"""How well the app reads whole numbers: numbers composed from real MNIST digits, read as the app reads them.

    python -m benchmarks.read_numbers                      # 500 4-digit numbers of each kind, MNIST test digits
    python -m benchmarks.read_numbers --split train        # the same on training digits: where thresholds were chosen
    python -m benchmarks.read_numbers --spacing touching   # digits whose ink touches or overlaps (the stretch goal)

Each number is digit_studio/core/synthetic.py's mnist_number: random MNIST digits of 75-100% of one height, on baselines
within ±10% of it, with gaps of 15-50% of the height ("ordinary"), as a transparent sketch layer and as a JPEG
photo of paper. Each goes through segmentation.digits_in_image, then both models in one batch each.
Prints, per kind, how often the digit count is right and how often each model reads the whole number right.
About 1 minute per 500 numbers on 2 cores.
"""

import argparse

import numpy as np

import model_defs
from digit_studio import answers
from digit_studio.core import preprocess, segmentation, synthetic


def read(models: dict, image) -> dict[str, str]:
    """Each model's number for a picture, "" when no digit is found or there are too many."""
    try:
        digits = segmentation.digits_in_image(image)
    except (preprocess.NoDigitError, preprocess.BadImageError):
        return dict.fromkeys(models, "")
    batch = np.stack([digit.image for digit in digits])
    return {
        name: "".join(str(label) for label in answers.predicted_digits(model, batch)) for name, model in models.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--spacing", choices=tuple(synthetic.SPACINGS), default="ordinary")
    parser.add_argument("--length", type=int, default=4, help="digits per number")
    parser.add_argument("--count", type=int, default=500, help="numbers of each kind")
    args = parser.parse_args()
    models = {name: model_defs.load_model(name) for name in model_defs.MODEL_NAMES}
    print(f"{args.count} numbers of {args.length} MNIST {args.split} digits each, {args.spacing} spacing")
    print("| kind | digit count right | CNN reads the number | dense network reads the number |")
    print("|---|---|---|---|")
    for kind in synthetic.NUMBER_KINDS:
        counted, right = 0, dict.fromkeys(models, 0)
        for seed in range(args.count):
            image, text, _ = synthetic.mnist_number(args.length, seed, kind, args.spacing, args.split)
            readings = read(models, image)
            counted += len(readings["cnn"]) == len(text)
            for name, reading in readings.items():
                right[name] += reading == text
        cells = " | ".join(f"{100 * value / args.count:.1f}%" for value in (counted, *right.values()))
        print(f"| {kind} | {cells} |")


if __name__ == "__main__":
    main()
