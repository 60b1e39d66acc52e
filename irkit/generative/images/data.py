"""Image data for the generative models.

MNIST here is only the 10,000-image *test* set (the 60k training images are not
available), so irkit uses a fixed split of it: a seeded permutation (seed 0)
gives 8,000 training and 2,000 test images. Pixels are binarised by a fixed
threshold (``p > 0.5``) by default, or dynamically (a Bernoulli draw per epoch,
as Burda et al. do) with ``binarize="dynamic"``; the protocol string says which.
scikit-learn's bundled 8x8 digits (1,797 images, 16 grey levels) are the small
second data set, split 1,438/359 the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from irkit.errors import InputError
from irkit.io.idx import read_idx

SPLIT_SEED = 0
MNIST_TRAIN = 8000
DATASETS = ("mnist", "digits")


def mnist_dir() -> Path:
    """``$IRKIT_DATA/mnist`` when set, else the copy shipped inside the package (:mod:`irkit.datasets`)."""
    from irkit.datasets import locate

    return locate("mnist")


def _split(n: int, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return perm[:n_train], perm[n_train:]


def load_images(name: str = "mnist", split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: float32 images in [0, 1] of shape (n, 1, H, W), int64 labels."""
    if split not in ("train", "test", "all"):
        raise InputError(f"split must be train, test or all, not {split!r}")
    if name == "mnist":
        d = mnist_dir()
        x = read_idx(d / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
        y = read_idx(d / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        n_train = MNIST_TRAIN
    elif name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = (bunch.images / 16.0).astype(np.float32)
        y = bunch.target.astype(np.int64)
        n_train = round(0.8 * len(x))
    else:
        raise InputError(f"unknown image data {name!r}; choose from {', '.join(DATASETS)}")
    x = x[:, None, :, :]
    if split == "all":
        return x, y
    train, test = _split(len(x), n_train)
    idx = train if split == "train" else test
    return x[idx], y[idx]


def binarize(x: np.ndarray, mode: str = "threshold", rng: np.random.Generator | None = None) -> np.ndarray:
    """Binary images: ``threshold`` (p > 0.5) or ``dynamic`` (Bernoulli(p) draws)."""
    if mode == "threshold":
        return (x > 0.5).astype(np.float32)
    if mode == "dynamic":
        rng = rng or np.random.default_rng()
        return (rng.random(x.shape) < x).astype(np.float32)
    raise InputError(f"binarize must be 'threshold' or 'dynamic', not {mode!r}")


def protocol(name: str = "mnist", mode: str = "threshold") -> str:
    """A one-line description of the data protocol, printed beside every figure."""
    if name == "mnist":
        return f"MNIST t10k split 8000/2000 (seed {SPLIT_SEED}), {mode} binarisation, 28x28"
    return f"sklearn digits split 1438/359 (seed {SPLIT_SEED}), {mode} binarisation, 8x8"


def bernoulli_baseline_nll(train: np.ndarray, test: np.ndarray, eps: float = 1e-3) -> float:
    """Test NLL (nats per image) of independent per-pixel Bernoulli fitted on ``train``."""
    p = np.clip(train.reshape(len(train), -1).mean(0), eps, 1 - eps)
    t = test.reshape(len(test), -1)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(1).mean())
