"""Killed half-way (SIGKILL) and run again, `dlcourse grade` finishes the class with no grade lost or duplicated.

Six students in nbgrader's own layout (the course's submitted/), graded with --jobs 2. The run is killed
with SIGKILL once two students are done; its workers and kernels must die with it. A second run started
meanwhile is refused (one run per course). The rerun keeps the finished students, regrades the others,
and the gradebook and grades.csv end with exactly one submission per student, with the right scores.
"""

from __future__ import annotations

import json
import os
import signal
import time

import nbformat
import pytest

from dlcourse.grading.sandbox import sandbox_uid

from .cases import ASSIGNMENT, NOTEBOOK, PARTIAL, blank, filled, points
from .cases.harness import Results, grade, live_processes, make_course, start_grade

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grading_resume")]

FULL = sum(points().values())
PARTIAL_SCORE = float(json.loads(PARTIAL.read_text())["expected_score"])
STUDENTS = {"s1": FULL, "s2": PARTIAL_SCORE, "s3": 0.0, "s4": FULL, "s5": PARTIAL_SCORE, "s6": 0.0}


def test_killed_run_resumes_without_losing_or_duplicating_grades(tmp_path):
    course = make_course(tmp_path)
    partial = json.loads(PARTIAL.read_text())["answers"]
    notebooks = {FULL: filled(), PARTIAL_SCORE: filled(partial), 0.0: blank()}
    for student, score in STUDENTS.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebooks[score], str(folder / NOTEBOOK))
    journal = course / ".dlcourse-grade" / "journal" / ASSIGNMENT
    limits = ("--cell-seconds", "30", "--notebook-seconds", "120")

    first = start_grade(course, "--jobs", "2", *limits, log=tmp_path / "first.log")
    deadline = time.monotonic() + 300
    while len(list(journal.glob("*.json"))) < 2:
        assert first.poll() is None, "the run ended before it could be killed:\n" + (tmp_path / "first.log").read_text()
        assert time.monotonic() < deadline, "no student was graded within 300 s"
        time.sleep(0.2)

    second = grade(course, "--jobs", "1", *limits, timeout=120)
    assert second.returncode == 2 and "another `dlcourse grade` is running" in second.stderr, second.stderr

    first.send_signal(signal.SIGKILL)  # kill -9: no clean-up code runs
    first.wait()
    done_before = {path.stem: json.loads(path.read_text()) for path in journal.glob("*.json")}
    assert 2 <= len(done_before) < len(STUDENTS), f"kill at the wrong moment: {sorted(done_before)}"
    kernels = {sandbox_uid(slot, str(course.resolve())) for slot in range(2)} if os.geteuid() == 0 else set()
    deadline = time.monotonic() + 30
    while live_processes(str(course), kernels) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert live_processes(str(course), kernels) == [], "workers or kernels outlived the killed run"

    rerun = grade(course, "--jobs", "2", *limits)
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, out[-4000:]
    assert f"{len(done_before)} kept from an earlier run" in rerun.stdout, out[-4000:]
    results = Results(course, rerun, f"sqlite:///{course / 'gradebook.db'}")
    records = results.records
    for student, before in done_before.items():
        assert records[student]["finished"] == before["finished"], f"{student} was graded twice"
    assert {s: r["score"] for s, r in records.items()} == STUDENTS
    assert results.submissions() == [(ASSIGNMENT, s) for s in sorted(STUDENTS)]
    assert {s: float(row["score"]) for s, row in results.grades.items()} == STUDENTS
    for student in STUDENTS:
        assert results.feedback(student).is_file(), f"no feedback for {student}"
