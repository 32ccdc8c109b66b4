"""Which device the course computes on, and moving data there.

The rule is the same everywhere: CUDA if a GPU is usable, then Apple's MPS,
then the CPU. The environment variable ``COURSE_DEVICE`` overrides the choice
(``COURSE_DEVICE=cpu`` is handy to compare speeds or to debug).
"""

from __future__ import annotations

import os
from typing import Any

import torch

ENV_VAR = "COURSE_DEVICE"
_KNOWN_TYPES = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Names of the devices usable here, best first.

    Example:
        >>> "cpu" in available_devices()
        True
    """
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def _parse_override(value: str) -> torch.device:
    text = value.strip().lower()
    available = available_devices()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a device name; expected one of "
            f"{', '.join(_KNOWN_TYPES)} (with an index for CUDA, e.g. 'cuda:0'). "
            f"Available here: {', '.join(available)}."
        ) from None
    if device.type not in _KNOWN_TYPES:
        raise ValueError(
            f"{ENV_VAR}={value!r}: the course supports {', '.join(_KNOWN_TYPES)}, "
            f"not {device.type!r}. Available here: {', '.join(available)}."
        )
    name = "cuda:0" if text == "cuda" else str(device)
    if device.type == "cuda" and name not in available:
        raise ValueError(
            f"{ENV_VAR}={value!r} asks for a CUDA device, but "
            + ("none is usable" if not torch.cuda.is_available() else f"only {torch.cuda.device_count()} exist")
            + f". Available here: {', '.join(available)}."
        )
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"{ENV_VAR}={value!r}: MPS is not usable here. Available here: {', '.join(available)}.")
    return torch.device(name) if device.type == "cuda" else device


def choose_device() -> tuple[torch.device, str]:
    """The device :func:`get_device` returns, with the reason it was chosen.

    Example:
        >>> device, why = choose_device()
        >>> isinstance(why, str)
        True
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return _parse_override(override), f"set by {ENV_VAR}={override}"
    if torch.cuda.is_available():
        return torch.device("cuda:0"), "a CUDA GPU is available"
    if _mps_available():
        return torch.device("mps"), "Apple MPS is available"
    return torch.device("cpu"), "no CUDA or MPS device is available"


def get_device() -> torch.device:
    """The device to compute on: CUDA, then MPS, then CPU; ``COURSE_DEVICE`` overrides.

    Raises ``ValueError`` naming the available devices when ``COURSE_DEVICE``
    names an unknown or unusable device.

    Example:
        >>> x = torch.ones(3, device=get_device())
    """
    return choose_device()[0]


def device_info(device: torch.device | str | None = None) -> str:
    """One line describing ``device`` (default: :func:`get_device`).

    Example:
        >>> device_info("cpu").startswith("cpu")
        True
    """
    reason = None
    if device is None:
        device, reason = choose_device()
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index or 0
        props = torch.cuda.get_device_properties(index)
        detail = f"{props.name}, {props.total_memory / 2**30:.1f} GiB, CUDA {torch.version.cuda}"
    elif device.type == "mps":
        detail = "Apple Metal Performance Shaders"
    else:
        detail = f"{os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads"
    line = f"{device} ({detail}; torch {torch.__version__})"
    return f"{line} - {reason}" if reason else line


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move every tensor and module inside ``obj`` to ``device``.

    Lists, tuples (named tuples included) and dicts are walked recursively and
    rebuilt; other values are returned unchanged.

    Example:
        >>> batch = {"x": torch.zeros(2), "meta": ["id", torch.ones(1)]}
        >>> to_device(batch, "cpu")["meta"][1].device.type
        'cpu'
    """
    device = torch.device(device)
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((key, to_device(value, device)) for key, value in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(value, device) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device) for value in obj)
    return obj
