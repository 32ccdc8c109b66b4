from collections import namedtuple

import pytest
import torch

from course_utils import device as dev
from course_utils.device import available_devices, choose_device, device_info, get_device, to_device


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend one CUDA GPU exists (nothing is allocated on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_cpu_when_nothing_else(no_override, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    device, why = choose_device()
    assert device == torch.device("cpu")
    assert "no CUDA or MPS" in why
    assert available_devices() == ["cpu"]


def test_prefers_cuda_then_mps(no_override, fake_cuda, monkeypatch):
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert get_device() == torch.device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("mps")


@pytest.mark.parametrize(
    "value, expected", [("cpu", "cpu"), (" CPU ", "cpu"), ("cuda", "cuda:0"), ("cuda:0", "cuda:0")]
)
def test_override(monkeypatch, fake_cuda, value, expected):
    monkeypatch.setenv("COURSE_DEVICE", value)
    device, why = choose_device()
    assert str(device) == expected
    assert "COURSE_DEVICE" in why


def test_override_to_missing_cuda_names_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match=r"CUDA device.*none is usable.*Available here: cpu"):
        get_device()


def test_override_to_missing_gpu_index(monkeypatch, fake_cuda):
    monkeypatch.setenv("COURSE_DEVICE", "cuda:3")
    with pytest.raises(ValueError, match=r"only 1 exist.*cuda:0, .*cpu"):
        get_device()


def test_override_to_missing_mps(monkeypatch):
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    with pytest.raises(ValueError, match="MPS is not usable"):
        get_device()


@pytest.mark.parametrize("value", ["gpu", "tpu-ish", "cuda:x", "xla"])
def test_unknown_device_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match="COURSE_DEVICE") as info:
        get_device()
    assert "Available here" in str(info.value) and "cpu" in str(info.value)


def test_device_info_is_one_line(no_override):
    line = device_info()
    assert "\n" not in line and line.startswith(str(get_device()))
    assert "torch" in line
    assert device_info("cpu").startswith("cpu (")


def test_to_device_walks_nested_containers():
    Batch = namedtuple("Batch", "x y")
    obj = {
        "tensors": [torch.zeros(2), (torch.ones(1), "label")],
        "batch": Batch(torch.zeros(1), 3),
        "model": torch.nn.Linear(2, 1),
        "number": 1.5,
    }
    moved = to_device(obj, "cpu")
    assert isinstance(moved["tensors"], list) and isinstance(moved["tensors"][1], tuple)
    assert isinstance(moved["batch"], Batch) and moved["batch"].y == 3
    assert moved["tensors"][1][1] == "label" and moved["number"] == 1.5
    assert moved["model"].weight.device.type == "cpu"
    assert torch.equal(moved["tensors"][0], torch.zeros(2))


def test_to_device_rejects_unknown_device():
    with pytest.raises(RuntimeError):
        to_device(torch.zeros(1), "not-a-device")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the GPU machine)")
def test_real_cuda_round_trip(no_override):
    device = get_device()
    assert device.type == "cuda"
    batch = to_device({"x": torch.ones(3)}, device)
    assert batch["x"].device.type == "cuda"
    assert "GiB" in device_info(device)
