"""Write the app's example inputs: clean MNIST test digits, and realistic sketches, scans and photos.

    python -m tests.make_examples                       # into examples/, checked with weights/
    python -m tests.make_examples --weights-dir /tmp/w  # checked with other weights

Each file is named <label>_<kind>.<png|jpg> and made by digit_studio/core/synthetic.py. For each one, from its
first seed on, the first image that both models read correctly with at least MIN_CONFIDENCE (judged
on the file as written) is kept, so the examples show what the app does well; the table this prints
says how sure each model is. The numbers in examples/numbers/ are named <number>_<kind>.<png|jpg>,
each the first of its seeds whose whole number both models read right. The drawings in examples/not_digits/
(a smiley, a letter) are each the first of their seeds that neither model takes for a digit. Each is judged by
digit_studio/answers.py, as the app judges it. Takes about 10 seconds.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import model_defs
from digit_studio import answers
from digit_studio.core import handwriting_styles, non_digits, preprocess, segmentation, synthetic

REPO = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO / "examples"
# (label, kind, first seed to try): four clean MNIST digits, then one of each synthetic kind, all ten digits
EXAMPLES = [
    (7, "mnist", 0),
    (1, "mnist", 0),
    (0, "mnist", 0),
    (8, "mnist", 0),
    (3, "thin_pen", 0),
    (2, "paper_photo", 0),
    (5, "small_in_scan", 1),  # MNIST's first 5 is an odd one; the second looks like a 5
    (4, "dark_mode", 0),
    (6, "transparent_sketch", 0),
    (9, "phone_photo_exif", 0),
]
PHOTO_KINDS = ("paper_photo", "phone_photo_exif")  # saved as JPEG, the way cameras write them
MIN_CONFIDENCE = 0.8
MAX_SEEDS = 20
NUMBER_TEXT = "2026"  # the drawn number; the photographed one is four random MNIST test digits
NON_DIGIT_STREAM = 20  # the non-digit examples' seeds, apart from every check set's


def save(image: Image.Image, path: Path) -> None:
    if path.suffix == ".jpg":  # keep the EXIF orientation tag, which is the point of the phone photo
        image.save(path, quality=85, exif=image.getexif())
    else:
        image.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=model_defs.WEIGHTS_DIR)
    parser.add_argument("--output-dir", type=Path, default=EXAMPLES_DIR)
    args = parser.parse_args()
    answers.load(args.weights_dir)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for label, kind, first_seed in EXAMPLES:
        path = args.output_dir / f"{label}_{kind}.{'jpg' if kind in PHOTO_KINDS else 'png'}"
        for seed in range(first_seed, first_seed + MAX_SEEDS):
            save(synthetic.make(kind, label, seed), path)
            pair = judged(path)
            models = [pair[name] for name in model_defs.MODEL_NAMES]
            if pair["is_digit"] and all(a["label"] == str(label) and a["confidence"] >= MIN_CONFIDENCE for a in models):
                break
        else:
            path.unlink()
            sys.exit(f"none of {MAX_SEEDS} seeds gives a {label} that both models read as {label}; change EXAMPLES")
        print(f"{path.name:28} seed {seed:2}  {path.stat().st_size / 1024:5.1f} KB  {summary(pair)}")
    make_numbers(args.output_dir / "numbers")
    make_non_digits(args.output_dir / "not_digits")


def judged(path: Path) -> dict:
    """Both models' answers for an image file, as the app will see it (after the file's compression)."""
    with Image.open(path) as image:
        return answers.both([preprocess.preprocess_image(image)])[0]


def summary(pair: dict) -> str:
    return "  ".join(
        f"{name} {pair[name]['label']} ({pair[name]['confidence']:.3f}, digit score {pair[name]['digit_score']:.2f})"
        for name in model_defs.MODEL_NAMES
    )


def read_number(path: Path) -> dict[str, str]:
    with Image.open(path) as image:
        pairs = answers.both([digit.image for digit in segmentation.digits_in_image(image)])
    return {name: "".join(answers.read_as(pair[name]) for pair in pairs) for name in model_defs.MODEL_NAMES}


def make_non_digits(folder: Path) -> None:
    """A smiley and a letter A, pen on white paper, each the first of its seeds that neither model takes for a
    digit."""
    folder.mkdir(exist_ok=True)
    for name, strokes in (("smiley", non_digits.DOODLES["smiley"]), ("letter_A", non_digits.LETTERS["A"])):
        path = folder / f"{name}.png"
        for seed in range(MAX_SEEDS):
            rng = np.random.default_rng((NON_DIGIT_STREAM, seed))
            mask = handwriting_styles.drawing(0, lambda _, __, strokes=strokes: strokes, "pen", (-5, 5), rng, (0.8, 1))
            save(Image.fromarray(255 - np.asarray(mask)), path)
            pair = judged(path)
            if not any(pair[model]["is_digit"] for model in model_defs.MODEL_NAMES):
                break
        else:
            sys.exit(f"none of {MAX_SEEDS} seeds gives a {name} that neither model takes for a digit")
        print(f"{path.name:28} seed {seed:2}  {path.stat().st_size / 1024:5.1f} KB  {summary(pair)}")


def make_numbers(folder: Path) -> None:
    """A drawn and a photographed number, each the first of its seeds that both models read right."""
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for kind in ("drawn", "paper_photo"):
        for seed in range(MAX_SEEDS):
            if kind == "drawn":
                image, text = synthetic.drawn_number(NUMBER_TEXT, seed), NUMBER_TEXT
            else:
                image, text, _ = synthetic.mnist_number(4, seed, "photo")
            path = folder / f"{text}_{kind}.{'jpg' if kind in PHOTO_KINDS else 'png'}"
            save(image, path)
            readings = read_number(path)
            if set(readings.values()) == {text}:
                break
            path.unlink()
        else:
            sys.exit(f"none of {MAX_SEEDS} seeds gives a {kind} number that both models read right")
        print(f"{path.name:28} seed {seed:2}  {path.stat().st_size / 1024:5.1f} KB  read as {readings}")


if __name__ == "__main__":
    main()
