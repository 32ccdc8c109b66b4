"""A grading worker: grades the students the runner sends it, one at a time, each in isolation.

``python -I -m dlcourse.grading.worker --settings FILE --slot K`` reads its
:class:`WorkerSettings` from ``FILE``, then one :class:`GradingTask` per line
on stdin (``{"assignment": ..., "student": ...}``), and answers one
:class:`~dlcourse.grading.journal.GradingRecord` per line on stdout (the pool,
:mod:`~dlcourse.grading.pool`, starts it). nbgrader is imported once per
worker; each student then goes through:

1. the pre-flight check (:func:`dlcourse.grading.preflight_check.preflight`): a
   broken file is flagged and not graded, a repairable one is repaired (the
   original is kept under ``.dlcourse-grade/originals/``) and flagged;
2. ``nbgrader autograde`` for this student only (through nbgrader's converter,
   with :class:`~dlcourse.grading.split_execute.SplitExecute`: the student's
   cells in the sandboxed student kernel, the tests in the grader's own test
   kernel, every limit); an error here fails this student, no one else;
3. ``nbgrader generate_feedback`` for this student, without hidden tests, and a
   scan (:mod:`~dlcourse.grading.feedback`) of what the feedback shows of the test cells -- the only part the
   grader writes -- for any line of a hidden test (if one is found the page is
   deleted and the student flagged; a student's own code is never scanned);
4. the journal entry ``.dlcourse-grade/journal/<assignment>/<student>.json``,
   written atomically last: a run killed before it regrades the student.

The worker dies with the runner (``PR_SET_PDEATHSIG``), and its kernels die
with it (``bwrap --die-with-parent``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcourse.grading.feedback import feedback_view, leaked_lines, secret_lines
from dlcourse.grading.journal import STATE_DIR, GradingRecord, Status, folder_digest, write_record
from dlcourse.grading.limits import Limits


# ---------------------------------------------------------------- what the runner sends
@dataclass(frozen=True)
class GradingTask:
    """One student's submission of one assignment, to be graded (one line of JSON on the worker's stdin).

    Example:
        >>> GradingTask.from_json(GradingTask("hw03", "s001").to_json())
        GradingTask(assignment='hw03', student='s001')
    """

    assignment: str
    student: str

    def to_json(self) -> str:
        return json.dumps({"assignment": self.assignment, "student": self.student})

    @classmethod
    def from_json(cls, text: str) -> GradingTask:
        data = json.loads(text)
        if not (isinstance(data, dict) and isinstance(data.get("assignment"), str)
                and isinstance(data.get("student"), str)):
            raise ValueError(f"a grading task: expected {{'assignment': ..., 'student': ...}}, got {text[:200]!r}")
        return cls(data["assignment"], data["student"])


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a run needs: the course, the gradebook, the limits, the sandbox, each source notebook.

    ``sources`` maps each assignment to its source notebook, relative to the course.

    Example:
        >>> settings = WorkerSettings(Path("/c"), "sqlite:////c/gradebook.db", Limits(), "bwrap", {"hw03": "s.ipynb"})
        >>> WorkerSettings.from_json(settings.to_json()) == settings
        True
    """

    course: Path
    db_url: str
    limits: Limits
    sandbox: str
    sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"course": str(self.course), "db_url": self.db_url, "limits": self.limits.to_dict(),
                           "sandbox": self.sandbox,
                           "assignments": {a: {"source": source} for a, source in self.sources.items()}}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> WorkerSettings:
        data = json.loads(text)
        return cls(course=Path(data["course"]), db_url=data["db_url"], limits=Limits(**data["limits"]),
                   sandbox=data["sandbox"], sources={a: info["source"] for a, info in data["assignments"].items()})


@dataclass
class _Findings:
    """What grading one student has found so far; the journal record is made of it at the end."""

    status: Status = "failed"
    score: float | None = None
    max_score: float | None = None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback: str | None = None


# ---------------------------------------------------------------- grading one student
class StudentGrader:
    """Grades one student at a time with nbgrader, in this process (nbgrader is imported once)."""

    def __init__(self, settings: WorkerSettings, slot: int) -> None:
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from nbgrader.preprocessors import Execute
        from traitlets.config.loader import PyFileConfigLoader

        from dlcourse.grading.feedback import HideHiddenTests
        from dlcourse.grading.pending import GetGradesMarkingPending
        from dlcourse.grading.preprocessors import SanitizeSubmission
        from dlcourse.grading.split_execute import SplitExecute

        self.settings = settings
        self.course = settings.course
        self.state = self.course / STATE_DIR
        limits = settings.limits
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.course)).load_config()
        config.CourseDirectory.root = str(self.course)
        config.CourseDirectory.db_url = settings.db_url
        chain = list(config.Autograde.get("autograde_preprocessors", [])) or None
        if chain is None:
            from nbgrader.converters import Autograde

            chain = list(Autograde.autograde_preprocessors.default_value)
        chain = [SplitExecute if step in (Execute, "nbgrader.preprocessors.Execute") else step for step in chain]
        if SplitExecute not in chain:
            chain.insert(0, SplitExecute)
        config.Autograde.autograde_preprocessors = chain
        self.report_path = self.state / "reports" / f"worker-{slot}.json"
        self.report_path.parent.mkdir(parents=True, exist_ok=True)
        config.SplitExecute.limits = limits.to_dict()
        config.SplitExecute.sandboxed = settings.sandbox == "bwrap"
        config.SplitExecute.source_dir = str(self.course / "solutions")
        config.SplitExecute.scratch_dir = str(self.state / "work")
        config.SplitExecute.report_path = str(self.report_path)
        config.SplitExecute.slot = slot
        config.SplitExecute.course = str(self.course)
        config.GenerateFeedback.preprocessors = [GetGradesMarkingPending, HideHiddenTests, SanitizeSubmission,
                                                 CSSHTMLHeaderPreprocessor]
        self.config = config
        self.limits = limits
        self._sources: dict[str, Any] = {}

    # -- the assignment's source
    def source(self, assignment: str) -> Any:
        """The assignment's source notebook and the lines of its hidden tests (read once per worker)."""
        import nbformat

        if assignment not in self._sources:
            nb = nbformat.read(self.course / self.settings.sources[assignment], as_version=4)
            self._sources[assignment] = (nb, secret_lines(nb))
        return self._sources[assignment]

    def _coursedir(self, assignment: str, student: str) -> Any:
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        return coursedir

    def _run(self, converter_class: Any, assignment: str, student: str) -> dict:
        from nbgrader.utils import capture_log

        app = converter_class(coursedir=self._coursedir(assignment, student), config=self.config)
        app.force = True
        if hasattr(app, "create_student"):
            app.create_student = True
        return capture_log(app)

    # -- gradebook helpers
    def _gradebook(self) -> Any:
        from nbgrader.api import Gradebook

        return Gradebook(self.settings.db_url, self.config.CourseDirectory.course_id or "default_course")

    def _score(self, assignment: str, student: str) -> tuple[float | None, float | None, float]:
        """The submission's score and maximum, and the points of it that wait for a person."""
        from nbgrader.api import MissingEntry

        from dlcourse.grading.pending import pending_points

        with self._gradebook() as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                return None, None, 0.0
            return float(submission.score), float(submission.max_score), pending_points(gb, assignment, student)

    def _forget_submission(self, assignment: str, student: str) -> None:
        """Keep the student on the class list (0 in grades.csv) but remove any earlier grade of this assignment."""
        from nbgrader.api import MissingEntry

        with self._gradebook() as gb:
            gb.update_or_create_student(student)
            try:
                gb.remove_submission(assignment, student)
            except MissingEntry:
                pass
        for folder in ("autograded", "feedback"):
            shutil.rmtree(self.course / folder / student / assignment, ignore_errors=True)

    # -- one student
    def grade(self, assignment: str, student: str) -> GradingRecord:
        """Grade one student; write the journal entry last; return it."""
        started = time.monotonic()
        found = _Findings()
        folder = self.course / "submitted" / student / assignment
        sha_in = folder_digest(folder)
        try:
            self._grade(assignment, student, folder, found)
        except Exception as error:  # this student only: the next one is graded as usual
            found.status = "failed"
            found.reasons.append(f"the grader failed: {type(error).__name__}: {error}")
            print(traceback.format_exc(), file=sys.stderr)
        record = GradingRecord(
            assignment=assignment, student=student, status=found.status,
            score=found.score, max_score=found.max_score, reasons=tuple(found.reasons), notes=tuple(found.notes),
            feedback=found.feedback, sha_in=sha_in, sha_out=folder_digest(folder),
            seconds=round(time.monotonic() - started, 2), grader_peak_mib=round(_peak_mib(), 1),
            finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
        write_record(self.course, record)
        return record

    def _grade(self, assignment: str, student: str, folder: Path, found: _Findings) -> None:
        source, secrets = self.source(assignment)
        if not self._preflight(assignment, student, folder, source, found):
            self._forget_submission(assignment, student)
            found.status = "flagged"
            return
        if not self._autograde(assignment, student, found):
            found.status = "failed"
            return
        found.score, found.max_score, pending = self._score(assignment, student)
        if pending:
            found.notes.append(f"{pending:g} points to grade by hand (written answers; 0 until graded)")
        self._feedback(assignment, student, secrets, found)
        found.status = "flagged" if found.reasons else "graded"

    def _preflight(self, assignment: str, student: str, folder: Path, source: Any, found: _Findings) -> bool:
        """Check the submission, repair what is safe to repair; False when it cannot be graded."""
        import nbformat

        from dlcourse.grading.preflight_check import preflight

        check = preflight(folder, assignment, source)
        found.reasons += [issue.message for issue in check.issues]
        if check.repaired or check.found_name or check.drop_timestamp:
            self._keep_original(folder, assignment, student)
            if check.notebook is not None:
                if check.found_name:
                    (folder / check.found_name).unlink()
                nbformat.write(check.notebook, str(folder / f"{assignment}.ipynb"))
            if check.drop_timestamp:
                (folder / "timestamp.txt").unlink()
        return not check.fatal

    def _autograde(self, assignment: str, student: str, found: _Findings) -> bool:
        """``nbgrader autograde`` this student (two kernels, every limit); False when it failed."""
        from nbgrader.converters import Autograde

        from dlcourse.grading.run_report import RunReport

        self.report_path.unlink(missing_ok=True)
        result = self._run(Autograde, assignment, student)
        reports = [RunReport.from_json(self.report_path.read_text())] if self.report_path.is_file() else []
        for report in reports:
            found.reasons += [flag.message for flag in report.flags]
            found.notes += report.notes
        if result.get("success"):
            return True
        grader_errors = [r.grader_error for r in reports if r.grader_error]
        detail = grader_errors[0] if grader_errors else _last_error(result)
        found.reasons.append(f"nbgrader autograde failed: {detail}")
        return False

    def _feedback(self, assignment: str, student: str, secrets: set[str], found: _Findings) -> None:
        """``nbgrader generate_feedback``, then withhold the page if it would show a line of a hidden test."""
        import nbformat
        from nbgrader.converters import GenerateFeedback

        feedback = self._run(GenerateFeedback, assignment, student)
        page = self.course / "feedback" / student / assignment / f"{assignment}.html"
        if not feedback.get("success") or not page.is_file():
            found.reasons.append(f"no feedback page: {_last_error(feedback)}")
            return
        autograded = nbformat.read(self.course / "autograded" / student / assignment / f"{assignment}.ipynb",
                                   as_version=4)
        leaks = leaked_lines(feedback_view(autograded), secrets)
        if leaks:
            page.unlink()
            found.reasons.append(f"feedback withheld: it would show {len(leaks)} line(s) of hidden tests")
        else:
            found.feedback = str(page.relative_to(self.course))

    def _keep_original(self, folder: Path, assignment: str, student: str) -> None:
        keep = self.state / "originals" / assignment / student
        if keep.exists():
            shutil.rmtree(keep)
        shutil.copytree(folder, keep, symlinks=True)


def _peak_mib() -> float:
    """The most memory this worker has held so far, in MiB (a kernel must not be able to make it grow)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _last_error(result: dict) -> str:
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    return (errors[-1] if errors else lines[-1] if lines else "no details")[:400]


# ---------------------------------------------------------------- the process
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.grading.worker")
    parser.add_argument("--settings", required=True, help="the run's settings (JSON file)")
    parser.add_argument("--slot", type=int, default=0, help="this worker's number (sandbox user id offset)")
    parser.add_argument("--parent", type=int, default=0, help="the runner's pid: exit if it is gone")
    args = parser.parse_args(argv)
    from dlcourse.grading.sandbox import die_with_parent

    die_with_parent(args.parent)
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever nbgrader prints goes to the log, not into the answers
    settings = WorkerSettings.from_json(Path(args.settings).read_text())
    os.chdir(settings.course)
    grader = StudentGrader(settings, args.slot)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        task = GradingTask.from_json(line)
        answers.write(grader.grade(task.assignment, task.student).to_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
