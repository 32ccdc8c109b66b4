"""Same seed, same numbers: one call seeds every random number generator."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int = 0, deterministic: bool = False) -> np.random.Generator:
    """Seed ``random``, NumPy and PyTorch (CPU and every GPU); return a NumPy Generator.

    With ``deterministic=True`` PyTorch is also told to use deterministic
    algorithms (slower on a GPU, and an error for the few operations that have
    none).

    Example:
        >>> rng = seed_everything(42)
        >>> first = rng.normal()
        >>> seed_everything(42).normal() == first
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # the numpy-only lectures still work without torch
        torch = None
    if torch is not None:
        torch.manual_seed(seed)  # seeds CUDA and MPS generators too
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)
