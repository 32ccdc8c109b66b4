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

RNG_DRAWS = {
    "np.random": {"rand", "randn", "randint", "random", "random_sample", "normal", "uniform", "choice", "permutation",
                  "shuffle", "binomial", "poisson", "exponential", "standard_normal", "integers", "beta", "gamma"},
    "numpy.random": {"rand", "randn", "randint", "random", "normal", "uniform", "choice", "permutation", "shuffle"},
    "torch": {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like",
              "randn_like", "randint_like", "poisson"},
    "random": {"random", "randint", "choice", "shuffle", "sample", "uniform", "gauss", "randrange", "choices"},
}
"""Draws from a global random generator (a test cell must seed before it draws; see :func:`lint_split`)."""

SEEDS = {"np.random.seed", "numpy.random.seed", "torch.manual_seed", "random.seed", "seed_everything"}
"""Calls that seed the global generators."""


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


def nbgrader_meta(cell: NotebookNode) -> dict:
    value = cell.get("metadata", {}).get("nbgrader")
    return value if isinstance(value, dict) else {}


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: nbgrader ``grade`` without ``solution``, of type code."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer_cell(cell: NotebookNode) -> bool:
    """A cell the student writes code in: nbgrader ``solution``, of type code."""
    return cell.get("cell_type") == "code" and bool(nbgrader_meta(cell).get("solution"))


def python_source(code: str) -> str:
    """The cell's code with IPython's ``%magic`` and ``!shell`` lines turned into ``pass``."""
    return "\n".join(("pass" if line.lstrip().startswith(("%", "!")) else line) for line in code.splitlines())


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
        code = python_source(cell.source)
        try:
            tree = ast.parse(code)
            binds, uses = frozenset(bound_names(tree)), frozenset(global_names(code))
        except SyntaxError:
            binds, uses = frozenset(), frozenset()
        grade_id = nbgrader_meta(cell).get("grade_id")
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
        cells.append(CellPlan(index, role, grade_id, binds, uses))
    return GradingPlan(tuple(cells))


def lint_split(source: NotebookNode) -> list[str]:
    """Problems that would make a test cell grade differently in the grader's kernel than in the student's notebook.

    - a test cell rebinds a name the student's cells define (later tests would
      see the test's value in one kernel and the student's in the other);
    - a test cell draws from a global random generator (``np.random.rand``,
      ``torch.randn``, ...) without seeding it earlier in the same cell: its
      inputs would depend on what ran before it;
    - a given cell assigns a name an answer cell above it defines (the test
      kernel would use the student's copy of that given cell).

    Example:
        >>> import nbformat
        >>> lint_split(nbformat.v4.new_notebook())
        []
    """
    plan = plan_notebook(source)
    problems: list[str] = []
    for cell in plan.cells:
        if cell.role == "shared":
            clash = sorted(cell.binds & plan.student_names_before(cell.index))
            if clash:
                problems.append(f"cell {cell.index + 1} (given code) assigns {', '.join(clash)}, which an answer "
                                "cell defines above it: the tests would see the student's copy of that cell")
        if cell.role != "test":
            continue
        clash = sorted(cell.binds & plan.student_names_before(cell.index))
        if clash:
            problems.append(f"test cell {cell.grade_id!r} assigns {', '.join(clash)}, which the student's cells "
                            "define: use other names in test cells")
        draw = _unseeded_draw(python_source(source.cells[cell.index].source))
        if draw:
            problems.append(f"test cell {cell.grade_id!r} draws from a global random generator ({draw}) without "
                            "seeding it first in the same cell: seed it, or use np.random.default_rng(seed) / "
                            "torch.Generator().manual_seed(seed)")
    return problems


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _unseeded_draw(code: str) -> str | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    seeded = False
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)),
                       key=lambda n: (n.lineno, n.col_offset)):
        name = _dotted(node.func)
        if name in SEEDS or name.rsplit(".", 1)[-1] == "seed_everything":
            seeded = True
            continue
        module, _, function = name.rpartition(".")
        if module in RNG_DRAWS and function in RNG_DRAWS[module] and not seeded:
            if any(keyword.arg == "generator" for keyword in node.keywords):
                continue
            return f"{name}(...) on line {node.lineno}"
    return None
