"""train.py as a person runs it: a short real run, every kind of bad input, and the experiments built on it."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import model_defs
import train
from conftest import MNIST_SUBSET, REPO, write_idx
from digit_studio import corrections
from digit_studio.answers import predicted_digits
from digit_studio.core import handwriting_styles, mnist_data, screening
from experiments import permuted_pixels, wide_cnn

# The CNN's recipe at full size, but 100 drawn digits beside small_mnist's 700 rather than 6,000
SHORT_RUN = ("--epochs", "2", "--validation", "100", "--set", "style_digits=100")
SHORT_RUN += ("--set", "outliers=200", "--set", "outlier_epochs=1", "--set", "outlier_style_digits=100")


def run_python(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


def run_train(*args, env=None) -> subprocess.CompletedProcess:
    return run_python("train.py", *args, env=env)


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """800 training and 200 test images cut from the committed subset of real MNIST digits."""
    images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
    folder = tmp_path_factory.mktemp("mnist")
    for prefix, part in (("train", slice(0, 800)), ("t10k", slice(800, 1000))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[part])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[part])
    return folder


@pytest.fixture(scope="module")
def trained_dir(small_mnist, tmp_path_factory):
    """One short run of both recipes, shared by every test that needs a finished run."""
    output_dir = tmp_path_factory.mktemp("weights")
    result = run_train("--data-dir", str(small_mnist), *SHORT_RUN, "--output-dir", str(output_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    # a validation run scores its held-out images, and never the test set
    assert "100 validation images" in result.stdout and "test" not in result.stdout.split("scored on")[-1]
    return output_dir


@pytest.fixture
def output_dir(tmp_path):
    """A folder holding an earlier run's file, which a refused run must leave as it is."""
    (tmp_path / model_defs.METRICS_FILE).write_text('{"models": {}}\n')
    return tmp_path


def snapshot(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.training
def test_short_run_writes_loadable_weights_and_valid_metrics(trained_dir):
    assert {path.name for path in trained_dir.iterdir()} == {
        "cnn.weights.h5",
        "linear.weights.h5",
        "metrics.json",
        *train.PLOT_FILES,
    }
    metrics = json.loads((trained_dir / "metrics.json").read_text())["models"]
    assert list(metrics) == list(model_defs.MODEL_NAMES)
    for name, entry in metrics.items():
        model = model_defs.load_model(name, trained_dir)
        assert model.count_params() == entry["parameters"] == model_defs.PARAMETER_COUNTS[name]
        assert entry["weights_sha256"] == model_defs.file_sha256(trained_dir / model_defs.weights_file(name))
        assert "test_accuracy" not in entry and "test_loss" not in entry and entry["validation_loss"] > 0
        assert entry["train_images"] == 700 and entry["validation_images"] == 100 and entry["test_images"] == 0
        # the held-out images are the last 100 of small_mnist's 800 training images, scored by the saved weights
        images, labels = mnist_data.load_test_from_dir(MNIST_SUBSET)
        accuracy = float(np.mean(predicted_digits(model, images[700:800]) == labels[700:800]))
        assert entry["validation_accuracy"] == pytest.approx(accuracy, abs=0.011)
        short = {"epochs": 2, "style_digits": 100, "outliers": 200, "outlier_epochs": 1, "outlier_style_digits": 100}
        assert entry["recipe"] == {**train.RECIPES[name], **short}
        # the CNN's recipe goes on with epochs on the images as they are, and both end with one among non-digits
        for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
            assert len(entry["history"][key]) == 2 + train.RECIPES[name].get("clean_epochs", 0) + 1
        calibration = entry["calibration"]  # fitted on the held-out images, as the app applies it
        assert calibration["temperature"] > 0 and 0 <= calibration["digit_threshold"] <= 1
        assert calibration["fitted_on"] == "100 validation images" and model_defs.calibration(name, trained_dir)
        assert entry["seconds_per_epoch"] > 0
        assert sum(map(sum, entry["confusion_matrix"])) == 100  # of the held-out images
        assert {"command", "device", "date", "versions", "backend"} <= entry.keys()
    # Two epochs on 700 real digits already beat chance by far: the loop really trains.
    assert metrics["cnn"]["validation_accuracy"] > 0.5


@pytest.mark.training
def test_weights_hold_no_optimizer_state(trained_dir):
    assert (trained_dir / "cnn.weights.h5").stat().st_size < 1.05 * 4 * model_defs.PARAMETER_COUNTS["cnn"] + 50_000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
        (["--model", "wide_cnn"], "argument --model: invalid choice: 'wide_cnn'"),
        (["--epochs", "0"], "argument --epochs: must be positive, got 0"),
        (["--batch-size", "-3"], "argument --batch-size: must be positive, got -3"),
        (["--epochs", "ten"], "argument --epochs: 'ten' is not a whole number"),
        (["--seed", "-5"], "argument --seed: must be zero or more, got -5"),
        (["--validation", "-1"], "argument --validation: must be zero or more, got -1"),
        (["--validation", "100", "--push-to-hub", "a/b"], "--validation needs its own --output-dir, not --push-to-hub"),
        (["--set", "dropout=0.5"], "argument --set: 'dropout' is not a recipe entry; entries: learning_rate,"),
        (["--set", "weight_decay=0.05"], "argument --set: 'weight_decay' is not a recipe entry"),
        (["--set", "label_smoothing=much"], "argument --set: label_smoothing needs a number, as in label_smoothing"),
        (["--set", "zoom=-0.1"], "argument --set: zoom must be a number, 0 or more; got '-0.1'"),
        (["--set", "style_digits=2.5"], "argument --set: style_digits must be a whole number; got '2.5'"),
    ],
)
def test_bad_arguments_end_with_one_line(args, message, output_dir, capsys):
    before = snapshot(output_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main([*args, "--output-dir", str(output_dir)])
    assert exit_info.value.code != 0
    error = capsys.readouterr().err
    assert error.strip().count("\n") == 0 and error.startswith("train.py: error: ") and message in error
    assert snapshot(output_dir) == before


def test_corrupt_data_ends_with_one_line(small_mnist, output_dir, tmp_path_factory):
    broken = tmp_path_factory.mktemp("broken")
    shutil.copytree(small_mnist, broken, dirs_exist_ok=True)
    (broken / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    before = snapshot(output_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(broken), "--output-dir", str(output_dir)])
    error = str(exit_info.value.code)
    assert error.startswith("train.py: error: ") and "train-images-idx3-ubyte.gz" in error and "\n" not in error
    assert snapshot(output_dir) == before


def test_unwritable_output_dir_ends_with_one_line(small_mnist, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(small_mnist), "--output-dir", str(blocker / "weights")])
    assert str(exit_info.value.code).startswith(f"train.py: error: cannot write to output dir {blocker / 'weights'}")


@pytest.mark.training
def test_failed_upload_leaves_local_files_and_merges_metrics(small_mnist, trained_dir, tmp_path):
    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    cnn_before = (output_dir / "cnn.weights.h5").read_bytes()
    result = run_train(
        *("--model", "linear", "--epochs", "1", "--set", "outlier_epochs=0", "--data-dir", str(small_mnist)),
        *("--output-dir", str(output_dir)),
        *("--push-to-hub", "someone/digit-studio"),
        env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_not_a_real_token", "HF_HUB_DISABLE_TELEMETRY": "1"},
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("train.py: error: upload to someone/digit-studio failed")
    assert "files in" in last_line and "are unchanged" in last_line
    assert (output_dir / "cnn.weights.h5").read_bytes() == cnn_before
    metrics = json.loads((output_dir / "metrics.json").read_text())["models"]
    assert metrics["linear"]["recipe"]["epochs"] == 1 and metrics["cnn"]["recipe"]["epochs"] == 2
    for name in model_defs.MODEL_NAMES:
        model_defs.load_model(name, output_dir)


@pytest.mark.parametrize(
    "main, args, message",
    [
        (train.main, ["--validation", "5000"], "train.py: error: --validation needs its own --output-dir, not weights"),
        (wide_cnn.main, ["--validation", "5000"], "wide_cnn.py: error: --validation needs its own --output-dir"),
        (permuted_pixels.main, [], "permuted_pixels.py: error: needs an --output-dir of its own: weights/ holds"),
    ],
)
def test_runs_that_are_not_to_be_served_never_write_to_the_served_weights(main, args, message, capsys):
    before = snapshot(model_defs.WEIGHTS_DIR)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code != 0
    assert message in capsys.readouterr().err
    assert snapshot(model_defs.WEIGHTS_DIR) == before


def test_validation_larger_than_the_training_set_ends_with_one_line(small_mnist, output_dir):
    before = snapshot(output_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(small_mnist), "--validation", "800", "--output-dir", str(output_dir)])
    assert str(exit_info.value.code) == "train.py: error: --validation 800 leaves no training images (there are 800)"
    assert snapshot(output_dir) == before


@pytest.mark.training
def test_a_rerun_reproduces_the_weight_file_byte_for_byte(small_mnist, trained_dir, tmp_path):
    """Same seed, same data: the same bytes, so the sha256 in metrics.json is a fingerprint of the training."""
    result = run_train("--model", "cnn", "--data-dir", str(small_mnist), *SHORT_RUN, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    name = model_defs.weights_file("cnn")
    assert (tmp_path / name).read_bytes() == (trained_dir / name).read_bytes()


@pytest.mark.training
def test_clean_epochs_follow_the_recipe_and_the_experiment_replays_them(small_mnist, trained_dir, tmp_path):
    """The CNN's last epochs, on images without augmentation, come after its own and leave those as they were;
    experiments/clean_epochs.py replays that phase on a run trained without it."""
    args = ["--model", "cnn", "--data-dir", str(small_mnist), *SHORT_RUN, "--set", "clean_epochs=0"]
    args += ["--set", "outlier_epochs=0"]  # what the replay needs: the augmented epochs alone
    train.main([*args, "--output-dir", str(tmp_path)])
    without = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]["history"]
    with_clean = json.loads((trained_dir / "metrics.json").read_text())["models"]["cnn"]["history"]
    assert {key: values[:2] for key, values in with_clean.items()} == {
        key: values[:2] for key, values in without.items()
    }
    name = model_defs.weights_file("cnn")
    assert (tmp_path / name).read_bytes() != (trained_dir / name).read_bytes()

    def replay(folder):
        return run_python("-m", "experiments.clean_epochs", "--data-dir", str(small_mnist), str(folder))

    result = replay(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(f"| {tmp_path.name} |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "0" and all(cell.endswith("%") for cell in cells[2:4])
    # its "before" is the run's own saved CNN, scored on the same held-out images as train.py scored it
    saved = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]["validation_accuracy"]
    assert float(cells[2].rstrip("%")) == pytest.approx(100 * saved, abs=0.006)
    refused = replay(trained_dir)  # already trained with clean epochs
    assert refused.returncode != 0
    message = f"clean_epochs.py: error: {trained_dir}: not a --validation run without clean epochs"
    assert refused.stderr.strip().splitlines()[-1] == message


@pytest.mark.training
def test_a_failure_while_writing_leaves_the_previous_set_in_place(small_mnist, trained_dir, tmp_path, monkeypatch):
    """Everything is staged before anything is renamed: a plotting error leaves the previous files as they were."""
    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    before = snapshot(output_dir)

    def broken_plots(metrics):
        raise RuntimeError("plotting failed")
        yield

    monkeypatch.setattr(train, "plots", broken_plots)
    args = ["--model", "linear", "--data-dir", str(small_mnist), "--epochs", "1", "--set", "outlier_epochs=0"]
    with pytest.raises(RuntimeError, match="plotting failed"):
        train.main([*args, "--output-dir", str(output_dir)])
    assert snapshot(output_dir) == before  # no new weights, and no temporary file left behind


@pytest.mark.training
def test_jax_trains_every_phase_data_parallel_and_its_weights_score_the_same_in_tensorflow(small_mnist, tmp_path):
    """KERAS_BACKEND=jax over two simulated CPU devices, through the CNN's three phases (augmented, without
    augmentation, with non-digits): DataParallel, recorded, and loadable by the app's backend. Batches of 4 make each
    phase 200 to 250 steps: a loop that ran that far ahead of the devices deadlocked in an all-reduce."""
    result = run_train(
        *("--model", "cnn", "--data-dir", str(small_mnist), "--epochs", "1", "--batch-size", "4"),
        *("--set", "style_digits=100", "--set", "clean_epochs=1", "--set", "outliers=100", "--set", "outlier_epochs=1"),
        *("--output-dir", str(tmp_path)),
        env={"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]
    assert entry["backend"] == "jax" and entry["devices"] == 2 and entry["device"] == "2 x CPU (jax)"
    assert len(entry["history"]["loss"]) == 3  # an epoch of each phase
    assert entry["jit_compiled"]  # else JAX runs every operation on its own: 3 ms a step on an H100 became 335
    model = model_defs.load_model("cnn", tmp_path)  # this process runs TensorFlow, as the app does
    images, labels = mnist_data.load_test_from_dir(small_mnist)
    accuracy = float(np.mean(predicted_digits(model, images) == labels))
    assert abs(accuracy - entry["test_accuracy"]) <= 1 / len(labels)


@pytest.mark.parametrize(("devices", "scored"), [(2, 10_000), (4, 5_000), (8, 10_000), (3, 10_000), (16, 10_000)])
def test_only_a_device_count_that_splits_every_batch_evenly_trains(devices, scored):
    """Keras cannot shard an uneven batch: 2, 4 or 8 GPUs split the recipes' batches of 128 and the test set (or the
    5,000 held out) evenly, and other counts are refused in one line before training, not deep inside it."""
    if 128 % devices == 0 and 1000 % devices == 0:
        train.check_even_split(devices, train.RECIPES, scored)
    else:
        with pytest.raises(train.UsageError, match=rf"^{devices} devices cannot split cnn's batches evenly "):
            train.check_even_split(devices, train.RECIPES, scored)


def test_a_backend_that_cannot_start_ends_with_one_line():
    result = run_train("--epochs", "1", env={"KERAS_BACKEND": "no_such_backend"})
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "train.py: error: Keras cannot start the 'no_such_backend' backend: Unable to import backend : no_such_backend"
    )


@pytest.mark.training
def test_the_write_ups_wide_cnn_trains_beside_the_served_models(trained_dir, small_mnist, tmp_path):
    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    wide_cnn.main(["--data-dir", str(small_mnist), "--epochs", "1", "--output-dir", str(output_dir)])
    metrics = json.loads((output_dir / "metrics.json").read_text())["models"]
    assert list(metrics) == ["cnn", "linear", "wide_cnn"]
    entry = metrics["wide_cnn"]
    assert entry["parameters"] == model_defs.PARAMETER_COUNTS["wide_cnn"] == 3_274_634
    assert entry["recipe"] == {**wide_cnn.RECIPE, "epochs": 1}
    assert model_defs.load_model("wide_cnn", output_dir).count_params() == entry["parameters"]
    assert (output_dir / "cnn.weights.h5").read_bytes() == (trained_dir / "cnn.weights.h5").read_bytes()


def test_the_pixel_permutation_reorders_every_image_the_same_way():
    permutation = permuted_pixels.pixel_permutation(3)
    assert sorted(permutation) == list(range(784)) and np.array_equal(permutation, permuted_pixels.pixel_permutation(3))
    images = np.random.default_rng(0).random((5, 28, 28, 1), dtype="float32")
    shuffled = np.asarray(permuted_pixels.PixelPermutation(permutation)(images))
    assert np.array_equal(shuffled.reshape(5, -1), images.reshape(5, -1)[:, permutation])


@pytest.mark.training
def test_the_permuted_pixel_experiment_trains_and_tests_on_shuffled_images(small_mnist, tmp_path):
    args = ["--model", "linear", "--permutation-seed", "3", "--epochs", "5", "--set", "outlier_epochs=0"]
    args += ["--data-dir", str(small_mnist)]
    result = run_python("-m", "experiments.permuted_pixels", *args, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads((tmp_path / "metrics.json").read_text())["models"]["linear"]
    assert entry["permutation_seed"] == 3 and entry["command"].startswith("python -m experiments.permuted_pixels ")
    # the saved weights are the dense network's, which reads shuffled digits: shuffled here by numpy
    model = model_defs.load_model("linear", tmp_path)
    images, labels = mnist_data.load_test_from_dir(small_mnist)
    shuffled = images.reshape(len(images), -1)[:, permuted_pixels.pixel_permutation(3)].reshape(images.shape)
    accuracy = float(np.mean(predicted_digits(model, shuffled) == labels))
    assert accuracy == pytest.approx(entry["test_accuracy"], abs=1 / len(labels)) and accuracy > 0.3


def test_outlier_exposure_pulls_non_digits_toward_an_even_spread_and_scores_digits_only():
    """A digit's loss is its cross-entropy; a non-digit's, its mean -log p over the ten digits times the weight;
    the accuracy counts digits only."""
    digit_target, spread = np.eye(10, dtype="float32")[3], np.full(10, 0.1, "float32")
    answer = np.array([0.02] * 3 + [0.82] + [0.02] * 6, "float32")
    loss = train.OutlierExposureLoss(outlier_weight=0.5)
    per_row = np.asarray(loss.call(np.stack([digit_target, spread]), np.stack([answer, answer])))
    assert per_row == pytest.approx([-np.log(0.82), 0.5 * -np.mean(np.log(answer))], rel=1e-5)
    accuracy = train.DigitAccuracy()
    wrong = np.roll(answer, 1)
    accuracy.update_state(np.stack([digit_target, digit_target, spread]), np.stack([answer, wrong, answer]))
    assert float(accuracy.result()) == pytest.approx(0.5)  # one of the two digits; the non-digit is not counted


@pytest.mark.training
def test_training_on_corrections_made_through_the_api(client, feedback_dir, small_mnist, tmp_path):
    """Corrections sent to /correct are screened by train.py --extra-data against the served models: a label both
    find implausible and a repeated image are set aside and listed with their reasons, the rest join the training
    images (the non-digits, the drawings that are not digits), metrics.json counts both, and the test set is
    untouched. The short run reads held-out drawings worse than the served models: written, with a warning."""
    from gradio_client import handle_file

    for path, label in [("examples/2_paper_photo.jpg", "2"), ("examples/7_mnist.png", "1")] * 3 + [
        ("examples/not_digits/smiley.png", "not a digit")
    ]:
        row = client.predict(handle_file(str(REPO / path)), label, api_name="/correct")
        assert row["label"] == label and row["source"] == "api"
    rows = list(corrections.rows(feedback_dir))  # the test session's other corrections too
    result = run_train(
        "--data-dir", str(small_mnist), "--model", "linear", "--epochs", "1", "--validation", "100",
        "--set", "outliers=50", "--set", "outlier_epochs=1", "--set", "style_digits=0",
        "--set", "outlier_style_digits=0", "--extra-data", str(feedback_dir), "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    extra = json.loads((tmp_path / model_defs.METRICS_FILE).read_text())["models"]["linear"]["extra_data"]
    set_aside = [json.loads(line) for line in (tmp_path / train.SET_ASIDE_FILE).read_text().splitlines()]
    assert f"{extra['digits']} corrected digits, {extra['non_digits']} corrections that are not digits" in result.stdout
    assert extra["digits"] + extra["non_digits"] + len(set_aside) == len(rows)
    assert extra["set_aside"] == {reason: sum(r["reason"] == reason for r in set_aside) for reason in screening.REASONS}
    reasons = {(r["file_name"], r["reason"]) for r in set_aside}
    sevens_as_ones = [row["file_name"] for row in rows if row["label"] == "1" and row["cnn"]["label"] == "7"]
    assert {(name, screening.IMPLAUSIBLE) for name in sevens_as_ones} <= reasons
    twos = [row["file_name"] for row in rows if row["label"] == "2" and row["cnn"]["label"] == "2"]
    assert twos[0] not in {name for name, _ in reasons} and {(twos[1], screening.DUPLICATE)} <= reasons
    assert extra["source"] == str(feedback_dir) and extra["reviewed"] is False
    assert extra["gate"]["fallen"] and "warning: after the extra data" in result.stdout
    entry = json.loads((tmp_path / model_defs.METRICS_FILE).read_text())["models"]["linear"]
    assert entry["train_images"] == 700 and entry["validation_images"] == 100 and entry["test_images"] == 0


@pytest.mark.training
def test_weights_refuse_a_run_on_a_reviewed_set_that_reads_worse(small_mnist, tmp_path, monkeypatch, capsys):
    """--extra-data-reviewed trains on every row of a set (here 1s labelled 7); a run whose models read digits of
    held-out drawings worse than the served ones writes nothing into weights/ and says why."""
    served = tmp_path / "weights"
    shutil.copytree(model_defs.WEIGHTS_DIR, served)
    monkeypatch.setattr(model_defs, "WEIGHTS_DIR", served.resolve())
    images, labels = mnist_data.load_from_dir(small_mnist)[0]
    store = corrections.Store(tmp_path / "reviewed", limits=corrections.RateLimits(limits=()))
    for image in images[labels == 1][:20]:
        store.add(image / 255, "7", {}, "api", {}, "192.0.2.1")
    before = snapshot(served)
    with pytest.raises(SystemExit, match="nothing written to weights/: .* read worse than by the served models"):
        train.main(
            ["--data-dir", str(small_mnist), "--model", "linear", "--epochs", "1", "--set", "outliers=50",
             "--set", "outlier_epochs=1", "--set", "outlier_style_digits=0",
             "--extra-data-reviewed", str(tmp_path / "reviewed")]
        )  # fmt: skip
    assert snapshot(served) == before
    assert f"--extra-data-reviewed {tmp_path / 'reviewed'}: 20 corrected digits" in capsys.readouterr().out


def test_extra_data_that_is_no_corrections_folder_is_one_line(small_mnist, tmp_path):
    result = run_train("--data-dir", str(small_mnist), "--extra-data", str(tmp_path / "missing"), "--validation", "10",
                       "--output-dir", str(tmp_path / "out"), env={"HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert result.returncode != 0 and "--extra-data" in result.stderr and "Traceback" not in result.stderr


def test_wider_styles_is_a_whole_recipe_entry_and_draws_the_wider_mix():
    """--set wider_styles=1 parses as a whole number, and the drawn digits it asks for are the wider mix's, after
    the training images; without it, the nine-style mix's."""
    assert train.recipe_setting("wider_styles=1") == ("wider_styles", 1)
    images, labels = np.zeros((3, 28, 28, 1), np.float32), np.array([7, 7, 7])
    for wider in (True, False):
        drawn, drawn_labels = handwriting_styles.training_digits(20, 4, wider)
        joined, joined_labels = train.with_drawn_digits(images, labels, 20, 4, wider)
        assert np.array_equal(joined[3:], train.prepare(drawn)) and np.array_equal(joined_labels[3:], drawn_labels)
        assert np.array_equal(joined[:3], images) and np.array_equal(joined_labels[:3], labels)
