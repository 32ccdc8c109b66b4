"""Assignments test transfer, not transcription: no answer stands in a lecture, and a shared name keeps one signature.

An answer function (a function in an answer cell of an assignment's source) must not be 80 % or more the
same token sequence as any function a lecture defines: copying the lecture would earn the points. The
token sequence is the function's names, operators, numbers and strings (comments, layout and its
docstring left out), compared with :class:`difflib.SequenceMatcher`. A function name that a lecture and
its assignment both define takes the same parameters in the same order, so that reusing the lecture's
code never meets a ``TypeError`` that does not say why.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize
from functools import cache

import nbformat
import pytest

from dlcourse.cells import is_answer_cell, without_magics
from tests.conftest import ASSIGNMENT_IDS, LECTURES, ROOT

SIMILARITY_LIMIT = 0.8


def _functions(code: str) -> list[ast.FunctionDef]:
    tree = ast.parse(without_magics(code))
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def token_sequence(function: ast.FunctionDef) -> list[str]:
    """Names, operators, numbers and strings of ``function`` without its docstring, comments or layout.

    Example:
        >>> token_sequence(_functions("def f(x):\\n    '''Doc.'''\\n    return x + 1  # one more")[0])
        ['def', 'f', '(', 'x', ')', ':', 'return', 'x', '+', '1']
    """
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:] or [ast.Pass()]
    bare = ast.fix_missing_locations(type(function)(**{**{name: getattr(function, name) for name in function._fields},
                                                      "body": body}, lineno=function.lineno))
    kinds = (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING)
    return [t.string for t in tokenize.generate_tokens(io.StringIO(ast.unparse(bare)).readline) if t.type in kinds]


def similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _parameters(function: ast.FunctionDef) -> list[str]:
    arguments = function.args
    return [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]


@cache
def lecture_functions() -> tuple[tuple[str, ast.FunctionDef, tuple[str, ...]], ...]:
    found = []
    for path in LECTURES:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                found.extend((path.stem, f, tuple(token_sequence(f))) for f in _functions(cell.source))
    return tuple(found)


def answer_functions(assignment: str) -> list[ast.FunctionDef]:
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return [f for cell in source.cells if is_answer_cell(cell) for f in _functions(cell.source)]


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_no_answer_stands_in_a_lecture(assignment):
    functions = answer_functions(assignment)
    assert functions, f"{assignment}: no answer function found"
    copies = []
    for function in functions:
        tokens = token_sequence(function)
        for lecture, other, other_tokens in lecture_functions():
            ratio = similarity(tokens, list(other_tokens))
            if ratio >= SIMILARITY_LIMIT:
                copies.append(f"{function.name} is {ratio:.0%} lecture {lecture}'s {other.name}")
    assert not copies, f"{assignment}: answers that stand in a lecture: " + "; ".join(copies)


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_shared_names_keep_one_signature(assignment):
    lecture = {f.name: (name, _parameters(f)) for name, f, _ in lecture_functions()
               if name[:2] == assignment[2:4]}
    differ = [f"{f.name}{tuple(_parameters(f))} vs lecture {lecture[f.name][0]}'s {tuple(lecture[f.name][1])}"
              for f in answer_functions(assignment) if f.name in lecture and _parameters(f) != lecture[f.name][1]]
    assert not differ, f"{assignment}: same name, other parameters: " + "; ".join(differ)


def test_the_measure_sees_a_copy_even_renamed():
    lecture_code = "def loss(y, p):\n    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()"
    renamed = ("def bce(target, prob):\n    '''Mine.'''\n"
               "    return -(target * np.log(prob) + (1 - target) * np.log(1 - prob)).mean()")
    other = "def mse(y, p):\n    return ((y - p) ** 2).mean()"
    a, b, c = (token_sequence(_functions(code)[0]) for code in (lecture_code, renamed, other))
    assert similarity(a, a) == 1.0
    assert similarity(a, b) >= SIMILARITY_LIMIT  # renaming every name does not hide a copy ...
    assert similarity(a, c) < 0.6                # ... and another function is far away
