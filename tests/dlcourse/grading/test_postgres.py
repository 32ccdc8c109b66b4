"""A PostgreSQL gradebook for release, grading and export, and an LMS zip export as the input.

The test starts its own PostgreSQL server (Debian's ``postgresql`` package, which scripts/test.sh
installs) on 127.0.0.1 with a throw-away data folder, then runs the course as an instructor would:
``dlcourse release`` with ``NBGRADER_DB_URL``, ``dlcourse grade --db-url ... --submissions export.zip``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from dlcourse.nbgrader_run import nbgrader_env
from tests.support.network import free_port

from .cases import ASSIGNMENT, PARTIAL, filled, points
from .cases.harness import Results, grade, make_course

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grading_postgres")]


def _postgres_bin() -> Path | None:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    return found[0].parent if found else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 with an empty database `course` owned by `grader`; yields its URL."""
    pg_bin = _postgres_bin()
    if pg_bin is None or not (pg_bin / "initdb").is_file():
        message = "PostgreSQL is not installed (apt-get install postgresql; scripts/test.sh does it)"
        if os.environ.get("CI"):
            raise RuntimeError(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, cwd=folder)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"

    run(str(pg_bin / "initdb"), "-D", str(folder / "data"), "-U", "grader", "--auth=trust", "-E", "UTF8")
    run(str(pg_bin / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "server.log"), "-w", "-t", "60",
        "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start")
    try:
        run(str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "course")
        yield f"postgresql://grader@127.0.0.1:{port}/course"
    finally:
        run(str(pg_bin / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _zip_export(path: Path) -> Path:
    """An LMS-style export: <student>_<file name>, plus files that are not submissions."""
    partial = json.loads(PARTIAL.read_text())["answers"]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"export/s1_{ASSIGNMENT}.ipynb", nbformat.writes(filled()))
        archive.writestr(f"export/s2_{ASSIGNMENT}.ipynb", nbformat.writes(filled(partial)))
        archive.writestr("export/s3_homework.ipynb", nbformat.writes(filled()))
        archive.writestr("export/README.txt", "not a submission")
        archive.writestr("export/nobody.ipynb", nbformat.writes(filled()))
    return path


def test_release_grade_and_export_with_postgresql(postgres, tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    course = make_course(tmp_path)
    released = subprocess.run([sys.executable, "-m", "dlcourse", "release", ASSIGNMENT], cwd=course,
                              capture_output=True, text=True, env={**nbgrader_env(), "NBGRADER_DB_URL": postgres})
    assert released.returncode == 0, released.stdout + released.stderr
    assert (course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

    done = grade(course, "--submissions", str(_zip_export(tmp_path / "export.zip")), "--db-url", postgres,
                 "--jobs", "2", "--cell-seconds", "30", "--notebook-seconds", "120")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # s3 submitted a notebook with the wrong name: flagged
    assert "recorded hw03_logic_gates in the gradebook" not in out, "the release must have recorded it already"
    assert "skipped:" in done.stdout and "nobody.ipynb" in done.stdout, "a file the pattern cannot read is reported"
    full = sum(points().values())
    results = Results(course, done, postgres)
    partial = float(json.loads(PARTIAL.read_text())["expected_score"])
    assert {s: float(row["score"]) for s, row in results.grades.items()} == {"s1": full, "s2": partial, "s3": full}
    assert results.records["s3"]["status"] == "flagged"
    assert "expected hw03_logic_gates.ipynb, got homework.ipynb" in results.records["s3"]["reasons"][0]
    assert not (course / "gradebook.db").exists(), "nothing may go to the SQLite gradebook"
    # NullPool: the connection really closes at the end of the block (a pooled one would be closed by the
    # garbage collector in some later test, as a ResourceWarning)
    with create_engine(postgres, poolclass=NullPool).connect() as connection:
        submissions = connection.execute(text(
            "SELECT s.id FROM submitted_assignment a JOIN student s ON a.student_id = s.id ORDER BY s.id")).all()
        assert [row[0] for row in submissions] == ["s1", "s2", "s3"]
        cells = len(points()) + 1  # the autograded tests and the free-text question
        assert connection.execute(text("SELECT count(*) FROM grade_cells")).scalar() == cells
        assert connection.execute(text("SELECT count(*) FROM grade")).scalar() == 3 * cells  # no duplicates
