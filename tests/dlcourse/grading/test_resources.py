"""Whole-sandbox resource limits (dlcourse.grading.resources), each proved with real child processes.

As root with a writable cgroup hierarchy the kernel enforces memory and processes: a forking child is
OOM-killed at the group's memory limit, thread and fork creation fail at its process limit, and CPU time
is summed over the group's processes. The monitor fallback sums a forked tree from /proc. Elsewhere the
cgroup tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dlcourse.grading import cgroup_hierarchy
from dlcourse.grading.cgroups import Cgroup2
from dlcourse.grading.resource_budget import Usage, amounts
from dlcourse.grading.resources import (
    Budget,
    ResourceGroup,
    ResourceGroupError,
    cleanup_stale,
    describe_mechanism,
)

PREFIX = "dlcourse-test"
CGROUP_FS = Path("/sys/fs/cgroup")
LARGE = Budget(memory_mb=4096, processes=256, cpu_seconds=600)

MEMORY_HOG = r"""
import os
workers = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        data = b"x" * (300 << 20)  # 300 MiB, every page written
        os._exit(0)
    workers.append(pid)
print(" ".join(str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])) for pid in workers), flush=True)
"""

MANY_TASKS = r"""
import json, os, threading, time
stop = threading.Event()
threads, thread_failures = [], 0
for _ in range(50):
    thread = threading.Thread(target=stop.wait)
    try:
        thread.start()
        threads.append(thread)
    except RuntimeError:
        thread_failures += 1
time.sleep(0.3)
most_threads = threading.active_count()
stop.set()
for thread in threads:
    thread.join()
release, hold = os.pipe()
children, fork_failures = [], 0
for _ in range(50):
    try:
        pid = os.fork()
    except OSError:
        fork_failures += 1
        continue
    if pid == 0:
        os.close(hold)
        os.read(release, 1)
        os._exit(0)
    children.append(pid)
time.sleep(0.3)
os.close(hold)
for pid in children:
    os.waitpid(pid, 0)
print(json.dumps({"threads": len(threads), "thread_failures": thread_failures, "most_threads": most_threads,
                  "forks": len(children), "fork_failures": fork_failures}), flush=True)
"""

BURN = r"""
import time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
"""

TWO_BURNERS = BURN + r"""
import os
pid = os.fork()
burn(1.5)
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""

FORKED_TREE = BURN + r"""
import os, sys
mine = b"p" * (100 << 20)
release, hold = os.pipe()
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os.close(hold)
        theirs = b"c" * (100 << 20)
        burn(0.5)
        print("ready", flush=True)
        os.read(release, 1)
        os._exit(0)
    children.append(pid)
pid = os.fork()  # burns and ends: its CPU time reaches the parent's cutime when reaped
if pid == 0:
    burn(0.5)
    os._exit(0)
os.waitpid(pid, 0)
print("ready", flush=True)
sys.stdin.read()
"""

STRAGGLER = r"""
import os, time
if os.fork() == 0:
    os.setsid()
    straggler = os.fork()
    if straggler == 0:  # adopted outside this tree once its parent ends; holds none of our pipes
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        time.sleep(60)
        os._exit(0)
    print(straggler, flush=True)
    os._exit(0)
os.wait()
"""


def _name(owner: int | None = None) -> str:
    return f"{PREFIX}-{owner or os.getpid()}-{uuid.uuid4().hex[:8]}"


def _writable_hierarchy() -> str | None:
    """Where this machine offers a cgroup hierarchy that root may write, judged apart from the module."""
    unified = CGROUP_FS / "cgroup.controllers"
    if unified.is_file() and {"memory", "pids"} <= set(unified.read_text().split()) \
            and os.access(CGROUP_FS, os.W_OK):
        return f"cgroup v2 at {CGROUP_FS}"
    v1 = [CGROUP_FS / controller for controller in ("memory", "pids", "cpuacct")]
    if all((d / "cgroup.procs").is_file() and os.access(d, os.W_OK) for d in v1):
        return f"cgroup v1 at {', '.join(map(str, v1))}"
    return None


def _group_dirs(name: str) -> list[Path]:
    return [Path(base, d) for base, dirs, _ in os.walk(CGROUP_FS) for d in dirs if d == name]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def make_group():
    """Groups made by a test, all closed afterwards whatever happened."""
    groups: list[ResourceGroup] = []

    def make(budget: Budget, mechanism: str = "auto", name: str | None = None) -> ResourceGroup:
        group = ResourceGroup.create(name or _name(), budget, mechanism=mechanism)
        groups.append(group)
        return group

    yield make
    for group in groups:
        group.close()


@pytest.fixture(scope="module")
def cgroup_here() -> str:
    """This machine's mechanism when it is a cgroup; otherwise the cgroup tests skip with the reason."""
    description = describe_mechanism()
    if not description.startswith("cgroup"):
        pytest.skip(f"no cgroup can be made here: {description}")
    return description


def _run(group: ResourceGroup, script: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], preexec_fn=group.join, capture_output=True, text=True,
                          timeout=timeout)


def test_budget_says_what_it_expected():
    with pytest.raises(ValueError, match="Budget.processes: expected a positive whole number, got 2.5"):
        Budget(memory_mb=100, processes=2.5, cpu_seconds=1)
    with pytest.raises(ValueError, match="Budget.cpu_seconds: expected a positive number of seconds"):
        Budget(memory_mb=100, processes=2, cpu_seconds=float("inf"))
    with pytest.raises(ValueError, match="expected letters, digits"):
        ResourceGroup.create("../escape", LARGE)
    with pytest.raises(ValueError, match="expected one of auto, cgroup2, cgroup1, monitor"):
        ResourceGroup.create(_name(), LARGE, mechanism="cgroup3")


def test_amounts():
    assert amounts(3174.4, 3072, "MiB") == ("3.1 GiB", "3 GiB")
    assert amounts(600.4, 600, "MiB") == ("600.4 MiB", "600 MiB")
    assert amounts(1.02, 1, "s") == ("1.02 s", "1 s")


def test_cgroups_are_found_where_a_container_mounts_them():
    mountinfo = ("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                 "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                 "36 31 0:33 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                 "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
                 "41 23 0:38 / /sys/fs/cgroup/my\\040v2 rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n")
    mounts = cgroup_hierarchy.parse_mounts(mountinfo)
    assert [(m.version, sorted(m.controllers)) for m in mounts] == [
        (1, ["memory"]), (1, ["cpu", "cpuacct"]), (1, []), (2, [])]
    membership = cgroup_hierarchy.parse_membership("5:memory:/docker/abc/kernel\n3:cpu,cpuacct:/docker/abc\n0::/x\n")
    assert membership.v2 == "/x" and membership.v1[1] == (frozenset({"cpu", "cpuacct"}), "/docker/abc")
    assert cgroup_hierarchy.directory_in(mounts[0], "/docker/abc/kernel") == Path("/sys/fs/cgroup/memory/kernel")
    assert cgroup_hierarchy.directory_in(mounts[1], "/docker/abc") == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert cgroup_hierarchy.directory_in(mounts[0], "/docker/other") is None
    assert cgroup_hierarchy.directory_in(mounts[3], "/../elsewhere") is None
    assert mounts[3].point == Path("/sys/fs/cgroup/my v2")


def test_cgroup2_files_are_read_as_the_kernel_writes_them(tmp_path):
    """cgroup v2 cannot be made on a v1 machine: its reading and its verdicts, on files in the kernel's format."""
    files = {"memory.current": "104857600\n", "memory.peak": "629145600\n", "pids.current": "7\n",
             "memory.events": "low 0\nhigh 0\nmax 41\noom 2\noom_kill 2\noom_group_kill 0\n",
             "pids.events": "max 5\n", "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
             "cgroup.procs": "12\n34\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    backend = Cgroup2((tmp_path,), "cgroup v2 (a copy)")
    group = ResourceGroup("fake", Budget(memory_mb=600, processes=7, cpu_seconds=2), backend)
    assert group.usage() == Usage(memory_mb=100.0, processes=7, cpu_seconds=2.5)
    assert backend.members() == {12, 34}
    assert group.exceeded() == (
        "the sandbox reached its 600 MiB memory limit and the kernel's OOM killer stopped 2 of its processes; "
        "the sandbox tried to run more than 7 processes and threads at once; the kernel refused 5 of them; "
        "the sandbox used 2.5 s of CPU time, over its 2 s limit")


def test_root_with_a_writable_hierarchy_gets_a_cgroup(make_group):
    where = _writable_hierarchy()
    if os.geteuid() != 0 or where is None:
        pytest.skip(f"needs root and a writable cgroup hierarchy (euid {os.geteuid()}, hierarchy: {where})")
    group = make_group(LARGE)
    assert group.mechanism in ("cgroup2", "cgroup1"), f"{where} is writable, yet: {group.description}"
    assert describe_mechanism().startswith(f"cgroup v{group.mechanism[-1]}")
    with subprocess.Popen([sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=group.join) as child:
        try:
            assert child.stdout.readline() == "up\n"
            lines = [line for line in Path(f"/proc/{child.pid}/cgroup").read_text().splitlines()
                     if line.endswith("/" + group.name)]
            used = group.usage()
        finally:
            child.stdin.close()
    wanted = 1 if group.mechanism == "cgroup2" else 3  # v1: the memory, pids and cpuacct hierarchies
    assert len(lines) == wanted, lines
    assert used.processes == 1 and used.memory_mb > 1 and used.cpu_seconds > 0, used


def test_memory_of_all_processes_together_is_limited(cgroup_here, make_group):
    group = make_group(Budget(memory_mb=600, processes=64, cpu_seconds=60))
    result = _run(group, MEMORY_HOG)
    statuses = [int(code) for code in result.stdout.split()]
    verdict = group.exceeded()
    assert len(statuses) == 4 and -9 in statuses, (statuses, result.stderr[-2000:])
    assert verdict is not None and "memory" in verdict and "OOM killer" in verdict, verdict
    assert group.usage().processes == 0


def test_processes_and_threads_are_limited(cgroup_here, make_group):
    group = make_group(Budget(memory_mb=1024, processes=10, cpu_seconds=60))
    most = 0
    with subprocess.Popen([sys.executable, "-c", MANY_TASKS], stdout=subprocess.PIPE, text=True,
                          preexec_fn=group.join) as child:
        while child.poll() is None:
            most = max(most, group.usage().processes)
            time.sleep(0.005)
        report = json.loads(child.stdout.read())
    assert most <= 10, most
    assert report["most_threads"] <= 10 and report["threads"] <= 9 and report["thread_failures"] >= 41, report
    assert report["forks"] <= 9 and report["fork_failures"] >= 41, report
    verdict = group.exceeded()
    assert verdict is not None and "more than 10 processes and threads" in verdict, verdict


def test_cpu_time_of_all_processes_is_summed(cgroup_here, make_group):
    group = make_group(Budget(memory_mb=1024, processes=64, cpu_seconds=1))
    result = _run(group, TWO_BURNERS)
    assert result.returncode == 0, result.stderr[-2000:]
    cpu = group.usage().cpu_seconds
    assert 2.5 <= cpu < 10, cpu
    verdict = group.exceeded()
    assert verdict is not None and "of CPU time, over its 1 s limit" in verdict, verdict


def test_monitor_sums_a_forked_tree(make_group):
    group = make_group(Budget(memory_mb=300, processes=3, cpu_seconds=1), mechanism="monitor")
    assert group.mechanism == "monitor"
    with subprocess.Popen([sys.executable, "-c", FORKED_TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            group.watch(child.pid)
            for _ in range(4):
                assert child.stdout.readline() == "ready\n"
            used = group.usage()
            verdict = group.exceeded()
            tree = sorted(group._backend.members())
        finally:
            group.close()
            child.stdin.close()
    assert len(tree) == 4 and child.pid in tree, tree
    assert used.processes == 4, used
    assert 300 <= used.memory_mb < 700, used  # four times 100 MiB, plus four interpreters
    assert 1.8 <= used.cpu_seconds < 10, used  # four times 0.5 s burnt, one of them by a child reaped already
    assert verdict is not None and all(word in verdict for word in ("memory", "processes", "CPU time")), verdict
    assert not any(_running(pid) for pid in tree), [pid for pid in tree if _running(pid)]
    assert group.usage().cpu_seconds >= used.cpu_seconds  # after close: the last reading


def test_close_kills_stragglers_and_leaves_nothing(cgroup_here, make_group):
    group = make_group(LARGE)
    result = _run(group, STRAGGLER)
    straggler = int(result.stdout)
    assert _running(straggler) and group.usage().processes == 1  # adopted outside the tree, still in the group
    directories = _group_dirs(group.name)
    assert directories
    group.close()
    assert not _running(straggler)  # a zombie at most: init reaps it (pids.current counts it until then)
    assert not [d for d in directories if d.exists()]
    group.close()  # harmless
    with pytest.raises(ResourceGroupError, match="is closed"):
        group.join()


def test_cleanup_stale_removes_only_empty_groups_of_dead_owners(cgroup_here, make_group):
    with subprocess.Popen(["true"]) as dead:
        pass  # waited for on leaving: its pid names an owner that is dead
    crashed = make_group(LARGE, name=_name(dead.pid))  # as if its owner had crashed before close()
    live = make_group(LARGE)
    crashed_dirs = _group_dirs(crashed.name)
    removed = cleanup_stale(PREFIX)
    assert crashed_dirs and set(crashed_dirs) <= set(removed), (crashed_dirs, removed)
    assert not _group_dirs(crashed.name)
    assert _group_dirs(live.name)
    crashed.close()  # its directories are gone already: still fine


def test_elsewhere_a_monitor_that_says_why(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    group = ResourceGroup.create(_name(), LARGE)
    assert group.mechanism == "monitor" and "only on Linux (this is darwin)" in group.description
    assert cleanup_stale(PREFIX) == []
    group.close()
