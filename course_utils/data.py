"""Data for the course: small 2-D sets made by code, and MNIST with an offline fallback.

The toy sets return ``(X, y)`` NumPy arrays: ``X`` of shape ``(n, 2)`` (float64)
and ``y`` of shape ``(n,)`` (int64 class labels). Every generator takes a
``seed`` so that the same call always gives the same points.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported only when MNIST is loaded
    import torch

DATA_DIR_ENV = "COURSE_DATA_DIR"
OFFLINE_ENV = "COURSE_OFFLINE"
MNIST_HOST = "ossci-datasets.s3.amazonaws.com"  # torchvision's first MNIST mirror
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def data_dir() -> Path:
    """Where downloaded data lives: ``$COURSE_DATA_DIR``, else ``~/.cache/dlcourse``.

    Example:
        >>> data_dir().name != ""
        True
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(cache) / "dlcourse"


def _check_size(n: int, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return int(n)


def _check_noise(noise: float) -> float:
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def boolean_points() -> np.ndarray:
    """The four inputs of a two-input logic gate, in truth-table order.

    Example:
        >>> boolean_points().tolist()
        [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy XOR: points scattered around the four corners of the unit square.

    The label is 1 where exactly one coordinate is near 1 (``x1 != x2``).

    Example:
        >>> X, y = make_xor(8, noise=0.0)
        >>> X.shape, y.tolist()
        ((8, 2), [0, 1, 1, 0, 0, 1, 1, 0])
    """
    n, noise = _check_size(n), _check_noise(noise)
    rng = np.random.default_rng(seed)
    corners = np.tile(boolean_points(), (n // 4 + 1, 1))[:n]
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return corners + rng.normal(0.0, noise, size=corners.shape), y


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below).

    Example:
        >>> X, y = make_moons(100)
        >>> X.shape, int(y.sum())
        ((100, 2), 50)
    """
    n, noise = _check_size(n), _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_top = n - n // 2
    t_top, t_bottom = np.linspace(0, np.pi, n_top), np.linspace(0, np.pi, n // 2)
    top = np.column_stack([np.cos(t_top), np.sin(t_top)])
    bottom = np.column_stack([1 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)])
    X = np.vstack([top, bottom]) + rng.normal(0.0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_top), np.ones(n // 2)]).astype(np.int64)
    return X, y


def make_circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0); ``factor`` is the radius ratio.

    Example:
        >>> X, y = make_circles(100, noise=0.0)
        >>> bool(np.allclose(np.hypot(*X[y == 1].T), 0.5))
        True
    """
    n, noise = _check_size(n), _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be strictly between 0 and 1, got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer = n - n // 2
    t_outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0, 2 * np.pi, n // 2, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    X = np.vstack([outer, inner]) + rng.normal(0.0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_outer), np.ones(n // 2)]).astype(np.int64)
    return X, y


def make_spirals(n: int = 300, classes: int = 2, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (the cs231n / TensorFlow Playground set).

    Example:
        >>> X, y = make_spirals(300, classes=3)
        >>> np.bincount(y).tolist()
        [100, 100, 100]
    """
    n, noise = _check_size(n), _check_noise(noise)
    classes = _check_size(classes, "classes")
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    radius = np.empty(n)
    for k in range(classes):
        members = y == k
        radius[members] = np.linspace(0.05, 1.0, members.sum())
    angle = 4.0 * radius + 2 * np.pi * y / classes + rng.normal(0.0, noise, size=n)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, y.astype(np.int64)


@dataclass
class ImageData:
    """Train and test images with labels, as float tensors in [0, 1].

    ``x_train`` has shape ``(n, height, width)``; ``y_train`` holds int64 class
    labels. ``name`` says which data set this is ("MNIST" or "digits").
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(self.y_train.max()) + 1


def _network_reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _mnist_from_torchvision(root: Path, download: bool) -> ImageData:
    import torch
    from torchvision.datasets import MNIST

    splits = {train: MNIST(str(root), train=train, download=download) for train in (True, False)}
    return ImageData(
        name="MNIST",
        x_train=splits[True].data.to(torch.float32) / 255.0,
        y_train=splits[True].targets.to(torch.int64),
        x_test=splits[False].data.to(torch.float32) / 255.0,
        y_test=splits[False].targets.to(torch.int64),
    )


def load_digits_data(test_fraction: float = 0.25, seed: int = 0) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1797 images), split into train and test.

    The split is stratified and fixed by ``seed``.

    Example:
        >>> data = load_digits_data()
        >>> data.image_shape, data.num_classes
        ((8, 8), 10)
    """
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    return ImageData(
        name="digits",
        x_train=torch.from_numpy(x_train),
        y_train=torch.from_numpy(y_train.astype(np.int64)),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test.astype(np.int64)),
    )


def mnist_status(root: Path | None = None) -> str:
    """What :func:`load_mnist` would use: "present", "downloadable" or "fallback"."""
    root = Path(root) if root is not None else data_dir()
    if all((root / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES):
        return "present"
    if os.environ.get(OFFLINE_ENV) != "1" and _network_reachable(MNIST_HOST):
        return "downloadable"
    return "fallback"


def load_mnist(root: str | Path | None = None, download: bool = True, verbose: bool = True) -> ImageData:
    """MNIST (60 000 + 10 000 images of 28x28) if present or downloadable, else the bundled digits.

    Prints one line saying which data set is used. Files go to ``root``
    (default :func:`data_dir`). Set ``COURSE_OFFLINE=1`` to skip the download
    attempt.

    Example:
        >>> data = load_mnist()  # doctest: +SKIP
        Using MNIST from /root/.cache/dlcourse (60000 train / 10000 test images, 28x28).
    """
    root = Path(root).expanduser() if root is not None else data_dir()
    status = mnist_status(root)
    reason = "no network" if os.environ.get(OFFLINE_ENV) != "1" else f"{OFFLINE_ENV}=1"
    if status == "present" or (status == "downloadable" and download):
        try:
            data = _mnist_from_torchvision(root, download=status == "downloadable")
        except Exception as error:  # a broken download or mirror: fall back, and say why
            reason = f"MNIST could not be loaded: {type(error).__name__}: {error}"
        else:
            if verbose:
                print(f"Using MNIST from {root} ({len(data.y_train)} train / {len(data.y_test)} test images, 28x28).")
            return data
    elif status == "downloadable":
        reason = "download=False"
    data = load_digits_data()
    if verbose:
        print(
            f"MNIST is not available ({reason}): using scikit-learn's bundled 8x8 digits instead "
            f"({len(data.y_train)} train / {len(data.y_test)} test images)."
        )
    return data
