"""Pre-flight on malformed submissions: any bytes give issues with a reason, never an exception out of
``preflight``; and files named like the modules the grader imports are flagged (not rejected).

What correct looks like: each malformed file below is exactly ONE fatal issue, with a code and the words
that tell the instructor what is wrong; 300 random mutations of a real submission each preflight in under
a second, cleanly or with issues, and none of them needs the catch-all "unreadable".
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import nbformat
import pytest

from dlcourse.grading import notebook_file, preflight_check
from dlcourse.grading.issues import Issue
from dlcourse.grading.metadata import check_metadata
from dlcourse.grading.module_names import find_module_files, shadowed_module_names
from dlcourse.grading.notebook_file import MAX_DEPTH, read_submission
from dlcourse.grading.preflight_check import check_timestamp, preflight

from .cases import ASSIGNMENT, NOTEBOOK, SOURCE, blank, cell_index, filled

SOURCE_NB = nbformat.read(SOURCE, as_version=4)


def _write(folder: Path, data: bytes | nbformat.NotebookNode, name: str = NOTEBOOK) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else nbformat.writes(data).encode())
    return folder


@cache
def _submission() -> str:
    """A real submission: hw03's student version with every answer filled in, as nbformat writes it."""
    return nbformat.writes(filled())


def _data() -> dict:
    return json.loads(_submission())


def _index(cell_type: str) -> int:
    return next(i for i, cell in enumerate(_data()["cells"]) if cell["cell_type"] == cell_type)


def _edited(edit: Callable[[dict], object]) -> bytes:
    """The submission with ``edit`` applied to its JSON."""
    data = _data()
    edit(data)
    return json.dumps(data).encode()


def _cell(kind: str, **fields) -> bytes:
    """The submission with fields of its first cell of type ``kind`` replaced (``None`` deletes a field)."""
    def edit(data: dict) -> None:
        cell = data["cells"][_index(kind)]
        for key, value in fields.items():
            if value is None:
                del cell[key]
            else:
                cell[key] = value
    return _edited(edit)


def _nested(depth: int) -> str:
    """JSON of ``depth`` objects inside each other."""
    return '{"a": ' * depth + "1" + "}" * depth


CODE = _index("code") + 1    # the cell numbers messages use
MARKDOWN = _index("markdown") + 1
NOT_VALID = "is not a valid Jupyter notebook:"

MALFORMED = [  # (id, make the file's bytes, expected code, words the message must hold)
    ("nesting-bomb", lambda: b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b', "nbformat": 4}', "too-deep",
     ["nested more than 64 levels deep"]),
    ("object-bomb", lambda: _nested(100_000).encode(), "too-deep", ["nested more than 64 levels deep"]),
    ("unclosed-bomb", lambda: b"[" * 100_000, "too-deep", ["nested more than 64 levels deep"]),
    ("deep-metadata", lambda: _edited(lambda d: d.update(metadata=json.loads(_nested(MAX_DEPTH)))), "too-deep",
     ["nested more than 64 levels deep"]),
    ("float-overflow", lambda: _cell("code", execution_count=1).replace(b'"execution_count": 1',
                                                                         b'"execution_count": 1e999999', 1),
     "bad-number", ["holds the number 1e999999, too large for a float"]),
    ("negative-overflow", lambda: _edited(lambda d: d.update(nbformat_minor=5)).replace(
        b'"nbformat_minor": 5', b'"nbformat_minor": -1e400', 1), "bad-number", ["-1e400", "too large for a float"]),
    ("nan", lambda: _edited(lambda d: d["metadata"].update(x=float("nan"))), "bad-number",
     ["holds NaN, which is not a number JSON allows"]),
    ("infinity", lambda: _edited(lambda d: d["metadata"].update(x=float("-inf"))), "bad-number",
     ["holds -Infinity"]),
    ("huge-integer", lambda: b'{"cells": [], "nbformat": 4, "x": 1' + b"0" * 100_000 + b"}", "bad-number",
     ["a number 100001 digits long"]),
    ("over-int-string-limit", lambda: b'{"cells": [], "nbformat": ' + b"4" * 5000 + b"}", "bad-number",
     ["5000 digits long"]),
    ("lone-surrogate", lambda: _cell("code", source="x = '\ud800'"), "not-utf8",
     ["\\ud800", f"cell {CODE}'s source", "cannot be written as UTF-8"]),
    ("lone-surrogate-key", lambda: _edited(lambda d: d["metadata"].update({"\udc00": 1})), "not-utf8",
     ["\\udc00", "the notebook's metadata"]),
    ("encoded-surrogate", lambda: b'{"cells": ["\xed\xa0\x80"], "nbformat": 4}', "not-utf8", ["not UTF-8 text"]),
    ("nul-byte", lambda: _submission().encode().replace(b'"cells"', b'"cells"\x00', 1), "not-utf8",
     ["is not UTF-8 text: it holds a NUL byte (byte 10)", "binary files"]),
    ("utf-16", lambda: _submission().encode("utf-16-le"), "not-utf8",
     ["not UTF-8 text", "NUL byte (byte 1)", "UTF-16"]),
    ("utf-16-bom", lambda: _submission().encode("utf-16"), "not-utf8", ["not UTF-8 text", "UTF-16"]),
    ("utf-8-bom", lambda: b"\xef\xbb\xbf" + _submission().encode(), "corrupt-json", ["byte-order mark (BOM)"]),
    ("latin-1", lambda: b'{"cells": [], "nbformat": 4, "title": "caf\xe9"}', "not-utf8", ["not UTF-8 text (byte 42)"]),
    ("truncated", lambda: _submission().encode()[:-200], "corrupt-json", ["is not valid JSON (line"]),
    ("trailing-data", lambda: _submission().encode() + b"}", "corrupt-json", ["Extra data"]),
    ("duplicate-key", lambda: _submission().replace('{\n "cells"', '{"nbformat": 3, "cells"', 1).encode(),
     "duplicate-key", ["the key 'nbformat' twice"]),
    ("duplicate-key-in-cell", lambda: _cell("code", metadata={}).replace(b'"metadata": {}',
                                                                         b'"metadata": {}, "metadata": {}', 1),
     "duplicate-key", ["'metadata' twice"]),
    ("top-level-list", lambda: b"[1, 2, 3]", "not-a-notebook", ["not a Jupyter notebook"]),
    ("top-level-string", lambda: b'"cells nbformat"', "not-a-notebook", ["not a Jupyter notebook"]),
    ("nbformat-float", lambda: _edited(lambda d: d.update(nbformat=4.0)), "old-format", ["nbformat 4.0; expected 4"]),
    ("nbformat-string", lambda: _edited(lambda d: d.update(nbformat="4")), "old-format", ["nbformat '4'"]),
    ("nbformat-minor-string", lambda: _edited(lambda d: d.update(nbformat_minor="5")), "invalid-notebook",
     [NOT_VALID, "nbformat_minor is a string"]),
    ("nbformat-minor-negative", lambda: _edited(lambda d: d.update(nbformat_minor=-1)), "invalid-notebook",
     ["nbformat_minor is the number -1"]),
    ("no-metadata", lambda: _edited(lambda d: d.pop("metadata")), "invalid-notebook",
     [NOT_VALID, "the notebook has no 'metadata'"]),
    ("cells-object", lambda: _edited(lambda d: d.update(cells={"0": d["cells"][0]})), "invalid-notebook",
     ["the notebook's cells is an object; expected a list"]),
    ("cell-not-object", lambda: _edited(lambda d: d["cells"].insert(2, [1])), "invalid-notebook",
     ["cell 3 is a list whose item 1 is the number 1; expected an object"]),
    ("cell-without-source", lambda: _cell("code", source=None), "invalid-notebook",
     [NOT_VALID, f"cell {CODE} has no 'source'"]),
    ("source-number", lambda: _cell("code", source=5), "invalid-notebook",
     [f"cell {CODE}'s source is the number 5; expected a string or a list of strings"]),
    ("source-list-of-numbers", lambda: _cell("code", source=["x = 1\n", 2]), "invalid-notebook",
     [f"cell {CODE}'s source is a list whose item 2 is the number 2"]),
    ("metadata-list", lambda: _cell("code", metadata=[]), "invalid-notebook",
     [f"cell {CODE}'s metadata is an empty list; expected an object"]),
    ("cell-type-unknown", lambda: _cell("code", cell_type="python"), "invalid-notebook",
     ["unknown cell_type 'python'; expected 'code', 'markdown' or 'raw'"]),
    ("cell-type-number", lambda: _cell("code", cell_type=3), "invalid-notebook", ["cell_type the number 3"]),
    ("outputs-object", lambda: _cell("code", outputs={}), "invalid-notebook",
     [f"cell {CODE}'s outputs is an object; expected a list"]),
    ("outputs-nested-lists", lambda: _cell("code", outputs=[[[[]]]] * 1000), "invalid-notebook",
     [f"cell {CODE}'s outputs[0] is a list"]),
    ("output-type-unknown", lambda: _cell("code", outputs=[{"output_type": "virus"}]), "invalid-notebook",
     ["unknown output_type 'virus'"]),
    ("output-type-list", lambda: _cell("code", outputs=[{"output_type": ["stream"]}]), "invalid-notebook",
     ["output_type a list"]),
    ("stream-text-object", lambda: _cell("code", outputs=[{"output_type": "stream", "name": "stdout",
                                                           "text": {"a": 1}}]), "invalid-notebook",
     [f"cell {CODE}'s outputs[0].text is an object"]),
    ("execution-count-string", lambda: _cell("code", execution_count="1"), "invalid-notebook",
     ["execution_count is a string; expected a whole number or null"]),
    ("attachment-number", lambda: _cell("markdown", attachments={"a.png": {"image/png": 5}}), "invalid-notebook",
     [f"cell {MARKDOWN}'s attachments['a.png']['image/png'] is the number 5"]),
    ("attachments-on-code", lambda: _cell("code", attachments={}), "invalid-notebook",
     ["'attachments', which the notebook format does not allow"]),
    ("cell-id-pattern", lambda: _cell("code", id="a b"), "invalid-notebook", ["id is 'a b', which does not match"]),
    ("cell-id-list", lambda: _cell("code", id=["a"]), "invalid-notebook", ["id is a list"]),
    ("digits-19-mib-one-line", lambda: b"1" * (19 * 2**20), "bad-number", ["19922944 digits long"]),
    ("brackets-19-mib-one-line", lambda: b"[" * (19 * 2**20), "too-deep", ["nested more than 64 levels"]),
]


@pytest.mark.parametrize("make, code, words", [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_notebook_is_one_fatal_issue_never_an_exception(tmp_path, make, code, words):
    result = preflight(_write(tmp_path, make()), ASSIGNMENT, SOURCE_NB)  # raising here fails the test
    assert result.fatal and result.notebook is None and not result.repaired
    assert [issue.code for issue in result.issues] == [code], result.issues
    message = result.issues[0].message
    assert message.startswith(f"{NOTEBOOK} ")
    assert [word for word in words if word not in message] == [], message
    message.encode("utf-8")  # printable wherever the reasons go


def test_the_depth_limit_is_exact_and_ignores_brackets_in_strings(tmp_path):
    deepest = _edited(lambda d: d.update(metadata=json.loads(_nested(MAX_DEPTH - 1))))  # + the notebook itself
    assert preflight(_write(tmp_path, deepest), ASSIGNMENT, SOURCE_NB).issues == []
    tricky = '\\"[[[[\\\\' * 100 + "{" * 100  # escaped quotes and backslashes, brackets: all inside a string
    assert preflight(_write(tmp_path, _cell("markdown", source=tricky)), ASSIGNMENT, SOURCE_NB).issues == []


def test_the_depth_limit_does_not_depend_on_the_recursion_limit(tmp_path):
    path = _write(tmp_path, _nested(1000).encode()) / NOTEBOOK  # json.loads alone would read it at this limit
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        nb, issue = read_submission(path)
    finally:
        sys.setrecursionlimit(limit)
    assert nb is None and issue.code == "too-deep" and "more than 64 levels" in issue.message


def test_a_19_mib_single_line_notebook_is_read(tmp_path):
    def big_output(data: dict) -> None:
        data["cells"][_index("code")]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                                     "text": "0123456789abcdef" * (19 * 2**16)}]
    data = _edited(big_output)
    assert b"\n" not in data and len(data) > 19 * 2**20
    started = time.perf_counter()
    result = preflight(_write(tmp_path, data), ASSIGNMENT, SOURCE_NB)
    assert result.issues == [] and result.notebook is not None
    assert time.perf_counter() - started < 5


def test_unforeseen_errors_become_the_fatal_issue_unreadable(tmp_path, monkeypatch):
    _write(tmp_path, filled())

    def broken(*args):
        raise KeyError("grade")

    monkeypatch.setattr(preflight_check, "check_metadata", broken)
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert [i.code for i in result.issues] == ["unreadable"] and result.fatal and result.notebook is None
    assert "KeyError in broken" in result.issues[0].message and "look at the submission by hand" in \
        result.issues[0].message


def test_a_failing_module_scan_is_the_fatal_issue_unreadable(tmp_path, monkeypatch):
    _write(tmp_path, filled())
    monkeypatch.setattr(preflight_check, "find_module_files", lambda folder: [][1])
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert [i.code for i in result.issues] == ["unreadable"] and result.notebook is None
    assert "IndexError" in result.issues[0].message


@pytest.mark.parametrize("error, code, words", [
    (MemoryError(), "too-large", "more memory to be read than the grader has"),
    (RecursionError(), "too-deep", "nested too deeply to be read"),
])
def test_memory_and_recursion_errors_while_reading_are_fatal_issues(tmp_path, monkeypatch, error, code, words):
    def parse(raw: bytes):
        raise error

    monkeypatch.setattr(notebook_file, "_parse_notebook_json", parse)
    nb, issue = read_submission(_write(tmp_path, filled()) / NOTEBOOK)
    assert nb is None and issue.fatal and issue.code == code and words in issue.message


# ---------------------------------------------------------------- nbgrader metadata nbformat accepts
def _grade_meta(grade_id: str = "test_heaviside_visible", **fields) -> bytes:
    nb = filled()
    nb.cells[cell_index(nb, grade_id)].metadata["nbgrader"].update(fields)
    return nbformat.writes(nb).encode()


@pytest.mark.parametrize("make, code, words", [
    pytest.param(lambda: _grade_meta(grade=1), "changed-metadata", "grade is 1, the assignment says True",
                 id="grade-one"),
    pytest.param(lambda: _grade_meta(locked="yes"), "changed-metadata", "locked is 'yes', the assignment says True",
                 id="locked-string"),
    pytest.param(lambda: _grade_meta(points="many"), "changed-metadata", "points is 'many'", id="points-string"),
    pytest.param(lambda: _grade_meta(points=-5), "changed-metadata", "points is -5", id="points-negative"),
    pytest.param(lambda: _cell("code", metadata={"nbgrader": "grade me"}), "bad-metadata",
                 "nbgrader metadata is not an object", id="nbgrader-string"),
    pytest.param(lambda: _cell("code", metadata={"nbgrader": {"grade_id": ["x"], "grade": True}}), "unknown-cell",
                 "for ['x']", id="grade-id-list"),
])
def test_nbgrader_metadata_of_the_wrong_type_is_repaired_and_flagged(tmp_path, make, code, words):
    result = preflight(_write(tmp_path, make()), ASSIGNMENT, SOURCE_NB)
    assert not result.fatal and result.repaired and result.notebook is not None
    assert [i.code for i in result.issues] == [code] and words in result.issues[0].message
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(result.notebook)  # what is written back passes nbgrader's own check


@pytest.mark.parametrize("fields, words", [
    ({"checksum": 5}, "'s nbgrader checksum: 5 is not of type 'string'"),
    ({"task": True}, ": Task cells have to be markdown"),
    ({"cell_type": "sql"}, "'s nbgrader cell_type: 'sql' is not one of"),
])
def test_nbgrader_metadata_nbgrader_rejects_is_one_fatal_issue(tmp_path, fields, words):
    where = f"cell {cell_index(filled(), 'test_heaviside_visible') + 1}"
    result = preflight(_write(tmp_path, _grade_meta(**fields)), ASSIGNMENT, SOURCE_NB)
    assert result.fatal and result.notebook is None
    assert [i.code for i in result.issues] == ["invalid-metadata"]
    assert f"still invalid after repair: {where}{words}" in result.issues[0].message


def test_check_metadata_tolerates_metadata_that_is_not_an_object():
    nb = blank()  # as no notebook read_submission accepts has it, but check_metadata is public
    nb.cells[0]["metadata"] = ["not", "an", "object"]
    nb.cells[1]["metadata"] = {"nbgrader": ["a", "list"]}
    repaired, issues = check_metadata(nb, SOURCE_NB)
    assert [i.code for i in issues] == ["bad-metadata"] and repaired.cells[0]["metadata"] == ["not", "an", "object"]


# ---------------------------------------------------------------- timestamp.txt
@pytest.mark.parametrize("data", [b"\xff\xfe\x00garbage", b"2025-03-01" * 1_000_000, b"\x00" * 100])
def test_any_timestamp_file_is_a_flag_not_a_failure(tmp_path, data):
    (tmp_path / "timestamp.txt").write_bytes(data)
    issue = check_timestamp(tmp_path)
    assert issue.code == "timestamp" and "timestamp.txt is unreadable" in issue.message and len(issue.message) < 400


def test_a_timestamp_folder_is_ignored(tmp_path):
    (tmp_path / "timestamp.txt").mkdir()
    assert check_timestamp(tmp_path) is None


# ---------------------------------------------------------------- random damage to a real submission
def _random_value(rng: random.Random) -> object:
    return rng.choice([None, True, 0, -1, 2**62, 1.5e308, "", "x" * 1000, "\x00", "\u2028", [], {}, [[[]]],
                       {"cell_type": "code"}, {"output_type": "stream"}, ["a", 1], {"nbgrader": "x"},
                       {"grade_id": "test_neuron_visible", "grade": True}])


def _nodes(value: object, path: tuple = ()) -> list[tuple]:
    """Every (container, key) pair in ``value``, to edit one at random."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        found.append((value, key))
        found += _nodes(item, (*path, key))
    return found


def _structure_edit(rng: random.Random) -> bytes:
    data = _data()
    container, key = rng.choice(_nodes(data))
    action = rng.choice(["replace", "delete", "duplicate", "retype"])
    if action == "replace":
        container[key] = _random_value(rng)
    elif action == "delete":
        del container[key]
    elif action == "duplicate" and isinstance(container, list):
        container.insert(key, json.loads(json.dumps(container[key])))
    elif action == "duplicate":
        container[f"{key}_copy"] = container[key]
    else:
        value = container[key]
        container[key] = [value] if rng.random() < 0.5 else {"value": value}
    return json.dumps(data, indent=rng.choice([None, 1])).encode()


def _byte_edit(rng: random.Random) -> bytes:
    raw = bytearray(_submission().encode())
    for _ in range(rng.randint(1, 4)):
        start = rng.randrange(len(raw))
        end = min(len(raw), start + rng.choice([1, 2, 8, 64, 4096]))
        action = rng.choice(["delete", "duplicate", "flip", "insert"])
        if action == "delete":
            del raw[start:end]
        elif action == "duplicate":
            raw[start:start] = raw[start:end]
        elif action == "flip":
            raw[start:end] = bytes(b ^ rng.randrange(1, 256) for b in raw[start:end])
        else:
            raw[start:start] = rng.choice([b"[", b"]", b"{", b'"', b"\\", b"\\ud800", b"1e999", b"\x00", b"\xc3",
                                           b'"cells": [],', b"NaN", rng.randbytes(end - start)])
    return bytes(raw)


@cache
def _mutations() -> list[bytes]:
    rng = random.Random(0)
    return [_byte_edit(rng) if rng.random() < 0.5 else _structure_edit(rng) for _ in range(300)]


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """One preflight first: the first of a process imports nbgrader and lists the installed modules."""
    preflight(_write(tmp_path_factory.mktemp("warm"), filled()), ASSIGNMENT, SOURCE_NB)


@pytest.mark.parametrize("number", range(300))
def test_random_damage_is_read_or_flagged_within_a_second(tmp_path, warm, number):
    data = _mutations()[number]
    started = time.perf_counter()
    result = preflight(_write(tmp_path, data), ASSIGNMENT, SOURCE_NB)
    seconds = time.perf_counter() - started
    assert seconds < 1, f"mutation {number} took {seconds:.2f} s"
    assert all(isinstance(issue, Issue) and issue.message for issue in result.issues)
    assert not [issue for issue in result.issues if issue.code == "unreadable"], result.issues  # no catch-all
    assert (result.notebook is None) == result.fatal
    if result.notebook is not None and result.repaired:
        nbformat.writes(result.notebook).encode("utf-8")  # what the worker writes back


# ---------------------------------------------------------------- files named like modules
@pytest.mark.parametrize("relative, shown, words", [
    ("course_utils.py", "course_utils.py", "named like the module 'course_utils'"),
    ("numpy.py", "numpy.py", "named like the module 'numpy'"),
    ("torch/__init__.py", "torch/", "is a package named like the module 'torch'"),
    ("sitecustomize.py", "sitecustomize.py", "named like the module 'sitecustomize'"),
    ("x.pth", "x.pth", "is a .pth file"),
    ("sub/json.py", "sub/json.py", "named like the module 'json'"),
    ("helpers/deep/nbgrader.pyc", "helpers/deep/nbgrader.pyc", "the module 'nbgrader'"),
    ("_ctypes.cpython-311-x86_64-linux-gnu.so", "_ctypes.cpython-311-x86_64-linux-gnu.so", "the module '_ctypes'"),
])
def test_a_file_named_like_a_module_is_flagged_not_rejected(tmp_path, relative, shown, words):
    _write(tmp_path, filled())
    (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relative).write_text("raise SystemExit('imported')\n")
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert not result.fatal and result.notebook is not None
    assert [i.code for i in result.issues] == ["module-file"]
    message = result.issues[0].message
    assert message.startswith(f"{shown} ") and words in message and "check why it was submitted" in message


@pytest.mark.parametrize("relative", ["my_utils.py", "data.csv", "numpy.txt", "numpy.old.py", "numpy/weights.csv",
                                      "__pycache__/my_utils.cpython-311.pyc", "notes/readme.md"])
def test_a_harmless_file_is_not_flagged(tmp_path, relative):
    _write(tmp_path, filled())
    (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relative).write_text("x = 1\n")
    assert preflight(tmp_path, ASSIGNMENT, SOURCE_NB).issues == []


def test_symbolic_links_are_skipped(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "helper.py").write_text("x = 1\n")
    (tmp_path / "numpy.py").symlink_to(tmp_path / "real" / "helper.py")
    (tmp_path / "torch").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real" / "__init__.py").write_text("")
    assert find_module_files(tmp_path) == []


def test_module_files_come_after_a_fatal_issue_in_path_order(tmp_path):
    _write(tmp_path, b"")
    for name in ("zz/os.py", "numpy.py", "a.pth"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert [i.code for i in result.issues] == ["empty", "module-file", "module-file", "module-file"]
    assert [i.message.split(" ")[0] for i in result.issues[1:]] == ["a.pth", "numpy.py", "zz/os.py"]


def test_a_folder_name_that_is_not_utf8_gives_a_printable_message(tmp_path):
    folder = os.fsencode(tmp_path) + b"/\xff"
    try:
        os.mkdir(folder)
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    Path(os.fsdecode(folder), "numpy.py").write_text("")
    _write(tmp_path, filled())
    [issue] = preflight(tmp_path, ASSIGNMENT, SOURCE_NB).issues
    assert issue.code == "module-file" and issue.message.encode("utf-8")


def test_the_module_names_are_computed_once():
    assert shadowed_module_names() is shadowed_module_names()
    assert {"json", "numpy", "torch", "nbformat", "course_utils", "dlcourse", "usercustomize"} <= \
        shadowed_module_names()
    assert "my_utils" not in shadowed_module_names()
