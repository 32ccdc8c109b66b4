"""Which kernel runs which cell of an assignment, read from its source notebook.

``dlcourse grade`` runs a notebook in two kernels (:mod:`~dlcourse.grading.split_execute`):
the student's cells in the sandboxed student kernel, the test cells in the
grader's own kernel. The grader's kernel also needs what the tests use that
the assignment itself provides -- imports, data, helper functions -- so it
runs the source's versions of those cells. This module reads the source and
sorts its code cells:

``answer``
    an answer cell (nbgrader ``solution``): runs only in the student's kernel;
``test``
    an autograded test cell: runs only in the grader's kernel;
``shared``
    a cell of the assignment that uses nothing the student defines (imports,
    data, given helpers): runs in both, the student's copy in the student's
    kernel, the source's in the grader's;
``student``
    a cell of the assignment that uses something the student defines (an
    experiment with the student's functions): runs only in the student's kernel.

The names answer and ``student`` cells bind are the *student names*; a test cell
that uses one gets it from the student's kernel just before it runs.
Cell roles come from :mod:`dlcourse.cells`; :func:`dlcourse.grading.lint.lint_split` refuses a source
whose test cells would grade differently in the two kernels.

Example:
    >>> import nbformat
    >>> cells = [nbformat.v4.new_code_cell("import numpy as np"),
    ...          nbformat.v4.new_code_cell("def f(x):\\n    return 2 * x"),
    ...          nbformat.v4.new_code_cell("assert f(np.float64(2)) == 4")]
    >>> cells[1].metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f"}
    >>> cells[2].metadata["nbgrader"] = {"solution": False, "grade": True, "grade_id": "t", "points": 1}
    >>> plan = plan_notebook(nbformat.v4.new_notebook(cells=cells))
    >>> [cell.role for cell in plan.cells], plan.needs("t")
    (['shared', 'answer', 'test'], ['f'])
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

from nbformat.notebooknode import NotebookNode

from dlcourse.cells import grade_id, is_answer_cell, is_test_cell, without_magics


@dataclass(frozen=True)
class CellPlan:
    """One code cell of the source: its role, the names it binds at top level, and the global names it reads."""

    index: int
    role: str  # "answer", "test", "shared" or "student"
    grade_id: str | None
    binds: frozenset[str]
    uses: frozenset[str]


@dataclass(frozen=True)
class GradingPlan:
    """The roles of the source's code cells, in notebook order."""

    cells: tuple[CellPlan, ...]

    def cell(self, grade_id: str) -> CellPlan:
        for cell in self.cells:
            if cell.grade_id == grade_id:
                return cell
        raise KeyError(f"the assignment has no cell {grade_id!r}")

    def student_names_before(self, index: int) -> frozenset[str]:
        """The names the student's cells bind before source cell ``index``."""
        names: set[str] = set()
        for cell in self.cells:
            if cell.index >= index:
                break
            if cell.role in ("answer", "student"):
                names |= cell.binds
        return frozenset(names)

    def needs(self, grade_id: str) -> list[str]:
        """The student names test cell ``grade_id`` uses, sorted: they are fetched before it runs."""
        cell = self.cell(grade_id)
        return sorted(cell.uses & self.student_names_before(cell.index))

    def shared_before(self, grade_id: str) -> list[int]:
        """Indices of the shared cells above test cell ``grade_id`` (the grader's kernel runs them in order)."""
        limit = self.cell(grade_id).index
        return [cell.index for cell in self.cells if cell.role == "shared" and cell.index < limit]


def bound_names(tree: ast.Module) -> set[str]:
    """Names a cell binds at top level (assignments, definitions, imports, loop and ``with`` targets).

    Example:
        >>> sorted(bound_names(ast.parse("import numpy as np\\nx, y = 1, 2\\ndef f(): pass")))
        ['f', 'np', 'x', 'y']
    """
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)

    for statement in tree.body:
        for node in _top_level(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.With,
                                   ast.AsyncWith, ast.NamedExpr)):
                for target in _assignment_targets(node):
                    targets(target)
    return names


def _top_level(statement: ast.stmt) -> list[ast.AST]:
    """The statement and the statements nested in its blocks that still run at top level (if/for/while/try/with)."""
    found: list[ast.AST] = [statement]
    for block in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(statement, block, []) or []:
            if isinstance(child, ast.ExceptHandler):
                if child.name:
                    found.append(ast.Assign(targets=[ast.Name(child.name, ast.Store())], value=ast.Constant(None)))
                for inner in child.body:
                    found += _top_level(inner)
            elif isinstance(child, ast.stmt) and not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                            ast.ClassDef)):
                found += _top_level(child)
    for child in ast.walk(statement):
        if isinstance(child, ast.NamedExpr):
            found.append(child)
    return found


def _assignment_targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def global_names(code: str) -> set[str]:
    """Names a cell reads from the notebook's global namespace, at top level or inside its functions.

    Example:
        >>> sorted(global_names("def g(x):\\n    return f(x) + y\\nz = g(1)"))
        ['f', 'g', 'y']
    """
    table = symtable.symtable(code, "<cell>", "exec")
    names: set[str] = set()

    def walk(scope: symtable.SymbolTable) -> None:
        for symbol in scope.get_symbols():
            if not symbol.is_referenced():
                continue
            if scope.get_type() == "module" or symbol.is_global():
                names.add(symbol.get_name())
        for child in scope.get_children():
            walk(child)

    walk(table)
    return names


def plan_notebook(source: NotebookNode) -> GradingPlan:
    """The :class:`GradingPlan` of an assignment's source notebook (cells with syntax errors bind and use nothing)."""
    cells: list[CellPlan] = []
    student: set[str] = set()
    for index, cell in enumerate(source.cells):
        if cell.get("cell_type") != "code":
            continue
        code = without_magics(cell.source)
        try:
            tree = ast.parse(code)
            binds, uses = frozenset(bound_names(tree)), frozenset(global_names(code))
        except SyntaxError:
            binds, uses = frozenset(), frozenset()
        if is_answer_cell(cell):
            role = "answer"
        elif is_test_cell(cell):
            role = "test"
        elif uses & student:
            role = "student"
        else:
            role = "shared"
        if role in ("answer", "student"):
            student |= binds
        cells.append(CellPlan(index, role, grade_id(cell), binds, uses))
    return GradingPlan(tuple(cells))

