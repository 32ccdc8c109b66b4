import random

import numpy as np
import pytest
import torch

from course_utils import seed_everything


def test_same_seed_same_numbers():
    def draw():
        rng = seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(1).item(), rng.normal()

    assert draw() == draw()


def test_different_seeds_differ():
    seed_everything(1)
    a = torch.rand(3)
    seed_everything(2)
    assert not torch.equal(a, torch.rand(3))


def test_returns_generator():
    assert isinstance(seed_everything(0), np.random.Generator)


@pytest.mark.parametrize("bad", [1.5, "7", None, True])
def test_bad_seed_type(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_bad_seed_range(bad):
    with pytest.raises(ValueError, match="seed must be in"):
        seed_everything(bad)


def test_deterministic_mode():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
