"""The options of ``dlcourse grade``: imported by the command line without importing the grader.

Nothing here needs a POSIX-only module, so ``dlcourse --help`` and ``dlcourse doctor``
work everywhere; the grader itself (:mod:`~dlcourse.grading.runner`) is imported
only when ``dlcourse grade`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlcourse.grading.intake import DEFAULT_ZIP_PATTERN, LAYOUTS
from dlcourse.grading.limits import Limits

LIMIT_OPTIONS = (
    ("cell_seconds", "wall-clock seconds per cell"),
    ("notebook_seconds", "wall-clock seconds for the whole notebook"),
    ("cpu_seconds", "CPU seconds of all the kernel's processes together"),
    ("memory_mb", "memory of all the kernel's processes together, MiB"),
    ("processes", "processes and threads at once"),
    ("file_mb", "largest file written, MiB"),
    ("work_mb", "the working copy (a tmpfs), MiB"),
    ("cell_output_kb", "output kept per cell, KiB"),
    ("notebook_output_kb", "output kept in all, KiB"),
    ("message_mb", "largest result of one call of a student's function, MiB"),
    ("cell_received_mb", "all messages a kernel may send during one cell, MiB"),
    ("received_mb", "all messages a kernel may send during the notebook, MiB"),
)
"""Each limit of :class:`~dlcourse.grading.limits.Limits` that ``dlcourse grade`` takes as ``--name-with-dashes``."""


def add_arguments(parser: Any) -> None:
    """The options of ``dlcourse grade`` (added to ``parser``, an ``argparse.ArgumentParser``)."""
    defaults = Limits()
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: every assignment in solutions/)")
    parser.add_argument("--submissions", "-s", type=Path,
                        help="a folder of submissions or an LMS .zip export (default: the course's submitted/)")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto",
                        help="nbgrader: <student>/<assignment>/<assignment>.ipynb; folders: "
                             "<student>/<assignment>.ipynb; zip: an LMS export (default: auto)")
    parser.add_argument("--zip-pattern", default=DEFAULT_ZIP_PATTERN,
                        help="regular expression with (?P<student_id>...) and (?P<file_id>...) matched against each "
                             "file path in the zip (default: %(default)s)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="students graded at once (default 1)")
    parser.add_argument("--course", type=Path, help="the course folder (default: the one around the current folder)")
    parser.add_argument("--db-url", help="gradebook URL, e.g. postgresql://grader@host/course "
                                         "(default: $NBGRADER_DB_URL or the course's gradebook.db)")
    parser.add_argument("--student", action="append", default=[], dest="students",
                        help="grade only this student (repeatable)")
    parser.add_argument("--regrade", action="store_true", help="regrade students an earlier run already graded")
    parser.add_argument("--grades", type=Path, help="where to write grades.csv (default: the course folder)")
    parser.add_argument("--sandbox", choices=("bwrap", "none"), default="bwrap",
                        help="bwrap: bubblewrap with resource limits (default); none: no isolation, for trusted work")
    limits = parser.add_argument_group("limits (per kernel and notebook unless stated)")
    for name, help_text in LIMIT_OPTIONS:
        flag = "--" + name.replace("_", "-")
        limits.add_argument(flag, type=int, dest=name, default=None,
                            help=f"{help_text} (default {getattr(defaults, name)})")
