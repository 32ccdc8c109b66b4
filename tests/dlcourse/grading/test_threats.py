"""Every case of GRADING_THREATS.md (#1-#23, #28-#47) graded in ONE `dlcourse grade --jobs 2` run, per student.

The class is generated from hw03's source and student version (tests/dlcourse/grading/cases): a correct and a
partly correct submission, then one student per threat (several where the catalogue names several ways).
The sandbox cases (#24, #25 and the resource limits) are in test_grading_sandbox.py; the lint cases
(#26, #27) in test_grading_units.py.

The control: the cheats that forge a verdict are graded at the same time by plain nbgrader (its own
``Execute``, one kernel for the student's cells and the tests, as the course's nbgrader_config.py would
without ``SplitExecute``), where they earn points; in the main run they earn none.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest

from dlcourse.grading.feedback import html_text, secret_lines

from .cases import (
    ASSIGNMENT,
    MODULE_FILES,
    NOTEBOOK,
    PARTIAL,
    PARTS,
    SOURCE,
    points,
    threat_cases,
    with_slow_seconds,
    write_class,
)
from .cases.harness import (
    Results,
    grade,
    make_course,
    make_plain_course,
    outputs_text,
    plain_scores,
    start_plain_autograde,
)

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grading_threats")]

CELL_SECONDS, NOTEBOOK_SECONDS, SLOW_SECONDS = 20, 80, 17
"""Limits tighter than the defaults keep the run short, with room for honest work on a loaded machine: five
cells sleeping SLOW_SECONDS each stay under CELL_SECONDS but together pass NOTEBOOK_SECONDS, which leaves
t36-test-kernel-print the time to finish its notebook."""

POINTS = points()
FULL = sum(POINTS.values())
PARTIAL_SCORE = float(json.loads(PARTIAL.read_text())["expected_score"])
MAX_SCORE = FULL + 3  # the free-text question, graded by hand
FLOOD = "a flood"
DID_NOT_ANSWER = "did not answer the tests"


def lost(*parts: str) -> float:
    return FULL - sum(POINTS[grade_id] for part in parts for grade_id in PARTS[part])


ANY = object()
EXPECTED = {  # student: (status, autograded score or None when not graded, words of the reason or None)
    "solution": ("graded", FULL, None),
    "partial": ("graded", PARTIAL_SCORE, None),
    "t01-unanswered": ("graded", 0, None),
    "t02-test-edited": ("graded", lost("gate_weights"), None),
    "t03-test-deleted": ("graded", lost("gate_weights"), None),
    "t03-metadata-removed": ("graded", lost("gate_weights"), None),
    "t04-cell-type": ("graded", FULL, None),
    "t05-points": ("graded", FULL, None),
    "t06-grade-false": ("flagged", lost("gate_weights"), "grade is False, the assignment says True"),
    "t07-extra-key": ("flagged", FULL, "unknown nbgrader metadata 'bonus'"),
    "t07-invented-cell": ("flagged", FULL, "(an invented grade cell): it is not graded"),
    "t08-schema-version": ("flagged", FULL, "schema_version 2, expected 3"),
    "t09-duplicate-id": ("flagged", FULL, "(a pasted copy): only the first is graded"),
    "t10-corrupt-json": ("flagged", None, "is not valid JSON (line"),
    "t10-empty-file": ("flagged", None, "is an empty file (0 bytes)"),
    "t11-infinite-loop": ("flagged", FULL, f"ran over the {CELL_SECONDS} s cell limit and was interrupted"),
    "t12-ignores-interrupt": ("flagged", lost("majority"), "ignored the interrupt; the kernel was stopped"),
    "t12-notebook-limit": ("flagged", ANY, f"used up its {NOTEBOOK_SECONDS} s time limit"),
    "t13-os-exit": ("flagged", lost("majority"), "the kernel exited with status 3"),
    "t13-segfault": ("flagged", lost("majority"), "the kernel crashed (segmentation fault)"),
    "t13-out-of-memory": ("flagged", FULL, "ran out of memory (MemoryError)"),
    "t14-output-flood": ("graded", FULL, None),
    "t15-sys-exit": ("graded", lost("neuron", "majority"), None),  # rows_correct (majority) calls neuron
    "t16-kernelspec": ("graded", FULL, None),
    "t17-test-moved": ("flagged", FULL, "graded cells are out of order"),
    "t18-renamed": ("flagged", FULL, "expected hw03_logic_gates.ipynb, got homework.ipynb"),
    "t19-timestamp": ("flagged", FULL, "timestamp.txt is unreadable"),
    "t20-warnings": ("graded", FULL, None),
    # 21-23: what the cheats change lives in the student's kernel; the tests run in the test kernel.
    "t21-showtraceback": ("graded", 0, None),
    "t22-numpy-any": ("graded", 0, None),
    "t22-math-isclose": ("graded", 0, None),
    "t22-torch-testing": ("graded", 0, None),
    "t22-builtins": ("graded", 0, None),
    "t22-rebound-name": ("graded", 0, None),
    "t22-code-swap": ("graded", 0, None),
    "t23-input-transformer": ("flagged", 0, DID_NOT_ANSWER),
    # 28-47: the red team's cases. A student's course_utils.py shadows the grader's serving code in its own
    # kernel, so that kernel cannot answer the tests (its score is not asserted; the flag and the markers are).
    "t28-module-files": ("flagged", ANY, "named like the module 'course_utils'"),
    "t28-course-utils": ("flagged", ANY, "named like the module 'course_utils'"),
    "t29-session-send": ("graded", 0, None),
    "t30-ast-parse": ("graded", 0, None),
    "t30-ast-transformer": ("graded", 0, None),
    "t30-settrace": ("graded", 0, None),
    "t31-displayhook": ("graded", 0, None),
    "t32-grader-code": ("graded", 0, None),
    "t32-ctypes-float": ("flagged", 0, DID_NOT_ANSWER),  # a float == that is always True breaks its imports
    "t32-builtins-dict": ("graded", 0, None),
    "t33-lying-objects": ("graded", 0, None),
    "t34-star-import": ("graded", FULL, None),
    "t34-own-assert-close": ("graded", FULL, None),
    "t34-helper-rebound": ("graded", 0, None),
    "t35-read-tests": ("graded", 0, None),
    "t36-tracebacks": ("flagged", 0, FLOOD),
    "t36-display-updates": ("flagged", 0, FLOOD),
    "t36-widget-state": ("flagged", 0, FLOOD),
    "t36-metadata": ("flagged", 0, FLOOD),
    "t36-huge-messages": ("flagged", 0, FLOOD),
    # it answers the visible perceptron test (from a table): those 3 points; then it floods the test kernel
    "t36-test-kernel-print": ("flagged", POINTS["test_perceptron_visible"], FLOOD),
    "t37-file-descriptors": ("flagged", 0, "the kernel exited with status 75"),
    "t38-fill-disk": ("graded", 0, None),
    "t38-fork-memory": ("flagged", 0, "memory limit"),
    "t39-nesting-bomb": ("flagged", None, "is nested more than 64 levels deep"),
    "t39-huge-number": ("flagged", None, "holds a number 5000 digits long"),
    "t40-hidden-line": ("graded", FULL, None),
    "t41-never-returns": ("flagged", FULL - POINTS["test_heaviside_hidden"],
                          f"ran over the {CELL_SECONDS} s cell limit and was interrupted"),
    "t42-huge-result": ("graded", FULL - POINTS["test_heaviside_visible"], None),
    "t43-rogue-socket": ("graded", 0, None),  # its connections lack the cell's token: ignored
    "t43-forged-replies": ("graded", 0, None),
    "t44-serve-replaced": ("flagged", 0, DID_NOT_ANSWER),
    "t45-reach-tests": ("graded", FULL, None),
    "t46-memory-pointer": ("graded", 0, None),
    "t47-reseed": ("graded", 0, None),
    "t49-stdin-flood": ("graded", 0, None),
    "t50-connection-folder": ("graded", 0, None),
    "t51-script": ("graded", FULL, None),
    "t52-callback-tracer": ("graded", FULL, None),
    "t53-control-codes": ("flagged", FULL, "expected hw03_logic_gates.ipynb, got"),
}
CONTROL_PAYS = ("t22-numpy-any", "t22-rebound-name", "t22-code-swap", "t23-input-transformer", "t29-session-send",
                "t30-ast-parse", "t30-ast-transformer", "t30-settrace", "t31-displayhook", "t32-grader-code",
                "t33-lying-objects", "t34-helper-rebound")
"""Cheats that forge a verdict: under plain nbgrader (the control) each earns points for work it did not do."""
CONTROL = (*CONTROL_PAYS, "t34-star-import", "t35-read-tests")
"""The control class: the paying cheats, an honest star import (it loses points under plain nbgrader) and the
reader of hidden tests (they leak under plain nbgrader)."""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once, and the control class graded by plain nbgrader at the same time."""
    folder = tmp_path_factory.mktemp("threats")
    markers = Path(tempfile.mkdtemp(prefix="dlcourse-threat-markers-"))  # the grading machine's /tmp
    course, control_course = make_course(folder), make_plain_course(folder / "control")
    cases = with_slow_seconds(threat_cases(markers), SLOW_SECONDS)
    assert sorted(c.student for c in cases) == sorted(EXPECTED), "a case without an expectation, or the reverse"
    write_class(cases, folder / "class")
    control = start_plain_autograde(control_course, {c.student: c.files[NOTEBOOK] for c in cases
                                                     if c.student in CONTROL}, log=folder / "control.log")
    limits = ("--cell-seconds", str(CELL_SECONDS), "--notebook-seconds", str(NOTEBOOK_SECONDS))
    try:
        done = grade(course, "--submissions", str(folder / "class"), "--jobs", "2", *limits)
    finally:
        control.wait(timeout=600)
    run = Results(course, done, f"sqlite:///{course / 'gradebook.db'}")
    run.markers = sorted(p.name for p in markers.rglob("*"))  # type: ignore[attr-defined]
    run.submitted = {c.student: c.files for c in cases}  # type: ignore[attr-defined]
    shutil.rmtree(markers, ignore_errors=True)
    return run, control_course


@pytest.fixture(scope="module")
def run(graded):
    return graded[0]


@pytest.fixture(scope="module")
def control(graded):
    """The control course: the CONTROL students graded by plain nbgrader."""
    return graded[1]


def _cells(run, student: str, *grade_ids: str) -> list[float]:
    scores = run.cell_scores(student)
    return [scores[grade_id] for grade_id in grade_ids]


# ---------------------------------------------------------------- the run, and every case's outcome
def test_run_finishes_with_a_summary_and_a_failing_exit_status(run):
    out = run.done.stdout + run.done.stderr
    assert run.done.returncode == 1, f"flagged students must make the exit status non-zero:\n{out[-3000:]}"
    assert f"{len(EXPECTED)} submission(s)" in run.done.stdout
    statuses = [record["status"] for record in run.records.values()]
    graded, flagged = statuses.count("graded"), statuses.count("flagged")
    assert f"{graded} graded, {flagged} flagged, 0 failed" in run.done.stdout, out[-3000:]
    for student, (status, _, _) in EXPECTED.items():
        line = next((line for line in run.done.stdout.splitlines() if line.strip().startswith(student + " ")), "")
        assert (status if status is not ANY else run.records[student]["status"]) in line, \
            f"the summary table has no {status!r} row for {student}:\n{run.done.stdout}"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_case_gets_the_required_outcome(run, student):
    status, score, reason = EXPECTED[student]
    record = run.records[student]
    assert record["status"] != "failed", f"{student}: the grader failed: {record}"
    if status is not ANY:
        assert record["status"] == status, f"{student}: {record}"
    if score is None:
        assert record["score"] is None and not record["graded"], f"{student} must not be graded: {record}"
    elif score is not ANY:
        assert record["score"] == pytest.approx(score), f"{student}: {record}"
        assert record["max_score"] == pytest.approx(MAX_SCORE), f"{student}: the maximum changed: {record}"
    if reason is None:
        assert record["reasons"] == [], f"{student} was not expected to be flagged: {record}"
    elif reason is not ANY:
        assert any(reason in r for r in record["reasons"]), f"{student}: no reason with {reason!r}: {record}"
    row = run.grades[student]  # everyone is in grades.csv; a student who could not be graded has 0
    assert float(row["score"]) == pytest.approx(record["score"] or 0), f"{student}: grades.csv says {row}"


def test_gradebook_holds_one_submission_per_graded_student(run):
    graded = sorted((ASSIGNMENT, s) for s, r in run.records.items() if r["score"] is not None)
    assert run.submissions() == graded
    assert sorted(run.grades) == sorted(EXPECTED)


# ---------------------------------------------------------------- 1-20
def test_unanswered_tests_fail_with_a_readable_message(run):  # 1
    nb = run.autograded("t01-unanswered")
    for grade_id in POINTS:
        text = outputs_text(nb, grade_id)
        assert "NotImplementedError" in text, f"{grade_id}: {text[:300]}"


def test_edited_deleted_and_stripped_tests_are_restored(run):  # 2, 3
    for student in ("t02-test-edited", "t03-test-deleted", "t03-metadata-removed"):
        assert _cells(run, student, *PARTS["gate_weights"]) == [0, 0], student
        restored = [c for c in run.autograded(student).cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == PARTS["gate_weights"][0]]
        assert restored and "_gate_outputs" in restored[0].source, f"{student}: the test was not restored"


def test_stops_give_zero_to_what_did_not_run(run):  # 12, 13
    for student in ("t12-ignores-interrupt", "t13-os-exit", "t13-segfault"):
        nb = run.autograded(student)
        for grade_id in PARTS["majority"]:
            assert "GraderStopped: not run" in outputs_text(nb, grade_id), student
    assert _cells(run, "t12-notebook-limit", *PARTS["heaviside"]) == [POINTS[g] for g in PARTS["heaviside"]]
    assert _cells(run, "t12-notebook-limit", *PARTS["majority"]) == [0, 0]


def test_output_is_capped_and_feedback_stays_small(run):  # 14
    record = run.records["t14-output-flood"]
    assert any("output capped" in note for note in record["notes"]), record
    assert run.feedback("t14-output-flood").stat().st_size < 1_000_000
    autograded = run.course / "autograded" / "t14-output-flood" / ASSIGNMENT / NOTEBOOK
    assert autograded.stat().st_size < 1_500_000
    assert "the grader dropped the rest of this output" in outputs_text(run.autograded("t14-output-flood"))


def test_sys_exit_costs_only_what_did_not_run_and_reads_clearly(run):  # 15
    assert _cells(run, "t15-sys-exit", *PARTS["heaviside"]) == [POINTS[g] for g in PARTS["heaviside"]]
    assert _cells(run, "t15-sys-exit", *PARTS["neuron"]) == [0, 0]
    page = html_text(run.feedback("t15-sys-exit").read_text())
    assert "SystemExit" in page and "NameError" in page and "neuron" in page


def test_warnings_on_stderr_cost_nothing(run):  # 20
    assert "[stderr]" in outputs_text(run.autograded("t20-warnings"))


# ---------------------------------------------------------------- 21-23, 29-34: cheats on the student's kernel
def test_cheats_on_the_students_kernel_change_no_verdict(run):  # 21, 22, 29-33
    for student in ("t21-showtraceback", "t22-numpy-any", "t22-code-swap", "t29-session-send", "t30-ast-parse",
                    "t30-ast-transformer", "t30-settrace", "t31-displayhook", "t32-grader-code",
                    "t33-lying-objects", "t34-helper-rebound"):
        nb = run.autograded(student)
        for grade_id in POINTS:  # every test ran in the test kernel and failed on the wrong answers
            text = outputs_text(nb, grade_id)
            assert "GraderStopped" not in text and DID_NOT_ANSWER not in text, f"{student}: {grade_id}: {text[:300]}"
            assert "Error" in text, f"{student}: {grade_id} shows no failure: {text[:300]}"
        assert set(run.cell_scores(student).values()) == {0}, student


def test_a_kernel_that_stops_answering_fails_every_test(run):  # 23, 44
    for student in ("t23-input-transformer", "t44-serve-replaced"):
        nb = run.autograded(student)
        texts = [outputs_text(nb, grade_id) for grade_id in POINTS]
        assert DID_NOT_ANSWER in texts[0], f"{student}: {texts[0][:300]}"
        for grade_id, text in zip(POINTS, texts):  # on a loaded machine the notebook's time may run out first
            assert DID_NOT_ANSWER in text or "GraderStopped: not run" in text, f"{student}: {grade_id}: {text[:300]}"
        assert set(run.cell_scores(student).values()) == {0}, student


def test_execute_results_of_the_students_code_never_reach_a_test_cell(run):  # 31
    nb = run.autograded("t31-displayhook")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            kinds = {output.get("output_type") for output in cell.get("outputs", [])}
            assert kinds <= {"stream", "error"}, f"{cell.metadata['nbgrader']['grade_id']}: {kinds}"


def test_cheats_pay_under_plain_nbgrader(control):  # the control: the cheats are real
    scores = plain_scores(control)
    assert sorted(scores) == sorted(CONTROL), scores
    for student in CONTROL_PAYS:
        assert scores[student] > 0, f"{student} earns nothing even under plain nbgrader: {scores}"
    for student in ("t23-input-transformer", "t29-session-send", "t30-ast-parse", "t30-ast-transformer"):
        assert scores[student] == FULL, f"{student} under plain nbgrader: {scores[student]}"
    assert scores["t34-star-import"] < FULL, "an honest star import should cost points under plain nbgrader"
    leaked = _leaks(control / "autograded" / "t35-read-tests" / ASSIGNMENT / NOTEBOOK, None, set())
    assert leaked, "under plain nbgrader t35-read-tests should print hidden tests (base64): the probe is broken"


# ---------------------------------------------------------------- 28: files named like modules
def test_module_files_are_never_imported_outside_the_sandbox(run):  # 28
    assert run.markers == [], f"a module-named file of a submission ran on the grading machine: {run.markers}"
    reasons = " | ".join(run.records["t28-module-files"]["reasons"])
    for name in MODULE_FILES:
        shown = name.replace("/__init__.py", "/")
        assert shown in reasons, f"{shown} was not flagged: {reasons}"
    assert ".pth file" in reasons and "named like the module 'numpy'" in reasons
    assert "named like the module 'sitecustomize'" in reasons and "named like the module 'nbgrader'" in reasons


# ---------------------------------------------------------------- 34, 40: honest work keeps its marks
def test_honest_habits_keep_full_marks(run):  # 34, 40
    for student in ("t34-star-import", "t34-own-assert-close", "t40-hidden-line", "t45-reach-tests"):
        assert run.cell_scores(student) == {**POINTS, "xor_explanation": 0.0}, student
        assert run.records[student]["feedback"] and run.feedback(student).is_file(), student


# ---------------------------------------------------------------- 35, 40: hidden tests never leak
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _normal(text: str) -> str:
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in _ANSI.sub("", text).splitlines())


def _decoded(text: str) -> str:
    """``text`` and every base64-looking token in it decoded."""
    parts = [text]
    for token in _BASE64.findall(text):
        try:
            parts.append(base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return "\n".join(parts)


def _leaks(path: Path, page: Path | None, own: set[str]) -> list[str]:
    """Hidden-test lines in the outputs of an autograded notebook or in a feedback page (decoded), minus ``own``.

    The tracebacks of the test kernel in the autograded notebook's test cells are left out: they are the
    grader's own (the instructor's copy); the feedback page cuts them to their last line.
    """
    texts = []
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        test_cell = cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)
        for output in cell.get("outputs", []):
            texts += [str(output.get("text", "")), str(output.get("evalue", ""))]
            if not test_cell:
                texts += [str(line) for line in output.get("traceback", [])]
            texts += [value for value in output.get("data", {}).values() if isinstance(value, str)]
    if page is not None:
        texts.append(html_text(page.read_text()))
    shown = _normal(_decoded("\n".join(texts)))
    return sorted(line for line in _SECRETS - own if line in shown)


_SECRETS = secret_lines(nbformat.read(SOURCE, as_version=4))


def _code(data: bytes) -> str:
    """The text of a submitted file: a notebook's cell sources, or the file itself."""
    try:
        return "\n".join(cell.source for cell in nbformat.reads(data.decode(), as_version=4).cells)
    except Exception:  # not a notebook (or a broken one)
        return data.decode("utf-8", "replace")


def test_hidden_tests_never_leak_not_even_encoded(run):  # 35, 40
    assert len(_SECRETS) > 20
    pages = 0
    for student in EXPECTED:
        path = run.course / "autograded" / student / ASSIGNMENT / NOTEBOOK
        if not path.is_file():
            continue
        own = {line for data in run.submitted[student].values() for line in _normal(_code(data)).splitlines()}
        page = run.feedback(student) if run.feedback(student).is_file() else None
        pages += page is not None
        leaked = _leaks(path, page, own)
        assert not leaked, f"{student}: hidden test lines shown: {leaked[:3]}"
    assert pages >= len(EXPECTED) - 6
    assert "B64 " in outputs_text(run.autograded("t35-read-tests")), "t35-read-tests printed nothing"


def test_feedback_never_shows_hidden_tests_or_solutions(run):
    source = nbformat.read(SOURCE, as_version=4)
    solution = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) >= 16:
                solution.add(line.strip())
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "markdown":
            solution.update(line.strip() for line in cell.source.splitlines() if len(line.strip()) >= 16)
    released = {line.strip() for c in nbformat.read(run.course / "submitted" / "t01-unanswered" / ASSIGNMENT /
                                                      NOTEBOOK, as_version=4).cells for line in c.source.splitlines()}
    solution -= released
    assert solution
    for student in EXPECTED:
        page = run.feedback(student)
        if page.is_file():
            assert "BEGIN HIDDEN TESTS" not in page.read_text(), student
    for student in ("t01-unanswered", "t21-showtraceback", "t22-numpy-any", "t23-input-transformer",
                    "t35-read-tests", "t43-forged-replies"):
        text = {line.strip() for line in html_text(run.feedback(student).read_text()).splitlines()}
        assert not solution & text, f"{student}'s feedback shows the solution: {sorted(solution & text)[:3]}"
    partial = html_text(run.feedback("partial").read_text())
    assert "hidden tests: not shown in the feedback" in partial and "CheckError" in partial


# ---------------------------------------------------------------- 36: floods
def test_floods_stay_out_of_the_notebook_and_the_feedback(run):  # 36
    for student in ("t14-output-flood", "t36-tracebacks", "t36-display-updates", "t36-widget-state", "t36-metadata",
                    "t36-huge-messages", "t36-test-kernel-print"):
        autograded = run.course / "autograded" / student / ASSIGNMENT / NOTEBOOK
        assert autograded.stat().st_size < 3 * 2**20, f"{student}: {autograded.stat().st_size} bytes"
        assert run.feedback(student).stat().st_size < 3 * 2**20, student


def test_a_flood_of_the_test_kernel_earns_nothing_after_it(run):  # 36
    after = (*PARTS["perceptron_train"][1:], *PARTS["majority"])
    scores = run.cell_scores("t36-test-kernel-print")
    assert [scores[g] for g in after] == [0] * len(after), \
        f"tests after the test kernel's 24 MiB print scored without an answer: {scores}"
    nb = run.autograded("t36-test-kernel-print")
    for grade_id in after:
        text = outputs_text(nb, grade_id)
        assert "Error" in text or "GraderStopped" in text, f"{grade_id} has no failure in its outputs"


# ---------------------------------------------------------------- 37, 38: the grading machine's resources
FD_TARGETS = ("/dev/null", "pipe:[", "socket:[", "anon_inode:[")


def test_inherited_file_descriptors_reach_nothing_of_the_grader(run):  # 37
    out = outputs_text(run.autograded("t37-file-descriptors"))
    targets = dict(line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("FD "))
    assert targets, out[:2000]
    assert targets["0"] == "/dev/null" and targets["1"].startswith("pipe:[") and targets["2"].startswith("pipe:[")
    odd = {fd: target for fd, target in targets.items() if not target.startswith(FD_TARGETS)}
    assert odd == {}, f"the kernel holds files of the grading machine: {odd}"
    logs = sorted((run.course / ".dlcourse-grade" / "logs").glob("*.log"))
    assert logs, "no worker logs"
    for log in logs:
        assert "FORGED-BY-STUDENT" not in log.read_text(errors="replace"), f"{log.name} was written by a student"


def test_text_a_kernel_writes_never_becomes_the_graders_word(run):  # 37
    record = run.records["t37-file-descriptors"]
    forged = [reason for reason in record["reasons"] if "FORGED-BY-STUDENT" in reason]
    assert forged == [], f"a flag quotes what the student's code wrote to stderr as the sandbox's words: {forged}"
    assert "FORGED-BY-STUDENT" not in run.done.stdout + run.done.stderr, "the summary quotes the student's words"


def test_disk_and_memory_are_the_sandboxs_not_the_machines(run):  # 38
    out = outputs_text(run.autograded("t38-fill-disk"))
    for folder in (".", "/tmp"):
        line = next((line for line in out.splitlines() if line.startswith(f"BLOCKED disk {folder} ")), "")
        assert "ENOSPC" in line, out
        size = int(line.rsplit("holds", 1)[1].split()[0])
        assert size <= 256, f"{folder} is on a {size} MiB file system: not the sandbox's own tmpfs"
    assert not [p for p in run.course.rglob("fill-*.bin")], "the student's files reached the course folder"
    out = outputs_text(run.autograded("t38-fork-memory"))
    assert "MemoryError" not in out.split("CHILDREN")[-1], f"a child hit the per-process limit instead: {out}"
    assert "CHILDREN" not in out or "signal 9" in out.split("CHILDREN")[-1], out


# ---------------------------------------------------------------- 39, 41-47
def test_a_function_that_never_returns_fails_only_its_test(run):  # 41
    scores = run.cell_scores("t41-never-returns")
    assert scores["test_heaviside_hidden"] == 0
    assert all(scores[g] == POINTS[g] for g in POINTS if g != "test_heaviside_hidden"), scores


def test_a_result_too_large_fails_only_its_test(run):  # 42
    scores = run.cell_scores("t42-huge-result")
    assert scores["test_heaviside_visible"] == 0
    assert all(scores[g] == POINTS[g] for g in POINTS if g != "test_heaviside_visible"), scores
    assert "StudentCodeError" in outputs_text(run.autograded("t42-huge-result"), "test_heaviside_visible")


def test_forged_messages_fail_the_call_and_the_test_kernel_lives_on(run):  # 43, 45
    for student in ("t43-rogue-socket", "t43-forged-replies", "t45-reach-tests"):
        reasons = " | ".join(run.records[student]["reasons"])
        assert "test kernel" not in reasons and "kernel-died" not in reasons, f"{student}: {reasons}"
    text = outputs_text(run.autograded("t43-forged-replies"))
    assert "StudentCodeError" in text and "malformed" in text, text[:2000]


def test_the_students_kernel_cannot_reach_the_test_kernel(run):  # 45
    out = outputs_text(run.autograded("t45-reach-tests"))
    assert "RPC unlisted PermissionError" in out or "RPC ['socket']" in out, out[:3000]
    assert "SKIPPED signals" not in out, out[:3000]
    processes = {line.split()[1] for line in out.splitlines() if line.startswith("PROC ")}
    assert len(processes) <= 3, f"the student's kernel sees {sorted(processes)}: {out[:3000]}"
    assert "KILL -1" in out and "SOCKET" in out
    own = out.split("OWN ")[1].split()[0] + "/"  # the folder of its own kernel's sockets
    connected = [line.split()[-1] for line in out.splitlines() if line.startswith("SOCKET connected")]
    assert all(path.startswith(own) for path in connected), f"it reached sockets not its own kernel's: {connected}"


# ---------------------------------------------------------------- 49-53: found in the red team's later rounds
def test_channels_the_grader_does_not_read_cannot_fill_its_memory(run):  # 49
    assert "SENT stdin and control floods" in outputs_text(run.autograded("t49-stdin-flood"))
    peak = run.records["t49-stdin-flood"]["grader_peak_mib"]
    assert peak < 1024, f"the grading worker grew to {peak:.0f} MiB while a kernel flooded unread channels"


def test_the_kernels_connection_folder_is_closed_to_it_and_removed(run):  # 50
    out = outputs_text(run.autograded("t50-connection-folder"))
    assert "ALLOWED" not in out and out.count("BLOCKED") == 3, out[:2000]
    folder = next(line.split()[1] for line in out.splitlines() if line.startswith("CONN "))
    assert folder.startswith("/dev/shm/") and not Path(folder).exists(), f"{folder} was left behind"


def test_no_script_a_submission_wrote_reaches_a_page(run):  # 51, 54
    page = run.feedback("t51-script").read_text()
    nb = run.autograded("t51-script")  # what its viewers render: markdown, raw cells, outputs (code is shown as text)
    rendered = [cell.source for cell in nb.cells if cell.cell_type in ("markdown", "raw")]
    rendered += [json.dumps(output) for cell in nb.cells for output in cell.get("outputs", [])]
    live_handler = re.compile(r"<[a-zA-Z][^<>]*\sonerror\s*=", re.IGNORECASE)  # an attribute of a real tag
    script_link = re.compile(r"""(?:(?:href|src)\s*=\s*["']?|\]\()\s*(?:files/)?"""  # #54: in a page or the markdown
                             r"""(?:javascript:|vbscript:|data:(?!image/(?:png|jpeg);base64,))""", re.IGNORECASE)
    for text in (page, "\n".join(rendered)):
        assert "<script>alert('t51" not in text, "a submission's <script> is live in a page or the notebook"
        assert not live_handler.search(text), f"an event handler is live: {live_handler.search(text)}"
        assert not script_link.search(html.unescape(text)), f"a script link is live: {script_link.search(text)}"
    assert "my notes" in page and "bold" in page  # the text is kept, as text


def test_a_written_answer_that_waits_for_a_person_says_so(run):
    """nbgrader shows an answer no one has graded yet as "0.0 / 3.0"; the page and the summary say it waits."""
    answered = html_text(run.feedback("t51-script").read_text())
    assert "3 points are still to be graded by hand" in answered and "not graded yet" in answered
    assert any("3 points to grade by hand" in note for note in run.records["t51-script"]["notes"])
    blank = html_text(run.feedback("t34-star-import").read_text())  # an unchanged answer cell: an automatic 0
    assert "still to be graded by hand" not in blank and "not graded yet" not in blank


def test_a_tests_callback_never_runs_on_a_students_object(run):  # 52
    out = outputs_text(run.autograded("t52-callback-tracer"))
    assert "REFUSED" in out and "ACCEPTED" not in out, out[:2000]
    # What the test's function would do to it (X.sum(...), X[:, -1], a call) never happens; only the student's
    # own process looks at it (NumPy probing for __array_struct__ while the student's code handles it).
    traced = {line.split()[1] for line in out.splitlines() if line.startswith("TRACED ")}
    assert all(name.startswith("__") for name in traced), f"the test's function used the tracer: {traced}"


def test_control_codes_never_reach_the_terminal(run):  # 53
    assert "\x1b" not in run.done.stdout + run.done.stderr, "control codes of a file name reached the terminal"
    assert "\\x1b]0;t53-title" in run.done.stdout
