"""The sandbox, property by property: one submission tries each thing it must not do, in ONE `dlcourse grade` run.

Each probe prints what happened (BLOCKED ... / LEAK ... / WROTE ...) into its cell's output; the tests read
the autograded notebooks and check the grading machine itself (the gradebook, files, a listening server).
GRADING_THREATS #24 (read hidden tests) and #25 (write the gradebook) are the read and write probes; #37
(inherited file descriptors), #38 (a full disk, memory multiplied by forking) and #45 (signals) have probes
of their own. The student's kernel runs in its sandbox with its working copy in a tmpfs of its own; the
resource group holds memory and processes for all its processes together.
"""

from __future__ import annotations

import os
import socketserver
import tempfile
import threading
import uuid

import pytest

from dlcourse.grading.limits import Limits
from dlcourse.grading.sandbox import sandbox_problem, sandbox_uid

from .cases import PARTS, points, sandbox_cases, write_class
from .cases.harness import Results, grade, make_course, outputs_text

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grading_sandbox")]

LIMITS = {"--cell-seconds": 30, "--notebook-seconds": 60, "--cpu-seconds": 8, "--memory-mb": 1536,
          "--processes": 48, "--file-mb": 8}
WORK_MB = Limits().work_mb  # `dlcourse grade` has no option for it
POINTS = points()
FULL = sum(POINTS.values())
MAJORITY = sum(POINTS[grade_id] for grade_id in PARTS["majority"])
FD_TARGETS = ("/dev/null", "pipe:[", "socket:[", "anon_inode:[")


class _Recorder(socketserver.BaseRequestHandler):
    received: list[bytes] = []

    def handle(self) -> None:
        _Recorder.received.append(self.request.recv(1024) or b"(connected)")
        self.request.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    problem = sandbox_problem()
    if problem:  # scripts/test.sh installs bubblewrap; a machine without it cannot grade safely
        raise RuntimeError(problem)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    marker = os.path.join(tempfile.gettempdir(), f"dlcourse-sandbox-marker-{uuid.uuid4().hex}")
    folder = tmp_path_factory.mktemp("sandbox")
    course = make_course(folder)
    write_class(sandbox_cases(course, "sbx-baseline", server.server_address[1], marker), folder / "class")
    args = [str(value) for pair in LIMITS.items() for value in pair]
    results = Results(course, grade(course, "--submissions", str(folder / "class"), "--jobs", "2", *args),
                      f"sqlite:///{course / 'gradebook.db'}")
    server.shutdown()
    server.server_close()
    results.marker = marker  # type: ignore[attr-defined]
    return results


def _out(run, student):
    return outputs_text(run.autograded(student))


def test_honest_work_passes_under_the_limits(run):
    assert run.records["sbx-baseline"]["status"] == "graded", run.done.stdout[-3000:] + run.done.stderr[-3000:]
    assert run.records["sbx-baseline"]["score"] == FULL


def test_cannot_read_solutions_gradebook_or_other_students(run):  # 24
    record, out = run.records["sbx-read"], _out(run, "sbx-read")
    assert "LEAK" not in out, out
    assert out.count("BLOCKED read") == 8, out
    assert "ENV []" in out, "the grader's environment (a database URL, say) must not reach the student's code"
    processes = int(out.split("PROCESSES")[1].split()[0])
    assert processes <= 6, f"the sandbox sees {processes} processes: the grading machine's are visible"
    assert record["status"] == "graded" and record["score"] == FULL, record


def test_cannot_write_outside_its_working_copy(run):  # 25
    out = _out(run, "sbx-write")
    assert "WROTE" not in out.replace("WORKDIR", ""), out
    assert "BLOCKED sql" in out and out.count("BLOCKED write") == 5, out
    assert not os.path.exists(run.marker), "the sandbox wrote into the grading machine's /tmp"
    planted = [p for p in run.course.rglob("*") if p.name in ("planted.txt", "notes.txt")]
    assert planted == [], f"the student's files reached the course folder: {planted}"
    assert "WORKDIR /home/student/work" in out
    assert f"WORKFS {WORK_MB} MiB tmpfs" in out, "the working copy must be a tmpfs of its own"
    scores = {s: r["score"] for s, r in run.records.items()}
    assert scores["sbx-write"] == FULL and scores["sbx-baseline"] == FULL
    assert all(float(row["score"]) <= FULL for row in run.grades.values()), run.grades


def test_has_no_network(run):
    out = _out(run, "sbx-network")
    for probe in ("BLOCKED connect", "BLOCKED dns", "BLOCKED http"):
        assert probe in out, out
    assert _Recorder.received == [], f"the grading machine's server got {_Recorder.received}"
    assert run.records["sbx-network"]["score"] == FULL


def test_memory_is_limited(run):
    record, out = run.records["sbx-memory"], _out(run, "sbx-memory")
    assert "LIMIT data 1536 MiB" in out and "BLOCKED memory MemoryError" in out, out
    assert record["score"] == FULL  # the allocation failed, the kernel lived on (an uncaught one: threat #13)


def test_cpu_time_is_limited(run):
    record = run.records["sbx-cpu"]
    assert "LIMIT cpu 8 s" in _out(run, "sbx-cpu")
    assert record["status"] == "flagged", record
    assert any("used up its CPU time (8 s)" in r for r in record["reasons"]), record
    scores = run.cell_scores("sbx-cpu")
    assert [scores[g] for g in PARTS["majority"]] == [0, 0] and record["score"] == FULL - 4


def test_number_of_processes_is_limited(run):
    record, out = run.records["sbx-processes"], _out(run, "sbx-processes")
    assert "FORKED all" not in out, out
    assert record["status"] == "flagged", record
    assert any(f"tried to run more than {LIMITS['--processes']} processes" in r for r in record["reasons"]), record
    if "BLOCKED fork after" in out:  # printed when the probe got there before the grader stopped the notebook
        assert int(out.split("BLOCKED fork after")[1].split()[0]) < LIMITS["--processes"], out
    assert record["score"] == FULL - MAJORITY, record  # stopped in the last answer cell: the rest was graded


def test_output_size_is_limited(run):
    out = _out(run, "sbx-file-size")
    assert "BLOCKED file OSError File too large" in out, out
    assert run.records["sbx-file-size"]["score"] == FULL


def test_kernel_runs_as_an_unprivileged_user(run):
    uid = int(_out(run, "sbx-read").split("UID")[1].split()[0])
    course = str(run.course.resolve())
    expected = [sandbox_uid(0, course), sandbox_uid(1, course)] if os.geteuid() == 0 else [os.getuid()]
    assert uid in expected, f"the kernel ran as uid {uid}"


def test_no_file_of_the_grader_is_inherited(run):  # 37
    out = _out(run, "sbx-descriptors")
    targets = dict(line.split(" ", 2)[1:] for line in out.splitlines() if line.startswith("FD "))
    assert targets.get("0") == "/dev/null", out
    assert targets.get("1", "").startswith("pipe:[") and targets.get("2", "").startswith("pipe:["), out
    odd = {fd: target for fd, target in targets.items() if not target.startswith(FD_TARGETS)}
    assert odd == {}, f"the kernel holds files of the grading machine: {odd}"
    assert run.records["sbx-descriptors"]["score"] == FULL


def test_many_files_fill_only_the_working_copy(run):  # 38
    out = _out(run, "sbx-fill-work")
    assert "BLOCKED disk ENOSPC" in out, out
    written = int(out.split("after")[1].split()[0])
    size = int(out.split("MiB of")[1].split()[0])
    assert size == WORK_MB and written <= WORK_MB, out
    assert [p for p in run.course.rglob("fill-*.bin")] == []
    assert run.records["sbx-fill-work"]["status"] == "graded" and run.records["sbx-fill-work"]["score"] == FULL


def test_memory_is_limited_for_all_processes_together(run):  # 38
    record, out = run.records["sbx-fork-memory"], _out(run, "sbx-fork-memory")
    assert "MemoryError" not in out.split("CHILDREN")[-1], f"a child hit the per-process limit instead: {out}"
    assert "CHILDREN" not in out or "signal 9" in out.split("CHILDREN")[-1], out
    assert record["status"] == "flagged", record
    assert any(f"{LIMITS['--memory-mb'] / 1024:g} GiB memory limit" in r or "memory limit" in r
               for r in record["reasons"]), record
    assert record["score"] == FULL - MAJORITY, record


def test_signals_reach_only_the_students_own_sandbox(run):  # 45
    record, out = run.records["sbx-kill-all"], _out(run, "sbx-kill-all")
    assert "SKIPPED kill" not in out and "KILL -1" in out, out
    processes = out.split("PROCESSES")[1].split("me")[0]
    assert len(processes.strip(" []").split(",")) <= 3, out
    assert record["status"] == "graded" and record["score"] == FULL, record  # the test kernel lived on
    assert run.records["sbx-baseline"]["score"] == FULL
