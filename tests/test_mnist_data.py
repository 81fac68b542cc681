import gzip

import numpy as np
import pytest

from conftest import write_idx
from digit_studio.core import mnist_data


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 5)):
        prefix = "t10k" if split == "test" else "train"
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
    return tmp_path


def test_reads_what_was_written(tiny_mnist):
    (x_train, y_train), (x_test, y_test) = mnist_data.load_mnist(tiny_mnist)
    assert x_train.shape == (12, 28, 28) and y_train.shape == (12,)
    assert x_test.shape == (5, 28, 28) and y_test.shape == (5,)
    assert x_train.dtype == np.uint8
    original = np.random.default_rng(0).integers(0, 256, (12, 28, 28))
    np.testing.assert_array_equal(x_train, original)


def test_mnist_dir_environment_variable(tiny_mnist, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tiny_mnist))
    (x_train, _), _ = mnist_data.load_mnist()
    assert len(x_train) == 12


def test_missing_file_is_named(tiny_mnist):
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(mnist_data.DataError, match="t10k-labels-idx1-ubyte.gz: file not found"):
        mnist_data.load_mnist(tiny_mnist)


def test_truncated_file_is_named(tiny_mnist):
    path = tiny_mnist / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(mnist_data.DataError, match="train-images-idx3-ubyte.gz: truncated"):
        mnist_data.load_mnist(tiny_mnist)


def test_cut_off_gzip_stream_is_named(tiny_mnist):
    path = tiny_mnist / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(mnist_data.DataError, match="train-images-idx3-ubyte.gz: cannot read"):
        mnist_data.load_mnist(tiny_mnist)


def test_wrong_magic_is_named(tiny_mnist):
    path = tiny_mnist / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[2] = 0x0D  # float32 instead of unsigned bytes
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(mnist_data.DataError, match="t10k-images-idx3-ubyte.gz: not an IDX file"):
        mnist_data.load_mnist(tiny_mnist)


def test_not_idx_at_all(tiny_mnist):
    (tiny_mnist / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(mnist_data.DataError, match="not an IDX file"):
        mnist_data.load_mnist(tiny_mnist)


def test_label_out_of_range(tiny_mnist):
    write_idx(tiny_mnist / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3, 4, 11]))
    with pytest.raises(mnist_data.DataError, match="label 11 is outside 0-9"):
        mnist_data.load_mnist(tiny_mnist)


def test_image_and_label_counts_must_match(tiny_mnist):
    write_idx(tiny_mnist / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3]))
    with pytest.raises(mnist_data.DataError, match="3 labels for 5 images"):
        mnist_data.load_mnist(tiny_mnist)


def test_wrong_image_size(tiny_mnist):
    write_idx(tiny_mnist / "t10k-images-idx3-ubyte.gz", np.zeros((5, 32, 32)))
    with pytest.raises(mnist_data.DataError, match="images are 32x32, expected 28x28"):
        mnist_data.load_mnist(tiny_mnist)


def test_offline_download_says_how_to_use_local_files(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(mnist_data.DataError, match="could not download MNIST .* --data-dir DIR or MNIST_DIR=DIR"):
        mnist_data.load_mnist()
