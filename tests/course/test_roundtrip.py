"""nbgrader round trip in a temporary course: release, submit, autograde, export.

For every assignment: the solution scores every autograded point, the blank
student version 0, a partly correct submission (tests/course/partial_submissions/)
exactly its expected score, and a correct submission whose every cell writes
to stderr (as library warnings do) still scores every point.
"""

import csv
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from dlcourse.nbgrader_run import nbgrader_env
from tests.conftest import ASSIGNMENT_IDS, ROOT

pytestmark = pytest.mark.notebook

PARTIALS = ROOT / "tests" / "course" / "partial_submissions"
NOISY_STDERR = (
    "\nimport sys as _sys\n"
    "get_ipython().events.register('post_run_cell', "
    "lambda result: print('UserWarning: a library warning', file=_sys.stderr))\n"
)


def _points(nb):
    auto = manual = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            if meta.get("solution"):
                manual += float(meta["points"])
            else:
                auto += float(meta["points"])
    return auto, manual


def _cell(nb, grade_id):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def _nbgrader(course, *args):
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          env=nbgrader_env())
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_round_trip(tmp_path, assignment):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    _nbgrader(course, "generate_assignment", assignment, "--force")

    name = f"{assignment}.ipynb"
    source = nbformat.read(course / "solutions" / assignment / name, as_version=4)
    blank = nbformat.read(course / "assignments" / assignment / name, as_version=4)
    auto, manual = _points(source)
    assert auto > 0 and manual > 0, "an assignment needs autograded tests and a hand-graded question"

    spec = json.loads((PARTIALS / f"{assignment}.json").read_text())
    partial = nbformat.read(course / "assignments" / assignment / name, as_version=4)
    for grade_id, code in spec["answers"].items():
        _cell(partial, grade_id).source = code
    noisy = nbformat.read(course / "solutions" / assignment / name, as_version=4)
    answers = [c for c in noisy.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    first_answer = answers[0]
    first_answer.source += NOISY_STDERR

    submissions = {"solution": source, "blank": blank, "partial": partial, "noisy": noisy}
    for student, nb in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / name))
        for extra in (course / "assignments" / assignment).iterdir():
            if extra.name != name:
                shutil.copy(extra, folder / extra.name)

    _nbgrader(course, "autograde", assignment)
    _nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}

    expected = {"solution": auto, "blank": 0.0, "partial": float(spec["expected_score"]), "noisy": auto}
    got = {student: float(rows[student]["score"]) for student in expected}
    assert got == expected, f"{assignment}: scores {got}, expected {expected} (partial: {spec['why']})"
    for row in rows.values():
        assert float(row["max_score"]) == auto + manual
    assert 0 < expected["partial"] < auto, "the partial submission must earn some but not all points"
