"""Read MNIST from its canonical gzipped IDX files, checking everything it reads.

``load_mnist(data_dir)`` returns ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays
(images N x 28 x 28, labels N). With no directory given it looks at ``MNIST_DIR``, and with
neither it falls back to Keras's own download.
"""

import gzip
import os
from pathlib import Path

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
UBYTE_TYPE = 0x08


class DataError(ValueError):
    """A data file is missing, truncated or not what MNIST's IDX format says."""


def read_idx(path: Path, expected_ndim: int) -> np.ndarray:
    """Read one gzipped (or plain) IDX file of unsigned bytes into an array of its declared shape."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != UBYTE_TYPE:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {data[:4].hex()})")
    ndim = data[3]
    if ndim != expected_ndim:
        raise DataError(f"{path}: expected {expected_ndim} dimensions, the header says {ndim}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_bytes = header_size + int(np.prod(shape))
    if len(data) != expected_bytes:
        raise DataError(
            f"{path}: truncated or padded: header declares shape {shape} ({expected_bytes} bytes), "
            f"file holds {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one images/labels pair and check that they belong together."""
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} is outside 0-9")
    return images, labels


def load_from_dir(data_dir: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    data_dir = Path(data_dir)
    train = read_split(data_dir / FILES["train_images"], data_dir / FILES["train_labels"])
    test = read_split(data_dir / FILES["test_images"], data_dir / FILES["test_labels"])
    return train, test


def load_test_from_dir(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    data_dir = Path(data_dir)
    return read_split(data_dir / FILES["test_images"], data_dir / FILES["test_labels"])


def load_mnist(data_dir: str | Path | None = None):
    """MNIST from ``data_dir``, else ``$MNIST_DIR``, else Keras's download."""
    data_dir = data_dir or os.environ.get("MNIST_DIR")
    if data_dir:
        return load_from_dir(Path(data_dir))
    import keras

    try:
        return keras.datasets.mnist.load_data()
    except Exception as error:  # any failure of the download: no network, proxy, bad cache
        raise DataError(
            f"could not download MNIST ({error.__class__.__name__}: {error}); point at local files with "
            f"--data-dir DIR or MNIST_DIR=DIR, where DIR holds {', '.join(FILES.values())}"
        ) from None
