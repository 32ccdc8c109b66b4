"""Crafted submissions of hw03_logic_gates: one student per case of /work/shared/GRADING_THREATS.md and per
sandbox property, generated from the assignment's source and student version so that they follow hw03.

``python -m tests.grading_cases DEST`` writes the class of threat cases (the README's example run):
one folder per student, ``DEST/<student>/hw03_logic_gates.ipynb`` (the "folders" layout).

Each case is a :class:`Case`: a student id, the threat it stands for, what it does, and its files.
What each case must get is asserted in tests/test_grading_threats.py and tests/test_grading_sandbox.py.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "hw03_logic_gates"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
STUDENT_VERSION = ROOT / "assignments" / ASSIGNMENT / NOTEBOOK
PARTIAL = ROOT / "tests" / "partial_submissions" / f"{ASSIGNMENT}.json"

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
    raise KeyError(f"{ASSIGNMENT} has no cell with grade_id {grade_id!r}: update tests/grading_cases")


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
def threat_cases() -> list[Case]:
    """Baselines and GRADING_THREATS #1-#23 (the sandbox cases #24 and #25 are in :func:`sandbox_cases`)."""
    answers = correct_answers()
    cases = [
        _notebook_case("solution", "baseline", "every answer right", filled()),
        _notebook_case("partial", "baseline", "tests/partial_submissions/hw03_logic_gates.json",
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
    return cases


def with_slow_seconds(cases: list[Case], seconds: int) -> list[Case]:
    """Put the per-cell sleep of ``t12-notebook-limit`` (under the cell limit of the run)."""
    for case in cases:
        for name, data in case.files.items():
            case.files[name] = data.replace(b"SLOW_SECONDS", str(seconds).encode())
    return cases


# ---------------------------------------------------------------- sandbox properties (#24, #25 among them)
def _probe(code: str) -> str:
    return code.strip("\n") + "\n"


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
        _notebook_case("sbx-processes", "sandbox: processes", "forks 500 processes",
                       filled(_append("heaviside", processes, answers))),
        _notebook_case("sbx-file-size", "sandbox: output size", "writes a 64 MiB file",
                       filled(_append("heaviside", file_size, answers))),
    ]


def write_class(cases: list[Case], dest: Path) -> Path:
    """Write the cases in the "folders" layout: ``dest/<student>/<file>``."""
    for case in cases:
        folder = dest / case.student
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in case.files.items():
            (folder / name).write_bytes(data)
    return dest
