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
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from dlcourse.grading import (
    GetGradesMarkingPending,
    HideHiddenTests,
    SanitizeSubmission,
    SplitExecute,
    StderrIsNotFailure,
)
from dlcourse.grading.sandbox import sandbox_problem

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

# Autograding: the student's cells run in a sandboxed kernel, every test cell in a second kernel that runs
# no submission code (dlcourse/grading/split_execute.py), so no student code decides a test's verdict.
# The limits (60 s per cell, 300 s per notebook, memory, output) are dlcourse.grading.Limits' defaults.
# `dlcourse grade` adds pre-flight checks, parallel students and resuming on top of this file.
c.SplitExecute.source_dir = str(ROOT / "solutions")
c.SplitExecute.course = str(ROOT)
c.SplitExecute.sandboxed = sandbox_problem() is None  # without bubblewrap: unsandboxed (it says so in the log)
# A student who deletes a test cell (or strips its metadata) still has it graded.
c.OverwriteCells.add_missing_cells = True
# Warnings written to stderr never cost points: stderr is relabelled after execution.
c.Autograde.autograde_preprocessors = [
    SplitExecute,
    StderrIsNotFailure,
    SanitizeSubmission,  # no script a submission wrote runs where the autograded notebook is opened
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Feedback never shows the hidden tests, nor the tracebacks that would quote them (nbgrader #917, #1363).
# An answer graded by hand that no one has graded yet says so, instead of showing a bare 0.
c.GenerateFeedback.preprocessors = [GetGradesMarkingPending, HideHiddenTests, SanitizeSubmission,
                                    CSSHTMLHeaderPreprocessor]
