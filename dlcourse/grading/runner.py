"""``dlcourse grade``: grade a class -- intake, pre-flight, sandboxed autograding, feedback, export, summary.

One run, step by step (:func:`grade_class`): check the options, take the
course's lock, make sure the gradebook knows each assignment, bring the
submissions into ``submitted/`` (:mod:`~dlcourse.grading.intake`), plan who
needs grading, hand them to ``--jobs`` worker processes
(:mod:`~dlcourse.grading.pool`, :mod:`~dlcourse.grading.worker`), each grading
one student at a time in isolation. At the end ``nbgrader export`` writes
``grades.csv``, and a summary table (:mod:`~dlcourse.grading.summary`) says who
was graded, flagged (and why) and who failed; it is also written to
``grading_summary.csv``.

Resuming: every finished student gets a journal entry
(:mod:`~dlcourse.grading.journal`), written last and atomically. A run that
is killed (even ``kill -9``) and started again skips the students whose entry
matches their current submission and regrades the rest with nbgrader's
``--force``; the gradebook keeps one submission per student and assignment,
so nothing is lost or counted twice. A lock file keeps two runs from grading
the same course at once.

Example:
    >>> options = GradeOptions(course=Path("."), assignments=["hw03_logic_gates"], jobs=2)  # doctest: +SKIP
    >>> summary = grade_class(options)  # doctest: +SKIP
    >>> summary.exit_code  # doctest: +SKIP
    0
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dlcourse.grading.intake import DEFAULT_ZIP_PATTERN, intake
from dlcourse.grading.journal import STATE_DIR, GradingRecord, earlier_record, write_text_atomically
from dlcourse.grading.limits import Limits
from dlcourse.grading.pool import run_workers, watchdog_seconds
from dlcourse.grading.sandbox import MAX_SLOTS
from dlcourse.grading.summary import Summary, progress_line, sorted_records, write_summary_csv
from dlcourse.grading.worker import GradingTask, WorkerSettings
from dlcourse.nbgrader_run import NbgraderFailed, nbgrader_env, run_nbgrader

SQLITE_TIMEOUT = 60
"""Seconds a worker waits for the SQLite gradebook when another worker is writing (``--jobs``)."""


class GradingError(RuntimeError):
    """The run cannot start (bad options, a broken assignment, no sandbox); the message says what to do."""


@dataclass
class GradeOptions:
    """What ``dlcourse grade`` was asked to do (see ``dlcourse grade --help``)."""

    course: Path
    assignments: Sequence[str] = ()
    submissions: Path | None = None
    layout: str = "auto"
    zip_pattern: str = DEFAULT_ZIP_PATTERN
    jobs: int = 1
    db_url: str | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox: str = "bwrap"
    grades_csv: Path | None = None
    summary_csv: Path | None = None
    regrade: bool = False
    students: Sequence[str] = ()
    progress: IO[str] | None = field(default_factory=lambda: sys.stderr)


# ---------------------------------------------------------------- set-up
def default_db_url(course: Path) -> str:
    """``$NBGRADER_DB_URL``, or the course's SQLite gradebook (what ``nbgrader_config.py`` uses).

    Example:
        >>> default_db_url(Path("/c")).startswith(("sqlite:////c/gradebook.db", "postgresql"))  # doctest: +SKIP
        True
    """
    return os.environ.get("NBGRADER_DB_URL") or f"sqlite:///{course / 'gradebook.db'}"


def worker_db_url(db_url: str) -> str:
    """The URL workers use: SQLite waits for a busy gradebook instead of failing at once.

    Example:
        >>> worker_db_url("sqlite:////c/gradebook.db")
        'sqlite:////c/gradebook.db?timeout=60'
        >>> worker_db_url("postgresql://grader@127.0.0.1/course")
        'postgresql://grader@127.0.0.1/course'
    """
    if db_url.startswith("sqlite") and "?" not in db_url:
        return f"{db_url}?timeout={SQLITE_TIMEOUT}"
    return db_url


def _check_options(options: GradeOptions, course: Path) -> list[str]:
    """The assignments to grade; :class:`GradingError` for a folder that is no course or an option out of range."""
    from dlcourse.layout import assignment_ids

    if not (course / "nbgrader_config.py").is_file() or not (course / "solutions").is_dir():
        raise GradingError(f"{course} is not a course folder (expected nbgrader_config.py and solutions/)")
    known = assignment_ids(course)
    assignments = list(options.assignments) or known
    unknown = [a for a in assignments if a not in known]
    if unknown:
        raise GradingError(f"unknown assignment(s) {', '.join(unknown)}; solutions/ holds {', '.join(known) or 'none'}")
    if not 1 <= options.jobs <= MAX_SLOTS:
        raise GradingError(f"--jobs: expected 1 to {MAX_SLOTS}, got {options.jobs}")
    if options.sandbox not in ("bwrap", "none"):
        raise GradingError(f"--sandbox: expected 'bwrap' or 'none', got {options.sandbox!r}")
    return assignments


def _prepare_sandbox(sandbox: str) -> None:
    """With ``bwrap``: check that the sandbox runs here, and clean up what a killed earlier run left behind."""
    if sandbox != "bwrap":
        return
    from dlcourse.grading.sandbox import sandbox_problem

    problem = sandbox_problem()
    if problem:
        raise GradingError(f"the sandbox cannot run here: {problem}")
    from dlcourse.grading import kernels, resources

    resources.cleanup_stale()  # resource groups and kernel folders a killed earlier run left behind
    kernels.cleanup_stale()


def _lock(course: Path) -> IO[str]:
    """Take the course's lock (held while the returned file is open); :class:`GradingError` if another run has it."""
    (course / STATE_DIR).mkdir(exist_ok=True)
    handle = open(course / STATE_DIR / "lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        raise GradingError(f"another `dlcourse grade` is running on {course} (pid {handle.read().strip() or '?'}); "
                           "wait for it, or stop it first") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _source_notebook(course: Path, assignment: str) -> str:
    """The assignment's source notebook, relative to the course, once its test cells pass the lint."""
    import nbformat

    from dlcourse.grading.lint import lint_split, lint_test_cells

    source = Path("solutions") / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(course / source, as_version=4)
    problems = lint_test_cells(nb) + lint_split(nb)
    if problems:
        raise GradingError(f"{source} cannot be graded fairly; fix its test cells first:\n"
                           + "\n".join(f"  - {p}" for p in problems))
    return str(source)


# ---------------------------------------------------------------- the gradebook
def _course_id(course: Path) -> str:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    return config.CourseDirectory.get("course_id") or "default_course"


def _ensure_in_gradebook(course: Path, assignment: str, db_url: str) -> bool:
    """Record the assignment in the gradebook (by releasing it into a scratch folder) if it is not there."""
    from nbgrader.api import Gradebook, MissingEntry

    from dlcourse.release import release_assignments

    with Gradebook(db_url, _course_id(course)) as gb:
        try:
            gb.find_assignment(assignment)
            return False
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as scratch:
        release_assignments(course, [assignment], output=Path(scratch), db_url=db_url)
    return True


def _export_grades(course: Path, grades_csv: Path, db_url: str, env: dict[str, str]) -> None:
    """``nbgrader export`` the gradebook to ``grades_csv``."""
    try:
        run_nbgrader(["export", "--to", str(grades_csv), f"--CourseDirectory.db_url={db_url}", "--log-level=WARN"],
                     cwd=course, env=env)
    except NbgraderFailed as error:
        raise GradingError(str(error)) from None


# ---------------------------------------------------------------- the run
def _plan(course: Path, received: dict[str, list[str]], options: GradeOptions,
          assignments: list[str]) -> tuple[list[GradingRecord], list[GradingTask]]:
    """Who is done already (kept from an earlier run, unless ``--regrade``) and who needs grading."""
    kept: list[GradingRecord] = []
    tasks: list[GradingTask] = []
    for assignment in assignments:
        for student in received.get(assignment, []):
            if options.students and student not in options.students:
                continue
            earlier = None if options.regrade else earlier_record(course, assignment, student)
            if earlier is not None:
                kept.append(earlier.kept_from_earlier_run())
            else:
                tasks.append(GradingTask(assignment, student))
    return kept, tasks


def grade_class(options: GradeOptions) -> Summary:
    """Grade every submission of the chosen assignments; see the module docstring.

    Raises :class:`GradingError` when the run cannot start.

    Example:
        >>> summary = grade_class(GradeOptions(course=Path("."), submissions=Path("/tmp/class")))  # doctest: +SKIP
        >>> print(summary.table())  # doctest: +SKIP
    """
    started = time.monotonic()
    course = options.course.resolve()
    assignments = _check_options(options, course)
    _prepare_sandbox(options.sandbox)
    db_url = options.db_url or default_db_url(course)
    env = nbgrader_env()
    os.environ["PATH"] = env["PATH"]  # nbgrader's gradebook runs `alembic` by name
    say = _progress_printer(options.progress)
    lock = _lock(course)
    try:
        shutil.rmtree(course / STATE_DIR / "work", ignore_errors=True)  # scratch copies a killed run left
        sources = {a: _source_notebook(course, a) for a in assignments}
        for assignment in assignments:
            if _ensure_in_gradebook(course, assignment, db_url):
                say(f"recorded {assignment} in the gradebook (it had not been released with this gradebook)")
        received = intake(course, options.submissions, assignments, options.layout, options.zip_pattern, env)
        settings_path = course / STATE_DIR / "settings.json"
        write_text_atomically(settings_path, WorkerSettings(
            course=course, db_url=worker_db_url(db_url), limits=options.limits, sandbox=options.sandbox,
            sources=sources).to_json())
        records, tasks = _plan(course, received.students, options, assignments)
        say(f"grading {len(tasks)} submission(s) of {', '.join(assignments)} with {options.jobs} job(s)"
            + (f"; {len(records)} already graded by an earlier run" if records else "")
            + f"; sandbox: {options.sandbox}; limits: {options.limits.describe()}")
        records += run_workers(course, settings_path, tasks, options.jobs, watchdog_seconds(options.limits),
                               lambda record, done, total: say(progress_line(record, done, total)))
        grades_csv = (options.grades_csv or course / "grades.csv").resolve()
        _export_grades(course, grades_csv, db_url, env)
        summary_csv = (options.summary_csv or course / "grading_summary.csv").resolve()
        write_summary_csv(summary_csv, records)
        return Summary(records=sorted_records(records), skipped=received.skipped, grades_csv=grades_csv,
                       summary_csv=summary_csv, seconds=time.monotonic() - started, jobs=options.jobs)
    finally:
        lock.close()


def _progress_printer(progress: IO[str] | None) -> Callable[[str], None]:
    """Print a line of progress to ``progress`` (``None``: print nothing)."""
    if progress is None:
        return lambda text: None
    return lambda text: print(text, file=progress, flush=True)


def run_from_args(args: Any) -> int:
    """Run ``dlcourse grade`` with parsed arguments; print the summary; return the exit status."""
    from dlcourse.grading.options import LIMIT_OPTIONS
    from dlcourse.layout import find_root

    try:
        limits = Limits().with_overrides(**{name: getattr(args, name) for name, _ in LIMIT_OPTIONS})
        options = GradeOptions(
            course=args.course or find_root(), assignments=args.assignments, submissions=args.submissions,
            layout=args.layout, zip_pattern=args.zip_pattern, jobs=args.jobs, db_url=args.db_url, limits=limits,
            sandbox=args.sandbox, grades_csv=args.grades, regrade=args.regrade,
            students=args.students)
        summary = grade_class(options)
    except (GradingError, ValueError, OSError, RuntimeError) as error:  # the run could not start or finish
        print(f"dlcourse grade: {error}", file=sys.stderr)
        return 2
    print(summary.table())
    return summary.exit_code
