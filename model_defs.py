"""The two networks the studio compares, and the constants every other file shares.

Both follow the original teaching project layer for layer:

- ``build_cnn()``: LeNet-style CNN, 369,174 parameters.
- ``build_linear()``: plain dense network on the flattened image, 111,146 parameters.

Dropout is the only addition (it has no parameters and is inactive at inference).
This module imports Keras alone, so it runs on any Keras 3 backend.
"""

import hashlib
import json
from pathlib import Path

import keras
from keras import layers

IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = 10
CLASS_NAMES = [str(digit) for digit in range(NUM_CLASSES)]

MODEL_NAMES = ("cnn", "linear")
# One name each, everywhere: the original project called the dense network "linear", which survives in file names.
MODEL_TITLES = {"cnn": "CNN", "linear": "Dense network", "wide_cnn": "Write-up's wide CNN"}
MODEL_COLOURS = {"cnn": "#1971c2", "linear": "#e8590c", "wide_cnn": "#2f9e44"}  # the page's, the plots' too
PARAMETER_COUNTS = {"cnn": 369_174, "linear": 111_146, "wide_cnn": 3_274_634}

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
METRICS_FILE = "metrics.json"


def scored_on(entry: dict) -> tuple[str, float, float]:
    """What a metrics.json entry was scored on ("10,000 test images", or a --validation run's held-out "5,000
    validation images": such a run never looks at the test set), its accuracy and its loss there."""
    split = "test" if entry.get("test_images") else "validation"
    return f"{entry[f'{split}_images']:,} {split} images", entry[f"{split}_accuracy"], entry[f"{split}_loss"]


def calibration(model_name: str, weights_dir: Path = WEIGHTS_DIR) -> dict:
    """How the app turns a model's probabilities into what it shows (confidence.py): its "temperature" and the
    "digit_threshold" of its digit score, as train.py fitted them on held-out digits and wrote in metrics.json."""
    try:
        return json.loads((Path(weights_dir) / METRICS_FILE).read_text())["models"][model_name]["calibration"]
    except (OSError, ValueError, KeyError) as error:
        raise WeightsError(f"cannot read {model_name}'s calibration from {weights_dir}: {error}") from None


def weights_file(model_name: str) -> str:
    """File name of a model's weights inside a weights directory."""
    return f"{model_name}.weights.h5"


def build_cnn(dropout_rate: float = 0.3) -> keras.Model:
    """Conv 32@5x5 same -> pool -> Conv 48@5x5 valid -> pool -> Dense 256 -> Dense 84 -> Dense 10."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2, strides=2),
            layers.Conv2D(48, 5, padding="valid", activation="relu"),
            layers.MaxPooling2D(pool_size=2, strides=2),
            layers.Flatten(),
            layers.Dropout(dropout_rate),
            layers.Dense(256, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(84, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="cnn",
    )


def build_linear(dropout_rate: float = 0.1) -> keras.Model:
    """Flatten 784 -> Dense 128 relu -> Dense 64 sigmoid -> Dense 32 sigmoid -> Dense 10."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(64, activation="sigmoid"),
            layers.Dense(32, activation="sigmoid"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="linear",
    )


def build_wide_cnn(dropout_rate: float = 0.5) -> keras.Model:
    """The companion write-up's CNN, for comparison only (the app serves the two above):
    Conv 32@5x5 same -> pool -> Conv 64@5x5 same -> pool -> Dense 1024 -> Dense 10, 3,274,634 parameters."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2, strides=2),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2, strides=2),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="wide_cnn",
    )


BUILDERS = {"cnn": build_cnn, "linear": build_linear, "wide_cnn": build_wide_cnn}


def build(model_name: str) -> keras.Model:
    """Build a model by name; unknown names raise ValueError."""
    if model_name not in BUILDERS:
        raise ValueError(f"unknown model {model_name!r}; choose from {', '.join(BUILDERS)}")
    return BUILDERS[model_name]()


class WeightsError(ValueError):
    """A weight file is missing or is not the one metrics.json describes."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model(model_name: str, weights_dir: Path = WEIGHTS_DIR) -> keras.Model:
    """Build the named architecture and load its weights, refusing a file metrics.json does not vouch for.

    Weights only ever go into the architectures above: no pickled or whole-model file is read.
    """
    weights_dir = Path(weights_dir)
    path = weights_dir / weights_file(model_name)
    try:
        expected = json.loads((weights_dir / METRICS_FILE).read_text())["models"][model_name]["weights_sha256"]
        actual = file_sha256(path)
    except (OSError, ValueError, KeyError) as error:
        raise WeightsError(f"cannot load {model_name} weights from {weights_dir}: {error}") from None
    if actual != expected:
        raise WeightsError(
            f"{path.name}: sha256 {actual[:16]}... differs from {expected[:16]}... in {METRICS_FILE}; "
            "refusing to load it"
        )
    model = build(model_name)
    model.load_weights(path)
    return model
