"""A grading worker: grades the students the runner sends it, one at a time, each in isolation.

``python -m dlcourse.grading.worker --settings FILE --slot K`` reads one
JSON task per line on stdin (``{"assignment": ..., "student": ...}``) and
answers one JSON record per line on stdout. nbgrader is imported once per
worker; each student then goes through:

1. the pre-flight check (:func:`dlcourse.grading.checks.preflight`): a
   broken file is flagged and not graded, a repairable one is repaired (the
   original is kept under ``.dlcourse-grade/originals/``) and flagged;
2. ``nbgrader autograde`` for this student only (through nbgrader's converter,
   with :class:`~dlcourse.grading.split_execute.SplitExecute`: the student's
   cells in the sandboxed student kernel, the tests in the grader's own test
   kernel, every limit); an error here fails this student, no one else;
3. ``nbgrader generate_feedback`` for this student, without hidden tests, and a
   scan of what the feedback shows of the test cells -- the only part the
   grader writes -- for any line of a hidden test (if one is found the page is
   deleted and the student flagged; a student's own code is never scanned);
4. the journal entry ``.dlcourse-grade/journal/<assignment>/<student>.json``,
   written atomically last: a run killed before it regrades the student.

The worker dies with the runner (``PR_SET_PDEATHSIG``), and its kernels die
with it (``bwrap --die-with-parent``).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
import traceback
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

STATE_DIR = ".dlcourse-grade"
"""The runner's state inside the course: journal, originals of repaired files, logs, lock."""


# ---------------------------------------------------------------- small helpers shared with the runner
def folder_digest(folder: Path) -> str | None:
    """SHA-256 over the names and contents of the regular files in ``folder`` (``None`` if it does not exist).

    Example:
        >>> folder_digest(Path("/nonexistent")) is None
        True
    """
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for base, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(base) / name
            if path.is_file() and not path.is_symlink():
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                digest.update(path.read_bytes())
                digest.update(b"\0")
    return digest.hexdigest()


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that ``path`` holds either the old or the new content, even after a crash.

    Example:
        >>> write_json_atomically(Path("/tmp/dlcourse-example/record.json"), {"status": "graded"})
        >>> json.loads(Path("/tmp/dlcourse-example/record.json").read_text())
        {'status': 'graded'}
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def journal_path(course: Path, assignment: str, student: str) -> Path:
    """Where the journal entry of one graded student lives.

    Example:
        >>> str(journal_path(Path("/c"), "hw03_logic_gates", "s001"))
        '/c/.dlcourse-grade/journal/hw03_logic_gates/s001.json'
    """
    return course / STATE_DIR / "journal" / assignment / f"{student}.json"


# ---------------------------------------------------------------- the feedback scan
class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(page: str) -> str:
    """The visible text of an HTML page (code included), with entities decoded.

    Example:
        >>> html_text('<p>a &lt; b</p><style>x{}</style>')
        'a < b'
    """
    parser = _TextOfHtml()
    parser.feed(page)
    return html.unescape("".join(parser.parts))


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_PREFIX = re.compile(r"^\s*(-*>\s*)?\d+\s")


def _normal(line: str) -> str:
    """A line as compared by the leak scan: no colour codes, no traceback line number, spaces collapsed."""
    line = _TRACEBACK_PREFIX.sub("", _ANSI.sub("", line))
    return re.sub(r"\s+", " ", line).strip()


def secret_lines(source_nb: Any) -> set[str]:
    """Lines of the source's hidden tests that appear nowhere else in the source (normalised, 16+ characters).

    A feedback page that contains one of them shows a hidden test.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\\nassert f(3) == 27\\n### END HIDDEN TESTS")
        >>> secret_lines(nbformat.v4.new_notebook(cells=[cell]))
        {'assert f(3) == 27'}
    """
    from dlcourse.grading.preprocessors import HIDDEN_BEGIN, HIDDEN_END, strip_hidden_region

    hidden, visible = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif inside:
                hidden.add(_normal(line))
        visible.update(_normal(line) for line in strip_hidden_region(cell.source)[0].splitlines())
    return {line for line in hidden - visible if len(line) >= 16}


def leaked_lines(feedback: Any, secrets: set[str]) -> list[str]:
    """The secret lines the feedback would show in its test cells (the part of the page the grader writes).

    ``feedback`` is the autograded notebook after :class:`HideHiddenTests`.
    The student's own cells are not scanned: a line of their code that happens
    to equal a line of a hidden test is their code, not a leak.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("assert f(3) == 27, 'cube'")
        >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
        >>> leaked_lines(nbformat.v4.new_notebook(cells=[cell]), {"assert f(3) == 27, 'cube'"})
        ["assert f(3) == 27, 'cube'"]
    """
    from dlcourse.grading.plan import is_test_cell

    text: set[str] = set()
    for cell in feedback.cells:
        if not is_test_cell(cell):
            continue
        parts = [cell.source]
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            parts += [value for value in output.get("data", {}).values() if isinstance(value, str)]
        for part in parts:
            text.update(_normal(line) for line in html.unescape(str(part)).splitlines())
    return sorted(secrets & text)


def feedback_view(autograded: Any) -> Any:
    """The autograded notebook as the feedback shows it: test cells without their hidden tests."""
    import copy

    from dlcourse.grading.preprocessors import HideHiddenTests

    nb = copy.deepcopy(autograded)
    hide = HideHiddenTests()
    for index, cell in enumerate(nb.cells):
        hide.preprocess_cell(cell, {}, index)
    return nb


# ---------------------------------------------------------------- grading one student
class StudentGrader:
    """Grades one student at a time with nbgrader, in this process (nbgrader is imported once)."""

    def __init__(self, settings: dict, slot: int) -> None:
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from nbgrader.preprocessors import Execute, GetGrades
        from traitlets.config.loader import PyFileConfigLoader

        from dlcourse.grading.limits import Limits
        from dlcourse.grading.preprocessors import HideHiddenTests, SanitizeSubmission
        from dlcourse.grading.split_execute import SplitExecute

        self.settings = settings
        self.course = Path(settings["course"])
        self.state = self.course / STATE_DIR
        limits = Limits(**settings["limits"])
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.course)).load_config()
        config.CourseDirectory.root = str(self.course)
        config.CourseDirectory.db_url = settings["db_url"]
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
        config.SplitExecute.sandboxed = settings["sandbox"] == "bwrap"
        config.SplitExecute.source_dir = str(self.course / "solutions")
        config.SplitExecute.scratch_dir = str(self.state / "work")
        config.SplitExecute.report_path = str(self.report_path)
        config.SplitExecute.slot = slot
        config.SplitExecute.course = str(self.course)
        config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, SanitizeSubmission,
                                                 CSSHTMLHeaderPreprocessor]
        self.config = config
        self.limits = limits
        self._sources: dict[str, Any] = {}

    # -- the assignment's source
    def source(self, assignment: str) -> Any:
        import nbformat

        if assignment not in self._sources:
            info = self.settings["assignments"][assignment]
            nb = nbformat.read(self.course / info["source"], as_version=4)
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

        return Gradebook(self.settings["db_url"], self.config.CourseDirectory.course_id or "default_course")

    def _score(self, assignment: str, student: str) -> tuple[float | None, float | None]:
        from nbgrader.api import MissingEntry

        with self._gradebook() as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                return None, None
            return float(submission.score), float(submission.max_score)

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
    def grade(self, assignment: str, student: str) -> dict:
        started = time.monotonic()
        record: dict[str, Any] = {"assignment": assignment, "student": student, "status": "failed",
                                  "graded": False, "score": None, "max_score": None, "reasons": [], "notes": [],
                                  "feedback": None}
        folder = self.course / "submitted" / student / assignment
        record["sha_in"] = folder_digest(folder)
        try:
            self._grade(assignment, student, folder, record)
        except Exception as error:  # this student only: the next one is graded as usual
            record["status"] = "failed"
            record["reasons"].append(f"the grader failed: {type(error).__name__}: {error}")
            print(traceback.format_exc(), file=sys.stderr)
        record["sha_out"] = folder_digest(folder)
        record["seconds"] = round(time.monotonic() - started, 2)
        record["grader_peak_mib"] = round(_peak_mib(), 1)
        record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json_atomically(journal_path(self.course, assignment, student), record)
        return record

    def _grade(self, assignment: str, student: str, folder: Path, record: dict) -> None:
        import nbformat
        from nbgrader.converters import Autograde, GenerateFeedback

        from dlcourse.grading.checks import preflight
        from dlcourse.grading.split_execute import RunReport

        source, secrets = self.source(assignment)
        check = preflight(folder, assignment, source)
        record["reasons"] += [issue.message for issue in check.issues]
        if check.repaired or check.found_name or check.drop_timestamp:
            self._keep_original(folder, assignment, student)
            if check.notebook is not None:
                if check.found_name:
                    (folder / check.found_name).unlink()
                nbformat.write(check.notebook, str(folder / f"{assignment}.ipynb"))
            if check.drop_timestamp:
                (folder / "timestamp.txt").unlink()
        if check.fatal:
            self._forget_submission(assignment, student)
            record["status"] = "flagged"
            return
        self.report_path.unlink(missing_ok=True)
        result = self._run(Autograde, assignment, student)
        reports = [RunReport.from_json(self.report_path.read_text())] if self.report_path.is_file() else []
        for report in reports:
            record["reasons"] += [flag.message for flag in report.flags]
            record["notes"] += report.notes
        grader_errors = [r.grader_error for r in reports if r.grader_error]
        if not result.get("success"):
            record["status"] = "failed"
            detail = grader_errors[0] if grader_errors else _last_error(result)
            record["reasons"].append(f"nbgrader autograde failed: {detail}")
            return
        record["score"], record["max_score"] = self._score(assignment, student)
        record["graded"] = record["score"] is not None
        feedback = self._run(GenerateFeedback, assignment, student)
        page = self.course / "feedback" / student / assignment / f"{assignment}.html"
        if not feedback.get("success") or not page.is_file():
            record["reasons"].append(f"no feedback page: {_last_error(feedback)}")
        else:
            autograded = nbformat.read(self.course / "autograded" / student / assignment / f"{assignment}.ipynb",
                                       as_version=4)
            leaks = leaked_lines(feedback_view(autograded), secrets)
            if leaks:
                page.unlink()
                record["reasons"].append(f"feedback withheld: it would show {len(leaks)} line(s) of hidden tests")
            else:
                record["feedback"] = str(page.relative_to(self.course))
        record["status"] = "flagged" if record["reasons"] else "graded"

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
    settings = json.loads(Path(args.settings).read_text())
    os.chdir(settings["course"])
    grader = StudentGrader(settings, args.slot)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        record = grader.grade(task["assignment"], task["student"])
        answers.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
