"""The two kernel mechanisms of a resource group: a cgroup v2 group, or a group in each cgroup v1 hierarchy.

``cgroup2``
    A group in the unified cgroup hierarchy, when it offers the ``memory`` and ``pids`` controllers
    and this process may create a group there (root, or a delegated subtree). The group goes under
    this process's own cgroup (so that it works inside a container), or beside it when that cgroup
    holds processes: cgroup v2 enables no controller below a cgroup that holds processes (enabling
    ``memory`` and ``pids`` in its own ``cgroup.subtree_control``, when needed, is left so). The
    kernel enforces ``memory.max`` (its OOM killer stops a process of the group; ``memory.swap.max``
    is 0) and ``pids.max`` (``fork`` and new threads fail with ``EAGAIN``). CPU time comes from
    ``cpu.stat``. ``memory.current`` counts anonymous memory, page cache and tmpfs/shm pages.
``cgroup1``
    The same with the v1 hierarchies ``memory`` (``memory.limit_in_bytes``, and
    ``memory.memsw.limit_in_bytes`` when swap is accounted), ``pids`` and ``cpuacct`` (CPU time from
    ``cpuacct.usage``): a group in each, under this process's own cgroup there.

:meth:`Cgroup2.create` and :meth:`Cgroup1.create` raise
:class:`~dlcourse.grading.resource_budget.MechanismUnavailable` when this machine does not allow them;
:mod:`~dlcourse.grading.resources` then tries the next mechanism.

Example:
    >>> Cgroup2((Path("/sys/fs/cgroup/dlcourse-42-0"),), "cgroup v2").group.name
    'dlcourse-42-0'
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable
from pathlib import Path

from dlcourse.grading.cgroup_hierarchy import (
    V1_CONTROLLERS,
    V2_CONTROLLERS,
    listing,
    read_int,
    read_keyed,
    v1_bases,
    v2_is_mount_point,
    v2_own,
    write_text,
)
from dlcourse.grading.process_table import kill_until_empty
from dlcourse.grading.resource_budget import (
    DEFAULT_PREFIX,
    MIB,
    Budget,
    Mechanism,
    MechanismUnavailable,
    ResourceGroupError,
    Sample,
    Usage,
)


class Cgroup:
    """What cgroup v1 and v2 groups share: joining, listing, killing and removing their directories."""

    mechanism: Mechanism

    def __init__(self, directories: tuple[Path, ...], description: str) -> None:
        self.directories = directories
        self.description = description

    def join(self, pid: int) -> None:
        for directory in self.directories:
            try:
                write_text(directory / "cgroup.procs", str(pid or os.getpid()))
            except OSError as error:
                raise ResourceGroupError(f"cannot move process {pid or os.getpid()} into {directory}: "
                                         f"{error.strerror or error}") from error

    def watch(self, root_pid: int) -> None:
        """Nothing to do: the cgroup holds every process that descends from one that joined."""

    def members(self) -> set[int]:
        pids: set[int] = set()
        for directory in self.directories:
            try:
                pids.update(int(line) for line in (directory / "cgroup.procs").read_text().split())
            except FileNotFoundError:
                continue
            except OSError as error:
                raise ResourceGroupError(f"cannot list {directory}: {error.strerror}") from error
        return pids

    def kill(self, deadline: float) -> set[int]:
        return kill_until_empty(self.members, deadline)

    def sample(self) -> Sample:
        raise NotImplementedError

    def remove(self, deadline: float) -> None:
        """Remove the group's directories, retrying while the kernel still finishes its processes."""
        for directory in self.directories:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY or time.monotonic() >= deadline:
                        raise ResourceGroupError(f"cannot remove {directory}: {error.strerror}; processes still "
                                                 f"in it: {sorted(self.members()) or 'none'}") from error
                    time.sleep(0.02)


def _make_directories(directories: Iterable[Path]) -> list[Path]:
    """Create each directory; on failure remove those made here and raise. A name taken is a caller's error."""
    made: list[Path] = []
    try:
        for directory in directories:
            directory.mkdir()
            made.append(directory)
    except FileExistsError as error:
        _remove_quietly(made)
        raise ResourceGroupError(f"a cgroup {error.filename} already exists: each sandbox needs a name of its own, "
                                 f"such as {DEFAULT_PREFIX}-<pid>-<n>") from None
    except OSError as error:
        _remove_quietly(made)
        raise MechanismUnavailable(f"cannot create {error.filename}: {error.strerror}") from error
    return made


def _remove_quietly(directories: Iterable[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            pass


def _write_limits(directories: list[Path], settings: list[tuple[Path, str]]) -> None:
    try:
        for path, value in settings:
            write_text(path, value)
    except OSError as error:
        _remove_quietly(directories)
        raise MechanismUnavailable(f"cannot write {path}: {error.strerror}") from error


class Cgroup2(Cgroup):
    mechanism: Mechanism = "cgroup2"

    @classmethod
    def create(cls, name: str, budget: Budget) -> Cgroup2:
        own = v2_own()
        offered = set(_read_or_unavailable(own / "cgroup.controllers").split())
        if not set(V2_CONTROLLERS) <= offered:
            raise MechanismUnavailable(f"{own} offers {listing(offered)}, not {listing(set(V2_CONTROLLERS) - offered)}")
        parent, where = _v2_parent(own)
        group = parent / name
        made = _make_directories([group])
        settings = [(group / "memory.max", str(budget.memory_mb * MIB)), (group / "pids.max", str(budget.processes))]
        if (group / "memory.swap.max").exists():
            settings.append((group / "memory.swap.max", "0"))
        _write_limits(made, settings)
        return cls((group,), f"cgroup v2 (memory, pids; CPU from cpu.stat) under {parent}{where}")

    @property
    def group(self) -> Path:
        return self.directories[0]

    def kill(self, deadline: float) -> set[int]:
        if (self.group / "cgroup.kill").exists():
            try:
                write_text(self.group / "cgroup.kill", "1")
            except OSError:
                pass  # the loop below still kills them one by one
        return super().kill(deadline)

    def sample(self) -> Sample:
        memory = read_int(self.group / "memory.current") / MIB
        peak_file = self.group / "memory.peak"
        peak = read_int(peak_file) / MIB if peak_file.exists() else memory
        processes = read_int(self.group / "pids.current")
        pids_peak = self.group / "pids.peak"
        events = read_keyed(self.group / "memory.events")
        cpu = read_keyed(self.group / "cpu.stat").get("usage_usec", 0) / 1e6
        return Sample(Usage(memory, processes, cpu), max(peak, memory),
                       max(read_int(pids_peak) if pids_peak.exists() else 0, processes),
                       events.get("oom_kill", 0), events.get("max", 0),
                       read_keyed(self.group / "pids.events").get("max", 0))


def _read_or_unavailable(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise MechanismUnavailable(f"cannot read {path}: {error.strerror}") from error


def _v2_parent(own: Path) -> tuple[Path, str]:
    """Where a v2 group with memory and pids can go: under ``own``, else beside it; and a note on why beside."""
    wanted = set(V2_CONTROLLERS)
    enabled = set(_read_or_unavailable(own / "cgroup.subtree_control").split())
    if wanted <= enabled:
        return own, ""
    try:
        write_text(own / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted - enabled)))
        return own, ""
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise MechanismUnavailable(f"cannot enable {listing(wanted - enabled)} in "
                                       f"{own}/cgroup.subtree_control: {error.strerror}") from error
    # EBUSY: ``own`` holds processes, and cgroup v2 enables no controller below a cgroup that does. Its parent
    # enables memory and pids already (``own`` offers them), so a group beside ``own`` gets them.
    if v2_is_mount_point(own):
        raise MechanismUnavailable(f"{own} holds processes, so cgroup v2 enables no controller below it, and its "
                                   "parent is not visible; start the grader in a leaf cgroup of its own")
    return own.parent, f" (beside this process's cgroup {own.name}, which holds processes)"


class Cgroup1(Cgroup):
    mechanism: Mechanism = "cgroup1"

    def __init__(self, groups: dict[str, Path], description: str, limit_mb: int) -> None:
        super().__init__(tuple(dict.fromkeys(groups.values())), description)
        self.groups = groups
        self.limit_mb = limit_mb

    @classmethod
    def create(cls, name: str, budget: Budget) -> Cgroup1:
        bases = v1_bases()
        groups = {controller: base / name for controller, base in bases.items()}
        made = _make_directories(dict.fromkeys(groups.values()))
        memory = groups["memory"]
        settings = [(memory / "memory.limit_in_bytes", str(budget.memory_mb * MIB))]
        if (memory / "memory.memsw.limit_in_bytes").exists():  # after memory.limit_in_bytes: memsw may not be less
            settings.append((memory / "memory.memsw.limit_in_bytes", str(budget.memory_mb * MIB)))
        settings.append((groups["pids"] / "pids.max", str(budget.processes)))
        _write_limits(made, settings)
        places = ", ".join(str(base) for base in dict.fromkeys(bases.values()))
        return cls(groups, f"cgroup v1 ({', '.join(V1_CONTROLLERS)}) under {places}", budget.memory_mb)

    def sample(self) -> Sample:
        memory_dir, pids_dir = self.groups["memory"], self.groups["pids"]
        memory = read_int(memory_dir / "memory.usage_in_bytes") / MIB
        peak = read_int(memory_dir / "memory.max_usage_in_bytes") / MIB
        oom = read_keyed(memory_dir / "memory.oom_control").get("oom_kill")  # absent before Linux 4.13
        processes = read_int(pids_dir / "pids.current")
        pids_peak = pids_dir / "pids.peak"
        cpu = read_int(self.groups["cpuacct"] / "cpuacct.usage") / 1e9
        hits = 0
        if oom is None:  # only then: recent kernels may leave failcnt at 0 even after OOM kills
            counters = [memory_dir / "memory.failcnt", memory_dir / "memory.memsw.failcnt"]
            hits = max([read_int(c) for c in counters if c.exists()] + [int(peak >= self.limit_mb)])
        return Sample(Usage(memory, processes, cpu), max(peak, memory),
                       max(read_int(pids_peak) if pids_peak.exists() else 0, processes),
                       oom, hits, read_keyed(pids_dir / "pids.events").get("max", 0))
