"""Running ``dlcourse grade`` on a throw-away copy of the course, and reading back what it did."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dlcourse.nbgrader_run import nbgrader_env

from . import ASSIGNMENT, NOTEBOOK, ROOT


def make_course(folder: Path) -> Path:
    """A course with hw03 only: its source and the course's nbgrader_config.py."""
    course = folder / "course"
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    return course


def grade(course: Path, *args: str, timeout: float = 900, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess:
    """``dlcourse grade hw03_logic_gates --course COURSE ARGS`` (as instructors run it)."""
    command = [sys.executable, "-m", "dlcourse", "grade", ASSIGNMENT, "--course", str(course), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=course,
                          env={**nbgrader_env(), **(env or {})})


def start_grade(course: Path, *args: str, log: Path) -> subprocess.Popen:
    """The same, in the background (for the kill test)."""
    command = [sys.executable, "-m", "dlcourse", "grade", ASSIGNMENT, "--course", str(course), *args]
    with open(log, "w") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=course, env=nbgrader_env())


PLAIN_NBGRADER = """

# The control of tests/dlcourse/grading/test_threats.py: plain nbgrader, one kernel for the
# student's cells and the tests.
from nbgrader.preprocessors import Execute

_chain = [Execute if step is SplitExecute else step for step in c.Autograde.autograde_preprocessors]
assert Execute in _chain, ("the course's nbgrader_config.py no longer runs SplitExecute: "
                          "update tests/dlcourse/grading/cases")
c.Autograde.autograde_preprocessors = _chain
c.Execute.timeout = 30
"""


def make_plain_course(folder: Path) -> Path:
    """A course with hw03 whose ``nbgrader autograde`` runs plain nbgrader's ``Execute`` (one kernel, no sandbox)."""
    course = make_course(folder)
    with open(course / "nbgrader_config.py", "a") as handle:
        handle.write(PLAIN_NBGRADER)
    return course


def start_plain_autograde(course: Path, submissions: dict[str, bytes], log: Path) -> subprocess.Popen:
    """Put each ``student: notebook`` into ``submitted/`` and start ``nbgrader autograde`` on them, in the background.

    Only for crafted submissions whose code is known: plain nbgrader runs them unsandboxed.
    """
    env = {**nbgrader_env(), "OMP_NUM_THREADS": "1"}
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_bytes(notebook)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
                           "--log-level=WARN"], cwd=course, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}"
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                                stdout=handle, stderr=subprocess.STDOUT, cwd=course, env=env)


def plain_scores(course: Path) -> dict[str, float]:
    """Each student's autograded score in a plain-nbgrader course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dlcourse") as gb:
        return {s.student.id: float(s.score) for s in gb.find_assignment(ASSIGNMENT).submissions}


@dataclass
class Results:
    """What a run left in the course folder."""

    course: Path
    done: subprocess.CompletedProcess | None
    db_url: str

    @property
    def records(self) -> dict[str, dict]:
        folder = self.course / ".dlcourse-grade" / "journal" / ASSIGNMENT
        return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}

    @property
    def grades(self) -> dict[str, dict]:
        with open(self.course / "grades.csv") as handle:
            rows = list(csv.DictReader(handle))
        students = [row["student_id"] for row in rows]
        assert len(students) == len(set(students)), f"grades.csv lists a student twice: {students}"
        return {row["student_id"]: row for row in rows}

    def cell_scores(self, student: str) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url, "dlcourse") as gb:
            notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            return {grade.name: float(grade.score) for grade in notebook.grades}

    def submissions(self) -> list[tuple[str, str]]:
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url, "dlcourse") as gb:
            return sorted((s.assignment.name, s.student.id) for a in gb.assignments for s in a.submissions)

    def autograded(self, student: str) -> nbformat.NotebookNode:
        return nbformat.read(self.course / "autograded" / student / ASSIGNMENT / NOTEBOOK, as_version=4)

    def feedback(self, student: str) -> Path:
        return self.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"


def outputs_text(nb: nbformat.NotebookNode, grade_id: str | None = None) -> str:
    """All text outputs (streams, errors, plain-text displays) of the notebook, or of one cell."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if grade_id and cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                parts.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif "text/plain" in output.get("data", {}):
                parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


def live_processes(marker: str, uids: set[int] | frozenset[int] = frozenset()) -> list[str]:
    """Running processes that mention ``marker`` in their command line, or run as one of ``uids``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            command = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (Path("/proc") / pid / "status").read_text()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        if command and (marker in command or uid in uids):
            found.append(f"{pid} (uid {uid}): {command[:200]}")
    return found
