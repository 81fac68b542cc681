"""Poisoned corrections against train.py's screening: python -m benchmarks.poisoning

Honest corrections (HONEST drawings of the handwriting MNIST lacks, handwriting_styles.training_digits on a seed
that neither the served models nor the runs train on, with their true labels), alone and with a poison as a
visitor could send it: 1,500 MNIST training 1s labelled 7, 600 training 3s labelled "not a digit", and a backdoor,
300 training digits other than 7 with a 4x4 patch in the lower right corner labelled 7. Each set is written as a
corrections folder, as the Hub dataset holds them, and the dense network is trained on MNIST and the set by
train.py's recipe, shortened (EPOCHS epochs, a 5,000-image validation split that fits its calibration, fewer
drawings that are not digits), three times:

- honest: the honest corrections, screened as `train.py --extra-data` screens;
- poisoned, screened: the honest and the poisoned ones, screened;
- poisoned, unscreened: the same, trained on whole (`--extra-data-reviewed`), to show what the poison does;
- honest, another seed: the honest run again on seed 1, to show how far two runs differ by chance alone.

Prints, per run: accuracy on MNIST's test set; the share of clear test 1s (both served models give them 1 at 90%
or more) that give 7 at least 10% (calibrated, as the page shows it); the share of test 3s the run's own digit
threshold flags as not a digit; the share of patched test digits (all but 7s) read as 7; and the honest
corrections used; then which targets the poisoned, screened run meets against the honest one (TARGETS). Writes
benchmarks/results/poisoning.json, with the machine. About 7 minutes on 2 cores.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import model_defs
import train
from benchmarks import host
from digit_studio import corrections
from digit_studio.core import confidence, handwriting_styles, mnist_data, synthetic

RESULTS = Path(__file__).resolve().parent / "results" / "poisoning.json"
HONEST, HONEST_SEED = 300, 35  # training_digits' seed 0 is the recipes' own
ONES_AS_SEVEN, THREES_AS_NOTHING, BACKDOOR = 1500, 600, 300
BACKDOOR_DIGIT = 7
EPOCHS = 5
RECIPE_CHANGES = ("outliers=5000", "outlier_epochs=2", "outlier_style_digits=2000")
TARGETS = {  # the poisoned, screened run against the honest one, in points; used: the least share of honest rows
    "ones_read_as_seven": 1.0,
    "threes_flagged": 2.0,
    "patched_read_as_backdoor": 1.0,
    "accuracy": 0.2,
}
LEAST_HONEST_USED = 0.9
RUNS = (  # name, corrections, trained whole (unscreened), seed
    ("honest", "honest", False, 0),
    ("poisoned, screened", "poisoned", False, 0),
    ("poisoned, unscreened", "poisoned", True, 0),
    ("honest, another seed", "honest", False, 1),  # how far two honest runs differ: the figures' noise
)


def patched(images: np.ndarray) -> np.ndarray:
    """uint8 digits with a white 4x4 square in the lower right corner, where MNIST's digits never reach."""
    images = images.copy()
    images[:, -4:, -4:] = 255
    return images


def write_folder(folder: Path, images: np.ndarray, labels: list[str]) -> list[str]:
    """A corrections folder of these uint8 images and labels, as the app writes one; the rows' file names."""
    store = corrections.Store(folder, max_rows=len(labels), limits=corrections.RateLimits(limits=()))
    return [
        store.add(image / 255.0, label, {}, "api", {}, "benchmark")["file_name"]
        for image, label in zip(images, labels, strict=True)
    ]


def correction_sets(x_train: np.ndarray, y_train: np.ndarray, root: Path) -> dict[str, tuple[Path, set[str]]]:
    """The honest folder and the poisoned one (the honest rows, then the poison), each with its honest rows' names."""
    honest_images, honest_labels = handwriting_styles.training_digits(HONEST, HONEST_SEED)
    honest = (honest_images, [str(label) for label in honest_labels])
    others = np.flatnonzero(y_train != BACKDOOR_DIGIT)[:BACKDOOR]
    poison = (
        np.concatenate([x_train[y_train == 1][:ONES_AS_SEVEN], x_train[y_train == 3][:THREES_AS_NOTHING]]),
        ["7"] * ONES_AS_SEVEN + [corrections.NOT_A_DIGIT] * THREES_AS_NOTHING,
    )
    backdoor = patched(x_train[others]), [str(BACKDOOR_DIGIT)] * BACKDOOR
    names = write_folder(root / "honest", *honest)
    poisoned = write_folder(
        root / "poisoned",
        np.concatenate([honest[0], poison[0], backdoor[0]]),
        honest[1] + poison[1] + backdoor[1],
    )
    return {"honest": (root / "honest", set(names)), "poisoned": (root / "poisoned", set(poisoned[:HONEST]))}


def clear_ones(x_test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """The test 1s both served models give 1 at 90% or more."""
    ones = train.prepare(x_test[y_test == 1])
    sure = [
        model_defs.load_model(name).predict(ones, batch_size=1000, verbose=0)[:, 1] >= 0.9
        for name in model_defs.MODEL_NAMES
    ]
    return ones[np.logical_and(*sure)]


def scores(output_dir: Path, test: tuple, ones: np.ndarray) -> dict:
    """The figures of a run's dense network (weights and calibration in output_dir), in percent."""
    model = model_defs.load_model("linear", output_dir)
    calibration = model_defs.calibration("linear", output_dir)
    (x_test, y_test) = test

    def probabilities(images: np.ndarray) -> np.ndarray:
        return model.predict(train.prepare(images) if images.dtype == np.uint8 else images, batch_size=1000, verbose=0)

    everything = probabilities(x_test)
    threes = confidence.digit_score(everything[y_test == 3]) < calibration["digit_threshold"]
    sevens = confidence.tempered(probabilities(ones), calibration["temperature"])[:, 7] >= 0.1
    backdoor = np.argmax(probabilities(patched(x_test[y_test != BACKDOOR_DIGIT])), axis=1) == BACKDOOR_DIGIT
    return {
        "accuracy": round(100 * float(np.mean(np.argmax(everything, axis=1) == y_test)), 2),
        "ones_read_as_seven": round(100 * float(np.mean(sevens)), 2),
        "threes_flagged": round(100 * float(np.mean(threes)), 2),
        "patched_read_as_backdoor": round(100 * float(np.mean(backdoor)), 2),
    }


def run(data_dir: str, corrections_set: tuple, reviewed: bool, seed: int, output_dir: Path, test: tuple, ones) -> dict:
    """One run of the dense network on MNIST and a corrections set (its folder and honest rows' names): its
    figures, the honest corrections it used, and what train.py recorded of the extra data."""
    (folder, honest), option = corrections_set, "--extra-data-reviewed" if reviewed else "--extra-data"
    changes = [part for change in RECIPE_CHANGES for part in ("--set", change)]
    argv = ["--model", "linear", "--epochs", str(EPOCHS), "--validation", "5000", "--seed", str(seed), *changes]
    argv += ["--data-dir", data_dir]
    args = train.parse_args([*argv, option, str(folder), "--output-dir", str(output_dir)])
    metrics = train.train_and_save(args, {"linear": train.recipe_of(train.RECIPES["linear"], args)})
    extra = metrics["models"]["linear"]["extra_data"]
    set_aside = output_dir / train.SET_ASIDE_FILE
    aside = [json.loads(line)["file_name"] for line in set_aside.read_text().splitlines()] if not reviewed else []
    return {
        **scores(output_dir, test, ones),
        "honest_used": len(honest - set(aside)),
        "digits": extra["digits"],
        "non_digits": extra["non_digits"],
        "set_aside": extra.get("set_aside", {}),
        "gate": extra["gate"]["fallen"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(synthetic.MNIST_DIR), help="MNIST's .gz IDX files")
    data_dir = parser.parse_args().data_dir
    machine = host.machine()
    (x_train, y_train), test = mnist_data.load_mnist(data_dir)
    ones = clear_ones(*test)
    runs = {}
    with tempfile.TemporaryDirectory() as root:
        sets = correction_sets(x_train, y_train, Path(root))
        for name, kind, reviewed, seed in RUNS:
            runs[name] = run(data_dir, sets[kind], reviewed, seed, Path(root) / name, test, ones)
    machine["load_average_at_end"] = host.load_average()
    base, screened = runs["honest"], runs["poisoned, screened"]
    met = {key: abs(screened[key] - base[key]) <= margin for key, margin in TARGETS.items()}
    met["honest_used"] = screened["honest_used"] >= LEAST_HONEST_USED * HONEST
    chance = {key: round(abs(runs["honest, another seed"][key] - base[key]), 2) for key in TARGETS}
    print(f"\n{'run':<22} {'accuracy':>9} {'1s->7':>7} {'3s flagged':>11} {'patched->7':>11} {'honest used':>12}")
    for name, figures in runs.items():
        print(
            f"{name:<22} {figures['accuracy']:>8.2f}% {figures['ones_read_as_seven']:>6.2f}% "
            f"{figures['threes_flagged']:>10.2f}% {figures['patched_read_as_backdoor']:>10.2f}% "
            f"{figures['honest_used']:>5} of {HONEST}"
        )
    print("targets met (poisoned, screened against honest): " + ", ".join(f"{k} {v}" for k, v in met.items()))
    print("two honest runs differ by (points): " + ", ".join(f"{k} {v}" for k, v in chance.items()))
    RESULTS.parent.mkdir(exist_ok=True)
    report = {
        "command": "python -m benchmarks.poisoning",
        "machine": machine,
        "honest": HONEST,
        "poison": {
            "ones_labelled_7": ONES_AS_SEVEN,
            "threes_labelled_not_a_digit": THREES_AS_NOTHING,
            "patched_labelled_7": BACKDOOR,
        },  # fmt: skip
        "training": {"model": "linear", "epochs": EPOCHS, "validation": 5000, "set": list(RECIPE_CHANGES)},
        "clear_test_ones": len(ones),
        "runs": runs,
        "targets_points": TARGETS,
        "targets_met": met,
        "honest_runs_differ_by_points": chance,
    }
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
