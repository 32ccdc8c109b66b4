"""The dlcourse command: doctor, check, sync-setup (release is covered in test_release.py)."""

import subprocess
import sys

import nbformat
import pytest

from course_utils import colab
from dlcourse import cli
from dlcourse.execution import execute_notebook
from dlcourse.layout import find_notebooks


def _notebook(path, *sources, metadata=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if metadata and index in metadata:
            cell.metadata["nbgrader"] = metadata[index]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_doctor_reports_and_exits_zero(capsys, monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    for row in ("Python", "torch", "numpy", "device", "MNIST", "ipywidgets", "nbgrader"):
        assert row in out
    assert "The course can run here." in out


def test_doctor_fails_on_a_bad_device(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "gpu")
    assert cli.main(["doctor"]) == 1
    assert "cannot run here" in capsys.readouterr().out


def test_python_dash_m_is_the_same_command():
    done = subprocess.run([sys.executable, "-m", "dlcourse", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "doctor" in done.stdout and "release" in done.stdout


def test_students_doctor_is_python_dash_m_course_utils():
    done = subprocess.run([sys.executable, "-m", "course_utils"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ipywidgets" in done.stdout and "The course can run here." in done.stdout
    assert "nbgrader" not in done.stdout  # the instructor's tools are not the student's concern


def test_check_passes_and_fails_with_a_table(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = _notebook(tmp_path / "good.ipynb", "x = 1 + 1", "print(x)")
    bad = _notebook(tmp_path / "bad.ipynb", "1 / 0", "print('still runs')")
    noisy = _notebook(tmp_path / "noisy.ipynb", "import warnings; warnings.warn('careless warning')")
    assert cli.main(["check", str(good)]) == 0
    assert "good.ipynb" in capsys.readouterr().out
    assert cli.main(["check", str(good), str(bad), str(noisy)]) == 1
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "careless warning" in out
    assert "3 notebook(s)" in out and "2 failed" in out


def test_check_rejects_missing_paths(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.ipynb")]) == 2
    assert "expected a .ipynb file" in capsys.readouterr().err


def test_student_version_may_fail_only_with_not_implemented(tmp_path):
    answer = {"solution": True, "grade": False, "grade_id": "answer", "locked": False, "schema_version": 3}
    test = {"solution": False, "grade": True, "grade_id": "test", "points": 1, "locked": True, "schema_version": 3}
    path = _notebook(tmp_path / "assignments" / "hw" / "hw.ipynb",
                     "def f():\n    raise NotImplementedError()", "f()", "g = 1",
                     metadata={0: answer, 1: test})
    result = execute_notebook(path)
    assert result.student_version and result.ok and result.status == "ok (1 unanswered)"
    broken = _notebook(tmp_path / "assignments" / "hw2" / "hw2.ipynb", "raise NotImplementedError()")
    assert not execute_notebook(broken).ok  # not an answer or test cell


def test_check_catches_a_hang(tmp_path):
    path = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(30)")
    result = execute_notebook(path, time_limit=3)
    assert not result.ok and "longer than 3 s" in result.crash


def test_find_notebooks_skips_checkpoints(tmp_path):
    _notebook(tmp_path / "a.ipynb", "1")
    _notebook(tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb", "1")
    assert [p.name for p in find_notebooks([tmp_path])] == ["a.ipynb"]


def test_sync_setup_rewrites_only_stale_setup_cells(tmp_path, monkeypatch, capsys):
    (tmp_path / "nbgrader_config.py").write_text("")
    stale = tmp_path / "notebooks" / "01.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_markdown_cell("learn"),
                nbformat.v4.new_code_cell("old setup")]
    stale.parent.mkdir()
    nbformat.write(nb, str(stale))
    (tmp_path / "solutions").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sync-setup"]) == 0
    assert nbformat.read(stale, as_version=4).cells[2].source == colab.setup_cell_source()
    assert cli.main(["sync-setup"]) == 0
    assert "every setup cell is current" in capsys.readouterr().out


def test_commands_outside_a_course_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="no course found"):
        cli.main(["release"])


def test_dead_kernel_is_reported(tmp_path):
    path = _notebook(tmp_path / "dies.ipynb", "import os\nos._exit(3)", "print('never')")
    result = execute_notebook(path, time_limit=30)
    assert not result.ok and "kernel died" in result.crash
