"""assignments/ is exactly what `dlcourse release` makes from solutions/."""

import json

import pytest

from dlcourse.release import release_assignments
from tests.conftest import ASSIGNMENT_IDS, ROOT


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    release_assignments(ROOT, output=out)
    return out


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_committed_student_version_is_current(fresh_release, assignment):
    committed, regenerated = ROOT / "assignments" / assignment, fresh_release / assignment
    assert committed.is_dir(), f"assignments/{assignment} is missing: run `dlcourse release {assignment}`"
    assert _files(committed) == _files(regenerated)
    for name in _files(regenerated):
        if name.endswith(".ipynb"):
            old = json.loads((committed / name).read_text())
            new = json.loads((regenerated / name).read_text())
            assert old == new, f"assignments/{assignment}/{name} is stale: run `dlcourse release {assignment}`"
        else:
            assert (committed / name).read_bytes() == (regenerated / name).read_bytes()


def test_no_orphan_student_versions():
    released = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    assert released == ASSIGNMENT_IDS


@pytest.mark.parametrize("assignment", ASSIGNMENT_IDS)
def test_student_version_hides_solutions_and_hidden_tests(fresh_release, assignment):
    text = (fresh_release / assignment / f"{assignment}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text


def test_unknown_assignment_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown assignment"):
        release_assignments(ROOT, ["hw99_nothing"], output=tmp_path)
