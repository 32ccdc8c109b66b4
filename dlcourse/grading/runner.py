"""``dlcourse grade``: grade a class -- intake, pre-flight, sandboxed autograding, feedback, export, summary.

One run: bring the submissions into ``submitted/`` (:mod:`~dlcourse.grading.intake`),
make sure the gradebook knows each assignment, then hand the students to
``--jobs`` worker processes (:mod:`~dlcourse.grading.worker`), each grading
one student at a time in isolation. At the end ``nbgrader export`` writes
``grades.csv``, and a summary table says who was graded, flagged (and why) and
who failed; it is also written to ``grading_summary.csv``.

Resuming: every finished student gets a journal entry, written last and
atomically. A run that is killed (even ``kill -9``) and started again skips the
students whose entry matches their current submission and regrades the rest
with nbgrader's ``--force``; the gradebook keeps one submission per student and
assignment, so nothing is lost or counted twice. A lock file keeps two runs
from grading the same course at once.

Example:
    >>> options = GradeOptions(course=Path("."), assignments=["hw03_logic_gates"], jobs=2)  # doctest: +SKIP
    >>> summary = grade_class(options)  # doctest: +SKIP
    >>> summary.exit_code  # doctest: +SKIP
    0
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dlcourse.grading.intake import DEFAULT_ZIP_PATTERN, Intake, intake
from dlcourse.grading.limits import Limits
from dlcourse.grading.sandbox import MAX_SLOTS
from dlcourse.grading.worker import STATE_DIR, folder_digest, journal_path, write_json_atomically

SQLITE_TIMEOUT = 60
"""Seconds a worker waits for the SQLite gradebook when another worker is writing (``--jobs``)."""

WATCHDOG_EXTRA_SECONDS = 240
"""Beyond the notebook limit, how long one student may take (kernel start, feedback) before its worker is killed."""


def printable(text: str) -> str:
    """``text`` with control characters (a submission's file name, say) shown as escapes, not sent to the terminal.

    Example:
        >>> print(printable("a\\x1b]0;title\\x07b"))
        a\\x1b]0;title\\x07b
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


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


@dataclass
class Summary:
    """The outcome of a run: one record per (assignment, student), and what intake skipped."""

    records: list[dict]
    skipped: list[str]
    grades_csv: Path
    summary_csv: Path
    seconds: float
    jobs: int

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def exit_code(self) -> int:
        """0 when every student was graded cleanly; 1 when anyone was flagged or failed."""
        return 1 if (self.count("flagged") or self.count("failed")) else 0

    def table(self) -> str:
        """The summary table ``dlcourse grade`` prints."""
        lines = []
        width = max([len("student"), *(len(r["student"]) for r in self.records)])
        for assignment in sorted({r["assignment"] for r in self.records}):
            rows = [r for r in self.records if r["assignment"] == assignment]
            resumed = sum(bool(r.get("resumed")) for r in rows)
            counts = ", ".join(f"{sum(r['status'] == s for r in rows)} {s}" for s in ("graded", "flagged", "failed"))
            lines.append(f"{assignment}: {len(rows)} student(s): {counts}"
                         + (f" ({resumed} kept from an earlier run)" if resumed else ""))
            lines.append(f"  {'student':<{width}}  {'status':<7}  {'score':>11}  reason")
            for r in sorted(rows, key=lambda r: ({"failed": 0, "flagged": 1, "graded": 2}[r["status"]], r["student"])):
                score = f"{r['score']:g}/{r['max_score']:g}" if r.get("score") is not None else "not graded"
                reasons = r.get("reasons") or [""]
                lines.append(f"  {r['student']:<{width}}  {r['status']:<7}  {score:>11}  "
                             f"{printable(reasons[0])}".rstrip())
                for reason in reasons[1:]:
                    lines.append(f"  {'':<{width}}  {'':<7}  {'':>11}  {printable(reason)}")
        for skipped in self.skipped:
            lines.append(f"skipped: {printable(skipped)}")
        lines.append(f"{len(self.records)} submission(s) in {self.seconds:.0f} s with {self.jobs} job(s): "
                     f"{self.count('graded')} graded, {self.count('flagged')} flagged, {self.count('failed')} failed. "
                     f"Grades: {self.grades_csv}; this table: {self.summary_csv}")
        return "\n".join(lines)


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


def _assignment_info(course: Path, assignment: str) -> dict:
    import nbformat

    from dlcourse.grading.checks import lint_test_cells
    from dlcourse.grading.plan import lint_split

    source = Path("solutions") / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(course / source, as_version=4)
    problems = lint_test_cells(nb) + lint_split(nb)
    if problems:
        raise GradingError(f"{source} cannot be graded fairly; fix its test cells first:\n"
                           + "\n".join(f"  - {p}" for p in problems))
    return {"source": str(source)}


def _lock(course: Path) -> IO[str]:
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


def _done_before(course: Path, assignment: str, student: str) -> dict | None:
    """The journal entry of a student graded by an earlier run, if it still matches the submission."""
    path = journal_path(course, assignment, student)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("status") not in ("graded", "flagged"):
        return None
    digest = folder_digest(course / "submitted" / student / assignment)
    if digest is None or digest not in (record.get("sha_in"), record.get("sha_out")):
        return None
    if record.get("feedback") and not (course / record["feedback"]).is_file():
        return None
    return record


# ---------------------------------------------------------------- workers
class _Worker:
    """One ``dlcourse.grading.worker`` process, restarted when it dies."""

    def __init__(self, course: Path, settings: Path, slot: int, log: Path) -> None:
        self.course, self.settings, self.slot, self.log_path = course, settings, slot, log
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        from dlcourse.nbgrader_run import nbgrader_env

        log = open(self.log_path, "a")
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", "dlcourse.grading.worker", "--settings", str(self.settings),
             "--slot", str(self.slot), "--parent", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, cwd=self.course, env=nbgrader_env())
        log.close()
        ready = process.stdout.readline() if process.stdout else ""
        if not ready.strip():
            process.wait()
            raise RuntimeError(f"the grading worker did not start: {self._log_tail()}")
        return process

    def _log_tail(self) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:])[:500] or "(empty log)"

    def grade(self, task: dict, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        process = self.process
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            assert process.stdin and process.stdout
            process.stdin.write(json.dumps(task) + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
        except (BrokenPipeError, OSError):
            answer = ""
        finally:
            timer.cancel()
        if not answer.strip():
            process.kill()
            process.wait()
            self.process = None
            why = (f"grading this student took longer than {timeout:.0f} s" if expired.is_set()
                   else f"the grading worker died (exit status {process.returncode})")
            raise RuntimeError(f"{why}: {self._log_tail()}")
        return json.loads(answer)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _run_workers(course: Path, settings: Path, tasks: list[dict], jobs: int, timeout: float,
                 report: Any) -> list[dict]:
    pending: queue.Queue = queue.Queue()
    for task in tasks:
        pending.put(task)
    results: list[dict] = []
    lock = threading.Lock()
    logs = course / STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def work(slot: int) -> None:
        worker = _Worker(course, settings, slot, logs / f"worker-{slot}.log")
        try:
            while True:
                try:
                    task = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    record = worker.grade(task, timeout)
                except Exception as error:
                    record = {**task, "status": "failed", "graded": False, "score": None, "max_score": None,
                              "reasons": [f"the grader failed: {error}"], "notes": [], "feedback": None}
                    write_json_atomically(journal_path(course, task["assignment"], task["student"]), record)
                with lock:
                    results.append(record)
                    report(record, len(results), len(tasks))
        finally:
            worker.close()

    threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------- the run
def grade_class(options: GradeOptions) -> Summary:
    """Grade every submission of the chosen assignments; see the module docstring.

    Raises :class:`GradingError` when the run cannot start.

    Example:
        >>> summary = grade_class(GradeOptions(course=Path("."), submissions=Path("/tmp/class")))  # doctest: +SKIP
        >>> print(summary.table())  # doctest: +SKIP
    """
    from dlcourse.layout import assignment_ids
    from dlcourse.nbgrader_run import nbgrader_env

    started = time.monotonic()
    course = options.course.resolve()
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
    if options.sandbox == "bwrap":
        from dlcourse.grading.sandbox import sandbox_problem

        problem = sandbox_problem()
        if problem:
            raise GradingError(f"the sandbox cannot run here: {problem}")
        from dlcourse.grading import kernels, resources

        resources.cleanup_stale()  # resource groups and kernel folders a killed earlier run left behind
        kernels.cleanup_stale()
    db_url = options.db_url or default_db_url(course)
    os.environ["PATH"] = nbgrader_env()["PATH"]  # nbgrader's gradebook runs `alembic` by name
    say = (lambda text: print(text, file=options.progress, flush=True)) if options.progress else (lambda text: None)
    lock = _lock(course)
    try:
        shutil.rmtree(course / STATE_DIR / "work", ignore_errors=True)  # scratch copies a killed run left
        infos = {a: _assignment_info(course, a) for a in assignments}
        for assignment in assignments:
            if _ensure_in_gradebook(course, assignment, db_url):
                say(f"recorded {assignment} in the gradebook (it had not been released with this gradebook)")
        env = nbgrader_env()
        received: Intake = intake(course, options.submissions, assignments, options.layout, options.zip_pattern, env)
        settings_path = course / STATE_DIR / "settings.json"
        write_json_atomically(settings_path, {
            "course": str(course), "db_url": worker_db_url(db_url), "limits": options.limits.to_dict(),
            "sandbox": options.sandbox, "assignments": infos})
        records: list[dict] = []
        tasks: list[dict] = []
        for assignment in assignments:
            for student in received.students.get(assignment, []):
                if options.students and student not in options.students:
                    continue
                earlier = None if options.regrade else _done_before(course, assignment, student)
                if earlier is not None:
                    records.append({**earlier, "resumed": True})
                else:
                    tasks.append({"assignment": assignment, "student": student})
        say(f"grading {len(tasks)} submission(s) of {', '.join(assignments)} with {options.jobs} job(s)"
            + (f"; {len(records)} already graded by an earlier run" if records else "")
            + f"; sandbox: {options.sandbox}; limits: {options.limits.describe()}")

        def report(record: dict, done: int, total: int) -> None:
            score = f"{record['score']:g}/{record['max_score']:g}" if record.get("score") is not None else "-"
            why = f": {printable(record['reasons'][0])}" if record.get("reasons") else ""
            say(f"[{done}/{total}] {record['assignment']} {record['student']}: {record['status']} {score}"
                f"{why[:160]}")

        timeout = options.limits.notebook_seconds + WATCHDOG_EXTRA_SECONDS
        records += _run_workers(course, settings_path, tasks, options.jobs, timeout, report)
        grades_csv = (options.grades_csv or course / "grades.csv").resolve()
        done = subprocess.run([sys.executable, "-I", "-m", "nbgrader", "export", "--to", str(grades_csv),
                               f"--CourseDirectory.db_url={db_url}", "--log-level=WARN"],
                              cwd=course, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise GradingError(f"nbgrader export failed:\n{done.stdout}{done.stderr}")
        summary_csv = (options.summary_csv or course / "grading_summary.csv").resolve()
        _write_summary(summary_csv, records)
        return Summary(records=sorted(records, key=lambda r: (r["assignment"], r["student"])),
                       skipped=received.skipped, grades_csv=grades_csv, summary_csv=summary_csv,
                       seconds=time.monotonic() - started, jobs=options.jobs)
    finally:
        lock.close()


def _write_summary(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student", "status", "score", "max_score", "reasons", "notes", "feedback",
                         "seconds", "from_earlier_run"])
        for r in sorted(records, key=lambda r: (r["assignment"], r["student"])):
            writer.writerow([r["assignment"], r["student"], r["status"], r.get("score"), r.get("max_score"),
                             " | ".join(r.get("reasons") or []), " | ".join(r.get("notes") or []),
                             r.get("feedback") or "", r.get("seconds", ""), bool(r.get("resumed"))])


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
