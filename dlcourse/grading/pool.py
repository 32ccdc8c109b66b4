"""The pool of grading workers: ``--jobs`` worker processes, each watched by a watchdog, fed from one queue.

Each :class:`WorkerProcess` is a ``python -I -m dlcourse.grading.worker``
(:mod:`~dlcourse.grading.worker`) that grades one student at a time: the pool
sends it a :class:`~dlcourse.grading.worker.GradingTask` as one line of JSON and
reads back one :class:`~dlcourse.grading.journal.GradingRecord`. A student who
takes longer than the watchdog allows, or whose worker dies, is failed -- with
the reason and the tail of the worker's log -- and the worker is restarted for
the next student.

Example:
    >>> from dlcourse.grading.limits import Limits
    >>> watchdog_seconds(Limits())
    540
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from dlcourse.grading.journal import STATE_DIR, GradingRecord, MalformedRecord, write_record
from dlcourse.grading.limits import Limits
from dlcourse.grading.worker import GradingTask
from dlcourse.nbgrader_run import nbgrader_env

WATCHDOG_EXTRA_SECONDS = 240
"""Beyond the notebook limit, how long one student may take (kernel start, feedback) before its worker is killed."""

Report = Callable[[GradingRecord, int, int], None]
"""Called with each record as it comes in, the number done so far and the number of tasks."""


def watchdog_seconds(limits: Limits) -> int:
    """How long one student may take in all before the watchdog kills its worker."""
    return limits.notebook_seconds + WATCHDOG_EXTRA_SECONDS


class WorkerProcess:
    """One ``dlcourse.grading.worker`` process, restarted when it dies."""

    def __init__(self, course: Path, settings: Path, slot: int, log: Path) -> None:
        self.course, self.settings, self.slot, self.log_path = course, settings, slot, log
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
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

    def grade(self, task: GradingTask, timeout: float) -> GradingRecord:
        """Have the worker grade ``task``; ``RuntimeError`` when it takes over ``timeout`` seconds or dies."""
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        process = self.process
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            process.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        try:
            assert process.stdin and process.stdout
            process.stdin.write(task.to_json() + "\n")
            process.stdin.flush()
            answer = process.stdout.readline()
        except (BrokenPipeError, OSError):
            answer = ""
        finally:
            watchdog.cancel()
        if not answer.strip():
            process.kill()
            process.wait()
            self.process = None
            why = (f"grading this student took longer than {timeout:.0f} s" if expired.is_set()
                   else f"the grading worker died (exit status {process.returncode})")
            raise RuntimeError(f"{why}: {self._log_tail()}")
        try:
            return GradingRecord.from_json(answer)
        except MalformedRecord as error:
            raise RuntimeError(f"the grading worker answered something else than a record: {error}") from None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_workers(course: Path, settings: Path, tasks: Sequence[GradingTask], jobs: int, timeout: float,
                report: Report) -> list[GradingRecord]:
    """Grade ``tasks`` with ``jobs`` workers at once; one record per task, in the order they finished.

    A task whose worker fails gets a ``failed`` record, written to the journal like any other.
    """
    pending: queue.Queue[GradingTask] = queue.Queue()
    for task in tasks:
        pending.put(task)
    results: list[GradingRecord] = []
    lock = threading.Lock()
    logs = course / STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def work(slot: int) -> None:
        worker = WorkerProcess(course, settings, slot, logs / f"worker-{slot}.log")
        try:
            while True:
                try:
                    task = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    record = worker.grade(task, timeout)
                except Exception as error:
                    record = GradingRecord.failed(task.assignment, task.student, f"the grader failed: {error}")
                    write_record(course, record)
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
