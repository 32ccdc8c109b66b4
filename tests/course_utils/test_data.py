import socket
import struct

import numpy as np
import pytest
import torch

from course_utils import data
from course_utils.data import (
    boolean_points,
    load_digits_data,
    load_mnist,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
)

GENERATORS = [make_xor, make_moons, make_circles, make_spirals]


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_dtypes_and_determinism(make):
    X, y = make(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    X2, y2 = make(101, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(101, seed=4)
    assert not np.array_equal(X, X3)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n", [0, -5, 2.5, "10", True])
def test_bad_size(make, n):
    with pytest.raises(ValueError, match="must be a positive int"):
        make(n)


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf")])
def test_bad_noise(make, noise):
    with pytest.raises(ValueError, match="noise must be a finite number"):
        make(10, noise=noise)


def test_boolean_points_truth_table_order():
    assert boolean_points().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_xor_labels_follow_corners():
    X, y = make_xor(400, noise=0.0)
    assert np.array_equal(y, (X[:, 0] != X[:, 1]).astype(int))
    assert np.bincount(y).tolist() == [200, 200]


def test_circles_radii_and_bad_factor():
    X, y = make_circles(200, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radius[y == 0], 1.0) and np.allclose(radius[y == 1], 0.3)
    for factor in (0, 1, 1.5):
        with pytest.raises(ValueError, match="factor"):
            make_circles(10, factor=factor)


def test_spirals_classes():
    _, y = make_spirals(90, classes=3)
    assert np.bincount(y).tolist() == [30, 30, 30]
    with pytest.raises(ValueError, match="at least 2"):
        make_spirals(10, classes=1)


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.data_dir() == tmp_path / "cache" / "dlcourse"


def test_digits_split_is_stratified_and_fixed():
    a, b = load_digits_data(), load_digits_data()
    assert a.name == "digits" and a.image_shape == (8, 8) and a.num_classes == 10
    assert len(a.y_train) + len(a.y_test) == 1797
    assert torch.equal(a.y_test, b.y_test)
    assert float(a.x_train.min()) >= 0.0 and float(a.x_train.max()) <= 1.0
    assert a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    counts = torch.bincount(a.y_test)
    assert counts.min() >= 40  # every class is in the test split
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_data(test_fraction=1.0)


def _no_network(*args, **kwargs):
    raise OSError("network is unreachable (blocked by the test)")


def test_mnist_falls_back_without_network(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    result = load_mnist(root=tmp_path)
    lines = capsys.readouterr().out.strip().splitlines()
    assert result.name == "digits"
    assert len(lines) == 1 and "MNIST is not available (no network)" in lines[0] and "digits" in lines[0]


def test_mnist_offline_env_skips_the_network(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("must not touch the network"))
    assert load_mnist(root=tmp_path).name == "digits"
    assert "COURSE_OFFLINE=1" in capsys.readouterr().out


def test_mnist_broken_download_falls_back_with_reason(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_network_reachable", lambda host, timeout=3.0: True)

    def broken(root, download):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(data, "_mnist_from_torchvision", broken)
    assert load_mnist(root=tmp_path).name == "digits"
    assert "RuntimeError: Error downloading" in capsys.readouterr().out


def _write_idx(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_used_when_files_are_present(monkeypatch, tmp_path, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 2049)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("must not touch the network"))
    result = load_mnist(root=tmp_path)
    assert result.name == "MNIST"
    assert result.x_train.shape == (12, 28, 28) and result.x_test.shape == (5, 28, 28)
    assert float(result.x_train.max()) <= 1.0 and result.y_test.tolist() == [0, 1, 2, 3, 4]
    assert capsys.readouterr().out.startswith("Using MNIST from")
