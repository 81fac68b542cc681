"""The test-set experiments behind the studio's "Why they differ" section, from the committed weights.

    python -m experiments.robustness --data-dir ../shared/mnist                    # 6 minutes on 2 busy cores
    python -m experiments.robustness --data-dir ../shared/mnist --permuted DIR     # and record a permuted-pixel run

where DIR is what `python -m experiments.permuted_pixels --output-dir DIR` wrote: both architectures retrained
on MNIST with one fixed permutation of the 784 pixels (the same for training and test images).

Writes to --output-dir (default weights/):
- robustness.json: both models' accuracy on all 10,000 test digits shifted right by 0..8 px and rotated
  anticlockwise by 0..45 degrees (explain.stress, as the page's stress test does it), and, under
  "permuted_pixels", the permuted run's accuracies beside the committed ones, its seed and its command. Without
  --permuted the "permuted_pixels" entry already in robustness.json is kept, so the two parts can be recomputed
  separately.
- robustness.png: the shift and rotation curves, and the permuted-pixel bars once there are figures for them.
- mistakes.npz: every test digit either model gets wrong (index, 28x28 uint8 image, label, both predictions):
  the app's mistakes gallery, as the app has no MNIST at run time.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import model_defs
from digit_studio import answers
from digit_studio.core import explain, mnist_data

SHIFTS_PX = list(range(9))
ROTATIONS_DEG = list(range(0, 46, 5))
BATCH_SIZE = 1000


def accuracy_curves(models: dict, images: np.ndarray, labels: np.ndarray) -> dict:
    """Each model's accuracy at each shift and rotation."""
    curves = {name: {"shift": [], "rotation": []} for name in models}
    for kind, setting, values in (("shift", "shift_x", SHIFTS_PX), ("rotation", "rotation", ROTATIONS_DEG)):
        for value in values:
            moved = np.stack([explain.stress(image, **{setting: value}) for image in images])
            for name, model in models.items():
                curves[name][kind].append(float(np.mean(answers.predicted_digits(model, moved, BATCH_SIZE) == labels)))
            print(f"{kind} {value:>2}: " + ", ".join(f"{n} {c[kind][-1]:.2%}" for n, c in curves.items()), flush=True)
    return curves


def permuted_entry(run_dir: Path) -> dict:
    """The permuted-pixel run's accuracies, from its metrics.json."""
    path = Path(run_dir) / model_defs.METRICS_FILE
    try:
        models = json.loads(path.read_text())["models"]
        seeds = {models[name]["permutation_seed"] for name in model_defs.MODEL_NAMES}
        accuracy = {name: float(models[name]["test_accuracy"]) for name in model_defs.MODEL_NAMES}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(
            f"experiments.robustness: {path} is not a permuted-pixel run's metrics.json: {error!r}"
        ) from None
    if len(seeds) != 1:
        raise SystemExit(
            f"experiments.robustness: {path}: the two models were trained on different permutations {seeds}"
        )
    return {
        "permutation_seed": seeds.pop(),
        "command": models["cnn"].get("command"),
        "epochs": {name: len(models[name].get("history", {}).get("accuracy", [])) or None for name in models},
        "test_images": models["cnn"].get("test_images"),
        "train_images": models["cnn"].get("train_images"),
        "test_accuracy": accuracy,
    }


def mistakes(models: dict, images: np.ndarray, labels: np.ndarray) -> dict:
    """The test digits that either model gets wrong, with both models' answers."""
    predicted = {name: answers.predicted_digits(model, images, BATCH_SIZE) for name, model in models.items()}
    wrong = np.flatnonzero((predicted["cnn"] != labels) | (predicted["linear"] != labels))
    return {
        "index": wrong.astype(np.int32),
        "image": images[wrong],
        "label": labels[wrong],
        **{name: predicted[name][wrong].astype(np.uint8) for name in models},
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    permuted = report.get("permuted_pixels")
    figure, axes = plt.subplots(1, 3 if permuted else 2, figsize=(13 if permuted else 9, 3.6))
    for axis, kind, values, unit in (
        (axes[0], "shift", report["shift_px"], "shift to the right (px)"),
        (axes[1], "rotation", report["rotation_deg"], "anticlockwise rotation (degrees)"),
    ):
        for name in model_defs.MODEL_NAMES:
            accuracy = [100 * a for a in report["accuracy"][name][kind]]
            colour = model_defs.MODEL_COLOURS[name]
            axis.plot(values, accuracy, "o-", color=colour, label=model_defs.MODEL_TITLES[name])
        axis.set(xlabel=unit, ylabel="test accuracy (%)", ylim=(0, 100))
        axis.grid(alpha=0.3)
    axes[0].legend(loc="lower left")
    if permuted:
        positions = np.arange(len(model_defs.MODEL_NAMES))
        for offset, key, title in (
            (-0.2, "unpermuted_test_accuracy", "pixels in place"),
            (0.2, "test_accuracy", "pixels permuted"),
        ):
            scores = [100 * permuted[key][n] for n in model_defs.MODEL_NAMES]
            axes[2].bar_label(axes[2].bar(positions + offset, scores, 0.4, label=title), fmt="%.2f", fontsize=8)
        axes[2].set(xticks=positions, xticklabels=["CNN", "dense"], ylabel="test accuracy (%)", ylim=(0, 105))
        axes[2].set_title(f"retrained on permuted pixels (seed {permuted['permutation_seed']})", fontsize=10)
        axes[2].legend(loc="lower left")
    figure.tight_layout()
    replace_with(path, lambda tmp: figure.savefig(tmp, format="png", dpi=90))
    plt.close(figure)


def replace_with(path: Path, write) -> None:
    """Write beside path and rename into place, so a failed run leaves the old file whole."""
    tmp = path.with_name(f".{os.getpid()}.tmp.{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help="folder with MNIST's test .gz IDX files (default: $MNIST_DIR, else download)"
    )
    parser.add_argument("--weights-dir", type=Path, default=model_defs.WEIGHTS_DIR)
    parser.add_argument("--output-dir", type=Path, default=model_defs.WEIGHTS_DIR)
    parser.add_argument(
        "--permuted", type=Path, metavar="DIR", help="output dir of python -m experiments.permuted_pixels"
    )
    parser.add_argument("--limit", type=int, help="only the first N test digits (a quick check, not for weights/)")
    args = parser.parse_args(argv)

    try:
        if args.data_dir:
            images, labels = mnist_data.load_test_from_dir(args.data_dir)
        else:
            _, (images, labels) = mnist_data.load_mnist()
        models = {name: model_defs.load_model(name, args.weights_dir) for name in model_defs.MODEL_NAMES}
    except (mnist_data.DataError, model_defs.WeightsError) as error:
        raise SystemExit(f"experiments.robustness: {error}") from None
    images, labels = images[: args.limit], labels[: args.limit]
    committed = json.loads((args.weights_dir / model_defs.METRICS_FILE).read_text())["models"]
    report_path = args.output_dir / "robustness.json"
    previous = json.loads(report_path.read_text()) if report_path.is_file() else {}
    permuted = permuted_entry(args.permuted) if args.permuted else previous.get("permuted_pixels")

    report = {
        "test_images": len(images),
        "command": " ".join(["python -m experiments.robustness", *(sys.argv[1:] if argv is None else argv)]),
        "shift_px": SHIFTS_PX,
        "shift_direction": "right",
        "rotation_deg": ROTATIONS_DEG,
        "rotation_direction": "anticlockwise",
        "accuracy": accuracy_curves(models, images.astype(np.float32) / 255, labels),
    }
    report["weights_sha256"] = {name: committed[name]["weights_sha256"] for name in model_defs.MODEL_NAMES}
    if permuted:  # beside the weights measured here, whichever run the permuted figures come from
        unpermuted = {name: committed[name]["test_accuracy"] for name in model_defs.MODEL_NAMES}
        report["permuted_pixels"] = {**permuted, "unpermuted_test_accuracy": unpermuted}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    replace_with(
        args.output_dir / "mistakes.npz", lambda tmp: np.savez_compressed(tmp, **mistakes(models, images, labels))
    )
    plot(report, args.output_dir / "robustness.png")
    replace_with(report_path, lambda tmp: tmp.write_text(json.dumps(report, indent=1) + "\n"))
    print(f"wrote {report_path}, robustness.png and mistakes.npz")


if __name__ == "__main__":
    main()
