"""Train the CNN and the dense network on MNIST and write the weights the app serves.

    python train.py                                  # both models, the recipe of weights/
    python train.py --model cnn --epochs 5 --output-dir /tmp/w
    python train.py --data-dir ../shared/mnist       # local IDX files instead of the download
    python train.py --push-to-hub user/mnist-studio  # then upload weights, metrics and a model card
    python train.py --validation 5000 --output-dir /tmp/v         # score a recipe on held-out training images
    python train.py --validation 5000 --set label_smoothing=0 --output-dir /tmp/v0  # ... and a variant of it
    python train.py --permute-pixels 0 --output-dir /tmp/permuted  # the pixel-permutation experiment
    python train.py --model wide_cnn --output-dir /tmp/wide        # the companion write-up's 3.3M-parameter CNN
    python train.py --model cnn --teacher /tmp/a --teacher /tmp/b --output-dir /tmp/d  # distilled from two runs

Writes to --output-dir (default weights/): cnn.weights.h5, linear.weights.h5 (no optimizer
state), metrics.json, and the plots curves.png, confusion_cnn.png, confusion_linear.png.
All files are written under temporary names first and only then renamed into place, metrics.json
last, so a run that fails or is interrupted while writing leaves the previous files as they were.

The default recipe (Adam with a cosine schedule, random rotation/zoom/shift, dropout, and for the
CNN an exponential moving average of the weights, label smoothing, 6,000 drawings of the handwriting
MNIST lacks from handwriting_styles.py and two last epochs on the images without augmentation; seed 0)
was chosen on --validation 5000 (the last 5,000 training images held out), never on the test set; a
rerun on the same machine writes byte-identical files. The README gives its accuracy and time per epoch.
It runs unchanged on any Keras 3 backend: KERAS_BACKEND=jax python train.py trains data-parallel across
several devices of one kind (GPUs, or CPU devices XLA simulates).
"""

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import keras
except (ImportError, ValueError) as error:  # KERAS_BACKEND names a backend that is not installed or does not exist
    sys.exit(f"train.py: error: Keras cannot start the {os.environ.get('KERAS_BACKEND')!r} backend: {error}")
from keras import layers

import handwriting_styles
import mnist_data
import model_defs

# Augmentation is in degrees and fractions of the image. With ema_momentum the optimizer keeps an
# exponential moving average of the weights, and that average is what gets saved. weight_decay: Adam's decoupled
# decay (AdamW: each step takes weight x weight_decay x learning rate off every weight) in the augmented epochs.
# CNN_BASE is the CNN's recipe before label smoothing and the drawn digits joined it: one of its TEACHERS.
CNN_BASE = {"epochs": 40, "batch_size": 128, "learning_rate": 2e-3, "ema_momentum": 0.999,
            "rotation_degrees": 10, "zoom": 0.1, "shift": 0.1}  # fmt: skip
# clean_epochs: more epochs after those, on the images as they are (no augmentation), the learning rate falling from
# clean_learning_rate to zero.
CLEAN_LEARNING_RATE = 3e-4
RECIPES = {
    "cnn": {**CNN_BASE, "label_smoothing": 0.1, "style_digits": 6000, "clean_epochs": 2,
            "clean_learning_rate": CLEAN_LEARNING_RATE},
    "linear": {"epochs": 40, "batch_size": 128, "learning_rate": 2e-3,
               "rotation_degrees": 8, "zoom": 0.08, "shift": 0.08},
    # The companion write-up's own recipe: Adam at its default rate, 5 epochs, no augmentation.
    "wide_cnn": {"epochs": 5, "batch_size": 128, "learning_rate": 1e-3, "schedule": "constant"},
}  # fmt: skip
RECIPE_KEYS = ("learning_rate", "ema_momentum", "weight_decay", "rotation_degrees", "zoom", "shift", "elastic_alpha",
               "elastic_sigma", "label_smoothing", "style_digits", "distillation", "clean_epochs",
               "clean_learning_rate")  # fmt: skip
# --set distillation=W makes a model's target W x its teachers' mean prediction (on the same augmented image) plus
# (1 - W) x the label. Its teachers are the --teacher runs, or else its TEACHERS recipes, which train.py trains first
# on the same data: for the CNN, the recipe before today's and today's own (tried, not chosen: see the README).
TEACHERS = {"cnn": (CNN_BASE, RECIPES["cnn"])}
WHOLE_KEYS = ("style_digits", "clean_epochs")
PLOT_FILES = ("curves.png", *(f"confusion_{name}.png" for name in model_defs.MODEL_NAMES))
# The served models first, then the write-up's larger CNN, which train.py trains only for comparison.
MODEL_ORDER = (*model_defs.MODEL_NAMES, "wide_cnn")


class UsageError(Exception):
    """Something the person running train.py can fix; printed as one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"train.py: error: {message}\n")


def whole_number(text: str, smallest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < smallest:
        raise argparse.ArgumentTypeError(f"must be {'positive' if smallest == 1 else 'zero or more'}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return whole_number(text, 0)


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        choices=(*MODEL_ORDER, "all"),
        default="all",
        help="all: the two models the app serves; wide_cnn: the write-up's 3.3M-parameter CNN, for comparison",
    )
    epochs = ", ".join(f"{name} {recipe['epochs']}" for name, recipe in RECIPES.items())
    parser.add_argument("--epochs", type=positive_int, help=f"default: the model's recipe ({epochs})")
    parser.add_argument("--batch-size", type=positive_int, help="default: 128")
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST .gz IDX files (default: $MNIST_DIR, else download)"
    )
    parser.add_argument("--output-dir", default=str(model_defs.WEIGHTS_DIR))
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--validation",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="hold out the last N training images and score them after every epoch, to choose a recipe "
        "without the test set (default 0: train on all 60,000)",
    )
    parser.add_argument(
        "--subset", type=positive_int, help="use only the first N training and test images (for quick checks)"
    )
    parser.add_argument(
        "--permute-pixels",
        type=non_negative_int,
        metavar="SEED",
        help="train and test on images whose 784 pixels are shuffled by one fixed permutation drawn from SEED "
        "(the test of what the CNN's view of neighbourhoods buys); needs an --output-dir other than weights/",
    )
    parser.add_argument(
        "--set",
        type=recipe_setting,
        action="append",
        default=[],
        metavar="KEY=NUMBER",
        help="change one entry of the recipe (and of its teachers', but for distillation), to compare recipes on "
        "--validation (0 turns an option off); "
        f"keys: {', '.join(RECIPE_KEYS)}",
    )
    parser.add_argument(
        "--chosen-on",
        action="append",
        default=[],
        metavar="DIR",
        help="an output dir of a --validation run this recipe was chosen on; its validation accuracy and recipe "
        "are recorded in metrics.json under recipe_choice (repeat for each run compared)",
    )
    parser.add_argument(
        "--teacher",
        action="append",
        default=[],
        metavar="DIR",
        help="an output dir of an earlier run whose model of the same name teaches this one (distillation: the "
        "target mixes the teachers' mean prediction with the label); repeat for an ensemble of teachers",
    )
    parser.add_argument(
        "--push-to-hub", metavar="REPO_ID", help="upload the output dir to this Hugging Face model repo"
    )
    args = parser.parse_args(argv)
    # A validation run's weights miss the held-out images and its metrics have no test score: never served.
    serves = Path(args.output_dir).resolve() == model_defs.WEIGHTS_DIR
    if args.validation and (serves or args.push_to_hub):
        where = "--push-to-hub" if args.push_to_hub else "weights/, which holds the models the app serves"
        parser.error(f"--validation needs its own --output-dir, not {where}")
    if args.permute_pixels is not None and serves:
        parser.error("--permute-pixels needs --output-dir: weights/ holds the models the app serves")
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


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(model_defs.NUM_CLASSES, dtype="float32")[labels]


def pixel_permutation(seed: int) -> np.ndarray:
    """One fixed order of the 784 pixel positions, the same for every image, drawn from seed."""
    return np.random.default_rng(seed).permutation(model_defs.IMAGE_SIZE**2)


def permute(images: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """N x 28 x 28 x 1 images with their pixels reordered by permutation."""
    flat = images.reshape(len(images), -1)
    return flat[:, permutation].reshape(images.shape)


class PixelPermutation(layers.Layer):
    """permute() inside the training graph, after augmentation: a shuffled image can't be rotated or shifted."""

    def __init__(self, permutation: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.permutation = np.asarray(permutation, dtype="int32")

    def call(self, images):
        flat = keras.ops.reshape(images, (-1, len(self.permutation)))
        return keras.ops.reshape(keras.ops.take(flat, self.permutation, axis=1), (-1, *model_defs.INPUT_SHAPE))


class ElasticDistortion(layers.Layer):
    """Simard, Steinkraus and Platt (2003): every pixel moves along a random field, uniform in [-1, 1] per pixel
    and axis, smoothed by a Gaussian of sigma px and scaled by alpha px. Active only while training."""

    def __init__(self, alpha: float, sigma: float, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        # The Gaussian as a matrix that blurs one axis (zero beyond the image's edge): two matrix products
        # are several times faster on a CPU than a depthwise convolution with a 25-tap kernel.
        offsets = np.arange(model_defs.IMAGE_SIZE)
        blur = np.exp(-((offsets[:, None] - offsets[None, :]) ** 2) / (2 * sigma**2))
        self.blur = (blur / np.exp(-(np.arange(-50, 51) ** 2) / (2 * sigma**2)).sum()).astype("float32")
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, images, training=None):
        if not training:
            return images
        side = model_defs.IMAGE_SIZE
        count = keras.ops.size(images) // side**2  # TensorFlow's graph leaves the batch's size open
        field = keras.random.uniform((count, side, side, 2), -1.0, 1.0, seed=self.seed_generator)
        field = keras.ops.einsum("ij,njkc->nikc", self.blur, keras.ops.einsum("njkc,lk->njlc", field, self.blur))
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1).astype("float32")
        return bilinear_sample(images, grid + self.alpha * field)


def bilinear_sample(images, points):
    """N x S x S x 1 images read at N x S x S x 2 (row, column) points, by bilinear interpolation; 0 outside.

    Written with gathers rather than keras.ops.image.map_coordinates, which needs the batch's size in advance.
    """
    side = model_defs.IMAGE_SIZE
    flat = keras.ops.reshape(images, (-1,))
    first = keras.ops.reshape(keras.ops.arange(keras.ops.size(images) // side**2) * side**2, (-1, 1, 1))
    low = keras.ops.floor(points)
    fraction = points - low
    low = keras.ops.cast(low, "int32")
    total = 0.0
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        row, column = low[..., 0] + dr, low[..., 1] + dc
        inside = (row >= 0) & (row < side) & (column >= 0) & (column < side)
        index = first + keras.ops.clip(row, 0, side - 1) * side + keras.ops.clip(column, 0, side - 1)
        weight = (fraction[..., 0] if dr else 1 - fraction[..., 0]) * (fraction[..., 1] if dc else 1 - fraction[..., 1])
        total = total + keras.ops.where(inside, weight, 0.0) * keras.ops.take(flat, index)
    return total[..., None]


def augmenter(recipe: dict) -> keras.Layer:
    """Random rotation, zoom and shift, then an elastic distortion where the recipe names one, active only while
    training; none where the recipe names none."""
    if "rotation_degrees" not in recipe:
        return layers.Identity(name="augment")
    steps = [
        layers.RandomRotation(recipe["rotation_degrees"] / 360, fill_mode="constant"),
        layers.RandomZoom(recipe["zoom"], fill_mode="constant"),
        layers.RandomTranslation(recipe["shift"], recipe["shift"], fill_mode="constant"),
    ]
    if recipe.get("elastic_alpha"):
        steps.append(ElasticDistortion(recipe["elastic_alpha"], recipe.get("elastic_sigma", 4.0)))
    if keras.backend.backend() == "jax":
        # Keras marks its random image layers unfit for XLA, which is true of TensorFlow's kernels only, and a
        # model with one such layer trains without jit: on JAX that runs every operation on its own, 100 times
        # slower on a GPU. JAX compiles these layers as it compiles the rest.
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


def training_devices() -> list[str]:
    """Every accelerator the backend sees, else every CPU device (XLA can be told to simulate several)."""
    devices = keras.distribution.list_devices()
    return [d for d in devices if not d.lower().startswith("cpu")] or devices


def distribute(devices: list[str]) -> int:
    """Data-parallel training across several devices through Keras's distribution API; returns how many are used.

    Keras 3 distributes on the JAX backend only: elsewhere training stays on the first device.
    """
    if len(devices) < 2:
        return 1
    if keras.backend.backend() != "jax":
        print(f"{len(devices)} devices seen, but Keras distributes only with KERAS_BACKEND=jax: training on one")
        return 1
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return len(devices)


def device_description(devices: list[str]) -> str:
    if devices[0].lower().startswith("cpu") and len(devices) == 1:
        return f"CPU, {os.cpu_count()} cores ({keras.backend.backend()})"
    return f"{len(devices)} x {devices[0].split(':')[0].upper()} ({keras.backend.backend()})"


def even_split(count: int, batch_size: int, devices: int) -> int:
    """How many of count images to train on so that every batch, the last one too, splits evenly across devices."""
    return count - (count % batch_size) % devices


def recipe_of(model_name: str, args, base: dict | None = None) -> dict:
    """The recipe a model trains by, its own or a teacher's (base), changed by --set (a teacher's never distils)
    and with --epochs and --batch-size."""
    changes = dict(args.set)
    if base is not None:
        changes.pop("distillation", None)
    recipe = {**(RECIPES[model_name] if base is None else base), **changes}
    recipe["epochs"] = args.epochs or recipe["epochs"]
    recipe["batch_size"] = args.batch_size or recipe["batch_size"]
    return recipe


def train_one(
    model_name: str,
    args,
    train,
    test,
    validation=None,
    devices: int = 1,
    teachers: list[keras.Model] = (),
    recipe: dict | None = None,
) -> tuple[keras.Model, dict]:
    """Train one model by its recipe, scoring validation (images, labels) after every epoch.

    Without a validation split the test set is scored after every epoch instead, as a curve to watch: nothing
    is chosen from it (the schedule is fixed in advance), and the committed weights were trained that way, so
    keeping it keeps a rerun identical to them (each evaluation moves the seeds that shuffle later epochs).
    """
    recipe = recipe or recipe_of(model_name, args)
    (x_train, y_train), (x_test, y_test) = train, test
    mnist_images, drawn_count = len(x_train), recipe.get("style_digits", 0)
    x_train, y_train = with_drawn_digits(x_train, y_train, drawn_count, args.seed)
    kept = even_split(len(x_train), recipe["batch_size"], devices)
    x_train, y_train = x_train[:kept], y_train[:kept]
    keras.utils.set_random_seed(args.seed)

    model = model_defs.build(model_name)
    permutation = None if args.permute_pixels is None else pixel_permutation(args.permute_pixels)
    if permutation is not None:
        x_test = permute(x_test, permutation)
        validation = validation and (permute(validation[0], permutation), validation[1])
    trainer = trainer_for(model, augmenter(recipe), permutation, teachers)
    steps = recipe["epochs"] * int(np.ceil(len(x_train) / recipe["batch_size"]))
    schedule = recipe["learning_rate"]
    if recipe.get("schedule", "cosine") == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe["learning_rate"] / 10,
            decay_steps=steps,
            warmup_target=recipe["learning_rate"],
            warmup_steps=steps // 20,
        )
    # The average starts at the initial weights: a short run averages over its last tenth at most.
    ema_momentum = max(0.0, min(recipe.get("ema_momentum", 0.0), 1 - 10 / steps))
    trainer.compile(
        optimizer=keras.optimizers.Adam(
            schedule,
            weight_decay=recipe.get("weight_decay"),
            use_ema="ema_momentum" in recipe,
            ema_momentum=ema_momentum,
        ),
        **loss_and_metrics(recipe, teachers),
    )
    clean_epochs = recipe.get("clean_epochs", 0)
    print(
        f"\n== {model_defs.MODEL_TITLES[model_name]}: {model.count_params():,} parameters, "
        f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, {len(x_train):,} training images"
        + (f" ({drawn_count:,} of them drawn by handwriting_styles.py)" if drawn_count else "")
        + (f", {len(validation[0]):,} held out for validation" if validation else "")
        + (f", taught by {len(teachers)} teacher(s)" if teachers else "")
        + (f", then {clean_epochs} epoch(s) without augmentation" if clean_epochs else "")
    )
    fit = fit_arguments(x_train, y_train, validation or (x_test, y_test), recipe, teachers)
    timer = EpochTimer()
    history = trainer.fit(epochs=recipe["epochs"], callbacks=[timer], **fit).history
    seconds = timer.seconds[1:] or timer.seconds  # the first epoch also compiles the graph; later ones show the pace
    total_seconds = sum(timer.seconds)
    if clean_epochs:
        clean_history, clean_seconds = train_clean(model, recipe, fit, permutation, teachers)
        history = {key: values + clean_history[key] for key, values in history.items()}
        total_seconds += sum(clean_seconds)
    # The saved weights are scored on the test set, or in a validation run on the held-out images alone: a run that
    # chooses a recipe never sees a test score, so none can sway the choice.
    split, (images, labels) = ("validation", validation) if validation else ("test", (x_test, y_test))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(images, labels, batch_size=1000, verbose=0)
    predictions = np.argmax(model.predict(images, batch_size=1000, verbose=0), axis=1)
    confusion = np.zeros((model_defs.NUM_CLASSES, model_defs.NUM_CLASSES), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    metrics = {
        "title": model_defs.MODEL_TITLES[model_name],
        "parameters": model.count_params(),
        f"{split}_accuracy": float(accuracy),
        f"{split}_loss": float(loss),
        "test_images": 0 if validation else len(x_test),
        "train_images": min(mnist_images, kept),  # MNIST's; the recipe's style_digits come on top
        "validation_images": len(validation[0]) if validation else 0,
        "seconds_per_epoch": round(float(np.mean(seconds)), 2),  # the augmented epochs
        "jit_compiled": bool(trainer.jit_compile),  # XLA; TensorFlow trains its image augmentation as a graph instead
        "total_training_seconds": round(float(total_seconds), 1),
        "recipe": recipe,
        "seed": args.seed,
        "history": {key: [round(float(v), 5) for v in values] for key, values in history.items()},
        "confusion_matrix": confusion.tolist(),
    }
    metrics["curve"] = split  # the per-epoch curve scores the raw weights, not their average as saved
    if args.permute_pixels is not None:
        metrics["permutation_seed"] = args.permute_pixels
    return model, metrics


def held_out(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[tuple, tuple | None]:
    """(training, validation) images and labels, prepared: the last count training images are held out for
    validation (None where count is 0)."""
    kept = len(images) - count
    validation = (prepare(images[kept:]), labels[kept:]) if count else None
    return (prepare(images[:kept]), labels[:kept]), validation


def with_drawn_digits(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training images followed by count drawings of the handwriting MNIST lacks, drawn on seeds the check set
    never uses."""
    if not count:
        return images, labels
    drawn, drawn_labels = handwriting_styles.training_digits(count, seed)
    return np.concatenate([images, prepare(drawn)]), np.concatenate([labels, drawn_labels])


def train_clean(model, recipe: dict, fit: dict, permutation=None, teachers=()) -> tuple[dict, list[float]]:
    """The recipe's clean_epochs: model trains on the training images as they are, without augmentation, at a
    small learning rate falling to zero; returns the per-epoch history and seconds.

    After the augmented epochs (and from their weight average) this stops the network spending itself on
    distortions the test digits never show. fit: what fit_arguments gives for the same recipe and teachers.
    """
    clean = trainer_for(model, None, permutation, teachers)
    steps = recipe["clean_epochs"] * int(np.ceil(len(fit["x"]) / fit["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(recipe.get("clean_learning_rate", CLEAN_LEARNING_RATE), steps)
    clean.compile(optimizer=keras.optimizers.Adam(schedule), **loss_and_metrics(recipe, teachers))
    timer = EpochTimer()
    history = clean.fit(epochs=recipe["clean_epochs"], callbacks=[timer], **fit).history
    return history, timer.seconds


def fit_arguments(images, labels, watched: tuple, recipe: dict, teachers=(), verbose: int = 2) -> dict:
    """model.fit's images, targets, batch size and watched (images, labels) for a recipe: the targets one-hot
    wherever loss_and_metrics smooths or distils them."""
    if teachers or recipe.get("label_smoothing"):
        labels, watched = one_hot(labels), (watched[0], one_hot(watched[1]))
    batch_size = recipe["batch_size"]
    return {"x": images, "y": labels, "batch_size": batch_size, "validation_data": watched, "verbose": verbose}


def trainer_for(model, augment, permutation, teachers) -> keras.Model:
    """The model as it trains: on its inputs through augment (None: as they are), pixels permuted where the run
    permutes them, and with its teachers' mean prediction beside its own where it distils."""
    inputs = keras.Input(shape=model_defs.INPUT_SHAPE)
    seen = inputs if augment is None else augment(inputs)
    if permutation is not None:
        seen = PixelPermutation(permutation)(seen)
    outputs = model(seen)
    if teachers:  # frozen and in inference mode: no dropout, no gradient
        taught = [teacher(seen, training=False) for teacher in teachers]
        outputs = layers.Concatenate()([outputs, taught[0] if len(taught) == 1 else layers.Average()(taught)])
    return keras.Model(inputs, outputs, name=f"{model.name}_training")


def loss_and_metrics(recipe: dict, teachers) -> dict:
    """compile()'s loss and metrics for a recipe; its targets are one-hot wherever they are smoothed or distilled."""
    if teachers:
        loss = distilled_loss(recipe["distillation"], recipe.get("label_smoothing", 0.0))
        return {"loss": loss, "metrics": [keras.metrics.MeanMetricWrapper(student_accuracy, name="accuracy")]}
    if recipe.get("label_smoothing"):  # Keras smooths one-hot targets only
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe["label_smoothing"])
        return {"loss": loss, "metrics": ["accuracy"]}
    return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def distils(model_name: str, args) -> bool:
    return bool(recipe_of(model_name, args).get("distillation"))


def trained_teachers(model_name: str, args, data: tuple) -> tuple[list[keras.Model], list[dict]]:
    """model_name's TEACHERS recipes, trained here first on the student's data, and their record for metrics.json."""
    teachers, records = [], []
    for index, recipe in enumerate(TEACHERS[model_name]):
        print(f"\n== teacher {index + 1} of {len(TEACHERS[model_name])}")
        teacher, entry = train_one(model_name, args, *data, recipe=recipe_of(model_name, args, recipe))
        teachers.append(frozen(teacher, index))
        keys = ("recipe", "validation_accuracy", "test_accuracy", "total_training_seconds")
        records.append({key: entry[key] for key in keys if key in entry})
    return teachers, records


def frozen(teacher: keras.Model, index: int) -> keras.Model:
    teacher.trainable, teacher.name = False, f"teacher_{index}"  # a name of its own: the student is model_name
    return teacher


def load_teachers(folders: list[Path], model_name: str) -> tuple[list[keras.Model], list[dict]]:
    """The model_name networks saved in folders, frozen, to teach a student of the same architecture, and their
    record for metrics.json."""
    teachers, records = [], []
    for folder in folders:
        path = folder / model_defs.weights_file(model_name)
        if not path.is_file():
            raise UsageError(f"--teacher {folder}: no {path.name} in it")
        try:  # as the app loads weights: into the network model_defs builds, vouched for by the run's metrics.json
            teacher = model_defs.load_model(model_name, folder)
        except (OSError, ValueError) as error:
            raise UsageError(f"--teacher {folder}: {error}") from None
        teachers.append(frozen(teacher, len(teachers)))
        records.append({"folder": str(folder), "weights_sha256": model_defs.file_sha256(path)})
    return teachers, records


def distilled_loss(weight: float, label_smoothing: float):
    """Cross-entropy of the student (the first ten outputs) against (1 - weight) x the smoothed one-hot label
    plus weight x the teachers' mean prediction (the last ten)."""

    def loss(y_true, y_pred):
        student, teachers = y_pred[:, : model_defs.NUM_CLASSES], y_pred[:, model_defs.NUM_CLASSES :]
        label = y_true * (1 - label_smoothing) + label_smoothing / model_defs.NUM_CLASSES
        return keras.losses.categorical_crossentropy((1 - weight) * label + weight * teachers, student)

    return loss


def student_accuracy(y_true, y_pred):
    return keras.metrics.categorical_accuracy(y_true, y_pred[:, : model_defs.NUM_CLASSES])


def validation_runs(folders: list[Path], model_name: str) -> list[dict]:
    """What each --validation run in folders scored for model_name, with its recipe: the record of a choice."""
    runs = []
    for folder in folders:
        entry = load_metrics(folder)["models"].get(model_name)
        if entry is None:
            raise UsageError(f"--chosen-on {folder}: no {model_name} run recorded in its {model_defs.METRICS_FILE}")
        if not entry.get("validation_images"):
            raise UsageError(f"--chosen-on {folder}: its {model_name} run held out no validation images")
        runs.append({key: entry.get(key) for key in ("validation_accuracy", "validation_images", "recipe", "command")})
    return runs


def environment(devices: list[str]) -> dict:
    backend = keras.backend.backend()
    backend_package = {"tensorflow": "tensorflow-cpu", "jax": "jax", "torch": "torch"}.get(backend, backend)
    versions = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__}
    for package in (backend_package, "tensorflow"):
        try:
            versions[package] = importlib.metadata.version(package)
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "command": " ".join(["python", *sys.argv]),
        "backend": backend,
        "device": device_description(devices),
        "devices": len(devices),
        "versions": versions,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def load_metrics(output_dir: Path) -> dict:
    path = output_dir / model_defs.METRICS_FILE
    if not path.exists():
        return {"models": {}}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {"models": {}}


def save_outputs(output_dir: Path, trained: dict[str, tuple[keras.Model, dict]], devices: list[str]) -> dict:
    """Write every file under a temporary name first, then rename them all into place, metrics.json last.

    A failure while writing (a full disk, a plotting error, an interrupt) leaves the previous set untouched.
    """
    metrics = load_metrics(output_dir)
    run = environment(devices)
    staged = {}  # final path -> temporary path, in the order they are renamed
    values = {model_name: model.get_weights() for model_name, (model, _) in trained.items()}
    try:
        for model_name, (_, model_metrics) in trained.items():
            path = output_dir / model_defs.weights_file(model_name)
            staged[path] = save_weights(model_name, values[model_name], temporary_name(path))
            metrics["models"][model_name] = {
                **model_metrics,
                **run,
                "weights_sha256": model_defs.file_sha256(staged[path]),
            }
        metrics["models"] = {name: metrics["models"][name] for name in MODEL_ORDER if name in metrics["models"]}
        for name, figure in plots(metrics):
            path = output_dir / name
            staged[path] = temporary_name(path)
            save_figure(figure, staged[path])
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
    """The weights alone, byte for byte the same for the same values: saved from a fresh, never-compiled copy.

    A compiled model would also write its optimizer's variables, and layer names (which the file records) count
    up across all models built in a process: a fresh session makes them the same in every run.
    """
    keras.backend.clear_session()
    clean = model_defs.build(model_name)
    clean.set_weights(values)
    clean.save_weights(path)
    return path


def plots(metrics: dict):
    """(file name, figure): accuracy and loss per epoch for every model, and a confusion matrix per served model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = metrics["models"]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for model_name, entry in models.items():
        history = entry["history"]
        epochs = range(1, len(history["loss"]) + 1)
        recipe = entry.get("recipe", {})
        seen = "augmented" if "rotation_degrees" in recipe else "not augmented"
        if recipe.get("clean_epochs"):
            seen += f" but the last {recipe['clean_epochs']}"
        for axis, key in zip(axes, ("accuracy", "loss"), strict=True):
            (line,) = axis.plot(epochs, history[key], "--", alpha=0.6, label=f"{model_name} train ({seen})")
            if f"val_{key}" in history:
                curve = "validation" if entry.get("validation_images") else "test, watched only"
                axis.plot(epochs, history[f"val_{key}"], color=line.get_color(), label=f"{model_name} {curve}")
    axes[0].set_ylim(0.95, 1.0)
    axes[1].set_ylim(0, 0.2)
    for axis, key in zip(axes, ("accuracy", "loss"), strict=True):
        axis.set_title(f"{key} per epoch")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    yield "curves.png", figure

    for model_name in model_defs.MODEL_NAMES:
        if model_name not in models:
            continue
        entry = models[model_name]
        confusion = np.array(entry["confusion_matrix"])
        figure, axis = plt.subplots(figsize=(5.2, 4.6), dpi=100)
        # Log scale so the few mistakes stay visible beside the ~1,000 correct answers per digit.
        axis.imshow(np.log1p(confusion), cmap="Blues")
        for (row, column), count in np.ndenumerate(confusion):
            if count:
                color = "white" if row == column else "black"
                axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=color)
        axis.set_xticks(range(10))
        axis.set_yticks(range(10))
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        images, accuracy, _ = model_defs.scored_on(entry)
        on = "" if "test" in images else f" of {images}"
        axis.set_title(f"{entry['title']}: {accuracy:.2%}{on} correct")
        yield f"confusion_{model_name}.png", figure


def save_figure(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


def print_table(metrics: dict) -> None:
    header = f"{'model':<8} {'parameters':>10} {'accuracy':>9} {'loss':>9}  {'scored on':<24} {'s/epoch':>8}  device"
    print("\n" + header + "\n" + "-" * len(header))
    for model_name, entry in metrics["models"].items():
        images, accuracy, loss = model_defs.scored_on(entry)
        print(
            f"{model_name:<8} {entry['parameters']:>10,} {accuracy:>9.2%} {loss:>9.4f}  {images:<24} "
            f"{entry['seconds_per_epoch']:>8.1f}  {entry['device']}"
        )


MODEL_CARD = """---
library_name: keras
license: cc-by-sa-3.0
datasets: [mnist]
tags: [image-classification, mnist, keras]
---
# Handwritten-digit studio weights

Weights for the two Keras 3 models of the handwritten-digit studio: a LeNet-style CNN and a
plain dense network, trained on the 60,000 MNIST training images by `train.py`.
Build the architectures with `model_defs.build_cnn()` / `build_linear()` and load these files
with `model.load_weights(...)`; `metrics.json` holds each file's sha256.

| model | parameters | accuracy | scored on |
|---|---|---|---|
{rows}
"""


def push_to_hub(repo_id: str, output_dir: Path, metrics: dict) -> None:
    import huggingface_hub

    rows = "\n".join(
        f"| {entry['title']} | {entry['parameters']:,} | {accuracy:.2%} | {images} |"
        for entry in metrics["models"].values()
        for images, accuracy, _ in [model_defs.scored_on(entry)]
    )
    api = huggingface_hub.HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        api.upload_file(
            path_or_fileobj=MODEL_CARD.format(rows=rows).encode(), path_in_repo="README.md", repo_id=repo_id
        )
        api.upload_folder(
            folder_path=str(output_dir),
            repo_id=repo_id,
            allow_patterns=[
                *(model_defs.weights_file(n) for n in model_defs.MODEL_NAMES),
                model_defs.METRICS_FILE,
                *PLOT_FILES,
            ],
            commit_message="Upload weights from train.py",
        )
    except Exception as error:  # network down, no token, no permission: all end the same way
        reason = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise UsageError(f"upload to {repo_id} failed ({reason}); the files in {output_dir} are unchanged") from None
    print(f"uploaded to https://huggingface.co/{repo_id}")


def main(argv=None) -> None:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    try:
        check_writable(output_dir)
        (x_train, y_train), (x_test, y_test) = mnist_data.load_mnist(args.data_dir)
        if args.subset:
            x_train, y_train, x_test, y_test = (
                x_train[: args.subset],
                y_train[: args.subset],
                x_test[: args.subset],
                y_test[: args.subset],
            )
        devices = training_devices()
        devices = devices[: distribute(devices)]
        if args.validation >= len(x_train):
            raise UsageError(f"--validation {args.validation} leaves no training images (there are {len(x_train)})")
        names = model_defs.MODEL_NAMES if args.model == "all" else (args.model,)
        choices = {name: validation_runs([Path(folder) for folder in args.chosen_on], name) for name in names}
        distilling = [name for name in names if distils(name, args)]
        if args.teacher and not distilling:
            raise UsageError("--teacher: no model of this run distils (its recipe's distillation is 0)")
        for name in distilling:
            if not args.teacher and name not in TEACHERS:
                raise UsageError(f"the {name} recipe distils, but has no teachers of its own: name them with --teacher")
        # loaded before anything trains, so that a wrong --teacher folder shows at once
        folders = [Path(folder) for folder in args.teacher]
        given = {name: load_teachers(folders, name) for name in distilling} if folders else {}
        train, validation = held_out(x_train, y_train, args.validation)
        test = prepare(x_test), y_test
        trained = {}
        for name in names:
            teachers, records = [], []
            if name in distilling:
                data = (train, test, validation, len(devices))
                teachers, records = given[name] if name in given else trained_teachers(name, args, data)
            trained[name] = train_one(name, args, train, test, validation, len(devices), teachers)
            if records:
                trained[name][1]["teachers"] = records
            if choices[name]:
                trained[name][1]["recipe_choice"] = choices[name]
        check_writable(output_dir)
        metrics = save_outputs(output_dir, trained, devices)
        print_table(metrics)
        if args.push_to_hub:
            push_to_hub(args.push_to_hub, output_dir, metrics)
    except (UsageError, mnist_data.DataError) as error:
        sys.exit(f"train.py: error: {error}")


if __name__ == "__main__":
    main()
