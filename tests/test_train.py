"""train.py as a person runs it: a short real run, then every kind of bad input."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mnist_data
import model_defs
import train
from conftest import MNIST_SUBSET, REPO, classify_batch, write_idx


def run_train(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


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
    output_dir = tmp_path_factory.mktemp("weights")
    # The CNN's recipe at full size, but 100 drawn digits beside small_mnist's 700 rather than 6,000
    args = ("--data-dir", str(small_mnist), "--epochs", "2", "--validation", "100", "--set", "style_digits=100")
    result = run_train(*args, "--output-dir", str(output_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    # a validation run scores its held-out images, and never the test set
    assert "100 validation images" in result.stdout and "test" not in result.stdout.split("scored on")[-1]
    return output_dir


def snapshot(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


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
        accuracy = float(np.mean(classify_batch(model, images[700:800]) == labels[700:800]))
        assert entry["validation_accuracy"] == pytest.approx(accuracy, abs=0.011)
        assert entry["recipe"] == {**train.RECIPES[name], "epochs": 2, "style_digits": 100}
        # the CNN's recipe ends with epochs on the images as they are: they come after the two augmented ones
        for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
            assert len(entry["history"][key]) == 2 + train.RECIPES[name].get("clean_epochs", 0)
        assert entry["seconds_per_epoch"] > 0
        assert sum(map(sum, entry["confusion_matrix"])) == 100  # of the held-out images
        assert {"command", "device", "date", "versions", "backend"} <= entry.keys()
    # Two epochs on 700 real digits already beat chance by far: the loop really trains.
    assert metrics["cnn"]["validation_accuracy"] > 0.5
    assert "teachers" not in metrics["cnn"] and "teachers" not in metrics["linear"]


def test_weights_hold_no_optimizer_state(trained_dir):
    assert (trained_dir / "cnn.weights.h5").stat().st_size < 1.05 * 4 * model_defs.PARAMETER_COUNTS["cnn"] + 50_000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
        (["--epochs", "0"], "argument --epochs: must be positive, got 0"),
        (["--batch-size", "-3"], "argument --batch-size: must be positive, got -3"),
        (["--epochs", "ten"], "argument --epochs: 'ten' is not a whole number"),
        (["--seed", "-5"], "argument --seed: must be zero or more, got -5"),
        (["--permute-pixels", "x"], "argument --permute-pixels: 'x' is not a whole number"),
        (["--validation", "-1"], "argument --validation: must be zero or more, got -1"),
        (["--validation", "100", "--push-to-hub", "a/b"], "--validation needs its own --output-dir, not --push-to-hub"),
        (["--set", "dropout=0.5"], "argument --set: 'dropout' is not a recipe entry; entries: learning_rate,"),
        (["--set", "label_smoothing=much"], "argument --set: label_smoothing needs a number, as in label_smoothing"),
        (["--set", "zoom=-0.1"], "argument --set: zoom must be a number, 0 or more; got '-0.1'"),
        (["--set", "style_digits=2.5"], "argument --set: style_digits must be a whole number; got '2.5'"),
    ],
)
def test_bad_arguments_end_with_one_line(args, message, trained_dir, capsys):
    before = snapshot(trained_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main([*args, "--output-dir", str(trained_dir)])
    assert exit_info.value.code != 0
    error = capsys.readouterr().err
    assert error.strip().count("\n") == 0 and message in error
    assert snapshot(trained_dir) == before


def test_corrupt_data_ends_with_one_line(small_mnist, trained_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(small_mnist, broken)
    (broken / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    before = snapshot(trained_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(broken), "--output-dir", str(trained_dir)])
    error = str(exit_info.value.code)
    assert error.startswith("train.py: error: ") and "train-images-idx3-ubyte.gz" in error and "\n" not in error
    assert snapshot(trained_dir) == before


def test_unwritable_output_dir_ends_with_one_line(small_mnist, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(small_mnist), "--output-dir", str(blocker / "weights")])
    assert str(exit_info.value.code).startswith(f"train.py: error: cannot write to output dir {blocker / 'weights'}")


def test_failed_upload_leaves_local_files_and_merges_metrics(small_mnist, trained_dir, tmp_path):
    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    cnn_before = (output_dir / "cnn.weights.h5").read_bytes()
    result = run_train(
        "--model",
        "linear",
        "--epochs",
        "1",
        "--data-dir",
        str(small_mnist),
        "--output-dir",
        str(output_dir),
        "--push-to-hub",
        "someone/digit-studio",
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
    "args, message",
    [
        (["--permute-pixels", "0"], "--permute-pixels needs --output-dir: weights/ holds the models the app serves"),
        (["--validation", "5000"], "--validation needs its own --output-dir, not weights/, which holds the models"),
    ],
)
def test_runs_that_are_not_to_be_served_never_write_to_the_served_weights(args, message, capsys):
    before = snapshot(model_defs.WEIGHTS_DIR)
    with pytest.raises(SystemExit) as exit_info:
        train.main(args)
    assert exit_info.value.code != 0
    assert message in capsys.readouterr().err
    assert snapshot(model_defs.WEIGHTS_DIR) == before


def test_validation_larger_than_the_training_set_ends_with_one_line(small_mnist, trained_dir):
    before = snapshot(trained_dir)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--data-dir", str(small_mnist), "--validation", "800", "--output-dir", str(trained_dir)])
    assert str(exit_info.value.code) == "train.py: error: --validation 800 leaves no training images (there are 800)"
    assert snapshot(trained_dir) == before


def test_a_rerun_reproduces_the_weight_file_byte_for_byte(small_mnist, trained_dir, tmp_path):
    """Same seed, same data: the same bytes, so the sha256 in metrics.json is a fingerprint of the training."""
    args = ("--data-dir", str(small_mnist), "--epochs", "2", "--validation", "100", "--set", "style_digits=100")
    result = run_train("--model", "cnn", *args, "--output-dir", str(tmp_path))  # drawings, elastic and all
    assert result.returncode == 0, result.stderr[-2000:]
    name = model_defs.weights_file("cnn")
    assert (tmp_path / name).read_bytes() == (trained_dir / name).read_bytes()


def test_clean_epochs_follow_the_recipe_and_the_benchmark_replays_them(small_mnist, trained_dir, tmp_path):
    """The CNN's last epochs, on images without augmentation, come after its own and leave those as they were;
    benchmarks/clean_epochs.py replays that phase on a run trained without it."""
    args = ("--data-dir", str(small_mnist), "--epochs", "2", "--validation", "100", "--set", "style_digits=100")
    train.main(["--model", "cnn", *args, "--set", "clean_epochs=0", "--output-dir", str(tmp_path)])
    without = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]["history"]
    with_clean = json.loads((trained_dir / "metrics.json").read_text())["models"]["cnn"]["history"]
    assert train.RECIPES["cnn"]["clean_epochs"] == 2
    assert {key: values[:2] for key, values in with_clean.items()} == without
    assert all(len(values) == 4 for values in with_clean.values())
    name = model_defs.weights_file("cnn")
    assert (tmp_path / name).read_bytes() != (trained_dir / name).read_bytes()

    def replay(folder):
        command = [sys.executable, "benchmarks/clean_epochs.py", "--data-dir", str(small_mnist), str(folder)]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)

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


def test_a_failure_while_writing_leaves_the_previous_set_in_place(small_mnist, trained_dir, tmp_path, monkeypatch):
    """Everything is staged before anything is renamed: a plotting error leaves files the app still starts on."""
    from conftest import start_app, stop_app

    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    before = snapshot(output_dir)

    def broken_plots(metrics):
        raise RuntimeError("plotting failed")
        yield

    monkeypatch.setattr(train, "plots", broken_plots)
    args = ["--model", "linear", "--data-dir", str(small_mnist), "--epochs", "1"]
    with pytest.raises(RuntimeError, match="plotting failed"):
        train.main([*args, "--output-dir", str(output_dir)])
    assert snapshot(output_dir) == before  # no new weights, and no temporary file left behind
    process, _ = start_app(env={"WEIGHTS_DIR": str(output_dir)})
    stop_app(process)


def test_jax_trains_data_parallel_and_its_weights_score_the_same_in_tensorflow(small_mnist, tmp_path):
    """KERAS_BACKEND=jax over two simulated CPU devices: DataParallel, recorded, and loadable by the app's backend."""
    result = run_train(
        *("--model", "cnn", "--data-dir", str(small_mnist), "--epochs", "1", "--set", "style_digits=100"),
        *("--output-dir", str(tmp_path)),
        env={"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]
    assert entry["backend"] == "jax" and entry["devices"] == 2 and entry["device"] == "2 x CPU (jax)"
    assert entry["jit_compiled"]  # else JAX runs every operation on its own: 3 ms a step on an H100 became 335
    model = model_defs.load_model("cnn", tmp_path)  # this process runs TensorFlow, as the app does
    images, labels = mnist_data.load_test_from_dir(small_mnist)
    accuracy = float(np.mean(classify_batch(model, images) == labels))
    assert abs(accuracy - entry["test_accuracy"]) <= 1 / len(labels)


def test_a_backend_that_cannot_start_ends_with_one_line():
    result = run_train("--epochs", "1", env={"KERAS_BACKEND": "no_such_backend"})
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "train.py: error: Keras cannot start the 'no_such_backend' backend: Unable to import backend : no_such_backend"
    )


def test_the_write_ups_wide_cnn_trains_beside_the_served_models(trained_dir, small_mnist, tmp_path):
    output_dir = tmp_path / "weights"
    shutil.copytree(trained_dir, output_dir)
    result = run_train(
        "--model", "wide_cnn", "--data-dir", str(small_mnist), "--epochs", "1", "--output-dir", str(output_dir)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((output_dir / "metrics.json").read_text())["models"]
    assert list(metrics) == ["cnn", "linear", "wide_cnn"]
    entry = metrics["wide_cnn"]
    assert entry["parameters"] == model_defs.PARAMETER_COUNTS["wide_cnn"] == 3_274_634
    assert entry["recipe"] == {**train.RECIPES["wide_cnn"], "epochs": 1}
    assert model_defs.load_model("wide_cnn", output_dir).count_params() == entry["parameters"]


def ramp_images(count: int) -> np.ndarray:
    """Images whose pixel value is its column: a sample's value says which column it was read from."""
    columns = np.arange(model_defs.IMAGE_SIZE, dtype="float32")
    return np.broadcast_to(columns, (count, model_defs.IMAGE_SIZE, model_defs.IMAGE_SIZE))[..., None].copy()


def test_bilinear_sampling_reads_whole_pixels_exactly_and_blends_between_them():
    images = ramp_images(3) * np.arange(1, 4, dtype="float32")[:, None, None, None]  # each image its own scale
    side = model_defs.IMAGE_SIZE
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), axis=-1).astype("float32")
    grid = np.broadcast_to(grid, (3, side, side, 2))
    assert np.array_equal(np.asarray(train.bilinear_sample(images, grid)), images)
    shifted = np.asarray(train.bilinear_sample(images, grid + np.float32([0, 1])))
    assert np.array_equal(shifted[:, :, :-1], images[:, :, 1:]) and not shifted[:, :, -1].any()  # 0 outside
    halfway = np.asarray(train.bilinear_sample(images, grid + np.float32([0.25, 0.5])))
    assert np.allclose(halfway[:, :-1, :-1], images[:, :-1, :-1] + 0.5 * np.arange(1, 4)[:, None, None, None])


def test_elastic_distortion_moves_pixels_smoothly_by_a_pixel_or_two_and_only_while_training():
    """Simard et al.'s alpha 34, sigma 4: a smooth field whose typical displacement is about 1.4 px."""
    layer = train.ElasticDistortion(alpha=34, sigma=4)
    images = ramp_images(64)
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    moved = np.asarray(layer(images, training=True))
    inside = slice(6, 22)  # away from the edges, where the value read back is the column it came from
    shift = (moved - images)[:, inside, inside, 0]
    assert 0.7 < np.sqrt(np.mean(shift**2)) < 2.5
    neighbours = np.corrcoef(shift[:, :, :-1].ravel(), shift[:, :, 1:].ravel())[0, 1]
    assert neighbours > 0.9  # smooth: a field, not noise
    assert not np.array_equal(moved, np.asarray(layer(images, training=True)))  # a new field every batch


def test_the_runs_a_recipe_was_chosen_on_are_recorded_beside_it(small_mnist, trained_dir, tmp_path, capsys):
    args = ["--model", "linear", "--data-dir", str(small_mnist), "--epochs", "1", "--output-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        train.main([*args, "--chosen-on", str(small_mnist)])  # a folder with no training run in it
    assert str(exit_info.value.code) == (
        f"train.py: error: --chosen-on {small_mnist}: no linear run recorded in its metrics.json"
    )
    assert not any(tmp_path.iterdir())
    train.main([*args, "--chosen-on", str(trained_dir)])
    chosen_on = json.loads((trained_dir / "metrics.json").read_text())["models"]["linear"]
    (record,) = json.loads((tmp_path / "metrics.json").read_text())["models"]["linear"]["recipe_choice"]
    assert record["validation_images"] == 100
    assert record["validation_accuracy"] == chosen_on["validation_accuracy"]
    assert record["recipe"] == chosen_on["recipe"] and record["command"] == chosen_on["command"]


def test_without_teacher_runs_train_py_trains_the_teachers_first(small_mnist, tmp_path):
    args = ("--model", "cnn", "--data-dir", str(small_mnist), "--epochs", "1", "--validation", "100")
    train.main([*args, "--set", "style_digits=20", "--set", "distillation=0.5", "--output-dir", str(tmp_path)])
    entry = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]
    assert entry["recipe"] == {**train.RECIPES["cnn"], "epochs": 1, "style_digits": 20, "distillation": 0.5}
    # the teachers' recipes take --epochs and --set, but for distillation: a teacher never distils
    recipes = [{**recipe, "epochs": 1, "style_digits": 20} for recipe in train.TEACHERS["cnn"]]
    assert [record["recipe"] for record in entry["teachers"]] == recipes
    assert all(0.0 <= record["validation_accuracy"] <= 1.0 for record in entry["teachers"])


def test_teachers_distil_into_a_student_and_are_recorded(small_mnist, trained_dir, tmp_path, capsys):
    args = ["--model", "cnn", "--data-dir", str(small_mnist), "--epochs", "1", "--set", "style_digits=0"]
    args += ["--set", "distillation=0.5"]
    with pytest.raises(SystemExit) as exit_info:
        train.main([*args, "--teacher", str(small_mnist), "--output-dir", str(tmp_path)])  # holds no weights
    assert str(exit_info.value.code) == f"train.py: error: --teacher {small_mnist}: no cnn.weights.h5 in it"
    assert not any(tmp_path.iterdir())
    train.main([*args, "--teacher", str(trained_dir), "--teacher", str(trained_dir), "--output-dir", str(tmp_path)])
    entry = json.loads((tmp_path / "metrics.json").read_text())["models"]["cnn"]
    assert entry["recipe"]["distillation"] == 0.5
    teacher_sha = model_defs.file_sha256(trained_dir / "cnn.weights.h5")
    assert entry["teachers"] == [{"folder": str(trained_dir), "weights_sha256": teacher_sha}] * 2
    assert model_defs.load_model("cnn", tmp_path).count_params() == entry["parameters"]
    assert model_defs.file_sha256(tmp_path / "cnn.weights.h5") != teacher_sha


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--teacher", "."], "--teacher: no model of this run distils (its recipe's distillation is 0)"),
        (
            ["--set", "distillation=0.5"],
            "the linear recipe distils, but has no teachers of its own: name them with --teacher",
        ),
    ],
)
def test_distilling_without_teachers_or_teachers_without_distilling_end_with_one_line(
    args, message, small_mnist, tmp_path
):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--model", "linear", "--data-dir", str(small_mnist), *args, "--output-dir", str(tmp_path)])
    assert str(exit_info.value.code) == f"train.py: error: {message}"
    assert not any(tmp_path.iterdir())


def test_the_distilled_target_mixes_the_smoothed_label_with_the_teachers():
    label = np.eye(10, dtype="float32")[[3]]
    teachers = np.full((1, 10), 0.1, dtype="float32")
    student = np.linspace(1, 2, 10, dtype="float32")[None] / np.linspace(1, 2, 10).sum()
    outputs = np.concatenate([student, teachers], axis=1)

    def cross_entropy(target):
        return float(-(target * np.log(student)).sum())

    for weight, smoothing in ((0.0, 0.0), (0.0, 0.1), (1.0, 0.1), (0.5, 0.1)):
        got = float(np.asarray(train.distilled_loss(weight, smoothing)(label, outputs))[0])
        target = (1 - weight) * (label * (1 - smoothing) + smoothing / 10) + weight * teachers
        assert got == pytest.approx(cross_entropy(target), rel=1e-5)
    assert float(np.asarray(train.student_accuracy(label, outputs))[0]) == 0.0  # the student says 9, not 3


def test_weight_decay_shrinks_the_weights_it_trains(small_mnist, tmp_path):
    """--set weight_decay=W: Adam's decoupled decay, on top of the gradient steps (strong here, to show in 1 epoch)."""
    norms = {}
    for decay in (0, 50):
        output_dir = tmp_path / str(decay)
        args = ["--model", "linear", "--data-dir", str(small_mnist), "--epochs", "1", "--set", f"weight_decay={decay}"]
        train.main([*args, "--output-dir", str(output_dir)])
        kernel = model_defs.load_model("linear", output_dir).get_weights()[0]
        norms[decay] = float(np.linalg.norm(kernel))
    assert norms[50] < 0.8 * norms[0]
