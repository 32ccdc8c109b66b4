"""Every case of GRADING_THREATS.md (#1-#23) graded in ONE `dlcourse grade --jobs 2` run, asserted per student.

The class is generated from hw03's source and student version (tests/grading_cases): a correct and a
partly correct submission, then one student per threat. The sandbox cases (#24, #25 and the resource
limits) are in test_grading_sandbox.py; the lint cases (#26, #27) in test_grading_units.py.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from course_utils.grading.worker import html_text

from .grading_cases import (
    ASSIGNMENT,
    PARTIAL,
    PARTS,
    SOURCE,
    points,
    threat_cases,
    with_slow_seconds,
    write_class,
)
from .grading_cases.harness import Results, grade, make_course, outputs_text, start_grade

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grading_threats")]

CELL_SECONDS, NOTEBOOK_SECONDS, SLOW_SECONDS = 20, 60, 13
"""Limits tighter than the defaults keep the run short, with room for honest work on a loaded machine; five
cells sleeping SLOW_SECONDS each stay under CELL_SECONDS but together pass NOTEBOOK_SECONDS."""

POINTS = points()
FULL = sum(POINTS.values())
PARTIAL_SCORE = float(json.loads(PARTIAL.read_text())["expected_score"])
MAX_SCORE = FULL + 3  # the free-text question, graded by hand


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
    "t21-showtraceback": ("flagged", 0, "get_ipython().showtraceback was replaced"),
    "t22-numpy-any": ("flagged", 0, "numpy.any was replaced"),
    "t22-math-isclose": ("flagged", 0, "math.isclose was replaced"),
    "t22-torch-testing": ("flagged", 0, "torch.testing.assert_close was replaced"),
    "t22-builtins": ("flagged", 0, "builtins.abs was replaced"),
    "t22-rebound-name": ("flagged", 0, "name 'assert_equal' no longer refers to course_utils.checks.assert_equal"),
    "t22-code-swap": ("flagged", 0, "course_utils.checks.assert_equal was replaced or its code changed"),
    "t23-input-transformer": ("flagged", 0, "input_transformers_cleanup were changed"),
}
CHEATS_THAT_PAY = ("t22-numpy-any", "t22-rebound-name", "t22-code-swap", "t23-input-transformer")
"""Cheats that earn points when nothing checks for them (the control run proves it)."""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once, and the paying cheats graded at the same time with --no-guard (the control)."""
    folder = tmp_path_factory.mktemp("threats")
    course, control_course = make_course(folder), make_course(folder / "control")
    cases = with_slow_seconds(threat_cases(), SLOW_SECONDS)
    assert sorted(c.student for c in cases) == sorted(EXPECTED), "a case without an expectation, or the reverse"
    write_class(cases, folder / "class")
    write_class([c for c in cases if c.student in CHEATS_THAT_PAY], folder / "control_class")
    limits = ("--cell-seconds", str(CELL_SECONDS), "--notebook-seconds", str(NOTEBOOK_SECONDS))
    control = start_grade(control_course, "--submissions", str(folder / "control_class"), "--no-guard", *limits,
                          log=folder / "control.log")
    try:
        done = grade(course, "--submissions", str(folder / "class"), "--jobs", "2", *limits)
    finally:
        control.wait(timeout=600)
    return (Results(course, done, f"sqlite:///{course / 'gradebook.db'}"),
            Results(control_course, None, f"sqlite:///{control_course / 'gradebook.db'}"))


@pytest.fixture(scope="module")
def run(graded):
    return graded[0]


@pytest.fixture(scope="module")
def control(graded):
    """The paying cheats graded with --no-guard, as plain nbgrader would: they earn points."""
    return graded[1]


def test_run_finishes_with_a_summary_and_a_failing_exit_status(run):
    out = run.done.stdout + run.done.stderr
    assert run.done.returncode == 1, f"flagged students must make the exit status non-zero:\n{out[-3000:]}"
    assert f"{len(EXPECTED)} submission(s)" in run.done.stdout
    flagged = sum(status == "flagged" for status, _, _ in EXPECTED.values())
    assert f"{len(EXPECTED) - flagged} graded, {flagged} flagged, 0 failed" in run.done.stdout, out[-3000:]
    for student, (status, _, _) in EXPECTED.items():
        line = next((line for line in run.done.stdout.splitlines() if line.strip().startswith(student + " ")), "")
        assert status in line, f"the summary table has no {status!r} row for {student}:\n{run.done.stdout}"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_case_gets_the_required_outcome(run, student):
    status, score, reason = EXPECTED[student]
    record = run.records[student]
    assert record["status"] == status, f"{student}: {record}"
    if score is None:
        assert record["score"] is None and not record["graded"], f"{student} must not be graded: {record}"
    elif score is not ANY:
        assert record["score"] == pytest.approx(score), f"{student}: {record}"
        assert record["max_score"] == pytest.approx(MAX_SCORE), f"{student}: the maximum changed: {record}"
    if reason:
        assert any(reason in r for r in record["reasons"]), f"{student}: no reason with {reason!r}: {record}"
    else:
        assert record["reasons"] == [], f"{student} was not expected to be flagged: {record}"
    row = run.grades[student]  # everyone is in grades.csv; a student who could not be graded has 0
    assert float(row["score"]) == pytest.approx(record["score"] or 0), f"{student}: grades.csv says {row}"


def test_gradebook_holds_one_submission_per_graded_student(run):
    graded = sorted((ASSIGNMENT, s) for s, (_, score, _) in EXPECTED.items() if score is not None)
    assert run.submissions() == graded
    assert sorted(run.grades) == sorted(EXPECTED)


def test_unanswered_tests_fail_with_a_readable_message(run):  # 1
    nb = run.autograded("t01-unanswered")
    for grade_id in POINTS:
        text = outputs_text(nb, grade_id)
        assert "NotImplementedError" in text, f"{grade_id}: {text[:300]}"


def test_edited_deleted_and_stripped_tests_are_restored(run):  # 2, 3
    for student in ("t02-test-edited", "t03-test-deleted", "t03-metadata-removed"):
        scores = run.cell_scores(student)
        assert [scores[g] for g in PARTS["gate_weights"]] == [0, 0], student
        restored = [c for c in run.autograded(student).cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == PARTS["gate_weights"][0]]
        assert restored and "_gate_outputs" in restored[0].source, f"{student}: the test was not restored"


def test_stops_give_zero_to_what_did_not_run(run):  # 12, 13
    for student in ("t12-ignores-interrupt", "t13-os-exit", "t13-segfault"):
        nb = run.autograded(student)
        for grade_id in PARTS["majority"]:
            assert "GraderStopped: not run" in outputs_text(nb, grade_id), student
    scores = run.cell_scores("t12-notebook-limit")
    assert [scores[g] for g in PARTS["heaviside"]] == [POINTS[g] for g in PARTS["heaviside"]]
    assert [scores[g] for g in PARTS["majority"]] == [0, 0]


def test_output_is_capped_and_feedback_stays_small(run):  # 14
    record = run.records["t14-output-flood"]
    assert any("output capped" in note for note in record["notes"]), record
    assert run.feedback("t14-output-flood").stat().st_size < 1_000_000
    autograded = run.course / "autograded" / "t14-output-flood" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert autograded.stat().st_size < 1_500_000
    assert "the grader dropped the rest of this output" in outputs_text(run.autograded("t14-output-flood"))


def test_sys_exit_costs_only_what_did_not_run_and_reads_clearly(run):  # 15
    scores = run.cell_scores("t15-sys-exit")
    assert [scores[g] for g in PARTS["heaviside"]] == [POINTS[g] for g in PARTS["heaviside"]]
    assert [scores[g] for g in PARTS["neuron"]] == [0, 0]
    page = html_text(run.feedback("t15-sys-exit").read_text())
    assert "SystemExit" in page and "NameError" in page and "neuron" in page


def test_warnings_on_stderr_cost_nothing(run):  # 20
    assert "[stderr]" in outputs_text(run.autograded("t20-warnings"))


def test_cheats_stop_the_grading_where_they_happen(run):  # 21-23
    for student in ("t21-showtraceback", "t22-numpy-any", "t23-input-transformer"):
        nb = run.autograded(student)
        for grade_id in POINTS:
            assert "GraderStopped: not run" in outputs_text(nb, grade_id), f"{student}: {grade_id} ran"
        assert all(score == 0 for score in run.cell_scores(student).values())


def test_cheats_would_pay_without_the_guard(control):  # 22, 23: the control shows the guard is what stops them
    for student in CHEATS_THAT_PAY:
        record = control.records[student]
        assert record["status"] == "graded" and record["score"] > 0, f"{student} without the guard: {record}"
    assert control.records["t23-input-transformer"]["score"] == FULL  # nbgrader alone: full marks, no work


def test_feedback_never_shows_hidden_tests_or_solutions(run):
    source = nbformat.read(SOURCE, as_version=4)
    hidden, solution = set(), set()
    for cell in source.cells:
        region = None
        for line in cell.source.splitlines():
            if "### BEGIN HIDDEN TESTS" in line or "### BEGIN SOLUTION" in line:
                region = hidden if "HIDDEN" in line else solution
            elif "### END" in line:
                region = None
            elif region is not None and len(line.strip()) >= 16:
                region.add(line.strip())
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "markdown":
            solution.update(line.strip() for line in cell.source.splitlines() if len(line.strip()) >= 16)
    released = {line.strip() for c in nbformat.read(run.course / "submitted" / "t01-unanswered" / ASSIGNMENT /
                                                      f"{ASSIGNMENT}.ipynb", as_version=4).cells
                for line in c.source.splitlines()}
    hidden -= released
    solution -= released
    assert hidden and solution
    pages = {s: run.feedback(s) for s in EXPECTED if run.feedback(s).is_file()}
    assert len(pages) >= len(EXPECTED) - 2
    for student, page in pages.items():
        text = {line.strip() for line in html_text(page.read_text()).splitlines()}
        assert not hidden & text, f"{student}'s feedback shows hidden tests: {sorted(hidden & text)[:3]}"
        assert "BEGIN HIDDEN TESTS" not in page.read_text()
    for student in ("t01-unanswered", "t21-showtraceback", "t22-numpy-any", "t23-input-transformer"):
        text = {line.strip() for line in html_text(pages[student].read_text()).splitlines()}
        assert not solution & text, f"{student}'s feedback shows the solution: {sorted(solution & text)[:3]}"
    partial = html_text(pages["partial"].read_text())
    assert "hidden tests: not shown in the feedback" in partial and "CheckError" in partial
