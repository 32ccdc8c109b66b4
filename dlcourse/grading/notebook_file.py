"""Reading a submitted notebook file that nobody trusts: :func:`read_submission`.

A submission is bytes a student controls (GRADING_THREATS #7-10). Before nbformat or nbgrader sees
them, they are checked in the order that keeps each step safe: the size (at most
:data:`~dlcourse.grading.limits.SUBMISSION_MB`), UTF-8 text without NUL bytes or a byte-order mark, lists
and objects nested at most :data:`MAX_DEPTH` levels (counted on the raw bytes, so that no file can exhaust
the parser's recursion), then the JSON itself with no repeated keys, no number longer than
:data:`MAX_NUMBER_LENGTH` characters or beyond a float, no lone UTF-16 surrogate, and last nbformat's
version 4 schema. Whatever is wrong becomes one fatal :class:`~dlcourse.grading.issues.Issue` that says
what, and where; no bytes make :func:`read_submission` raise.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "hw.ipynb"
    ...     _ = path.write_text('{"cells": [], "nbformat": 4, "nbformat": 4}')
    ...     read_submission(path)[1].code
    'duplicate-key'
"""

from __future__ import annotations

import json
import math
import re
import uuid
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbformat.validator import iter_validate

from dlcourse.grading.issues import Issue, first_line, one_of, place, short, value_kind
from dlcourse.grading.limits import SUBMISSION_MB

MAX_DEPTH = 64
"""How deep lists and objects may nest in a submitted notebook (real ones nest fewer than 20 levels).

Checked on the raw bytes before the JSON is parsed, so that no file can exhaust the parser's recursion,
whatever the interpreter's recursion limit."""

MAX_NUMBER_LENGTH = 100
"""Longest number, in characters, a submitted notebook may hold (real ones hold counts and sizes)."""

CELL_TYPES = ("code", "markdown", "raw")
OUTPUT_TYPES = ("execute_result", "display_data", "stream", "error")

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
            raise _Unreadable("not-utf8", f"holds the escape \\u{ord(char):04x} in {place(path)}: half of a "
                                          "UTF-16 surrogate pair without its other half, which is no character "
                                          "and cannot be written as UTF-8; the file is damaged or crafted")
    if not isinstance(data, dict) or "cells" not in data or "nbformat" not in data:
        raise _Unreadable("not-a-notebook", "is JSON but not a Jupyter notebook (expected an object with 'cells' "
                                            "and 'nbformat')")
    if type(data["nbformat"]) is not int or data["nbformat"] != 4:
        raise _Unreadable("old-format", f"has nbformat {short(data['nbformat'])}; expected 4 (save it with "
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
                raise _Unreadable("duplicate-key", f"has the key {short(key)} twice in one object: JSON readers "
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
                                              f"{value_kind(minor)}; expected a whole number such as "
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
                                              f"it ({type(failure).__name__}: {first_line(failure)})") from None
    if error is not None:
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: {_describe(error)}")
    try:
        return nbformat.v4.to_notebook(data)
    except (RecursionError, MemoryError):
        raise
    except Exception as failure:  # a notebook from a future nbformat 4.x, whose unknown cells the schema lets by
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: nbformat cannot read it "
                                              f"({type(failure).__name__}: {first_line(failure)})") from None


def _check_type_names(cell: dict[str, Any], index: int) -> None:
    """Raise :class:`_Unreadable` when a ``cell_type`` or ``output_type`` is not a string (nbformat's schema
    messages would fail on it with a TypeError)."""
    if not isinstance(cell.get("cell_type", ""), str):
        raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: {place(('cells', index))} has "
                                              f"the cell_type {value_kind(cell['cell_type'])}; expected "
                                              f"{one_of(CELL_TYPES)}")
    outputs = cell.get("outputs")
    for number, output in enumerate(outputs if isinstance(outputs, list) else []):
        if isinstance(output, dict) and not isinstance(output.get("output_type", ""), str):
            raise _Unreadable("invalid-notebook", f"is not a valid Jupyter notebook: "
                                                  f"{place(('cells', index, 'outputs', number))} has the "
                                                  f"output_type {value_kind(output['output_type'])}; expected "
                                                  f"{one_of(OUTPUT_TYPES)}")


def _describe(error: Any) -> str:
    """A sentence for nbformat's first schema error: where in the notebook, what is there, what was expected."""
    path = list(getattr(error, "relative_path", None) or [])
    where = place(path)
    validator = getattr(error, "validator", None)
    expected = getattr(error, "validator_value", None)
    instance = getattr(error, "instance", None)
    if validator == "required" and isinstance(instance, dict) and isinstance(expected, list):
        missing = [key for key in expected if key not in instance]
        return f"{where} has no {one_of(missing)}"
    if validator in ("oneOf", "anyOf") and isinstance(instance, dict) and len(path) >= 2:
        field_name, known = {"cells": ("cell_type", CELL_TYPES), "outputs": ("output_type", OUTPUT_TYPES)}.get(
            str(path[-2]), (None, ()))
        if field_name and field_name not in instance:
            return f"{where} has no {field_name!r}"
        if field_name and instance[field_name] not in known:
            return f"{where} has the unknown {field_name} {short(instance[field_name])}; expected {one_of(known)}"
    if validator in ("type", "oneOf", "anyOf"):
        return f"{where} is {value_kind(instance)}; expected {_expected(expected)}"
    if validator == "additionalProperties":
        extra = re.search(r"\((.*) (?:was|were) unexpected\)", str(getattr(error, "message", "")))
        if extra:
            return f"{where} has {extra.group(1)[:200]}, which the notebook format does not allow there"
    if validator == "enum" and isinstance(expected, list):
        return f"{where} is {short(instance)}; expected {one_of(expected)}"
    if validator == "pattern":
        return f"{where} is {short(instance)}, which does not match the pattern {expected}"
    return f"{where}: {first_line(getattr(error, 'message', error))}"


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
