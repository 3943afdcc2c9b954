"""Datasets for ``symderiv train``; nothing is ever downloaded.

* ``digits`` — scikit-learn's bundled 8×8 handwritten digits (1,797 real
  images shipped inside the package; optional extra ``[train]``), split once
  into train/test with a fixed seed, stratified by class, so every run and
  every ``--seed`` is judged on the same held-out images.
* ``mnist`` — the four standard IDX files from a directory the user gives.

Pixels are scaled to [0, 1] float32; labels are integer class indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symderiv.errors import InputError
from symderiv.train.idx import read_idx

DIGITS_TEST_SIZE = 360  # of 1,797 images: 20 %, about 36 per class
DIGITS_SPLIT_SEED = 0  # fixed: the held-out set never depends on --seed
DIGITS_MAX_PIXEL = 16.0  # the bundled digits are 4-bit grey levels 0..16

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_CLASSES = 10
IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions (count, rows, cols)
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension (count)

INSTALL_TRAIN_HINT = 'pip install "symderiv[train]"'


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (n_train, features) float32 in [0, 1]
    y_train: np.ndarray  # (n_train,) integer labels
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    source: str  # where the data came from, for the report

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def load_digits() -> Dataset:
    """scikit-learn's bundled digits, fixed stratified split, pixels / 16."""
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InputError(
            f"--dataset digits needs scikit-learn, which is not installed: {INSTALL_TRAIN_HINT}"
        ) from None
    images, labels = sklearn_load_digits(return_X_y=True)
    x = (images / DIGITS_MAX_PIXEL).astype(np.float32)
    y = labels.astype(np.intp)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    return Dataset(
        name="digits",
        x_train=np.ascontiguousarray(x_train),
        y_train=np.ascontiguousarray(y_train),
        x_test=np.ascontiguousarray(x_test),
        y_test=np.ascontiguousarray(y_test),
        n_classes=int(y.max()) + 1,
        source="scikit-learn bundled 8x8 digits",
    )


def _find_idx_file(directory: Path, base: str) -> Path:
    """``base``, ``base.gz``, or the common dotted spelling (``train-images.idx3-ubyte``)."""
    dotted = base.replace("-idx", ".idx")
    candidates = [base, base + ".gz", dotted, dotted + ".gz"]
    for name in candidates:
        path = directory / name
        if path.is_file():
            return path
    raise InputError(f"{directory / base}: no such file (also looked for {base}.gz) in --data {directory}")


def _read_mnist_pair(directory: Path, images_base: str, labels_base: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find_idx_file(directory, images_base)
    labels_path = _find_idx_file(directory, labels_base)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(
            f"{images_path}: expected uint8 images with 3 dimensions (magic 0x{IMAGES_MAGIC:08X}), "
            f"found {images.dtype} with {images.ndim}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise InputError(
            f"{labels_path}: expected uint8 labels with 1 dimension (magic 0x{LABELS_MAGIC:08X}), "
            f"found {labels.dtype} with {labels.ndim}"
        )
    if images.shape[0] != labels.shape[0]:
        raise InputError(
            f"{labels_path}: size mismatch: {labels.shape[0]} labels for {images.shape[0]} images in {images_path.name}"
        )
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise InputError(f"{images_path}: empty image array of shape {list(images.shape)}")
    if int(labels.max()) >= MNIST_CLASSES:
        bad = int(np.argmax(labels >= MNIST_CLASSES))
        raise InputError(
            f"{labels_path}: label {int(labels[bad])} at index {bad} is not a digit 0-{MNIST_CLASSES - 1}"
        )
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x /= np.float32(255.0)
    return x, labels.astype(np.intp)


def load_mnist(directory: str | Path) -> Dataset:
    """The MNIST IDX files (plain or .gz) from ``directory``; pixels / 255."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"--data {directory}: not a directory")
    x_train, y_train = _read_mnist_pair(directory, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    x_test, y_test = _read_mnist_pair(directory, MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    if x_train.shape[1] != x_test.shape[1]:
        raise InputError(
            f"{directory}: training images have {x_train.shape[1]} pixels but test images have {x_test.shape[1]}"
        )
    return Dataset(
        name="mnist",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        n_classes=MNIST_CLASSES,
        source=f"IDX files in {directory}",
    )


def load_dataset(name: str, data_dir: str | None) -> Dataset:
    if name == "digits":
        if data_dir is not None:
            raise InputError("--data is only used with --dataset mnist (digits are bundled with scikit-learn)")
        return load_digits()
    if name == "mnist":
        if data_dir is None:
            raise InputError("--dataset mnist needs --data DIR holding the IDX files (train-images-idx3-ubyte, ...)")
        return load_mnist(data_dir)
    raise InputError(f"unknown dataset {name!r} (choose digits or mnist)")
