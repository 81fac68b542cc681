"""Train the CNN and the dense network on MNIST and write the weights the app serves.

    python train.py --data-dir ../shared/mnist   # both models by their recipe, into weights/ (no --data-dir: download)
    python train.py --model cnn --epochs 3 --data-dir ../shared/mnist --output-dir /tmp/w   # a quick look
    python train.py --validation 5000 --set label_smoothing=0 --output-dir /tmp/v  # a variant, on held-out images
    python train.py --push-to-hub user/mnist-studio  # then upload weights, metrics, plots and a model card
    python train.py --extra-data corrections/         # also learn from visitors' corrections (or a Hub dataset)
    python train.py --extra-data-reviewed reviewed/   # ... from a set a person has reviewed, whole

Writes to --output-dir (default weights/) cnn.weights.h5 and linear.weights.h5 (the weights alone, byte-stable),
metrics.json (scores, per-epoch history, recipe, sha256s, command, versions, device) and the plots curves.png,
confusion_cnn.png and confusion_linear.png, all under temporary names first, renamed into place once all are
written, metrics.json last: a run that fails leaves the previous set as it was.

The recipes (RECIPES, chosen on --validation 5000 but for one early step: docs/recipe.md) give 99.61% (CNN) and
98.76% (dense) on MNIST's test set. The default run took 24 minutes on the 2-core CPU that trained the committed
weights (the CNN 28 s an epoch for 40 + 2 + 5 epochs, the dense network 4 s for 40 + 5: weights/metrics.json); a
rerun on the same machine writes byte-identical files. Any Keras 3 backend works: KERAS_BACKEND=jax trains
data-parallel across several devices of one kind. The research built on these pieces (pixel permutation, the
write-up's wide CNN, the clean-phase replay) is in experiments/.
"""

import argparse
import collections
import contextlib
import datetime
import functools
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

try:
    import keras
except (ImportError, ValueError) as error:  # KERAS_BACKEND names a backend that is not installed or does not exist
    sys.exit(f"train.py: error: Keras cannot start the {os.environ.get('KERAS_BACKEND')!r} backend: {error}")
from keras import layers

import model_defs
from digit_studio import corrections, hub
from digit_studio.core import confidence, handwriting_styles, mnist_data, non_digits, screening

# Augmentation is in degrees and fractions of the image. With ema_momentum the optimizer keeps an exponential
# moving average of the weights, and that average is what gets saved. clean_epochs: more epochs after those, on the
# images as they are (no augmentation), the learning rate falling from clean_learning_rate to zero.
# outlier_epochs: then more epochs on the digits and on `outliers` drawings that are not digits (train_outliers);
# outlier_style_digits: drawn digits added for those epochs, beside any the model's own training already has.
# wider_styles=1: the drawn digits in every style of the handwriting check set, scans included
# (handwriting_styles.training_digits(wider=True)); 0: the earlier mix of nine styles (EARLIER_STYLES).
CLEAN_LEARNING_RATE = 3e-4
OUTLIER_EXPOSURE = {"outliers": 20000, "outlier_weight": 1.0, "outlier_epochs": 5, "outlier_learning_rate": 1e-3}
RECIPES = {
    "cnn": {"epochs": 40, "batch_size": 128, "learning_rate": 2e-3, "ema_momentum": 0.999,
            "rotation_degrees": 10, "zoom": 0.1, "shift": 0.1, "label_smoothing": 0.1, "style_digits": 12000,
            "wider_styles": 1, "clean_epochs": 2, "clean_learning_rate": CLEAN_LEARNING_RATE, **OUTLIER_EXPOSURE},
    "linear": {"epochs": 40, "batch_size": 128, "learning_rate": 2e-3, "rotation_degrees": 8, "zoom": 0.08,
               "shift": 0.08, "style_digits": 12000, "wider_styles": 1, **OUTLIER_EXPOSURE,
               "outlier_style_digits": 6000},
}  # fmt: skip
OUTLIER_KEYS = (*OUTLIER_EXPOSURE, "outlier_style_digits")
RECIPE_KEYS = ("learning_rate", "ema_momentum", "rotation_degrees", "zoom", "shift", "label_smoothing",
               "style_digits", "clean_epochs", "clean_learning_rate", *OUTLIER_KEYS, "digit_flag_rate",
               "wider_styles")  # fmt: skip
WHOLE_KEYS = ("style_digits", "clean_epochs", "outliers", "outlier_epochs", "outlier_style_digits", "wider_styles")
# The share of held-out digits each model's digit threshold flags: with both models' flags together, about 1.5% of
# the validation digits (docs/not-a-digit.md).
DIGIT_FLAG_RATE = 0.01
# What the app applies to the served models' answers (confidence.py), fitted by the recipe's validation run,
# `python train.py --validation 5000 --data-dir ../shared/mnist --output-dir DIR` (its metrics.json's calibration):
# a run without held-out digits has none of its own to fit them on.
CALIBRATION = {
    "cnn": {"temperature": 0.9561, "digit_threshold": 0.649, "fitted_on": "5,000 validation images of the recipe"},
    "linear": {"temperature": 0.6734, "digit_threshold": 0.1648, "fitted_on": "5,000 validation images of the recipe"},
}
PLOT_FILES = ("curves.png", *(f"confusion_{name}.png" for name in model_defs.MODEL_NAMES))
SET_ASIDE_FILE = "extra_data_set_aside.jsonl"  # beside the outputs: the corrections screening set aside, and why


class UsageError(Exception):
    """Something the person running train.py can fix; printed as one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def whole_number(smallest: int):
    """An argparse type: a whole number, smallest (0 or 1) or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < smallest:
            raise argparse.ArgumentTypeError(f"must be {'positive' if smallest else 'zero or more'}, got {value}")
        return value

    return parse


def recipe_setting(text: str) -> tuple[str, float]:
    key, _, value = text.partition("=")
    if key not in RECIPE_KEYS:
        raise argparse.ArgumentTypeError(f"{key!r} is not a recipe entry; entries: {', '.join(RECIPE_KEYS)}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key} needs a number, as in {key}=0.1; got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"{key} must be a number, 0 or more; got {value!r}")
    if key in WHOLE_KEYS:
        if number != int(number):
            raise argparse.ArgumentTypeError(f"{key} must be a whole number; got {value!r}")
        return key, int(number)
    return key, number


def argument_parser(prog: str, description: str) -> OneLineParser:
    """The options every training run takes: train.py's, and the experiments' that reuse its pieces."""
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("--epochs", type=whole_number(1), help="default: the model's recipe")
    parser.add_argument("--batch-size", type=whole_number(1), help="default: the model's recipe")
    parser.add_argument("--data-dir", help="folder with MNIST's .gz IDX files (default: $MNIST_DIR, else download)")
    parser.add_argument("--output-dir", default=str(model_defs.WEIGHTS_DIR))
    parser.add_argument("--seed", type=whole_number(0), default=0)
    held_out_help = "hold out the last N training images and score them, not the test set, to choose a recipe"
    parser.add_argument("--validation", type=whole_number(0), default=0, metavar="N", help=held_out_help)
    parser.add_argument("--subset", type=whole_number(1), help="only the first N training and test images")
    set_help = f"change one entry of the recipe (0 turns an option off); keys: {', '.join(RECIPE_KEYS)}"
    parser.add_argument("--set", type=recipe_setting, action="append", default=[], metavar="KEY=NUMBER", help=set_help)
    return parser


def serves(args) -> bool:
    """Whether the run writes to weights/, the folder the app serves."""
    return Path(args.output_dir).resolve() == model_defs.WEIGHTS_DIR


def predictor(models: list) -> screening.Predict:
    """N x 28 x 28 images in [0, 1] -> each model's probabilities."""
    return lambda images: [model.predict(images[..., None], batch_size=1000, verbose=0) for model in models]


@functools.cache
def served_model(name: str, weights_dir: Path) -> keras.Model:
    """The model the app serves from weights_dir, which screening and the gate read corrections against."""
    try:
        return model_defs.load_model(name, weights_dir)
    except model_defs.WeightsError as error:
        raise UsageError(f"extra data is read against the served models, which cannot be loaded: {error}") from None


def corrections_data(source: str, reviewed: bool, class_counts: dict[int, int]) -> tuple[tuple, np.ndarray, dict, list]:
    """A corrections set's labelled digits (corrections.py) as (images, labels) and its "not a digit" images (for
    train_outliers), all prepared, what metrics.json records of them, and the rows set aside with their reasons:
    none of a reviewed set, else what screening.screen sets aside, read against the served models and class_counts
    (each label's training images)."""
    option = "--extra-data-reviewed" if reviewed else "--extra-data"
    try:
        found = list(corrections.entries(hub.corrections_folder(source)))
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{option} {source}: cannot read it as a corrections folder: {error}") from None
    rows = [row for row, _ in found]
    images = prepare(np.array([pixels for _, pixels in found], np.uint8).reshape(-1, 28, 28))[..., 0]
    not_a_digit = [row["label"] == corrections.NOT_A_DIGIT for row in rows]
    labels = np.array(
        [screening.NOT_A_DIGIT if no else int(row["label"]) for row, no in zip(rows, not_a_digit, strict=True)],
        np.int64,
    )
    reasons = [None] * len(rows)
    if not reviewed and rows:
        served = predictor([served_model(name, model_defs.WEIGHTS_DIR) for name in model_defs.MODEL_NAMES])
        levels, caps = screening.honest_levels(served), screening.class_caps(class_counts)
        reasons = screening.screen(images, labels, served(images), levels, caps)
    kept = np.array([reason is None for reason in reasons], bool)
    digit, set_aside = kept & ~np.array(not_a_digit, bool), collections.Counter(filter(None, reasons))
    others = kept & np.array(not_a_digit, bool)
    print(f"{option} {source}: {digit.sum():,} corrected digits, {others.sum():,} corrections that are not digits")
    if set_aside:
        print(
            f"set aside for review, listed in {SET_ASIDE_FILE}: "
            + ", ".join(f"{n:,} {why}" for why, n in set_aside.items())
        )
    record = {
        "source": source,
        "reviewed": reviewed,
        "digits": int(digit.sum()),
        "non_digits": int(others.sum()),
    }
    if not reviewed:
        record |= {"set_aside": {why: set_aside[why] for why in screening.REASONS}, "set_aside_file": SET_ASIDE_FILE}
    listed = [{**row, "reason": reason} for row, reason in zip(rows, reasons, strict=True) if reason]
    return (images[digit][..., None], labels[digit]), images[others][..., None], {"extra_data": record}, listed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argument_parser("train.py", __doc__.split("\n")[0])
    parser.add_argument("--model", choices=(*model_defs.MODEL_NAMES, "all"), default="all")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the output dir to this Hugging Face repo")
    extra_help = (
        "visitors' corrections, a folder or a Hub dataset repo (the app's FEEDBACK_DIR or FEEDBACK_REPO): their "
        "digits join the training images, their non-digits the drawings that are not digits; never the test set. "
        f"Screened first: what a person should look at is set aside and listed in {SET_ASIDE_FILE} beside the outputs"
    )
    extra = parser.add_mutually_exclusive_group()
    extra.add_argument("--extra-data", metavar="DIR_OR_REPO", help=extra_help)
    reviewed_help = "a corrections set a person has reviewed, trained on whole, without screening"
    extra.add_argument("--extra-data-reviewed", metavar="DIR_OR_REPO", help=reviewed_help)
    args = parser.parse_args(argv)
    # A validation run's weights miss the held-out images and its metrics have no test score: never served.
    if args.validation and (serves(args) or args.push_to_hub):
        where = "--push-to-hub" if args.push_to_hub else "weights/, which holds the models the app serves"
        parser.error(f"--validation needs its own --output-dir, not {where}")
    return args


def check_writable(output_dir: Path) -> None:
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise UsageError(f"cannot write to output dir {output_dir}: {error.strerror or error}") from None


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 N x 28 x 28 -> float32 N x 28 x 28 x 1 in [0, 1], as the app feeds the models."""
    return (images.astype("float32") / 255.0)[..., None]


def held_out(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[tuple, tuple | None]:
    """(training, validation) images and labels, prepared: the last count training images are held out for
    validation (None where count is 0)."""
    kept = len(images) - count
    validation = (prepare(images[kept:]), labels[kept:]) if count else None
    return (prepare(images[:kept]), labels[:kept]), validation


def with_drawn_digits(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int, wider: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The training images followed by count drawings of the handwriting MNIST lacks, drawn on seeds the check set
    never uses (wider: in the wider mix)."""
    if not count:
        return images, labels
    drawn, drawn_labels = handwriting_styles.training_digits(count, seed, wider)
    return np.concatenate([images, prepare(drawn)]), np.concatenate([labels, drawn_labels])


def augmenter(recipe: dict) -> keras.Layer:
    """Random rotation, zoom and shift, active only while training; none where the recipe names none."""
    if "rotation_degrees" not in recipe:
        return layers.Identity(name="augment")
    steps = [
        layers.RandomRotation(recipe["rotation_degrees"] / 360, fill_mode="constant"),
        layers.RandomZoom(recipe["zoom"], fill_mode="constant"),
        layers.RandomTranslation(recipe["shift"], recipe["shift"], fill_mode="constant"),
    ]
    # Keras marks these layers unfit for XLA, true of TensorFlow's kernels only: without jit, JAX runs every
    # operation on its own, 100 times slower on a GPU. JAX compiles them as it compiles the rest.
    if keras.backend.backend() == "jax":
        for step in steps:
            step.supports_jit = True
    return keras.Sequential(steps, name="augment")


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


class StepWindow(keras.callbacks.Callback):
    """Holds fit at most `steps` training or validation steps ahead of the devices: a step starts once the one
    `steps` before it has ended. Keras runs batch-end callbacks on threads of its own, so fit never waits for a
    step; over several devices XLA then takes up to 32 steps a device in flight, and its CPU runtime can deadlock
    there: one device's share of a step is never launched while the others wait for it in the gradients' all-reduce
    (docs/reproducibility.md). A window well under 32 still lets the host prepare the next batches meanwhile."""

    async_safe = True  # its batch-end hooks may run on Keras's threads: they only count, under a lock

    def __init__(self, steps: int = 8):
        super().__init__()
        self.steps = steps
        self.ended = threading.Condition()
        self.started = self.finished = 0

    def on_train_batch_begin(self, batch, logs=None):
        with self.ended:
            self.ended.wait_for(lambda: self.started - self.finished < self.steps)
            self.started += 1

    def on_train_batch_end(self, batch, logs=None):
        with self.ended:
            self.finished += 1
            self.ended.notify()

    on_test_batch_begin = on_train_batch_begin
    on_test_batch_end = on_train_batch_end


def fit_callbacks(timer: EpochTimer) -> list[keras.callbacks.Callback]:
    """model.fit's callbacks: timer, and a StepWindow where training is spread over several devices."""
    return [timer, StepWindow()] if keras.distribution.distribution() else [timer]


def left_out(count: int, batch_size: int) -> int:
    """How many of count training rows to leave out, fewer than the devices, so that every batch of batch_size splits
    evenly across the devices of Keras's distribution (it cannot shard an uneven last batch). They are left out from
    the front, MNIST's first digits: the rows at the end are visitors' corrections (--extra-data)."""
    distribution = keras.distribution.distribution()
    devices = distribution.device_mesh.devices.size if distribution else 1
    return (count % batch_size) % devices


def check_even_split(devices: int, recipes: dict[str, dict], scored: int) -> None:
    """Refuses, in one line, a device count that cannot split every batch evenly: the recipe's batches, and those the
    scored images (test or held out) come in, of the batch size and of 1,000."""
    for name, recipe in recipes.items():
        batch_size = recipe["batch_size"]
        batches = {batch_size, *(size for batch in (batch_size, 1000) for size in (min(batch, scored), scored % batch))}
        if any(size % devices for size in batches):
            raise UsageError(
                f"{devices} devices cannot split {name}'s batches evenly (batches of {batch_size}, {scored:,} images "
                f"scored in batches of {batch_size} and 1,000): make fewer devices visible (CUDA_VISIBLE_DEVICES), "
                "or change --batch-size, --subset or --validation"
            )


def training_devices() -> list[str]:
    """The devices training runs on, data-parallel through Keras's distribution API where there are several: every
    accelerator the backend sees, else every CPU device (XLA can simulate several). Keras distributes on JAX only."""
    devices = keras.distribution.list_devices()
    devices = [d for d in devices if not d.lower().startswith("cpu")] or devices
    if len(devices) > 1 and keras.backend.backend() != "jax":
        print(f"{len(devices)} devices seen, but Keras distributes only with KERAS_BACKEND=jax: training on one")
        return devices[:1]
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return devices


def recipe_of(recipe: dict, args) -> dict:
    """recipe changed by --set, --epochs and --batch-size."""
    recipe = {**recipe, **dict(args.set)}
    recipe["epochs"] = args.epochs or recipe["epochs"]
    recipe["batch_size"] = args.batch_size or recipe["batch_size"]
    return recipe


def train_one(model_name: str, recipe: dict, args, train, test, validation, build=model_defs.build):
    """Train build(model_name) by recipe, scoring validation (images, labels) after every epoch; returns the model
    and its metrics.json entry. Without a validation split the test set is scored instead, as a curve to watch:
    nothing is chosen from it (the schedule is fixed in advance), and the committed weights were trained that way,
    so keeping it keeps a rerun identical to them (each evaluation moves the seeds that shuffle later epochs)."""
    (x_train, y_train), (x_test, y_test) = train, test
    mnist_images, drawn_count = len(x_train), recipe.get("style_digits", 0)
    x_train, y_train = with_drawn_digits(x_train, y_train, drawn_count, args.seed, bool(recipe.get("wider_styles")))
    if getattr(args, "extra_digits", None) is not None:  # visitors' corrections, on top of MNIST's (--extra-data)
        x_train, y_train = (
            np.concatenate([x_train, args.extra_digits[0]]),
            np.concatenate([y_train, args.extra_digits[1]]),
        )
    cut = left_out(len(x_train), recipe["batch_size"])
    x_train, y_train = x_train[cut:], y_train[cut:]
    keras.utils.set_random_seed(args.seed)

    model = build(model_name)
    trainer = trainer_for(model, augmenter(recipe))
    steps = recipe["epochs"] * int(np.ceil(len(x_train) / recipe["batch_size"]))
    rate = schedule = recipe["learning_rate"]
    if recipe.get("schedule", "cosine") == "cosine":  # a twentieth of the steps warm up from a tenth of the rate
        warm_up = {"warmup_target": rate, "warmup_steps": steps // 20}
        schedule = keras.optimizers.schedules.CosineDecay(rate / 10, steps, **warm_up)
    # The average starts at the initial weights: a short run averages over its last tenth at most.
    ema_momentum = max(0.0, min(recipe.get("ema_momentum", 0.0), 1 - 10 / steps))
    optimizer = keras.optimizers.Adam(schedule, use_ema="ema_momentum" in recipe, ema_momentum=ema_momentum)
    trainer.compile(optimizer=optimizer, **loss_and_metrics(recipe))
    clean_epochs = recipe.get("clean_epochs", 0)
    print(
        f"\n== {model_defs.MODEL_TITLES[model_name]}: {model.count_params():,} parameters, "
        f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, {len(x_train):,} training images"
        + (f" ({drawn_count:,} of them drawn by handwriting_styles.py)" if drawn_count else "")
        + (f", {len(validation[0]):,} held out for validation" if validation else "")
        + (f", then {clean_epochs} epoch(s) without augmentation" if clean_epochs else "")
        + (
            f", then {recipe['outlier_epochs']} with {recipe['outliers']:,} drawings that are not digits"
            if recipe.get("outlier_epochs")
            else ""
        )
    )
    fit = fit_arguments(x_train, y_train, validation or (x_test, y_test), recipe)
    timer = EpochTimer()
    history = trainer.fit(epochs=recipe["epochs"], callbacks=fit_callbacks(timer), **fit).history
    seconds = timer.seconds[1:] or timer.seconds  # the first epoch also compiles the graph; later ones show the pace
    total_seconds = sum(timer.seconds)
    outliers = functools.partial(train_outliers, extra=getattr(args, "extra_non_digits", None))
    for phase, epochs in ((train_clean, clean_epochs), (outliers, recipe.get("outlier_epochs", 0))):
        if epochs:
            phase_history, phase_seconds = phase(model, recipe, fit, args.seed)
            history = {key: values + phase_history[key] for key, values in history.items()}
            total_seconds += sum(phase_seconds)
    # The saved weights are scored on the test set, or in a validation run on the held-out images alone: a run that
    # chooses a recipe never sees a test score, so none can sway the choice.
    split, (images, labels) = ("validation", validation) if validation else ("test", (x_test, y_test))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(images, labels, batch_size=1000, verbose=0)
    probabilities = model.predict(images, batch_size=1000, verbose=0)
    predictions = np.argmax(probabilities, axis=1)
    confusion = np.zeros((model_defs.NUM_CLASSES, model_defs.NUM_CLASSES), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    metrics = {
        "title": model_defs.MODEL_TITLES[model_name],
        "parameters": model.count_params(),
        f"{split}_accuracy": float(accuracy),
        f"{split}_loss": float(loss),
        "test_images": 0 if validation else len(x_test),
        "train_images": mnist_images - cut,  # MNIST's; the recipe's style_digits come on top
        "validation_images": len(validation[0]) if validation else 0,
        "seconds_per_epoch": round(float(np.mean(seconds)), 2),  # the augmented epochs
        "jit_compiled": bool(trainer.jit_compile),  # XLA; TensorFlow trains its image augmentation as a graph instead
        "total_training_seconds": round(float(total_seconds), 1),
        "recipe": recipe,
        "seed": args.seed,
        "history": {key: [round(float(v), 5) for v in values] for key, values in history.items()},
        "confusion_matrix": confusion.tolist(),
        "curve": split,  # the per-epoch curve scores the raw weights, not their average as saved
    }
    if validation:
        metrics["calibration"] = fitted_calibration(recipe, probabilities, labels)
    elif model_name in CALIBRATION and recipe == RECIPES.get(model_name):  # fitted for this recipe only
        metrics["calibration"] = CALIBRATION[model_name]
    return model, metrics


def fitted_calibration(recipe: dict, probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """What the app applies to a model's answers (confidence.py), fitted on held-out digits: the temperature that
    gives their labels the highest likelihood, and the digit score below which recipe["digit_flag_rate"] of them
    fall."""
    scores = confidence.digit_score(probabilities)
    return {
        "temperature": round(confidence.fit_temperature(probabilities, labels), 4),
        "digit_threshold": round(confidence.threshold(scores, recipe.get("digit_flag_rate", DIGIT_FLAG_RATE)), 4),
        "fitted_on": f"{len(labels):,} validation images",
    }


def train_clean(model, recipe: dict, fit: dict, seed: int = 0) -> tuple[dict, list[float]]:
    """The recipe's clean_epochs: model trains on the images as they are, at a small learning rate falling to zero,
    so that after the augmented epochs (from their weight average) it stops spending itself on distortions the test
    digits never show. fit: what fit_arguments gives for the recipe. Returns the per-epoch history and seconds."""
    clean = trainer_for(model, None)
    steps = recipe["clean_epochs"] * int(np.ceil(len(fit["x"]) / fit["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(recipe.get("clean_learning_rate", CLEAN_LEARNING_RATE), steps)
    clean.compile(optimizer=keras.optimizers.Adam(schedule), **loss_and_metrics(recipe))
    timer = EpochTimer()
    history = clean.fit(epochs=recipe["clean_epochs"], callbacks=fit_callbacks(timer), **fit).history
    return history, timer.seconds


def train_outliers(
    model, recipe: dict, fit: dict, seed: int, extra: np.ndarray | None = None
) -> tuple[dict, list[float]]:
    """The recipe's outlier_epochs (outlier exposure: Hendrycks, Mazeika and Dietterich, ICLR 2019): model trains on
    the digits as they are, each with its one label, and on recipe["outliers"] drawings that are not digits
    (non_digits.py), whose target is an even spread over the ten digits, weighted by outlier_weight; the learning
    rate falls from outlier_learning_rate to zero. A non-digit then gets an answer spread thin, which
    confidence.digit_score reads. With outlier_style_digits the phase's digits also include that many drawings of
    the handwriting MNIST lacks: a model that never saw such digits would learn that they are no digits either
    (docs/not-a-digit.md). fit: what fit_arguments gives; extra: more non-digits, prepared (visitors' corrections).
    Returns the per-epoch history and seconds."""
    outliers = prepare(non_digits.training_non_digits(recipe["outliers"], seed))
    if extra is not None and len(extra):
        outliers = np.concatenate([outliers, extra])
    eye = np.eye(model_defs.NUM_CLASSES, dtype="float32")
    labels = fit["y"] if fit["y"].ndim == 1 else np.argmax(fit["y"], axis=1)
    drawn = recipe.get("outlier_style_digits", 0)
    digits, labels = with_drawn_digits(fit["x"], labels, drawn, seed, bool(recipe.get("wider_styles")))
    images = np.concatenate([digits, outliers])
    targets = np.concatenate([eye[labels], np.full((len(outliers), model_defs.NUM_CLASSES), 0.1, "float32")])
    cut = left_out(len(images), fit["batch_size"])
    images, targets = images[cut:], targets[cut:]
    watched = fit["validation_data"]
    watched = watched[0], watched[1] if watched[1].ndim == 2 else eye[watched[1]]
    trainer = trainer_for(model, None)
    steps = recipe["outlier_epochs"] * int(np.ceil(len(images) / fit["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(recipe["outlier_learning_rate"], steps)
    loss = OutlierExposureLoss(recipe["outlier_weight"])
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=[DigitAccuracy()])
    timer = EpochTimer()
    history = trainer.fit(
        images, targets, batch_size=fit["batch_size"], epochs=recipe["outlier_epochs"], validation_data=watched,
        callbacks=fit_callbacks(timer), verbose=fit["verbose"], shuffle=True,
    ).history  # fmt: skip
    return history, timer.seconds


def is_digit_target(targets):
    """Per row of targets: 1.0 for a digit's one label, 0.0 for a non-digit's even spread."""
    return keras.ops.cast(keras.ops.max(targets, axis=-1) > 0.5, "float32")


class OutlierExposureLoss(keras.losses.Loss):
    """Cross-entropy against the targets: a digit's against its label, a non-digit's against the even spread
    (its mean -log p over the ten digits), the latter weighted by outlier_weight."""

    def __init__(self, outlier_weight: float, name: str = "outlier_exposure"):
        super().__init__(name=name)
        self.outlier_weight = outlier_weight

    def call(self, y_true, y_pred):
        cross_entropy = -keras.ops.sum(y_true * keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0)), axis=-1)
        digit = is_digit_target(y_true)
        return cross_entropy * (digit + (1 - digit) * self.outlier_weight)


class DigitAccuracy(keras.metrics.Metric):
    """The share of digits answered right, leaving out the non-digits (they have no right answer)."""

    def __init__(self, name: str = "accuracy"):
        super().__init__(name=name)
        self.right = self.add_variable(shape=(), initializer="zeros", name="right")
        self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        digit = is_digit_target(y_true)
        same = keras.ops.cast(keras.ops.argmax(y_true, axis=-1) == keras.ops.argmax(y_pred, axis=-1), "float32")
        self.right.assign_add(keras.ops.sum(same * digit))
        self.seen.assign_add(keras.ops.sum(digit))

    def result(self):
        return self.right / keras.ops.maximum(self.seen, 1.0)


def fit_arguments(images, labels, watched: tuple, recipe: dict, verbose: int = 2) -> dict:
    """model.fit's images, targets, batch size and watched (images, labels) for a recipe: the targets one-hot
    wherever loss_and_metrics smooths them."""
    if recipe.get("label_smoothing"):
        one_hot = np.eye(model_defs.NUM_CLASSES, dtype="float32")
        labels, watched = one_hot[labels], (watched[0], one_hot[watched[1]])
    batch_size = recipe["batch_size"]
    return {"x": images, "y": labels, "batch_size": batch_size, "validation_data": watched, "verbose": verbose}


def trainer_for(model, augment) -> keras.Model:
    """The model as it trains: on its inputs through augment (None: as they are)."""
    inputs = keras.Input(shape=model_defs.INPUT_SHAPE)
    outputs = model(inputs if augment is None else augment(inputs))
    return keras.Model(inputs, outputs, name=f"{model.name}_training")


def loss_and_metrics(recipe: dict) -> dict:
    """compile()'s loss and metrics for a recipe; its targets are one-hot wherever they are smoothed."""
    loss = "sparse_categorical_crossentropy"
    if recipe.get("label_smoothing"):  # Keras smooths one-hot targets only
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe["label_smoothing"])
    return {"loss": loss, "metrics": ["accuracy"]}


def environment(devices: list[str]) -> dict:
    """What metrics.json records of the run: the command as typed (python -m experiments.NAME for a module), the
    backend, device and versions."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec else sys.argv[:1]
    backend = keras.backend.backend()
    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__}
    for package in ({"tensorflow": "tensorflow-cpu"}.get(backend, backend), "tensorflow"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
            break
    one_cpu = len(devices) == 1 and devices[0].lower().startswith("cpu")
    device = f"CPU, {os.cpu_count()} cores" if one_cpu else f"{len(devices)} x {devices[0].split(':')[0].upper()}"
    return {
        "command": " ".join(["python", *program, *sys.argv[1:]]),
        "backend": backend,
        "device": f"{device} ({backend})",
        "devices": len(devices),
        "versions": versions,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def save_outputs(output_dir: Path, trained: dict[str, tuple[keras.Model, dict]], devices: list[str]) -> dict:
    """Write every file under a temporary name first, then rename them all into place, metrics.json last: a failure
    while writing (a full disk, a plotting error, an interrupt) leaves the previous set untouched. Models of other
    runs recorded in the folder's metrics.json keep their entries, the served models first."""
    try:
        metrics = json.loads((output_dir / model_defs.METRICS_FILE).read_text())
    except (OSError, ValueError):  # none yet, or unreadable: this run starts a new one
        metrics = {"models": {}}
    run = environment(devices)
    staged = {}  # final path -> temporary path, in the order they are renamed
    values = {model_name: model.get_weights() for model_name, (model, _) in trained.items()}
    try:
        for model_name, (_, model_metrics) in trained.items():
            path = output_dir / model_defs.weights_file(model_name)
            staged[path] = save_weights(model_name, values[model_name], temporary_name(path))
            sha256 = model_defs.file_sha256(staged[path])
            metrics["models"][model_name] = {**model_metrics, **run, "weights_sha256": sha256}
        models = metrics["models"]
        order = [name for name in model_defs.MODEL_NAMES if name in models]
        metrics["models"] = {name: models[name] for name in order + [name for name in models if name not in order]}
        for name, figure in plots(metrics):
            path = output_dir / name
            staged[path] = temporary_name(path)
            figure.tight_layout()
            figure.savefig(staged[path], format="png")
        path = output_dir / model_defs.METRICS_FILE
        staged[path] = temporary_name(path)
        staged[path].write_text(json.dumps(metrics, indent=1) + "\n")
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return metrics


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{os.getpid()}.tmp.{path.name}")


def save_weights(model_name: str, values: list[np.ndarray], path: Path) -> Path:
    """The weights alone, byte for byte the same for the same values: saved from a fresh, never-compiled copy (a
    compiled one also writes its optimizer's variables), in a fresh session (the file records layer names, which
    count up across all models built in a process)."""
    keras.backend.clear_session()
    clean = model_defs.build(model_name)
    clean.set_weights(values)
    clean.save_weights(path)
    return path


def plots(metrics: dict):
    """(file name, figure): accuracy and loss per epoch for every model, and a confusion matrix per served model."""
    from matplotlib.figure import Figure  # no pyplot: nothing to close, no display needed

    models = metrics["models"]
    figure = Figure(figsize=(11, 4), dpi=100)
    axes = figure.subplots(1, 2)
    for name, entry in models.items():
        history, colour = entry["history"], model_defs.MODEL_COLOURS.get(name)
        epochs = range(1, len(history["loss"]) + 1)
        curve = "validation" if entry.get("validation_images") else "test"
        for axis, key in zip(axes, ("accuracy", "loss"), strict=True):
            axis.plot(epochs, history[key], "--", color=colour, alpha=0.6, label=f"{entry['title']}, training images")
            if f"val_{key}" in history:
                axis.plot(epochs, history[f"val_{key}"], color=colour, label=f"{entry['title']}, {curve} images")
    # Loss on a log scale: label smoothing and the non-digits keep the CNN's training loss far above the others.
    for axis, key, scale in zip(axes, ("accuracy", "loss"), ("linear", "log"), strict=True):
        axis.set(title=f"{key} per epoch", xlabel="epoch", yscale=scale)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[0].set_ylim(0.95, 1.0)
    yield "curves.png", figure

    for model_name in (name for name in model_defs.MODEL_NAMES if name in models):
        confusion = np.array(models[model_name]["confusion_matrix"])
        figure = Figure(figsize=(5.2, 4.6), dpi=100)
        axis = figure.subplots()
        axis.imshow(np.log1p(confusion), cmap="Blues")  # log: the few mistakes show beside ~1,000 right answers
        for (row, column), count in np.ndenumerate(confusion):
            if count:
                color = "white" if row == column else "black"
                axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
        images, accuracy, _ = model_defs.scored_on(models[model_name])
        on = "" if "test" in images else f" of {images}"
        title = f"{models[model_name]['title']}: {accuracy:.2%}{on} correct"
        axis.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true", title=title)
        yield f"confusion_{model_name}.png", figure


def print_table(metrics: dict) -> None:
    header = f"{'model':<8} {'parameters':>10} {'accuracy':>9} {'loss':>9}  {'scored on':<24} {'s/epoch':>8}  device"
    print("\n" + header + "\n" + "-" * len(header))
    for model_name, entry in metrics["models"].items():
        images, accuracy, loss = model_defs.scored_on(entry)
        print(
            f"{model_name:<8} {entry['parameters']:>10,} {accuracy:>9.2%} {loss:>9.4f}  {images:<24} "
            f"{entry['seconds_per_epoch']:>8.1f}  {entry['device']}"
        )


def train_and_save(args, recipes: dict[str, dict], build=model_defs.build, record: dict | None = None) -> dict:
    """Train build(name) by recipe for each name in recipes on the data args names, write the outputs with record
    added to each model's entry, print the table; returns the metrics written."""
    output_dir = Path(args.output_dir)
    check_writable(output_dir)
    (x_train, y_train), (x_test, y_test) = mnist_data.load_mnist(args.data_dir)
    if args.subset:
        x_train, y_train, x_test, y_test = (a[: args.subset] for a in (x_train, y_train, x_test, y_test))
    devices = training_devices()
    if args.validation >= len(x_train):
        raise UsageError(f"--validation {args.validation} leaves no training images (there are {len(x_train)})")
    train, validation = held_out(x_train, y_train, args.validation)
    check_even_split(len(devices), recipes, len(validation[0]) if validation else len(x_test))
    extra, set_aside, source = {}, [], getattr(args, "extra_data", None) or getattr(args, "extra_data_reviewed", None)
    if source:
        counts = {
            **dict(enumerate(np.bincount(train[1], minlength=10).tolist())),
            screening.NOT_A_DIGIT: max(recipe.get("outliers", 0) for recipe in recipes.values()),
        }
        reviewed = source == getattr(args, "extra_data_reviewed", None)
        args.extra_digits, args.extra_non_digits, extra, set_aside = corrections_data(source, reviewed, counts)
    test = prepare(x_test), y_test
    trained = {}
    for name, recipe in recipes.items():
        model, entry = train_one(name, recipe, args, train, test, validation, build)
        trained[name] = model, {**entry, **extra, **(record or {})}
    if source:
        gate(args, trained)
    check_writable(output_dir)
    if getattr(args, "extra_data", None):
        write_whole(output_dir / SET_ASIDE_FILE, "".join(json.dumps(row, sort_keys=True) + "\n" for row in set_aside))
    metrics = save_outputs(output_dir, trained, devices)
    print_table(metrics)
    return metrics


def gate(args, trained: dict[str, tuple]) -> None:
    """After a run with extra data, each model against the served one (screening.gate): a digit read worse by more
    than screening.GATE_MARGIN on honest held-out drawings is recorded in its metrics.json entry; weights/ is refused
    such models (a UsageError saying why), another --output-dir gets them with a warning."""
    fell = []
    for name, (model, entry) in trained.items():
        served = predictor([served_model(name, model_defs.WEIGHTS_DIR)])
        fallen = screening.gate(served, predictor([model]))
        entry["extra_data"] = {
            **entry["extra_data"],
            "gate": {
                "margin": screening.GATE_MARGIN,
                "fallen": {str(d): [round(b, 4), round(a, 4)] for d, (b, a) in fallen.items()},
            },
        }
        fell += [f"{model_defs.MODEL_TITLES[name]} on {d}s: {b:.1%} -> {a:.1%}" for d, (b, a) in fallen.items()]
    if not fell:
        return
    what = (
        f"after the extra data, digits of the handwriting validation drawings read worse than by the served models "
        f"by more than {screening.GATE_MARGIN * 100:.0f} points ({'; '.join(fell)})"
    )
    if serves(args):
        raise UsageError(f"nothing written to weights/: {what}. Train with --output-dir to look at the run")
    print(f"warning: {what}; the app must not serve these weights")


def write_whole(path: Path, text: str) -> None:
    """A file that exists whole or not at all."""
    temporary = temporary_name(path)
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    names = model_defs.MODEL_NAMES if args.model == "all" else (args.model,)
    try:
        metrics = train_and_save(args, {name: recipe_of(RECIPES[name], args) for name in names})
        if args.push_to_hub:
            files = [*map(model_defs.weights_file, model_defs.MODEL_NAMES), model_defs.METRICS_FILE, *PLOT_FILES]
            hub.push_to_hub(args.push_to_hub, Path(args.output_dir), metrics, files)
    except (UsageError, mnist_data.DataError, hub.UploadError) as error:
        sys.exit(f"train.py: error: {error}")


if __name__ == "__main__":
    main()
