"""Running the notebooks on Google Colab.

Every notebook's first code cell is :data:`SETUP_CELL` (the tests check that it
is, and ``dlcourse sync-setup`` rewrites it). On Colab it pip-installs this
package from the course repository at :data:`COURSE_REF`, the one place where
the pinned version is configured, and turns on the widget manager; elsewhere
it only imports the package that is already installed.

Installing into Colab never replaces what Colab ships: the package's
dependency ranges admit Colab's versions of torch, numpy, matplotlib and
ipywidgets, so pip finds them satisfied.
"""

from __future__ import annotations

import sys

COURSE_REPO = "dl-intro-course/dl-intro"
"""The GitHub repository ``owner/name`` that the badges and the Colab install point at."""

COURSE_REF = "main"
"""The git ref (branch, tag or commit) Colab installs ``course_utils`` from."""

SOURCE_ENV = "COURSE_UTILS_SOURCE"
"""Overrides where the package is installed from (a wheel path, for testing the Colab path)."""


def in_colab() -> bool:
    """True when running inside a Google Colab runtime.

    Example:
        >>> in_colab()
        False
    """
    return "google.colab" in sys.modules


def colab_url(path: str) -> str:
    """The "Open in Colab" address of a notebook at ``path`` in the repository.

    Example:
        >>> colab_url("notebooks/03_logic_gates.ipynb").startswith("https://colab.research.google.com/github/")
        True
    """
    path = path.lstrip("/")
    if not path.endswith(".ipynb"):
        raise ValueError(f"expected a path to a .ipynb notebook, got {path!r}")
    return f"https://colab.research.google.com/github/{COURSE_REPO}/blob/{COURSE_REF}/{path}"


def colab_badge(path: str) -> str:
    """Markdown for the "Open in Colab" badge of the notebook at ``path``."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def enable_widgets() -> None:
    """On Colab, turn on the custom widget manager so that ipywidgets render; elsewhere do nothing."""
    if in_colab():
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()


SETUP_CELL = '''\
# Setup: on Colab this installs the course helpers (course_utils); elsewhere it changes nothing.
import sys
if "google.colab" in sys.modules:
    import os
    import subprocess
    _ref = "{ref}"
    _source = os.environ.get("{env}") or f"course_utils @ git+https://github.com/{repo}@{{_ref}}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _source], check=True)
from course_utils.colab import setup_notebook
setup_notebook()'''


def setup_cell_source() -> str:
    """The exact source of every notebook's setup cell, with the pinned ref filled in."""
    return SETUP_CELL.format(ref=COURSE_REF, env=SOURCE_ENV, repo=COURSE_REPO)


def setup_notebook(seed: int = 0) -> None:
    """What the setup cell does once the package is importable.

    Enables Colab's widget manager (on Colab), applies the course plot style,
    and seeds every random number generator with ``seed``.
    """
    from course_utils.plotting import use_course_style
    from course_utils.reproducibility import seed_everything

    enable_widgets()
    use_course_style()
    seed_everything(seed)
