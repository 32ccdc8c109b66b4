"""Answers graded by hand that no one has graded yet: said so on the feedback page and in the summary.

nbgrader shows such an answer as "Score: 0.0 / 3.0" until a person grades it,
and counts it as 0 in the page's total; every student who tried the course
read that as three lost points. :class:`GetGradesMarkingPending` is nbgrader's
``GetGrades`` that also marks each waiting answer and puts one line at the top
of the page; :func:`pending_points` counts the points a submission still waits
for, for the summary ``dlcourse grade`` prints.

An answer waits for a person when the gradebook holds neither a manual nor an
automatic score for it (nbgrader gives an unchanged answer cell an automatic 0,
so a blank answer does not wait).
"""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import GetGrades

PENDING_KEY = "dlcourse_pending"
"""Cell metadata (under ``nbgrader``) set on an answer that waits for a person."""


def waits_for_a_person(grade: Any) -> bool:
    """Whether a gradebook ``Grade`` has no score yet: neither a person's nor the autograder's.

    Example:
        >>> from types import SimpleNamespace
        >>> waits_for_a_person(SimpleNamespace(manual_score=None, auto_score=None))
        True
        >>> waits_for_a_person(SimpleNamespace(manual_score=None, auto_score=0.0))
        False
    """
    return grade.manual_score is None and grade.auto_score is None


def page_note(points: float) -> str:
    """The line at the top of a feedback page whose written answers wait for a person.

    Example:
        >>> print(page_note(3.0))
        **3 points are still to be graded by hand** (the answers marked below). Until a person grades them they count
        as 0 in the score shown here; this is not a mark.
    """
    return (f"**{points:g} point{'s are' if points != 1 else ' is'} still to be graded by hand** (the answers marked "
            "below). Until a person grades them they count\nas 0 in the score shown here; this is not a mark.")


CELL_NOTE = "*Graded by hand: not graded yet (the 0 shown for this answer is a placeholder).*\n\n"


class GetGradesMarkingPending(GetGrades):
    """nbgrader's ``GetGrades``, and a visible mark on every answer that waits for a person."""

    def _get_score(self, cell: NotebookNode, resources: dict) -> None:
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["score"] = grade.score
        cell.metadata.nbgrader["points"] = grade.max_score
        if waits_for_a_person(grade):
            cell.metadata.nbgrader[PENDING_KEY] = True
            cell.source = CELL_NOTE + cell.source

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb, resources = super().preprocess(nb, resources)
        points = sum(float(cell.metadata["nbgrader"].get("points") or 0) for cell in nb.cells
                     if cell.get("metadata", {}).get("nbgrader", {}).get(PENDING_KEY))
        if points:
            nb.cells.insert(0, new_markdown_cell(page_note(points)))
        return nb, resources


def pending_points(gradebook: Any, assignment: str, student: str) -> float:
    """The points of ``student``'s submission of ``assignment`` that wait for a person (0 when none)."""
    submission = gradebook.find_submission(assignment, student)
    return float(sum(grade.max_score for notebook in submission.notebooks for grade in notebook.grades
                     if waits_for_a_person(grade)))
