"""The check and repair of a submission's nbgrader cell metadata against the assignment's source.

nbgrader trusts the metadata of the submitted file: a pasted copy of a test cell, an invented grade
cell, an edited ``schema_version`` or cells put out of order make it fail that student or abort the
whole run (GRADING_THREATS #7-10, #17). :func:`check_metadata` compares each nbgrader cell of the
submission with what the source says about it (:func:`source_cells`) and returns a repaired copy, built
from the source so that no change earns a point, with an :class:`~dlcourse.grading.issues.Issue` for each
change that is news to the instructor. Changes nbgrader itself undoes (a changed valid ``locked`` or
``points``, a changed cell type, GRADING_THREATS #2-5) are repaired or left to it without a flag.

Example:
    >>> import nbformat
    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert f(2) == 4")])
    >>> source.cells[0].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
    ...                                         "grade_id": "t", "schema_version": 3}
    >>> submitted = copy.deepcopy(source)
    >>> submitted.cells[0].metadata["nbgrader"]["schema_version"] = 99
    >>> repaired, issues = check_metadata(submitted, source)
    >>> [issue.code for issue in issues], repaired.cells[0].metadata["nbgrader"]["schema_version"]
    (['schema-version'], 3)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from nbformat.notebooknode import NotebookNode

from dlcourse.cells import grade_id, nbgrader_meta
from dlcourse.grading.issues import Issue, first_line, short

NBGRADER_KEYS = frozenset({"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                           "checksum", "cell_type"})
"""The keys nbgrader 0.9 allows in a cell's ``metadata.nbgrader`` (schema version 3)."""

SCHEMA_VERSION = 3


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


def source_cells(source: NotebookNode) -> dict[str, CellSpec]:
    """The nbgrader cells of an assignment's source notebook, by ``grade_id``, in notebook order.

    The source is the instructor's own notebook: :mod:`dlcourse.cells` reads its metadata.

    Example:
        >>> import nbformat
        >>> source_cells(nbformat.v4.new_notebook())
        {}
    """
    specs: dict[str, CellSpec] = {}
    for index, cell in enumerate(source.cells):
        meta, name = nbgrader_meta(cell), grade_id(cell)
        if name and (meta.get("grade") or meta.get("solution") or meta.get("locked")):
            specs[name] = CellSpec(name, cell.cell_type, bool(meta.get("grade")), bool(meta.get("solution")),
                                   bool(meta.get("locked")), meta.get("points"), index)
    return specs


def check_metadata(nb: NotebookNode, source: NotebookNode) -> tuple[NotebookNode, list[Issue]]:
    """Compare the submission's nbgrader cells with the source; return a repaired copy and the issues.

    Repairs: unknown metadata keys are removed; ``schema_version``, ``grade``
    and ``solution`` are reset from the source, and so are ``locked`` and
    ``points`` when nbgrader's schema would reject them (not a bool, not a
    number of at least 0; a changed valid value is nbgrader's to undo);
    metadata of a cell the source
    does not have, and of every copy of a ``grade_id`` after the first, is
    removed (the cell stays, ungraded); graded cells are put back in the
    source's order. The result passes nbgrader's own metadata validation, or
    a fatal issue says why not.
    """
    specs = source_cells(source)
    nb = copy.deepcopy(nb)
    issues: list[Issue] = []
    first_seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        spec = _claimed_cell(cell, index, specs, first_seen, issues)
        if spec is None:
            continue
        if cell.cell_type != spec.cell_type:  # nbgrader restores the type too (#4): not worth a flag
            _set_cell_type(cell, spec.cell_type)
        _repair_fields(cell.metadata["nbgrader"], spec, f"cell {index + 1} ({spec.grade_id})", issues)
    _restore_order(nb, specs, issues)
    issue = _nbgrader_rejects(nb)
    if issue:
        issues.append(issue)
    return nb, issues


# The steps below read metadata the student controls, so they test it strictly, where dlcourse.cells is
# lenient on purpose: nbgrader_meta() reads a missing ``nbgrader`` and one that is not an object both as
# ``{}`` (here the second must be flagged and removed), and cell_role() reads ``grade: 1`` as a test cell
# (here only ``True`` passes, as nbgrader's schema wants a bool).
def _claimed_cell(cell: NotebookNode, index: int, specs: dict[str, CellSpec], first_seen: dict[str, int],
                  issues: list[Issue]) -> CellSpec | None:
    """The source cell whose nbgrader metadata ``cell`` carries, or ``None`` when it carries none.

    Metadata that is not an object, names a ``grade_id`` the source does not have, or repeats one an
    earlier cell carries (``first_seen``) is removed, with an issue: the cell stays, ungraded.
    """
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict) or "nbgrader" not in metadata:
        return None
    meta = metadata["nbgrader"]
    where = f"cell {index + 1}"
    if not isinstance(meta, dict):
        del metadata["nbgrader"]
        issues.append(Issue("bad-metadata", f"{where}: its nbgrader metadata is not an object (removed)"))
        return None
    claimed = meta.get("grade_id")
    spec = specs.get(claimed) if isinstance(claimed, str) else None
    if spec is None:
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            issues.append(Issue("unknown-cell", f"{where} carries nbgrader metadata for {short(claimed)}, which "
                                                "the assignment does not have (an invented grade cell): it is "
                                                "not graded"))
        del metadata["nbgrader"]
        return None
    if claimed in first_seen:
        issues.append(Issue("duplicate-id", f"{where} repeats {claimed!r} of cell {first_seen[claimed] + 1} (a "
                                            "pasted copy): only the first is graded"))
        del metadata["nbgrader"]
        return None
    first_seen[claimed] = index
    return spec


def _repair_fields(meta: dict, spec: CellSpec, where: str, issues: list[Issue]) -> None:
    """Make the fields of one cell's nbgrader metadata what the source says, where nbgrader would not."""
    _drop_unknown_keys(meta, where, issues)
    if meta.get("schema_version") != SCHEMA_VERSION:
        issues.append(Issue("schema-version", f"{where}: schema_version {short(meta.get('schema_version'))}, "
                                              f"expected {SCHEMA_VERSION} (reset)"))
        meta["schema_version"] = SCHEMA_VERSION
    for key in ("grade", "solution"):
        if meta.get(key) is not getattr(spec, key):  # a changed value, or 1 for True: nbgrader wants a bool
            _reset(meta, key, getattr(spec, key), where, issues)
    if not isinstance(meta.get("locked"), bool):  # a changed bool is nbgrader's to undo (#2)
        _reset(meta, "locked", spec.locked, where, issues)
    if spec.grade and not _is_points(meta.get("points")):  # a changed number is nbgrader's to undo (#5)
        _reset(meta, "points", spec.points, where, issues)
    if not spec.grade:
        meta.pop("points", None)


def _drop_unknown_keys(meta: dict, where: str, issues: list[Issue]) -> None:
    """Remove the keys nbgrader's schema does not allow (:data:`NBGRADER_KEYS`)."""
    extra = sorted(set(meta) - NBGRADER_KEYS)
    if extra:
        shown = ", ".join(map(short, extra[:6])) + (", ..." if len(extra) > 6 else "")
        issues.append(Issue("extra-metadata", f"{where}: unknown nbgrader metadata {shown} (removed)"))
        for key in extra:
            del meta[key]


def _reset(meta: dict, key: str, value: Any, where: str, issues: list[Issue]) -> None:
    """Set ``meta[key]`` back to the source's ``value``, with a "changed-metadata" issue."""
    issues.append(Issue("changed-metadata", f"{where}: {key} is {short(meta.get(key))}, the assignment says "
                                            f"{value} (reset)"))
    meta[key] = value


def _is_points(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


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
    """Put graded cells back in the source's order, in the slots graded cells occupy (GRADING_THREATS #17).

    It runs after the other repairs, so every ``grade_id`` left in ``nb`` is one of ``specs``, once.
    """
    slots = [i for i, cell in enumerate(nb.cells) if grade_id(cell) in specs]
    graded = [nb.cells[i] for i in slots]
    ordered = sorted(graded, key=lambda cell: specs[grade_id(cell)].index)
    if [id(c) for c in ordered] != [id(c) for c in graded]:
        moved = [grade_id(a) for a, b in zip(graded, ordered) if a is not b]
        issues.append(Issue("cell-order", f"graded cells are out of order ({', '.join(moved[:4])}"
                                          f"{', ...' if len(moved) > 4 else ''}): put back in the assignment's "
                                          "order"))
        for slot, cell in zip(slots, ordered):
            nb.cells[slot] = cell


def _nbgrader_rejects(nb: NotebookNode) -> Issue | None:
    """The fatal issue when nbgrader's own metadata validator rejects ``nb``, naming the cell."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    validator, where = MetadataValidator(), "the notebook"
    try:
        for index, cell in enumerate(nb.cells):
            where = f"cell {index + 1}"
            validator.validate_cell(cell)
        where = "the notebook"
        validator.validate_nb(nb)
    except ValidationError as error:
        field_path = ".".join(map(str, getattr(error, "path", None) or []))
        where += f"'s nbgrader {field_path}" if field_path else ""
        return Issue("invalid-metadata", "the nbgrader metadata is still invalid after repair: "
                                         f"{where}: {first_line(getattr(error, 'message', error))}", fatal=True)
    except Exception as error:  # nbgrader's validator trips over a shape its schema does not cover
        return Issue("invalid-metadata", f"the nbgrader metadata cannot be checked: nbgrader's validator failed on "
                                         f"{where} ({type(error).__name__}: {first_line(error)})", fatal=True)
    return None
