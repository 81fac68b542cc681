"""How well the photo path reads a digit that fills its picture: cropped to its ink, small, blurred, or huge.

    python -m benchmarks.filled_pictures --data-dir ../shared/mnist                 # the first 300 test digits
    python -m benchmarks.filled_pictures --data-dir ../shared/mnist --split train   # where rules are chosen
    python -m benchmarks.filled_pictures --data-dir ../shared/mnist --start 5000 --count 1000

Each MNIST digit (white on black, 28x28) is prepared as a person might upload it: the whole field or only the
ink's box (with a 2 px margin at 28 px scale, or none, so that the ink touches all four edges), enlarged with
bicubic resampling to a given height, as dark ink on white or light on dark, sharp or blurred, and as a
transparent sketch layer. Each picture goes through preprocess.preprocess_image, as the app and the JSON
route read an upload, then both committed models. A last row draws plain digits with the Sketchpad's 18 px
brush across its whole 800x800 canvas (handwriting_styles' strokes, seeds 0 to 9 of each digit).
Prints a markdown table of each preparation and each model's accuracy, "No digit found" counting as wrong.
About 20 s for 300 digits on 2 cores.
"""

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

import model_defs
from digit_studio import answers
from digit_studio.core import handwriting_styles, mnist_data, preprocess, synthetic
from digit_studio.core.synthetic import dark_on_white, enlarged, ink_box

CANVAS_SIDE = 800  # the Sketchpad's canvas
BRUSH = 18  # px, the Sketchpad's brush


def preparations(digit: np.ndarray) -> dict[str, Image.Image]:
    """One MNIST digit prepared each way the table lists, keyed by the table's wording."""
    cropped = enlarged(ink_box(digit), 200)
    prepared = {
        "28x28 as they are, enlarged to 200 px": dark_on_white(enlarged(digit, 200)),
        "cropped to the ink's box with a 2 px margin, 200 px": dark_on_white(enlarged(ink_box(digit, 2), 200)),
        "**cropped to the ink's box, touching all four edges, 200 px**": dark_on_white(cropped),
        "the same, blurred (Gaussian, 4 px)": dark_on_white(cropped).filter(ImageFilter.GaussianBlur(4)),
        "the same, light ink on dark": cropped,
        "the same, light ink on dark, blurred": cropped.filter(ImageFilter.GaussianBlur(4)),
    }
    for height in (24, 32, 40):
        prepared[f"cropped to the ink's box, {height} px high (a small scan)"] = dark_on_white(
            enlarged(ink_box(digit), height)
        )
    prepared["cropped to the ink's box with a 2 px margin, 32 px high"] = dark_on_white(enlarged(ink_box(digit, 2), 32))
    prepared["28x28 as a transparent sketch layer, enlarged to 400 px"] = synthetic.as_layer(enlarged(digit, 400))
    prepared["cropped to the ink's box as a sketch layer, 400 px high"] = synthetic.as_layer(
        enlarged(ink_box(digit), 400)
    )
    return prepared


def brush_drawing(label: int, seed: int) -> Image.Image:
    """A plain digit drawn with the Sketchpad's brush, its ink touching all four edges of the canvas."""
    rng = np.random.default_rng([label, seed])
    strokes = handwriting_styles.plain(label, rng)
    height = CANVAS_SIDE - BRUSH
    paths = handwriting_styles.place(
        strokes, height, height * rng.uniform(0.55, 0.7), rng.uniform(-0.25, 0.1), math.radians(rng.uniform(-6, 6)), rng
    )
    low, high = np.min([path.min(0) for path in paths], 0), np.max([path.max(0) for path in paths], 0)
    scale = (CANVAS_SIDE - BRUSH) / (high - low)  # each axis on its own: the ink reaches every edge
    paths = [(path - low) * scale + BRUSH / 2 for path in paths]
    mask = handwriting_styles.draw(paths, (CANVAS_SIDE, CANVAS_SIDE), (0, 0), BRUSH, 2)
    return synthetic.as_layer(mask)


def read(models: dict, images: list[Image.Image]) -> dict[str, np.ndarray]:
    """Each model's answers for the pictures through the photo path; -1 where no digit is found."""
    digits, found = [], []
    for image in images:
        try:
            digits.append(preprocess.preprocess_image(image))
            found.append(True)
        except preprocess.NoDigitError:
            digits.append(np.zeros((preprocess.FIELD_SIZE, preprocess.FIELD_SIZE), np.float32))
            found.append(False)
    batch = np.stack(digits)
    return {name: np.where(found, answers.predicted_digits(model, batch), -1) for name, model in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder of MNIST's gzipped IDX files")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--start", type=int, default=0, help="first digit of the split")
    parser.add_argument("--count", type=int, default=300, help="digits")
    args = parser.parse_args()
    train, test = mnist_data.load_from_dir(args.data_dir)
    images, labels = train if args.split == "train" else test
    images, labels = images[args.start : args.start + args.count], labels[args.start : args.start + args.count]
    models = {name: model_defs.load_model(name) for name in model_defs.MODEL_NAMES}

    prepared = [preparations(image) for image in images]
    rows = {name: [entry[name] for entry in prepared] for name in prepared[0]}
    drawings = [(label, seed) for label in range(10) for seed in range(10)]
    print(f"MNIST {args.split} digits {args.start} to {args.start + len(labels) - 1}, read through the photo path")
    print("| the same digits, prepared as | CNN | dense |")
    print("|---|---|---|")
    for name, pictures in rows.items():
        answers = read(models, pictures)
        print(f"| {name} | " + " | ".join(f"{(answers[m] == labels).mean():.1%}" for m in models) + " |")
    answers = read(models, [brush_drawing(label, seed) for label, seed in drawings])
    truth = np.array([label for label, _ in drawings])
    name = f"plain digits drawn with the {BRUSH} px brush edge to edge on the {CANVAS_SIDE} px canvas (100)"
    print(f"| {name} | " + " | ".join(f"{(answers[m] == truth).mean():.1%}" for m in models) + " |")


if __name__ == "__main__":
    main()
