"""Pre-flight checks of a submission, and the lint of an assignment's test cells.

nbgrader trusts the submitted file: a damaged notebook, a pasted test cell or
an edited ``schema_version`` makes it fail that student -- or abort the whole
run (GRADING_THREATS #7-10, #17-19). :func:`preflight` reads the submission
first and says, in a sentence for the instructor, what is wrong:

- **fatal** issues (the file is empty, not JSON, not a notebook, missing;
  nested deeper than :data:`MAX_DEPTH`, holding numbers no float can hold,
  repeated keys or text that is not Unicode): the student is flagged and not
  graded. No file makes :func:`preflight` raise: an exception no check
  foresaw becomes the fatal issue "unreadable";
- **repaired** issues (nbgrader metadata changed, a duplicated or invented
  grade cell, test cells out of order, a wrong file name, an unreadable
  timestamp): the student is flagged and graded from a repaired copy, built
  from the assignment's source so that no change earns a point;
- **flagged** files (:func:`find_module_files`): a file or package named like
  a module the grader or the kernel imports (``course_utils.py``,
  ``numpy.py``), or a ``.pth`` file: graded as usual, the instructor is asked
  to look.

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
import functools
import importlib.metadata
import json
import math
import os
import re
import reprlib
import sys
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbformat.validator import iter_validate

from dlcourse.grading.limits import SUBMISSION_MB

NBGRADER_KEYS = frozenset({"schema_version", "grade", "locked", "solution", "task", "grade_id", "points",
                           "checksum", "cell_type"})
"""The keys nbgrader 0.9 allows in a cell's ``metadata.nbgrader`` (schema version 3)."""

SCHEMA_VERSION = 3
CHECK_CALLS = frozenset({"print", "assert_close", "assert_equal", "assert_shape", "assert_finite"})
"""Calls a test cell may end with: they return ``None``, which nbgrader does not read as a score."""

TIMESTAMP_BYTES = 4096
"""How much of ``timestamp.txt`` is read: a date is a few dozen characters."""


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
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    value = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return value if isinstance(value, dict) else {}


def _grade_id(cell: NotebookNode) -> str | None:
    value = _meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


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
MAX_DEPTH = 64
"""How deep lists and objects may nest in a submitted notebook (real ones nest fewer than 20 levels).

Checked on the raw bytes before the JSON is parsed, so that no file can exhaust the parser's recursion,
whatever the interpreter's recursion limit."""

MAX_NUMBER_LENGTH = 100
"""Longest number, in characters, a submitted notebook may hold (real ones hold counts and sizes)."""

CELL_TYPES = ("code", "markdown", "raw")
OUTPUT_TYPES = ("execute_result", "display_data", "stream", "error")

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 40
_JSON_STRING = re.compile(rb'"[^"]*"')
_AS_PARENTHESES = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TYPE_WORDS = {"string": "a string", "array": "a list", "object": "an object", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "null"}


class _Unreadable(Exception):
    """Why a submission cannot be read: ``reason`` is the phrase that follows the file's name."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def read_submission(path: Path, max_mb: int = SUBMISSION_MB) -> tuple[NotebookNode | None, Issue | None]:
    """The notebook at ``path``, or the fatal issue that keeps it from being read.

    No bytes make it raise: an empty, oversized, binary or damaged file, JSON nested more than
    :data:`MAX_DEPTH` levels, numbers no float can hold, repeated keys, text that is not Unicode, or a
    notebook nbformat's schema rejects each give a fatal :class:`Issue` that says what is wrong, and where.

    Example:
        >>> read_submission(Path("/nonexistent.ipynb"))[1].code
        'missing'
    """
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        return None, Issue("missing", f"{name} cannot be read", fatal=True)
    limit = max_mb * 1024 * 1024
    if size == 0:
        return None, Issue("empty", f"{name} is an empty file (0 bytes): nothing to grade; ask the student "
                                    "to submit again", fatal=True)
    if size > limit:
        return None, Issue("too-large", f"{name} is {size / 2**20:.1f} MiB, over the {max_mb} MiB limit "
                                        "(outputs saved in the notebook?)", fatal=True)
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1)
    except OSError as error:
        return None, Issue("missing", f"{name} cannot be read ({error.strerror or type(error).__name__})",
                           fatal=True)
    if len(raw) > limit:  # it grew after the size was read
        return None, Issue("too-large", f"{name} is over the {max_mb} MiB limit (outputs saved in the notebook?)",
                           fatal=True)
    try:
        return _notebook_from(_parse_notebook_json(raw)), None
    except _Unreadable as error:
        return None, Issue(error.code, f"{name} {error.reason}", fatal=True)
    except RecursionError:  # MAX_DEPTH keeps the parser shallow; this is the belt to its braces
        return None, Issue("too-deep", f"{name} is nested too deeply to be read: the file is damaged or crafted",
                           fatal=True)
    except MemoryError:
        return None, Issue("too-large", f"{name} needs more memory to be read than the grader has: the file is "
                                        "damaged or crafted", fatal=True)


def _parse_notebook_json(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``, checked to be a version 4 notebook's outer shape; raises :class:`_Unreadable`."""
    if 0 in raw:
        raise _Unreadable("not-utf8", f"is not UTF-8 text: it holds a NUL byte (byte {raw.index(0)}), as binary "
                                      "files and text saved as UTF-16 do; it is not a notebook")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Unreadable("not-utf8", f"is not UTF-8 text (byte {error.start}): the file is damaged or not a "
                                      "notebook") from None
    if text.startswith("\ufeff"):
        raise _Unreadable("corrupt-json", "starts with a byte-order mark (BOM), which JSON does not allow and "
                                          "Jupyter cannot open: ask the student to save it again from Jupyter")
    if _nested_deeper_than(raw, MAX_DEPTH):
        raise _Unreadable("too-deep", f"is nested more than {MAX_DEPTH} levels deep (lists and objects inside "
                                      "each other; real notebooks nest fewer than 20): the file is damaged or "
                                      "crafted")
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
    except json.JSONDecodeError as error:
        raise _Unreadable("corrupt-json", f"is not valid JSON (line {error.lineno}, column {error.colno}: "
                                          f"{error.msg}): the file is damaged or not a notebook") from None
    if _SURROGATE_ESCAPE.search(raw):
        found = _lone_surrogate(data)
        if found:
            char, path = found
            raise _Unreadable("not-utf8", f"holds the escape \\u{ord(char):04x} in {_where(path)}: half of a "
                                          "UTF-16 surrogate pair without its other half, which is no character "
                                          "and cannot be written as UTF-8; the file is damaged or crafted")
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        raise _Unreadable("not-a-notebook", "is JSON but not a Jupyter notebook (expected an object with 'cells' "
                                            "and 'nbformat')")
    if type(data["nbformat"]) is not int or data["nbformat"] != 4:
        raise _Unreadable("old-format", f"has nbformat {_short(data['nbformat'])}; expected 4 (save it with "
                                        "Jupyter 4 or later)")
    return data


def _nested_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the JSON text ``raw`` nests lists and objects more than ``limit`` levels deep, without parsing it.

    Strings are cut out (escaped backslashes and quotes first), every bracket becomes ``(`` or ``)``, and
    innermost pairs are removed a level per pass: a valid text needs exactly its depth in passes. A broken
    one may be overestimated, never underestimated (brackets left unclosed count too).
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _JSON_STRING.sub(b"", text).translate(_AS_PARENTHESES, _NOT_BRACKETS)
    for passes in range(limit + 1):
        if b"()" not in brackets:
            return passes + brackets.count(b"(") > limit
        brackets = brackets.replace(b"()", b"")
    return True


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Unreadable("duplicate-key", f"has the key {_short(key)} twice in one object: JSON readers "
                                                   "disagree on which value counts; the file was edited by hand "
                                                   "or crafted")
            seen.add(key)
    return value


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _Unreadable("bad-number", f"holds a number {len(text)} digits long (at most {MAX_NUMBER_LENGTH} "
                                        "allowed): the file is damaged or crafted")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _Unreadable("bad-number", f"holds a number {len(text)} characters long (at most "
                                        f"{MAX_NUMBER_LENGTH} allowed): the file is damaged or crafted")
    value = float(text)
    if not math.isfinite(value):
        raise _Unreadable("bad-number", f"holds the number {text}, too large for a float (the largest is about "
                                        "1.8e308): the file is damaged or crafted")
    return value


def _json_constant(text: str) -> float:
    raise _Unreadable("bad-number", f"holds {text}, which is not a number JSON allows: the file was not written "
                                    "by Jupyter")


def _lone_surrogate(data: Any) -> tuple[str, tuple[str | int, ...]] | None:
    """The first half of a surrogate pair found in a string or key of ``data``, and where it is."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                return found.group(), path
        elif isinstance(value, dict):
            for key, item in value.items():
                found = _SURROGATE.search(key)
                if found:
                    return found.group(), (*path, key)
                pending.append((item, (*path, key)))
        elif isinstance(value, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(value))
    return None


def _notebook_from(data: dict[str, Any]) -> NotebookNode:
    """The notebook ``data`` holds, once nbformat's schema accepts it; raises :class:`_Unreadable`."""
    minor = data.get("nbformat_minor", 0)
    if type(minor) is not int or minor < 0:
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: its nbformat_minor is "
                                              f"{_kind(minor)}; expected a whole number such as "
                                              f"{nbformat.v4.nbformat_minor}")
    cells = data["cells"]
    ids: set[str] = set()
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict):
            continue
        cell_id = cell.get("id")
        if minor >= 5 and ("id" not in cell or (isinstance(cell_id, str) and cell_id in ids)):
            cell["id"] = cell_id = uuid.uuid4().hex[:8]  # a missing or repeated id: nbformat.reads renews it too
        if isinstance(cell_id, str):
            ids.add(cell_id)
        _check_type_names(cell, index)
    try:
        error = next(iter_validate(data, version=4, version_minor=min(minor, nbformat.v4.nbformat_minor + 1)),
                     None)
    except (RecursionError, MemoryError):
        raise
    except Exception as failure:
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: nbformat's validator failed on "
                                              f"it ({type(failure).__name__}: {_first_line(failure)})") from None
    if error is not None:
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: {_describe(error)}")
    try:
        return nbformat.v4.to_notebook(data)
    except (RecursionError, MemoryError):
        raise
    except Exception as failure:  # a notebook from a future nbformat 4.x, whose unknown cells the schema lets by
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: nbformat cannot read it "
                                              f"({type(failure).__name__}: {_first_line(failure)})") from None


def _check_type_names(cell: dict[str, Any], index: int) -> None:
    """Raise :class:`_Unreadable` when a ``cell_type`` or ``output_type`` is not a string (nbformat's schema
    messages would fail on it with a TypeError)."""
    if not isinstance(cell.get("cell_type", ""), str):
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: {_where(('cells', index))} has "
                                              f"the cell_type {_kind(cell['cell_type'])}; expected "
                                              f"{_words(CELL_TYPES)}")
    outputs = cell.get("outputs")
    for number, output in enumerate(outputs if isinstance(outputs, list) else []):
        if isinstance(output, dict) and not isinstance(output.get("output_type", ""), str):
            raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: "
                                                  f"{_where(('cells', index, 'outputs', number))} has the "
                                                  f"output_type {_kind(output['output_type'])}; expected "
                                                  f"{_words(OUTPUT_TYPES)}")


def _describe(error: Any) -> str:
    """A sentence for nbformat's first schema error: where in the notebook, what is there, what was expected."""
    path = list(getattr(error, "relative_path", None) or [])
    where = _where(path)
    validator = getattr(error, "validator", None)
    expected = getattr(error, "validator_value", None)
    instance = getattr(error, "instance", None)
    if validator == "required" and isinstance(instance, dict) and isinstance(expected, list):
        missing = [key for key in expected if key not in instance]
        return f"{where} has no {_words(missing)}"
    if validator in ("oneOf", "anyOf") and isinstance(instance, dict) and len(path) >= 2:
        field_name, known = {"cells": ("cell_type", CELL_TYPES), "outputs": ("output_type", OUTPUT_TYPES)}.get(
            str(path[-2]), (None, ()))
        if field_name and field_name not in instance:
            return f"{where} has no {field_name!r}"
        if field_name and instance[field_name] not in known:
            return f"{where} has the unknown {field_name} {_short(instance[field_name])}; expected {_words(known)}"
    if validator in ("type", "oneOf", "anyOf"):
        return f"{where} is {_kind(instance)}; expected {_expected(expected)}"
    if validator == "additionalProperties":
        extra = re.search(r"\((.*) (?:was|were) unexpected\)", str(getattr(error, "message", "")))
        if extra:
            return f"{where} has {extra.group(1)[:200]}, which the notebook format does not allow there"
    if validator == "enum" and isinstance(expected, list):
        return f"{where} is {_short(instance)}; expected {_words(expected)}"
    if validator == "pattern":
        return f"{where} is {_short(instance)}, which does not match the pattern {expected}"
    return f"{where}: {_first_line(getattr(error, 'message', error))}"


def _where(path: Sequence[str | int]) -> str:
    """Where ``path`` points in a notebook: ``("cells", 2, "source")`` is "cell 3's source"."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "cells" and isinstance(parts[1], int):
        head, rest = f"cell {parts[1] + 1}", parts[2:]
    else:
        head, rest = "the notebook", parts
    if not rest:
        return head
    steps = [f"[{part}]" if isinstance(part, int) else f".{part}" if str(part).isidentifier()
             else f"[{_short(part)}]" for part in rest]
    return f"{head}'s {''.join(steps).lstrip('.')}"


def _kind(value: Any, inner: bool = False) -> str:
    """What ``value`` is, in words: "a number", "a list whose item 2 is an object", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {_short(value)}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        odd = next((index for index, item in enumerate(value) if not isinstance(item, str)), None)
        if inner or odd is None:
            return "a list" if value else "an empty list"
        return f"a list whose item {odd + 1} is {_kind(value[odd], inner=True)}"
    return type(value).__name__


def _expected(schema: Any) -> str:
    """What a JSON schema (or a ``type`` or ``oneOf`` value of one) accepts, in words."""
    if isinstance(schema, list):
        return " or ".join(dict.fromkeys(_expected(item) for item in schema))
    if isinstance(schema, str):
        return _TYPE_WORDS.get(schema, schema)
    if not isinstance(schema, dict):
        return "something else"
    if "oneOf" in schema or "anyOf" in schema:
        return _expected(schema.get("oneOf") or schema.get("anyOf"))
    kind, items = schema.get("type"), schema.get("items")
    if kind == "array" and isinstance(items, dict) and isinstance(items.get("type"), str):
        return f"a list of {_TYPE_WORDS.get(items['type'], items['type']).split(' ', 1)[-1]}s"
    if kind is not None:
        return _expected(kind)
    if isinstance(schema.get("$ref"), str):
        return "a " + schema["$ref"].rsplit("/", 1)[-1].replace("_", " ")
    return "something else"


def _short(value: Any) -> str:
    return _SHORT.repr(value)


def _words(items: Sequence[Any]) -> str:
    """``['a', 'b', 'c']`` as "'a', 'b' or 'c'"."""
    shown = [_short(item) for item in items[:6]] + (["..."] if len(items) > 6 else [])
    if not shown:
        return "nothing"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _first_line(error: Any) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


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
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict) or "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        where = f"cell {index + 1}"
        if not isinstance(meta, dict):
            del metadata["nbgrader"]
            issues.append(Issue("bad-metadata", f"{where}: its nbgrader metadata is not an object (removed)"))
            continue
        grade_id = meta.get("grade_id")
        spec = specs.get(grade_id) if isinstance(grade_id, str) else None
        if spec is None:
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                issues.append(Issue("unknown-cell", f"{where} carries nbgrader metadata for {_short(grade_id)}, which "
                                                    "the assignment does not have (an invented grade cell): it is "
                                                    "not graded"))
            del metadata["nbgrader"]
            continue
        if grade_id in seen:
            issues.append(Issue("duplicate-id", f"{where} repeats {grade_id!r} of cell {seen[grade_id] + 1} (a "
                                                "pasted copy): only the first is graded"))
            del metadata["nbgrader"]
            continue
        seen[grade_id] = index
        if cell.cell_type != spec.cell_type:  # nbgrader restores the type too (#4): not worth a flag
            _set_cell_type(cell, spec.cell_type)
        extra = sorted(set(meta) - NBGRADER_KEYS)
        if extra:
            shown = ", ".join(map(_short, extra[:6])) + (", ..." if len(extra) > 6 else "")
            issues.append(Issue("extra-metadata", f"{where} ({grade_id}): unknown nbgrader metadata {shown} "
                                                  "(removed)"))
            for key in extra:
                del meta[key]
        if meta.get("schema_version") != SCHEMA_VERSION:
            issues.append(Issue("schema-version", f"{where} ({grade_id}): schema_version "
                                                  f"{_short(meta.get('schema_version'))}, expected {SCHEMA_VERSION} "
                                                  "(reset)"))
            meta["schema_version"] = SCHEMA_VERSION
        for key in ("grade", "solution"):
            if meta.get(key) is not getattr(spec, key):  # a changed value, or 1 for True: nbgrader wants a bool
                issues.append(Issue("changed-metadata", f"{where} ({grade_id}): {key} is {_short(meta.get(key))}, "
                                                        f"the assignment says {getattr(spec, key)} (reset)"))
                meta[key] = getattr(spec, key)
        if not isinstance(meta.get("locked"), bool):  # a changed bool is nbgrader's to undo (#2)
            issues.append(Issue("changed-metadata", f"{where} ({grade_id}): locked is {_short(meta.get('locked'))}, "
                                                    f"the assignment says {spec.locked} (reset)"))
            meta["locked"] = spec.locked
        if spec.grade and not _is_points(meta.get("points")):  # a changed number is nbgrader's to undo (#5)
            issues.append(Issue("changed-metadata", f"{where} ({grade_id}): points is {_short(meta.get('points'))}, "
                                                    f"the assignment says {spec.points} (reset)"))
            meta["points"] = spec.points
        if not spec.grade:
            meta.pop("points", None)
    _restore_order(nb, specs, issues)
    issue = _nbgrader_rejects(nb)
    if issue:
        issues.append(issue)
    return nb, issues


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
                                         f"{where}: {_first_line(getattr(error, 'message', error))}", fatal=True)
    except Exception as error:  # nbgrader's validator trips over a shape its schema does not cover
        return Issue("invalid-metadata", f"the nbgrader metadata cannot be checked: nbgrader's validator failed on "
                                         f"{where} ({type(error).__name__}: {_first_line(error)})", fatal=True)
    return None


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
    """Put graded cells back in the source's order, in the slots graded cells occupy (GRADING_THREATS #17)."""
    slots = [i for i, cell in enumerate(nb.cells) if _grade_id(cell) in specs]
    graded = [nb.cells[i] for i in slots]
    ordered = sorted(graded, key=lambda cell: specs[_grade_id(cell)].index)
    if [id(c) for c in ordered] != [id(c) for c in graded]:
        moved = [_grade_id(a) for a, b in zip(graded, ordered) if a is not b]
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
    try:
        with path.open("rb") as file:
            text = file.read(TIMESTAMP_BYTES).decode("utf-8", errors="replace").strip()
    except OSError as error:
        return Issue("timestamp", f"timestamp.txt is unreadable ({error.strerror or type(error).__name__}): graded "
                                  "as if on time; check the submission time by hand")
    try:
        from nbgrader.utils import parse_utc

        parse_utc(text)
    except Exception:
        return Issue("timestamp", f"timestamp.txt is unreadable ({text[:60]!r}): graded as if on time; check the "
                                  "submission time by hand")
    return None


def preflight(folder: Path, assignment: str, source: NotebookNode, max_mb: int = SUBMISSION_MB) -> Preflight:
    """Check one student's submission folder before nbgrader sees it.

    It never raises: whatever the folder holds, a problem ends up as an :class:`Issue`. An exception no
    check foresaw is the fatal issue "unreadable", which names it, so that one strange file flags its
    student instead of failing the grader.

    Example:
        >>> import nbformat
        >>> result = preflight(Path("/nonexistent"), "hw03_logic_gates", nbformat.v4.new_notebook())
        >>> result.fatal, result.issues[0].message
        (True, 'no notebook submitted (expected hw03_logic_gates.ipynb)')
    """
    result = Preflight()
    try:
        _check_notebook(folder, assignment, source, max_mb, result)
    except Exception as error:  # the last line of defence: a flag, never a failure of the run
        result.notebook, result.repaired = None, False
        result.issues.append(_unforeseen(error, "checking the notebook"))
    try:
        result.issues += find_module_files(folder)
    except Exception as error:
        result.notebook, result.repaired = None, False
        result.issues.append(_unforeseen(error, "looking for files named like modules"))
    for issue in result.issues:  # a name that is not UTF-8 must not break whoever prints the reasons
        issue.message = issue.message.encode("utf-8", "backslashreplace").decode("utf-8")
    return result


def _check_notebook(folder: Path, assignment: str, source: NotebookNode, max_mb: int, result: Preflight) -> None:
    """The notebook part of :func:`preflight`: find it, read it, check its metadata and the timestamp."""
    path, issue = find_notebook(folder, assignment)
    if issue:
        result.issues.append(issue)
    if path is None:
        return
    if path.name != f"{assignment}.ipynb":
        result.found_name = path.name
    nb, issue = read_submission(path, max_mb)
    if issue:
        result.issues.append(issue)
        return
    repaired, issues = check_metadata(nb, source)
    result.issues += issues
    if any(i.fatal for i in issues):
        return
    result.notebook = repaired
    result.repaired = bool(issues)
    timestamp = check_timestamp(folder)
    if timestamp:
        result.issues.append(timestamp)
        result.drop_timestamp = True


def _unforeseen(error: BaseException, step: str) -> Issue:
    """The fatal issue for an exception no check foresaw, named with the function it came from."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" in {frames[-1].name}" if frames else ""
    return Issue("unreadable", f"the pre-flight check failed while {step} ({type(error).__name__}{where}: "
                               f"{_first_line(error)}): not graded; look at the submission by hand", fatal=True)


# ---------------------------------------------------------------- files named like modules
GRADER_MODULES = frozenset({"course_utils", "dlcourse", "nbgrader", "sitecustomize", "usercustomize"})
"""Module names a submitted file must not take besides the standard library's and the installed packages'."""

MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
"""Files Python imports as a module (``.pth`` files are flagged whatever their name)."""


@functools.lru_cache(maxsize=1)
def shadowed_module_names() -> frozenset[str]:
    """Top-level module names the grader or the kernel may import: the standard library, every installed
    distribution's top-level names, and :data:`GRADER_MODULES`. Computed once per process.

    Example:
        >>> {"json", "nbformat", "course_utils"} <= shadowed_module_names()
        True
        >>> "my_utils" in shadowed_module_names()
        False
    """
    names = set(sys.stdlib_module_names) | GRADER_MODULES
    try:
        names.update(importlib.metadata.packages_distributions())
    except Exception:  # a damaged distribution's metadata: the other names still count
        pass
    return frozenset(name for name in names if name.isidentifier())


def find_module_files(folder: Path) -> list[Issue]:
    """A "module-file" issue (not fatal) for each file or package under ``folder`` that Python could import
    under the name of a module the grader or the kernel imports (:func:`shadowed_module_names`), and for
    every ``.pth`` file. Symbolic links are skipped, as intake skips them.

    A student's ``course_utils.py`` beside the notebook would replace the real ``course_utils`` in any
    program started in that folder; the sandbox is built so that only the student's own kernel sees such a
    file, and the flag asks the instructor to look at why it was submitted.

    Example:
        >>> find_module_files(Path("/nonexistent"))
        []
    """
    names = shadowed_module_names()
    found: list[tuple[str, Issue]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                shown = Path(entry.path).relative_to(folder).as_posix()
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                    if entry.name in names and _is_package(Path(entry.path)):
                        found.append((shown, _module_issue(f"{shown}/ is a package", entry.name)))
                elif entry.is_file(follow_symlinks=False):
                    module = _module_name(entry.name)
                    if entry.name.endswith(".pth"):
                        found.append((shown, Issue("module-file", f"{shown} is a .pth file, which Python runs at "
                                                                  "start-up when it lies in site-packages: "
                                                                  f"{_MODULE_FILE_TAIL}")))
                    elif module in names:
                        found.append((shown, _module_issue(f"{shown} is", module)))
            except OSError:
                continue
    return [issue for _, issue in sorted(found, key=lambda pair: pair[0])]


_MODULE_FILE_TAIL = ("it is never imported outside the sandbox, and inside it shadows the real module in this "
                     "student's kernel only; check why it was submitted")


def _module_issue(what: str, module: str) -> Issue:
    return Issue("module-file", f"{what} named like the module {module!r} that the grader and the kernel "
                                f"import: {_MODULE_FILE_TAIL}")


def _module_name(file_name: str) -> str | None:
    """The module ``import`` would find in a file of this name: ``numpy.py`` and
    ``numpy.cpython-311-x86_64-linux-gnu.so`` are ``numpy``; ``notes.txt`` is none."""
    if file_name.endswith(".py"):
        return file_name[:-3]
    if file_name.endswith(MODULE_SUFFIXES):
        return file_name.split(".", 1)[0]
    return None


def _is_package(folder: Path) -> bool:
    return any((folder / name).is_file() and not (folder / name).is_symlink()
               for name in ("__init__.py", "__init__.pyc"))


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
