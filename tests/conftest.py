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
collect_ignore = [] if os.environ.get("COLAB_PARITY") else ["course/test_colab_parity.py"]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make ``--dist loadgroup`` keep an ``xdist_group`` on one worker under pytest 9.

    pytest-xdist 3.8 tags grouped tests by setting ``item._nodeid = "<id>@<group>"``, which pytest 9
    no longer reads (node ids live in ``item._id``), so groups were split across workers and their
    module fixtures (a Jupyter server, a grading run) ran once per worker. This applies the tag.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest < 9 reads _nodeid itself
        return
    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if grouped and "@" in grouped and item.nodeid != grouped:
            item._id = NodeId.parse(grouped)
