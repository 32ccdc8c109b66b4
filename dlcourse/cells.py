"""The course's one vocabulary for nbgrader cells: a cell's role, its metadata, and what a test cell may end with.

nbgrader marks cells in ``metadata.nbgrader``: ``solution`` (the student writes
there), ``grade`` (points are given), ``locked``, ``grade_id``, ``points``.
Everything in the tools that asks "what is this cell?" asks here.

Example:
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("assert f(2) == 4")
    >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    >>> cell_role(cell), grade_id(cell)
    ('test', 't')
    >>> bare_final_expression("x = f(2)\\nf(2) == 4")
    'f(2) == 4'
    >>> bare_final_expression("assert_close(f(2), 4, 'f(2)')") is None
    True
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Literal

CellRole = Literal["answer", "test", "free-text", "other"]

CHECK_CALLS = frozenset({"print", "assert_close", "assert_equal", "assert_shape", "assert_finite"})
"""Calls a test cell may end with: they return ``None``, which nbgrader does not read as a score."""


def nbgrader_meta(cell: Mapping) -> dict:
    """The cell's ``metadata.nbgrader`` as a dict (empty when absent or not an object)."""
    metadata = cell.get("metadata")
    value = metadata.get("nbgrader") if isinstance(metadata, Mapping) else None
    return value if isinstance(value, dict) else {}


def cell_role(cell: Mapping) -> CellRole:
    """``"answer"`` (solution), ``"test"`` (graded, not solution), ``"free-text"`` (both) or ``"other"``."""
    meta = nbgrader_meta(cell)
    if meta.get("solution") and meta.get("grade"):
        return "free-text"
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    return "other"


def grade_id(cell: Mapping) -> str | None:
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


def is_test_cell(cell: Mapping) -> bool:
    """An autograded test cell: nbgrader ``grade`` without ``solution``, of type code."""
    return cell.get("cell_type") == "code" and cell_role(cell) == "test"


def is_answer_cell(cell: Mapping) -> bool:
    """A cell the student writes code in: nbgrader ``solution``, of type code."""
    return cell.get("cell_type") == "code" and bool(nbgrader_meta(cell).get("solution"))


def without_magics(code: str) -> str:
    """``code`` with IPython magics and shell lines replaced by ``pass`` (so ``ast`` can parse it)."""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def bare_final_expression(code: str) -> str | None:
    """The text of a test cell's last statement if nbgrader would read it as a score, else ``None``.

    nbgrader reads the value of a test cell's last expression as its score: a
    bare ``f(2) == 4`` that is ``False`` counts as full marks, a number the
    student controls as partial credit. A test cell must end with an
    ``assert``, an assignment, or a call of a check function that returns
    ``None`` (:data:`CHECK_CALLS`). Raises ``SyntaxError`` for code that does not parse.
    """
    plain = without_magics(code)
    tree = ast.parse(plain)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        return None
    call = last.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in CHECK_CALLS:
        return None
    return ast.get_source_segment(plain, last) or "..."
