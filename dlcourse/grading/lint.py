"""The lint of an assignment's test cells: what would make a test grade unfairly, found before grading.

``dlcourse grade`` refuses an assignment whose source has any of these problems:

- :func:`lint_test_cells`: a test cell that does not parse, or ends in a bare
  expression: nbgrader would read its value as the score (GRADING_THREATS #26, #27;
  the rule is :func:`dlcourse.cells.bare_final_expression`);
- :func:`lint_split`: a test cell that would grade differently in the grader's
  test kernel than in the student's notebook (:mod:`~dlcourse.grading.plan`
  says which kernel runs which cell): it rebinds a student name, or draws from
  a global random generator before seeding it (GRADING_THREATS #47); or a given
  cell rebinds a name an answer cell defines.

Example:
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> cell = nbformat.v4.new_code_cell("f(2) == 4")
    >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
    ...                              "grade_id": "t", "schema_version": 3}
    >>> nb.cells.append(cell)
    >>> lint_test_cells(nb)[0][:54]
    "test cell 't' ends in the bare expression `f(2) == 4`:"
"""

from __future__ import annotations

import ast

from nbformat.notebooknode import NotebookNode

from dlcourse.cells import bare_final_expression, grade_id, is_test_cell, without_magics
from dlcourse.grading.plan import plan_notebook

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


def lint_test_cells(source: NotebookNode) -> list[str]:
    """Problems of the assignment's test cells: a syntax error, or a last statement nbgrader would score.

    nbgrader reads the value of a test cell's last expression as its score: a
    bare ``f(2) == 4`` that is ``False`` counts as full marks, a number the
    student controls as partial credit. A test cell must end with an
    ``assert``, an assignment, or a call of a check function that returns
    ``None`` (:data:`dlcourse.cells.CHECK_CALLS`).

    Example:
        >>> import nbformat
        >>> lint_test_cells(nbformat.v4.new_notebook())
        []
    """
    problems: list[str] = []
    for cell in source.cells:
        if not is_test_cell(cell):
            continue
        try:
            bare = bare_final_expression(cell.source)
        except SyntaxError as error:
            problems.append(f"test cell {grade_id(cell)!r} has a syntax error (line {error.lineno}): {error.msg}")
            continue
        if bare is not None:
            problems.append(f"test cell {grade_id(cell)!r} ends in the bare expression `{bare[:60]}`: nbgrader "
                            "would read its value as the score; end it with an assert or a check function")
    return problems


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
        draw = _unseeded_draw(without_magics(source.cells[cell.index].source))
        if draw:
            problems.append(f"test cell {cell.grade_id!r} draws from a global random generator ({draw}) without "
                            "seeding it first in the same cell: seed it, or use np.random.default_rng(seed) / "
                            "torch.Generator().manual_seed(seed)")
    return problems


def _unseeded_draw(code: str) -> str | None:
    """The first draw from a global random generator (:data:`RNG_DRAWS`) in ``code`` before a seed
    (:data:`SEEDS`), as ``"np.random.rand(...) on line 2"``; ``None`` when there is none or ``code`` does not parse.

    Example:
        >>> _unseeded_draw("x = np.random.rand(3)")
        'np.random.rand(...) on line 1'
        >>> _unseeded_draw("np.random.seed(0)\\nx = np.random.rand(3)") is None
        True
    """
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


def _dotted(node: ast.AST) -> str:
    """``np.random.rand`` for the expression ``np.random.rand``; ``""`` for one that is not a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))
