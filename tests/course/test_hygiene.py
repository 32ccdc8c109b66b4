"""What can be checked without running anything: notebook format, structure, nbgrader metadata, lint."""

import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from course_utils import colab
from dlcourse.cells import bare_final_expression, cell_role, grade_id, is_answer_cell, nbgrader_meta
from dlcourse.layout import SETUP_CELL_INDEX
from tests.conftest import ASSIGNMENT_IDS, LECTURES, ROOT, SOLUTIONS, STUDENT_VERSIONS, rel

ALL = LECTURES + SOLUTIONS + STUDENT_VERSIONS


def _read(path):
    return nbformat.read(path, as_version=4)


def _published_path(path):
    """The path students open: a solution's student version, otherwise the notebook itself."""
    if path.is_relative_to(ROOT / "solutions"):
        return f"assignments/{path.parent.name}/{path.name}"
    return rel(path)


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_valid_clean_python3(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {index} is stored with outputs"


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_opens_with_title_badge_and_setup(path):
    cells = _read(path).cells
    title, learn, setup = cells[0], cells[1], cells[SETUP_CELL_INDEX]
    assert title.cell_type == "markdown" and title.source.startswith("# "), "cell 1 must be the '# title'"
    assert colab.colab_badge(_published_path(path)) in title.source, "cell 1 must hold the Colab badge of this notebook"
    assert learn.cell_type == "markdown" and learn.source.count("\n- ") >= 2, "cell 2 lists what you will learn/do"
    assert setup.cell_type == "code" and setup.source == colab.setup_cell_source(), \
        "cell 3 must be the setup cell: run `dlcourse sync-setup`"


@pytest.mark.parametrize("path", LECTURES, ids=rel)
def test_lecture_structure(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)
    text = "\n".join(cell.source for cell in _read(path).cells)
    assert re.search(r"^(?!plt\.|fig\.)\w+\.show\(\)$", text, re.M), \
        "every lecture shows at least one widget with `widget.show()` (the live widget and its static picture)"
    assert re.search(r"^#+ .*Glossary", text, re.M), "a lecture ends with an English/Russian glossary"
    assert re.search(r"Your turn", text), "a lecture has 'your turn' exercises"
    assert re.search(r"^#+ .*Summary", text, re.M) and re.search(r"^#+ .*Further reading", text, re.M)


@pytest.mark.parametrize("path", SOLUTIONS, ids=rel)
def test_assignment_metadata(path):
    assert path.name == f"{path.parent.name}.ipynb" and re.fullmatch(r"hw\d\d_[a-z0-9_]+", path.parent.name)
    cells = _read(path).cells
    ids = [grade_id(c) for c in cells if nbgrader_meta(c)]
    assert None not in ids, "every nbgrader cell needs a grade_id (a string)"
    assert len(ids) == len(set(ids)), "grade_id values must be unique"
    visible = hidden = free_text = 0
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        where = f"cell {index} ({grade_id(cell)})"
        assert meta.get("schema_version") == 3, where
        if meta.get("grade"):
            assert float(meta.get("points", 0)) > 0, f"{where}: every graded cell needs points"
        if is_answer_cell(cell):
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, where
        if cell_role(cell) == "test":
            assert cell.cell_type == "code" and meta.get("locked"), f"{where}: test cells are locked code cells"
            assert bare_final_expression(cell.source) is None, \
                f"{where}: a test cell must not end in a bare expression (nbgrader reads it as partial credit)"
            if "### BEGIN HIDDEN TESTS" in cell.source:
                hidden += 1
            else:
                visible += 1
        if cell_role(cell) == "free-text":
            assert cell.cell_type == "markdown", f"{where}: free-text answers are markdown cells"
            free_text += 1
    assert 4 <= visible <= 8 and 4 <= hidden <= 8, f"4-8 parts with visible and hidden tests (got {visible}, {hidden})"
    assert free_text >= 1, "at least one free-text question graded by hand"


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_partial_submission_names_answer_cells(assignment):
    spec = json.loads((ROOT / "tests" / "course" / "partial_submissions" / f"{assignment}.json").read_text())
    assert set(spec) == {"answers", "expected_score", "why"}
    cells = _read(ROOT / "solutions" / assignment / f"{assignment}.ipynb").cells
    answer_ids = {grade_id(c) for c in cells if is_answer_cell(c)}
    assert spec["answers"] and set(spec["answers"]) <= answer_ids


def test_lint_rejects_bare_final_expression():
    """The rule test_assignment_metadata applies (and the grader's lint): a test cell's last value is no score."""
    assert bare_final_expression("x = f(2)\nf(2) == 4") == "f(2) == 4"
    assert bare_final_expression("score") == "score"
    assert bare_final_expression("student_function(3)") == "student_function(3)"
    assert bare_final_expression("assert f(2) == 4, 'f(2) should be 4'") is None
    assert bare_final_expression("assert_close(f(2), 4, 'f(2)')") is None
    assert bare_final_expression("result = f(2)") is None


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_imports_without_torch():
    code = "import sys, course_utils; course_utils.make_xor(4); assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_readme_links_every_lecture_and_assignment():
    readme = (ROOT / "README.md").read_text()
    for path in LECTURES + STUDENT_VERSIONS:
        assert f"]({rel(path)})" in readme, f"README's lecture table must link {rel(path)}"
        assert colab.colab_url(rel(path)) in readme, f"README's lecture table needs the Colab link of {rel(path)}"
    for link in re.findall(r"\]\(((?:notebooks|assignments)/[^)]+\.ipynb)\)", readme):
        assert (ROOT / link).is_file(), f"README links {link}, which does not exist"
