"""Fast tests of the grading pieces that need no kernel: pre-flight checks, lint, intake, feedback scan, limits."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlcourse.grading.feedback import HideHiddenTests, feedback_view, leaked_lines, secret_lines, strip_hidden_region
from dlcourse.grading.intake import detect_layout, intake, is_valid_student_id
from dlcourse.grading.journal import folder_digest
from dlcourse.grading.limits import Limits
from dlcourse.grading.lint import lint_test_cells
from dlcourse.grading.metadata import check_metadata
from dlcourse.grading.notebook_file import read_submission
from dlcourse.grading.preflight_check import find_notebook, preflight
from dlcourse.grading.runner import worker_db_url
from dlcourse.grading.sandbox import FILES_DIR, RPC_DIR, WORK_DIR, _parent_folders, bwrap_command, describe_exit
from tests.conftest import ROOT

from .cases import ASSIGNMENT, NOTEBOOK, SOURCE, blank, cell_index, filled

SOURCE_NB = nbformat.read(SOURCE, as_version=4)


def _write(folder: Path, nb_or_bytes, name: str = NOTEBOOK) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = nb_or_bytes if isinstance(nb_or_bytes, bytes) else nbformat.writes(nb_or_bytes).encode()
    (folder / name).write_bytes(data)
    return folder


# ---------------------------------------------------------------- pre-flight (GRADING_THREATS #7-#10, #17-#19)
def test_clean_submission_has_no_issue(tmp_path):
    result = preflight(_write(tmp_path, filled()), ASSIGNMENT, SOURCE_NB)
    assert result.issues == [] and not result.repaired and result.notebook is not None


@pytest.mark.parametrize("data, code, words", [
    (b"", "empty", "empty file (0 bytes)"),
    (b'{"cells": [', "corrupt-json", "not valid JSON (line 1"),
    (b"\xff\xfe\x00", "not-utf8", "not UTF-8"),
    (b'{"hello": 1}', "not-a-notebook", "not a Jupyter notebook"),
    (json.dumps({"nbformat": 3, "cells": [], "worksheets": []}).encode(), "old-format", "nbformat 3; expected 4"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}).encode(),
     "invalid-notebook", "not a valid Jupyter notebook"),
])
def test_unreadable_files_are_fatal_with_a_clear_reason(tmp_path, data, code, words):
    result = preflight(_write(tmp_path, data), ASSIGNMENT, SOURCE_NB)
    assert result.fatal and result.notebook is None
    assert [i.code for i in result.issues] == [code] and words in result.issues[0].message


def test_submission_over_the_size_limit_is_fatal(tmp_path):
    nb, issue = read_submission(_write(tmp_path, b"x" * 2_000_000) / NOTEBOOK, max_mb=1)
    assert nb is None and issue.code == "too-large" and "over the 1 MiB limit" in issue.message


def test_wrong_file_name_is_graded_and_flagged(tmp_path):
    _write(tmp_path, filled(), name="homework.ipynb")
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert not result.fatal and result.found_name == "homework.ipynb"
    assert result.issues[0].message.startswith(f"expected {NOTEBOOK}, got homework.ipynb")


def test_several_wrong_names_or_none_are_fatal(tmp_path):
    _write(tmp_path, filled(), name="a.ipynb")
    _write(tmp_path, filled(), name="b.ipynb")
    assert find_notebook(tmp_path, ASSIGNMENT)[1].message == f"expected {NOTEBOOK}, got a.ipynb, b.ipynb: " \
                                                              "cannot tell which to grade"
    assert find_notebook(tmp_path / "nothing", ASSIGNMENT)[1].fatal


def _meta(nb, grade_id):
    return nb.cells[cell_index(nb, grade_id)].metadata["nbgrader"]


def test_metadata_changes_are_reset_from_the_source():
    nb = filled()
    _meta(nb, "test_gate_weights_visible")["grade"] = False        # 6
    _meta(nb, "test_neuron_visible")["bonus"] = 10                 # 7
    _meta(nb, "test_neuron_hidden")["schema_version"] = 2          # 8
    repaired, issues = check_metadata(nb, SOURCE_NB)
    assert {i.code for i in issues} == {"changed-metadata", "extra-metadata", "schema-version"}
    assert _meta(repaired, "test_gate_weights_visible")["grade"] is True
    assert "bonus" not in _meta(repaired, "test_neuron_visible")
    assert _meta(repaired, "test_neuron_hidden")["schema_version"] == 3
    assert not any(i.fatal for i in issues)


def test_duplicate_and_invented_cells_lose_their_grading_metadata():
    nb = filled()
    index = cell_index(nb, "test_heaviside_visible")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[index])))
    copy["id"] = "copy"
    nb.cells.insert(index + 1, copy)
    invented = nbformat.v4.new_code_cell("print('free')")
    invented.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                     "grade_id": "bonus", "schema_version": 3}
    nb.cells.append(invented)
    repaired, issues = check_metadata(nb, SOURCE_NB)
    assert [i.code for i in issues] == ["duplicate-id", "unknown-cell"]
    assert "nbgrader" not in repaired.cells[index + 1].metadata and "nbgrader" not in repaired.cells[-1].metadata
    assert "pasted copy" in issues[0].message and "invented grade cell" in issues[1].message


def test_cells_out_of_order_are_put_back():
    nb = filled()
    test = nb.cells.pop(cell_index(nb, "test_neuron_visible"))
    nb.cells.insert(cell_index(nb, "neuron"), test)
    repaired, issues = check_metadata(nb, SOURCE_NB)
    assert [i.code for i in issues] == ["cell-order"]
    assert cell_index(repaired, "neuron") < cell_index(repaired, "test_neuron_visible")


def test_changed_cell_types_are_restored_without_a_flag():
    nb = filled()
    test = nb.cells[cell_index(nb, "test_heaviside_visible")]
    test.cell_type = "markdown"
    del test["outputs"], test["execution_count"]
    repaired, issues = check_metadata(nb, SOURCE_NB)
    assert issues == [] and repaired.cells[cell_index(repaired, "test_heaviside_visible")].cell_type == "code"


def test_unreadable_timestamp_is_dropped_and_flagged(tmp_path):
    _write(tmp_path, filled())
    (tmp_path / "timestamp.txt").write_text("next tuesday-ish")
    result = preflight(tmp_path, ASSIGNMENT, SOURCE_NB)
    assert result.drop_timestamp and result.issues[0].code == "timestamp"
    (tmp_path / "timestamp.txt").write_text("2025-03-01 12:00:00")
    assert preflight(tmp_path, ASSIGNMENT, SOURCE_NB).issues == []


# ---------------------------------------------------------------- lint of test cells (GRADING_THREATS #26, #27)
def _source_with_test(code: str) -> nbformat.NotebookNode:
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells[cell_index(nb, "test_heaviside_visible")].source = code
    return nb


def test_lint_accepts_the_course_assignments():
    for path in sorted((ROOT / "solutions").glob("hw*/hw*.ipynb")):
        assert lint_test_cells(nbformat.read(path, as_version=4)) == [], path


@pytest.mark.parametrize("code, shown", [
    ("def f(x):\n    return x * x\nf(2) == 4", "f(2) == 4"),   # 26: "False" counts as full marks
    ("score = heaviside(1.0) * 5\nscore", "score"),          # 27: a number the student controls
])
def test_lint_rejects_a_test_cell_ending_in_an_expression(code, shown):
    problems = lint_test_cells(_source_with_test(code))
    assert len(problems) == 1 and f"`{shown}`" in problems[0] and "test_heaviside_visible" in problems[0]


def test_grade_refuses_an_assignment_whose_test_cell_ends_in_an_expression(tmp_path):
    course = tmp_path / "course"
    (course / "solutions" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(_source_with_test("heaviside(2.0) == 1.0"), str(course / "solutions" / ASSIGNMENT / NOTEBOOK))
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    done = subprocess.run([sys.executable, "-m", "dlcourse", "grade", ASSIGNMENT, "--course", str(course),
                           "--sandbox", "none"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot be graded fairly" in done.stderr and "`heaviside(2.0) == 1.0`" in done.stderr


# ---------------------------------------------------------------- feedback: hidden tests
def test_hidden_region_is_replaced_and_tracebacks_cut():
    hidden = "x = 1\n### BEGIN HIDDEN TESTS\nassert f(9) == 3\n### END HIDDEN TESTS\ny = 2\n"
    source, found = strip_hidden_region(hidden)
    assert found and source == "x = 1\n# (hidden tests: not shown in the feedback)\ny = 2\n"
    nb = nbformat.read(SOURCE, as_version=4)
    cell = nb.cells[cell_index(nb, "test_heaviside_hidden")]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="expected [1.0, 0.0]\n"),
                    nbformat.v4.new_output("error", ename="CheckError", evalue="heaviside at +-1e-300: wrong",
                                           traceback=["assert_equal(heaviside(np.array([1e-300, -1e-300])), ...",
                                                      "CheckError: heaviside at +-1e-300: wrong"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "BEGIN HIDDEN" not in cell.source and "1e-300" not in cell.source
    assert [o["output_type"] for o in cell.outputs] == ["error"]
    assert cell.outputs[0]["traceback"] == ["CheckError: heaviside at +-1e-300: wrong"]


def test_feedback_scan_finds_hidden_lines_in_test_cells_only():  # 40
    secrets = secret_lines(SOURCE_NB)
    assert secrets and not any("BEGIN HIDDEN" in line for line in secrets)
    # What the feedback of a graded notebook shows: the source with its hidden regions cut.
    assert leaked_lines(feedback_view(SOURCE_NB), secrets) == []
    # A hidden line the grader would show (an instructor's test printing its own code) is found ...
    shown = copy.deepcopy(SOURCE_NB)
    hidden_line = sorted(secrets)[0]
    shown.cells[cell_index(shown, "test_heaviside_visible")].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=hidden_line + "\n")]
    assert leaked_lines(feedback_view(shown), secrets) == [hidden_line]
    # ... but the same line in the student's own answer cell is the student's code, not a leak.
    honest = copy.deepcopy(SOURCE_NB)
    honest.cells[cell_index(honest, "heaviside")].source += "\n" + hidden_line + "\n"
    assert leaked_lines(feedback_view(honest), secrets) == []


# ---------------------------------------------------------------- intake
def test_intake_of_the_folders_layout_skips_links_and_bad_ids(tmp_path):
    source, course = tmp_path / "class", tmp_path / "course"
    _write(source / "s1", filled())
    (source / "s1" / "data.csv").write_text("1,2\n")
    (source / "s1" / "shadow").symlink_to("/etc/passwd")
    _write(source / "s2", filled(), name="homework.ipynb")
    _write(source / "bad id", filled())
    result = intake(course, source, [ASSIGNMENT])
    assert result.layout == "folders" and result.students == {ASSIGNMENT: ["s1", "s2"]}
    assert sorted(p.name for p in (course / "submitted" / "s1" / ASSIGNMENT).iterdir()) == ["data.csv", NOTEBOOK]
    assert (course / "submitted" / "s2" / ASSIGNMENT / "homework.ipynb").is_file()
    assert any("'bad id'" in s for s in result.skipped)
    digest = folder_digest(course / "submitted" / "s1" / ASSIGNMENT)
    intake(course, source, [ASSIGNMENT])  # again: nothing changes
    assert folder_digest(course / "submitted" / "s1" / ASSIGNMENT) == digest


def test_intake_of_the_nbgrader_layout(tmp_path):
    source = tmp_path / "submitted_elsewhere"
    _write(source / "s1" / ASSIGNMENT, filled())
    (source / "s1" / ASSIGNMENT / "timestamp.txt").write_text("2025-03-01 12:00:00")
    assert detect_layout(source, [ASSIGNMENT]) == "nbgrader"
    result = intake(tmp_path / "course", source, [ASSIGNMENT])
    assert result.students == {ASSIGNMENT: ["s1"]}
    assert (tmp_path / "course" / "submitted" / "s1" / ASSIGNMENT / "timestamp.txt").is_file()


def test_intake_errors_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a folder of submissions or a .zip export"):
        intake(tmp_path, tmp_path / "missing", [ASSIGNMENT])
    with pytest.raises(ValueError, match="must name the groups"):
        (tmp_path / "x.zip").write_bytes(b"")
        intake(tmp_path, tmp_path / "x.zip", [ASSIGNMENT], zip_pattern=r".*_(?P<sid>\w+)")
    assert is_valid_student_id("s001") and not is_valid_student_id(".hidden") and not is_valid_student_id("a/b")


# ---------------------------------------------------------------- smaller pieces
def test_limits_validate_and_describe():
    with pytest.raises(ValueError, match="cpu_seconds: expected a positive whole number, got 0"):
        Limits(cpu_seconds=0)
    with pytest.raises(ValueError, match="cannot exceed notebook_seconds"):
        Limits(cell_seconds=100, notebook_seconds=50)
    assert Limits().address_space_mb > Limits().memory_mb and "CPU 300 s" in Limits().describe()


def test_exit_statuses_are_explained():
    limits = Limits(cpu_seconds=9)
    assert "CPU time (9 s)" in describe_exit(128 + 24, limits)
    assert "segmentation fault" in describe_exit(139, limits)
    assert "status 3" in describe_exit(3, limits)


def test_bwrap_command_isolates_network_processes_and_files():
    command = bwrap_command("/tmp/files", "/tmp/conn", "/tmp/rpc", Limits(work_mb=100), 62000,
                            ["python", "-m", "ipykernel_launcher"], bwrap="bwrap")
    for option in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert option in command
    binds = {command[i + 2]: command[i + 1] for i, word in enumerate(command) if word in ("--bind", "--ro-bind")}
    assert binds[FILES_DIR] == "/tmp/files" and binds[RPC_DIR] == "/tmp/rpc"
    assert str(ROOT / "solutions") not in binds and str(ROOT) not in binds
    writable = [command[i + 2] for i, word in enumerate(command) if word == "--bind"]
    assert sorted(writable) == sorted([RPC_DIR, "/tmp/conn"])
    # the working copy is a tmpfs of its own size, not a folder of the grading machine
    tmpfs = [(command[i - 1], command[i + 1]) for i, word in enumerate(command) if word == "--tmpfs"]
    assert (str(100 * 2**20), WORK_DIR) in tmpfs
    # both stages run isolated: nothing of a folder the student controls is importable
    inner = command[command.index("--") + 1:]
    assert inner[1:4] == ["-I", "-m", "dlcourse.grading.sandbox"]
    assert _parent_folders(["/usr", "/a/b/c", "/tmp", "/tmp/x"]) == ["/a", "/a/b"]


def test_a_course_cloned_under_tmp_stays_visible_in_the_sandbox(monkeypatch):
    """The private /tmp is mounted before the binds: a virtual environment in /tmp/... is not hidden by it."""
    from dlcourse.grading import sandbox

    monkeypatch.setattr(sandbox, "_readonly_paths", lambda: ["/usr", "/tmp/clone/.venv", "/tmp/clone/course_utils"])
    command = bwrap_command("/tmp/files", "/tmp/conn", "/tmp/rpc", Limits(), 62000, ["python"], bwrap="bwrap")
    tmpfs = command.index("/tmp", command.index("--tmpfs"))
    venv = command.index("/tmp/clone/.venv")
    assert tmpfs < venv, "the /tmp tmpfs must come before the binds under it"
    made = [command[i + 1] for i, word in enumerate(command) if word == "--dir"]
    assert "/tmp/clone" in made and command.index("/tmp/clone") > tmpfs
    assert "/tmp" not in made


def test_worker_db_url_waits_for_a_busy_sqlite_gradebook():
    assert worker_db_url("sqlite:////x/gradebook.db").endswith("?timeout=60")
    assert worker_db_url("sqlite:////x/g.db?timeout=5").endswith("?timeout=5")


def test_blank_student_version_is_the_released_one():
    assert blank().cells[cell_index(blank(), "heaviside")].source.rstrip().endswith("raise NotImplementedError()")
    assert os.path.basename(SOURCE) == NOTEBOOK


def test_kernel_folders_of_killed_runs_are_removed_and_live_ones_kept(tmp_path, monkeypatch):  # 50
    from dlcourse.grading import kernels

    monkeypatch.setattr(kernels, "shared_memory_folder", lambda: str(tmp_path))
    monkeypatch.setattr(kernels.tempfile, "gettempdir", lambda: str(tmp_path))
    dead = tmp_path / f"{kernels.KERNEL_FOLDER}-999999-abc"
    dead.mkdir()
    folder = os.open(dead, os.O_RDONLY)
    for _ in range(1200):  # deeper than shutil.rmtree (or os.makedirs) can go
        os.mkdir("d", dir_fd=folder)
        inner = os.open("d", os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = inner
    os.close(folder)
    live = tmp_path / f"{kernels.EXCHANGE_FOLDER}-{os.getpid()}-xyz"
    live.mkdir()
    assert kernels.cleanup_stale() == [str(dead)]
    assert not dead.exists() and live.exists()
