"""How honest the committed models' confidences are, and how well each knows a non-digit, on sets never used to
train or choose anything: MNIST's 10,000 test digits, the handwriting check set (handwriting_styles.py) and the
non-digit check set (non_digits.py).

    python -m experiments.not_a_digit --data-dir ../shared/mnist      # about 3 minutes on 2 cores

Writes to --output-dir (default weights/):
- not_a_digit.json: per model, the expected calibration error on the test digits before and after its
  temperature, its reliability bins, the AUROC of its digit score (test digits and handwriting against
  non-digits), the share flagged "not a digit I know" of each set and of each kind of non-digit, and the share of
  its evidence maps on correctly read test digits that are mostly against its own answer; and the same flagged
  shares for the studio's verdict. Every figure is recomputed from the weights whose sha256 it names.
- not_a_digit.png: both models' reliability diagrams and their digit scores on digits and non-digits, which the
  app's comparison section shows.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import model_defs
from digit_studio import answers
from digit_studio.core import confidence, explain, handwriting_styles, mnist_data, non_digits

BATCH_SIZE = 1000
SETS = ("MNIST test digits", "handwriting check set", "non-digits")


def probabilities(model, images: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [model.predict_on_batch(images[i : i + BATCH_SIZE, ..., None]) for i in range(0, len(images), BATCH_SIZE)]
    )


def share(flags: np.ndarray) -> float:
    return round(float(np.mean(flags)), 4)


def maps_against(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Of the digits the model reads right, the share whose occlusion map has under half its mass in favour of the
    answer, and the median share in favour."""
    in_favour = []
    for image, label in zip(images, labels, strict=True):
        result = explain.evidence(model, image)
        if result["label"] == label:
            saliency = result["saliency"]
            in_favour.append(saliency[saliency > 0].sum() / max(np.abs(saliency).sum(), 1e-12))
    return {
        "digits": len(in_favour),
        "mostly_against": share(np.array(in_favour) < 0.5),
        "median_in_favour": round(float(np.median(in_favour)), 4),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m experiments.not_a_digit", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DIR"))
    parser.add_argument("--weights-dir", default=str(model_defs.WEIGHTS_DIR))
    parser.add_argument("--output-dir", default=str(model_defs.WEIGHTS_DIR))
    parser.add_argument("--maps", type=int, default=10000, help="test digits whose evidence maps are checked")
    args = parser.parse_args(argv)
    try:
        _, (test_images, test_labels) = mnist_data.load_mnist(args.data_dir)
    except mnist_data.DataError as error:
        sys.exit(f"experiments.not_a_digit: error: {error}")
    models = answers.load(Path(args.weights_dir))
    test = test_images.astype(np.float32) / 255
    styles, style_labels, _ = handwriting_styles.check_set()
    others, kinds, shapes = non_digits.check_set()
    visitors = np.isin(kinds, non_digits.CHECK_KINDS)
    inputs = {"MNIST test digits": test, "handwriting check set": styles, "non-digits": others}
    raw = {
        name: {key: probabilities(model, images) for key, images in inputs.items()} for name, model in models.items()
    }
    pairs = {
        key: [answers.agreeing({name: answers.answer(raw[name][key][i], name) for name in models}) for i in range(n)]
        for key, n in ((key, len(images)) for key, images in inputs.items())
    }
    report = {"command": "python -m experiments.not_a_digit", "models": {}, "studio": {}}
    report["non_digit_kinds"] = {kind: int(np.sum(kinds == kind)) for kind in np.unique(kinds)}
    report["held_out_shapes"] = sorted(non_digits.HELD_OUT)
    for name, model in models.items():
        calibration = answers.CALIBRATION[name]
        test_raw = raw[name]["MNIST test digits"]
        shown = confidence.tempered(test_raw, calibration["temperature"])
        scores = {key: np.array([pair[name]["digit_score"] for pair in pairs[key]]) for key in inputs}
        flagged = {key: scores[key] < 0.5 for key in inputs}
        table = confidence.reliability(shown, test_labels)
        report["models"][name] = {
            "weights_sha256": model_defs.file_sha256(Path(args.weights_dir) / model_defs.weights_file(name)),
            "calibration": calibration,
            "test_accuracy": share(np.argmax(test_raw, axis=1) == test_labels),
            "handwriting_accuracy": share(np.argmax(raw[name]["handwriting check set"], axis=1) == style_labels),
            "calibration_error_before": round(confidence.calibration_error(test_raw, test_labels), 4),
            "calibration_error": round(confidence.calibration_error(shown, test_labels), 4),
            "reliability": {key: np.round(np.nan_to_num(value), 4).tolist() for key, value in table.items()},
            "auroc_test_digits": round(
                confidence.auroc(scores["MNIST test digits"], scores["non-digits"][visitors]), 4
            ),
            "auroc_handwriting": round(
                confidence.auroc(scores["handwriting check set"], scores["non-digits"][visitors]), 4
            ),
            "flagged": {
                "MNIST test digits": share(flagged["MNIST test digits"]),
                "handwriting check set": share(flagged["handwriting check set"]),
                "non-digits": share(flagged["non-digits"][visitors]),
                **{kind: share(flagged["non-digits"][kinds == kind]) for kind in np.unique(kinds)},
                "shapes never trained on": share(flagged["non-digits"][np.isin(shapes, list(non_digits.HELD_OUT))]),
            },
            "scores": {key: np.round(value, 3).tolist() for key, value in scores.items()},
            "evidence_maps": maps_against(model, test[: args.maps], test_labels[: args.maps]),
        }
        print(name, json.dumps({k: v for k, v in report["models"][name].items() if k not in ("reliability", "scores")}))
    studio = {key: np.array([not pair["is_digit"] for pair in pairs[key]]) for key in inputs}
    report["studio"] = {
        "MNIST test digits": share(studio["MNIST test digits"]),
        "handwriting check set": share(studio["handwriting check set"]),
        "non-digits": share(studio["non-digits"][visitors]),
        **{kind: share(studio["non-digits"][kinds == kind]) for kind in np.unique(kinds)},
        "shapes never trained on": share(studio["non-digits"][np.isin(shapes, list(non_digits.HELD_OUT))]),
    }
    print("studio", json.dumps(report["studio"]))
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "not_a_digit.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report).savefig(output_dir / "not_a_digit.png", format="png")
    return report


def plot(report: dict):
    """Each model's reliability diagram on the test digits, and its digit scores on digits and non-digits."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 6.5), dpi=90)
    axes = figure.subplots(2, 2)
    bins = np.linspace(0, 1, 41)
    for column, (name, entry) in enumerate(report["models"].items()):
        table, colour, title = entry["reliability"], model_defs.MODEL_COLOURS[name], model_defs.MODEL_TITLES[name]
        filled = np.array(table["counts"]) > 0
        axis = axes[0, column]
        axis.plot([0, 1], [0, 1], ":", color="grey", label="perfectly honest")
        confidences, right = (np.array(table[key])[filled] for key in ("confidence", "accuracy"))
        counts = np.array(table["counts"])[filled]
        axis.plot(confidences, right, "-", color=colour, alpha=0.4)
        label = f"{title} (error {entry['calibration_error']:.1%}; dot area: digits in the bin)"
        axis.scatter(confidences, right, s=8 + 30 * np.log10(counts), color=colour, label=label, zorder=3)
        for x, y, count in zip(confidences, right, counts, strict=True):
            if count < 20:  # the few low-confidence answers: each bin's count, so its swing reads as chance
                axis.annotate(str(count), (x, y), textcoords="offset points", xytext=(0, -11), ha="center", fontsize=7)
        axis.set(title=f"{title}: how sure vs how often right", xlabel="confidence shown", ylim=(0, 1.02))
        axis.set(ylabel="share right (MNIST test)", xlim=(table["edges"][0], 1))
        axis.legend(loc="lower right", fontsize=8)
        axis = axes[1, column]
        for key in SETS:
            values = entry["scores"][key]
            other = key == "non-digits"
            style = {"histtype": "stepfilled", "alpha": 0.5, "color": "grey"} if other else {"histtype": "step"}
            if not other:
                style.update(color=colour, linestyle="--" if key == "handwriting check set" else "-")
            axis.hist(values, bins, weights=np.full(len(values), 1 / len(values)), label=key, **style)
        axis.axvline(0.5, color="black", linewidth=0.8)
        axis.set(title=f"{title}: digit score (under 0.5: not a digit it knows)", xlabel="digit score")
        axis.set(ylabel="share of the set", yscale="log")
        axis.legend(loc="upper center")
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
