"""Pre-flight checks of a submission, and the lint of an assignment's test cells.

nbgrader trusts the submitted file: a damaged notebook, a pasted test cell or
an edited ``schema_version`` makes it fail that student -- or abort the whole
run (GRADING_THREATS #7-10, #17-19). :func:`preflight` reads the submission
first and says, in a sentence for the instructor, what is wrong:

- **fatal** issues (the file is empty, not JSON, not a notebook, missing):
  the student is flagged and not graded;
- **repaired** issues (nbgrader metadata changed, a duplicated or invented
  grade cell, test cells out of order, a wrong file name, an unreadable
  timestamp): the student is flagged and graded from a repaired copy, built
  from the assignment's source so that no change earns a point.

Changes nbgrader itself undoes (an edited test cell, raised points, a changed
cell type or kernel, GRADING_THREATS #2-5, #16) are left to it and not flagged.

:func:`lint_test_cells` rejects test cells that end in a bare expression:
nbgrader would read the value as the score (GRADING_THREATS #26, #27).

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
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from course_utils.grading.limits import SUBMISSION_MB

NBGRADER_KEYS = frozenset({"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                           "checksum", "cell_type"})
"""The keys nbgrader 0.9 allows in a cell's ``metadata.nbgrader`` (schema version 3)."""

SCHEMA_VERSION = 3
CHECK_CALLS = frozenset({"print", "assert_close", "assert_equal", "assert_shape", "assert_finite"})
"""Calls a test cell may end with: they return ``None``, which nbgrader does not read as a score."""


@dataclass
class Issue:
    """One problem with a submission: ``fatal`` ones stop it from being graded."""

    code: str
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        return self.message


@dataclass
class Preflight:
    """What :func:`preflight` found, and the notebook to grade (``None`` when a fatal issue stops it)."""

    issues: list[Issue] = field(default_factory=list)
    notebook: NotebookNode | None = None
    repaired: bool = False  # the notebook differs from the file: write it back before grading
    found_name: str | None = None  # the file graded, when it is not <assignment>.ipynb
    drop_timestamp: bool = False

    @property
    def fatal(self) -> bool:
        return any(issue.fatal for issue in self.issues)


@dataclass(frozen=True)
class CellSpec:
    """What the source says about one nbgrader cell."""

    grade_id: str
    cell_type: str
    grade: bool
    solution: bool
    locked: bool
    points: float | None
    index: int


def _meta(cell: NotebookNode) -> dict:
    value = cell.get("metadata", {}).get("nbgrader")
    return value if isinstance(value, dict) else {}


def source_cells(source: NotebookNode) -> dict[str, CellSpec]:
    """The nbgrader cells of an assignment's source notebook, by ``grade_id``, in notebook order.

    Example:
        >>> import nbformat
        >>> source_cells(nbformat.v4.new_notebook())
        {}
    """
    specs: dict[str, CellSpec] = {}
    for index, cell in enumerate(source.cells):
        meta = _meta(cell)
        if meta.get("grade_id") and (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            specs[meta["grade_id"]] = CellSpec(meta["grade_id"], cell.cell_type, bool(meta.get("grade")),
                                               bool(meta.get("solution")), bool(meta.get("locked")),
                                               meta.get("points"), index)
    return specs


# ---------------------------------------------------------------- reading the file
def read_submission(path: Path, max_mb: int = SUBMISSION_MB) -> tuple[NotebookNode | None, Issue | None]:
    """The notebook at ``path``, or the fatal issue that keeps it from being read.

    Example:
        >>> read_submission(Path("/nonexistent.ipynb"))[1].code
        'missing'
    """
    try:
        size = path.stat().st_size
    except OSError:
        return None, Issue("missing", f"{path.name} cannot be read", fatal=True)
    if size == 0:
        return None, Issue("empty", f"{path.name} is an empty file (0 bytes): nothing to grade; ask the student "
                                    "to submit again", fatal=True)
    if size > max_mb * 1024 * 1024:
        return None, Issue("too-large", f"{path.name} is {size / 2**20:.1f} MiB, over the {max_mb} MiB limit "
                                        "(outputs saved in the notebook?)", fatal=True)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, Issue("not-utf8", f"{path.name} is not UTF-8 text (byte {error.start}): the file is damaged "
                                       "or not a notebook", fatal=True)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, Issue("corrupt-json", f"{path.name} is not valid JSON (line {error.lineno}, column "
                                           f"{error.colno}: {error.msg}): the file is damaged or not a notebook",
                           fatal=True)
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        return None, Issue("not-a-notebook", f"{path.name} is JSON but not a Jupyter notebook (expected an object "
                                             "with 'cells' and 'nbformat')", fatal=True)
    if data.get("nbformat") != 4:
        return None, Issue("old-format", f"{path.name} has nbformat {data.get('nbformat')!r}; expected 4 "
                                         "(save it with Jupyter 4 or later)", fatal=True)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, Issue("invalid-notebook", f"{path.name} is not a valid Jupyter notebook: {first[:300]}",
                           fatal=True)
    return nb, None


def find_notebook(folder: Path, assignment: str) -> tuple[Path | None, Issue | None]:
    """The notebook to grade in a student's folder: ``<assignment>.ipynb``, or the single other notebook there.

    A notebook with another name is graded and flagged (GRADING_THREATS #18);
    none, or several other ones, is fatal.

    Example:
        >>> find_notebook(Path("/nonexistent"), "hw03_logic_gates")[1].message
        'no notebook submitted (expected hw03_logic_gates.ipynb)'
    """
    expected = f"{assignment}.ipynb"
    if (folder / expected).is_file():
        return folder / expected, None
    others = sorted(p.name for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []
    if not others:
        return None, Issue("no-notebook", f"no notebook submitted (expected {expected})", fatal=True)
    if len(others) > 1:
        return None, Issue("wrong-name", f"expected {expected}, got {', '.join(others)}: cannot tell which to "
                                         "grade", fatal=True)
    return folder / others[0], Issue("wrong-name", f"expected {expected}, got {others[0]}: graded it as "
                                                   f"{expected}; check it is the right assignment")


# ---------------------------------------------------------------- the nbgrader metadata
def check_metadata(nb: NotebookNode, source: NotebookNode) -> tuple[NotebookNode, list[Issue]]:
    """Compare the submission's nbgrader cells with the source; return a repaired copy and the issues.

    Repairs: unknown metadata keys are removed; ``schema_version``, ``grade``
    and ``solution`` are reset from the source; metadata of a cell the source
    does not have, and of every copy of a ``grade_id`` after the first, is
    removed (the cell stays, ungraded); graded cells are put back in the
    source's order. The result passes nbgrader's own metadata validation, or
    a fatal issue says why not.
    """
    specs = source_cells(source)
    nb = copy.deepcopy(nb)
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        meta = cell.metadata["nbgrader"]
        where = f"cell {index + 1}"
        if not isinstance(meta, dict):
            del cell.metadata["nbgrader"]
            issues.append(Issue("bad-metadata", f"{where}: its nbgrader metadata is not an object (removed)"))
            continue
        grade_id = meta.get("grade_id")
        spec = specs.get(grade_id) if isinstance(grade_id, str) else None
        if spec is None:
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                issues.append(Issue("unknown-cell", f"{where} carries nbgrader metadata for {grade_id!r}, which the "
                                                    "assignment does not have (an invented grade cell): it is not "
                                                    "graded"))
            del cell.metadata["nbgrader"]
            continue
        if grade_id in seen:
            issues.append(Issue("duplicate-id", f"{where} repeats {grade_id!r} of cell {seen[grade_id] + 1} (a "
                                                "pasted copy): only the first is graded"))
            del cell.metadata["nbgrader"]
            continue
        seen[grade_id] = index
        if cell.cell_type != spec.cell_type:  # nbgrader restores the type too (#4): not worth a flag
            _set_cell_type(cell, spec.cell_type)
        extra = sorted(set(meta) - NBGRADER_KEYS)
        if extra:
            issues.append(Issue("extra-metadata", f"{where} ({grade_id}): unknown nbgrader metadata "
                                                  f"{', '.join(map(repr, extra))} (removed)"))
            for key in extra:
                del meta[key]
        if meta.get("schema_version") != SCHEMA_VERSION:
            issues.append(Issue("schema-version", f"{where} ({grade_id}): schema_version "
                                                  f"{meta.get('schema_version')!r}, expected {SCHEMA_VERSION} "
                                                  "(reset)"))
            meta["schema_version"] = SCHEMA_VERSION
        for key in ("grade", "solution"):
            if bool(meta.get(key)) != getattr(spec, key):
                issues.append(Issue("changed-metadata", f"{where} ({grade_id}): {key} is {meta.get(key)!r}, the "
                                                        f"assignment says {getattr(spec, key)} (reset)"))
                meta[key] = getattr(spec, key)
        meta.setdefault("locked", spec.locked)
        if spec.grade and "points" not in meta:
            meta["points"] = spec.points
        if not spec.grade:
            meta.pop("points", None)
    _restore_order(nb, specs, issues)
    try:
        from nbgrader.nbgraderformat import MetadataValidator, ValidationError

        MetadataValidator().validate_nb(nb)
    except ValidationError as error:
        issues.append(Issue("invalid-metadata", f"the nbgrader metadata is still invalid after repair: {error}",
                            fatal=True))
    return nb, issues


def _set_cell_type(cell: NotebookNode, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _restore_order(nb: NotebookNode, specs: dict[str, CellSpec], issues: list[Issue]) -> None:
    """Put graded cells back in the source's order, in the slots graded cells occupy (GRADING_THREATS #17)."""
    slots = [i for i, cell in enumerate(nb.cells) if _meta(cell).get("grade_id") in specs]
    graded = [nb.cells[i] for i in slots]
    ordered = sorted(graded, key=lambda cell: specs[_meta(cell)["grade_id"]].index)
    if [id(c) for c in ordered] != [id(c) for c in graded]:
        moved = [_meta(a)["grade_id"] for a, b in zip(graded, ordered) if a is not b]
        issues.append(Issue("cell-order", f"graded cells are out of order ({', '.join(moved[:4])}"
                                          f"{', ...' if len(moved) > 4 else ''}): put back in the assignment's "
                                          "order"))
        for slot, cell in zip(slots, ordered):
            nb.cells[slot] = cell


def check_timestamp(folder: Path) -> Issue | None:
    """An issue when ``timestamp.txt`` exists but cannot be read as a date (GRADING_THREATS #19).

    Example:
        >>> check_timestamp(Path("/nonexistent")) is None
        True
    """
    path = folder / "timestamp.txt"
    if not path.is_file():
        return None
    text = path.read_text(errors="replace").strip()
    try:
        from nbgrader.utils import parse_utc

        parse_utc(text)
    except Exception:
        return Issue("timestamp", f"timestamp.txt is unreadable ({text[:60]!r}): graded as if on time; check the "
                                  "submission time by hand")
    return None


def preflight(folder: Path, assignment: str, source: NotebookNode, max_mb: int = SUBMISSION_MB) -> Preflight:
    """Check one student's submission folder before nbgrader sees it.

    Example:
        >>> import nbformat
        >>> result = preflight(Path("/nonexistent"), "hw03_logic_gates", nbformat.v4.new_notebook())
        >>> result.fatal, result.issues[0].message
        (True, 'no notebook submitted (expected hw03_logic_gates.ipynb)')
    """
    result = Preflight()
    path, issue = find_notebook(folder, assignment)
    if issue:
        result.issues.append(issue)
    if path is None:
        return result
    if path.name != f"{assignment}.ipynb":
        result.found_name = path.name
    nb, issue = read_submission(path, max_mb)
    if issue:
        result.issues.append(issue)
        return result
    repaired, issues = check_metadata(nb, source)
    result.issues += issues
    if any(i.fatal for i in issues):
        return result
    result.notebook = repaired
    result.repaired = bool(issues)
    timestamp = check_timestamp(folder)
    if timestamp:
        result.issues.append(timestamp)
        result.drop_timestamp = True
    return result


# ---------------------------------------------------------------- what the tests import
def imported_names(source: NotebookNode) -> dict[str, str]:
    """The names the source's non-answer cells import, and what each must refer to.

    ``import numpy as np`` gives ``{"np": "numpy"}``; ``from m import f`` gives
    ``{"f": "m:f"}``. The tamper guard checks that the notebook's names keep
    referring to these objects (a student could otherwise rebind
    ``assert_equal`` to a function that never fails).

    Example:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np\\nfrom math import pi")])
        >>> imported_names(nb)
        {'np': 'numpy', 'pi': 'math:pi'}
    """
    names: dict[str, str] = {}
    for cell in source.cells:
        if cell.cell_type != "code" or _meta(cell).get("solution"):
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    return names


# ---------------------------------------------------------------- lint of the source
def lint_test_cells(source: NotebookNode) -> list[str]:
    """Problems of the assignment's test cells: a syntax error, or a last statement nbgrader would score.

    nbgrader reads the value of a test cell's last expression as its score: a
    bare ``f(2) == 4`` that is ``False`` counts as full marks, a number the
    student controls as partial credit. A test cell must end with an
    ``assert``, an assignment, or a call of a check function that returns
    ``None`` (:data:`CHECK_CALLS`).

    Example:
        >>> import nbformat
        >>> lint_test_cells(nbformat.v4.new_notebook())
        []
    """
    problems: list[str] = []
    for spec in source_cells(source).values():
        if not spec.grade or spec.solution or spec.cell_type != "code":
            continue
        code = source.cells[spec.index].source
        try:
            tree = ast.parse(_without_magics(code))
        except SyntaxError as error:
            problems.append(f"test cell {spec.grade_id!r} has a syntax error (line {error.lineno}): {error.msg}")
            continue
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            call = last.value
            allowed = isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in CHECK_CALLS
            if not allowed:
                text = ast.get_source_segment(_without_magics(code), last) or "..."
                problems.append(f"test cell {spec.grade_id!r} ends in the bare expression `{text[:60]}`: nbgrader "
                                "would read its value as the score; end it with an assert or a check function")
    return problems


def _without_magics(code: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
