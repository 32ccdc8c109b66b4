"""Where things are in a course folder: its root, the assignments, the notebooks.

A course root holds ``nbgrader_config.py`` and ``solutions/`` (one folder
``hwNN_topic`` per assignment, holding ``hwNN_topic.ipynb``); the lectures are
in ``notebooks/`` and the generated student versions in ``assignments/``.
"""

from __future__ import annotations

from pathlib import Path

SETUP_CELL_INDEX = 2
"""Position of the setup cell in every lecture and assignment: after the title and "what you will learn"."""


class NoCourseFound(SystemExit):
    """No course root at or above a folder (a ``SystemExit``: the command line prints it and stops)."""


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder upwards holding ``nbgrader_config.py`` and ``solutions/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    raise NoCourseFound(f"dlcourse: no course found at or above {here} (expected nbgrader_config.py and solutions/)")


def assignment_ids(root: Path) -> list[str]:
    """The assignments in ``solutions/``: folders ``hwNN_topic`` holding ``hwNN_topic.ipynb``."""
    return sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def find_notebooks(paths: list[str | Path]) -> list[Path]:
    """Every ``.ipynb`` under ``paths`` (files or folders), sorted, checkpoints skipped."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{raw}: expected a .ipynb file or a folder holding notebooks")
    return sorted(set(found))


def course_notebooks(root: Path) -> list[Path]:
    """The hand-written notebooks: lectures and assignment sources (not the generated student versions)."""
    return find_notebooks([root / "notebooks", root / "solutions"])


def is_student_version(path: Path) -> bool:
    """True for notebooks under an ``assignments/`` folder (generated student versions)."""
    return "assignments" in Path(path).resolve().parts
