"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # no display in CI

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("hw*/hw*.ipynb"))
STUDENT_VERSIONS = sorted((ROOT / "assignments").glob("hw*/hw*.ipynb"))
ASSIGNMENT_IDS = [path.parent.name for path in SOLUTIONS]

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# The Colab-parity checks run only inside the environment ci/colab_env.sh builds.
collect_ignore = [] if os.environ.get("COLAB_PARITY") else ["test_colab_parity.py"]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
