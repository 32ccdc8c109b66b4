"""Every notebook runs top to bottom: lectures and solutions cleanly, student versions
failing only where the student has work to do."""

import pytest

from dlcourse.execution import DEFAULT_TIME_LIMIT, execute_notebook
from tests.conftest import LECTURES, SOLUTIONS, STUDENT_VERSIONS, rel

pytestmark = pytest.mark.notebook


def _report(result):
    lines = [problem.describe() for problem in result.failures]
    if result.crash:
        lines.append(result.crash)
    return f"{rel(result.path)} ({result.seconds:.1f} s):\n  " + "\n  ".join(lines)


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS, ids=rel)
def test_runs_cleanly(path):
    result = execute_notebook(path, time_limit=DEFAULT_TIME_LIMIT)
    assert result.ok, _report(result)
    assert not result.problems, _report(result)  # no error and nothing on stderr, warnings included


@pytest.mark.parametrize("path", STUDENT_VERSIONS, ids=rel)
def test_student_version_fails_only_where_work_is_missing(path):
    result = execute_notebook(path, time_limit=DEFAULT_TIME_LIMIT)
    assert result.ok, _report(result)
    assert result.unanswered, f"{rel(path)}: the blank student version raised no NotImplementedError at all"


def test_there_is_something_to_run():
    assert LECTURES and SOLUTIONS and STUDENT_VERSIONS
