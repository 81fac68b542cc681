"""experiments/robustness.py: the committed experiments agree with the weights, and a permuted-pixel run is recorded."""

import json
import subprocess
import sys

import numpy as np
import pytest

import model_defs
from conftest import MNIST_SUBSET, REPO
from digit_studio.core.synthetic import MNIST_DIR as SHARED_MNIST
from experiments import robustness


def test_committed_experiments_match_the_committed_weights():
    report = json.loads((model_defs.WEIGHTS_DIR / "robustness.json").read_text())
    metrics = json.loads((model_defs.WEIGHTS_DIR / model_defs.METRICS_FILE).read_text())["models"]
    assert report["test_images"] == 10_000 and report["shift_px"] == list(range(9))
    assert report["rotation_deg"] == list(range(0, 46, 5))
    for name in model_defs.MODEL_NAMES:
        curves = report["accuracy"][name]
        # no shift, no rotation: exactly the test accuracy train.py recorded
        assert curves["shift"][0] == curves["rotation"][0] == pytest.approx(metrics[name]["test_accuracy"], abs=1e-6)
        assert report["weights_sha256"][name] == metrics[name]["weights_sha256"]
        assert report["permuted_pixels"]["unpermuted_test_accuracy"][name] == metrics[name]["test_accuracy"]
    with np.load(model_defs.WEIGHTS_DIR / "mistakes.npz") as gallery:  # the page's mistakes, from the same weights
        for name in model_defs.MODEL_NAMES:
            wrong = int(np.sum(gallery[name] != gallery["label"]))
            assert wrong == round(10_000 * (1 - metrics[name]["test_accuracy"]))
    # the write-up's claim, on the whole test set: 6 px to the right costs the dense network far more
    assert report["accuracy"]["cnn"]["shift"][6] > 0.9 > 0.6 > report["accuracy"]["linear"]["shift"][6]
    assert (model_defs.WEIGHTS_DIR / "robustness.png").stat().st_size > 0


@pytest.mark.training
def test_script_on_a_few_digits_records_a_permuted_pixel_run(tmp_path):
    """The documented commands, end to end on tiny counts: experiments.permuted_pixels, then robustness --permuted."""
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"train.py needs MNIST's training images at {SHARED_MNIST}")
    run = tmp_path / "permuted"
    train = [sys.executable, "-m", "experiments.permuted_pixels", "--permutation-seed", "3", "--subset", "300"]
    train += ["--epochs", "1", "--set", "style_digits=0", "--set", "clean_epochs=0", "--set", "outlier_epochs=0"]
    train += ["--data-dir", str(SHARED_MNIST), "--output-dir", str(run)]
    subprocess.run(train, cwd=REPO, check=True, capture_output=True, timeout=600)
    out = tmp_path / "out"
    robustness.main(
        ["--data-dir", str(MNIST_SUBSET), "--limit", "100", "--permuted", str(run), "--output-dir", str(out)]
    )
    report = json.loads((out / "robustness.json").read_text())
    permuted = report["permuted_pixels"]
    assert permuted["permutation_seed"] == 3 and "--permutation-seed 3" in permuted["command"]
    assert permuted["test_images"] == 300 and set(permuted["test_accuracy"]) == set(model_defs.MODEL_NAMES)
    assert report["test_images"] == 100 and len(report["accuracy"]["cnn"]["rotation"]) == 10
    # run again without --permuted, it keeps the permuted figures
    robustness.main(["--data-dir", str(MNIST_SUBSET), "--limit", "20", "--output-dir", str(out)])
    assert json.loads((out / "robustness.json").read_text())["permuted_pixels"] == permuted
    assert (out / "mistakes.npz").is_file() and (out / "robustness.png").is_file()


def test_a_folder_without_a_permuted_run_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="not a permuted-pixel run's metrics.json"):
        robustness.main(["--data-dir", str(MNIST_SUBSET), "--permuted", str(tmp_path), "--output-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []
