"""nbgrader configuration for the course (nbgrader 0.9).

Instructors run nbgrader from the repository root: `solutions/` holds the
source assignments (with solutions and hidden tests), `assignments/` receives
the student versions, and the SQLite gradebook `gradebook.db` (ignored by git)
records everything. Set ``NBGRADER_DB_URL`` to use another database, e.g.
``postgresql://user@host/course``.
"""

import os
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    Execute,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from course_utils.grading import HideHiddenTests, StderrIsNotFailure

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", f"sqlite:///{ROOT / 'gradebook.db'}")

# Generating the student version: the stub students see in answer cells.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding. Every cell of our notebooks runs in seconds; 60 s per cell stops
# an endless loop without cutting off honest work.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# A student who deletes a test cell (or strips its metadata) still has it graded.
c.OverwriteCells.add_missing_cells = True
# Warnings written to stderr never cost points: stderr is relabelled after execution.
c.Autograde.autograde_preprocessors = [
    Execute,
    StderrIsNotFailure,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Feedback never shows the hidden tests, nor the tracebacks that would quote them (nbgrader #917, #1363).
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
# `dlcourse grade` (course_utils/grading) runs on top of this file: it swaps Execute for GuardedExecute
# (sandbox, per-notebook limits, tamper guard) and grades every student in isolation.
