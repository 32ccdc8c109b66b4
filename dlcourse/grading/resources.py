"""Resource limits for a whole sandbox: all its processes together, not one process at a time.

The rlimits of :mod:`~dlcourse.grading.sandbox` hold per process, so a notebook that forks
multiplies them: four processes may each take the full ``RLIMIT_DATA``. A :class:`ResourceGroup`
holds one :class:`Budget` (memory, processes and threads, CPU time) for every process of a sandbox
at once, with the best mechanism this machine allows (:func:`describe_mechanism` says which, and why):

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
``monitor``
    When no cgroup can be made (not root and nothing delegated, a read-only ``/sys/fs/cgroup``,
    another OS). The kernel enforces nothing; :meth:`ResourceGroup.usage` samples ``/proc`` over the
    process tree given to :meth:`ResourceGroup.watch`, and the caller stops the sandbox when
    :meth:`ResourceGroup.exceeded` says so. Its limits, honestly:

    - it sees only what it samples: the caller polls a few times a second, and between two samples
      memory can overshoot the budget by whatever a process allocates in that time (gigabytes in
      100 ms); a process that starts and ends between samples is missed for memory and processes
      (its CPU time is still counted, through the ``cutime``/``cstime`` of the process that reaps it);
    - it follows parent links from the watched process: a process whose parent dies is adopted
      outside the tree and lost, unless a PID namespace adopts it (bubblewrap's does, so inside the
      sandbox nothing escapes) or the caller is a child subreaper;
    - memory is the PSS of ``/proc/<pid>/smaps_rollup`` (pages shared after a fork count once), or
      the RSS of ``/proc/<pid>/statm`` where that cannot be read (shared pages then count once per
      process: an overestimate); files in a tmpfs that no process maps are not counted (the
      sandbox's ``/tmp`` and ``/dev/shm`` have sizes of their own);
    - processes and threads are only counted; ``RLIMIT_NPROC`` still applies, per user;
    - without ``/proc`` (macOS, Windows) it counts nothing: usage reads zero, nothing is enforced.

CPU time is never enforced by the kernel, whatever the mechanism (``RLIMIT_CPU`` still stops one
process): :meth:`ResourceGroup.exceeded` reports it and the caller stops the sandbox.

A cgroup's memory includes page cache, which the kernel reclaims at the limit before it kills anything;
its process count includes killed processes that their parent has not reaped yet (inside bubblewrap's
PID namespace its init reaps them). Group names carry the owner's pid (``dlcourse-<pid>-<n>``), so that
:func:`cleanup_stale` can remove what a crashed run left behind.

Example:
    >>> budget = Budget(memory_mb=3072, processes=64, cpu_seconds=300)
    >>> with ResourceGroup.create(f"dlcourse-{os.getpid()}-0", budget) as group:  # doctest: +SKIP
    ...     kernel = subprocess.Popen(["bwrap", ...], preexec_fn=group.join)
    ...     group.watch(kernel.pid)
    ...     while kernel.poll() is None and group.exceeded() is None:
    ...         time.sleep(0.2)
    >>> group.exceeded()  # doctest: +SKIP
    'the sandbox used 3.1 GiB of memory, over its 3 GiB limit'
"""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Mechanism = Literal["cgroup2", "cgroup1", "monitor"]
"""How a :class:`ResourceGroup` holds its budget."""

MECHANISMS = ("auto", "cgroup2", "cgroup1", "monitor")
"""What :meth:`ResourceGroup.create` accepts as ``mechanism``: ``auto`` takes the first that works."""

DEFAULT_PREFIX = "dlcourse"
"""Name prefix of the groups the grader makes: ``dlcourse-<pid>-<n>`` (see :func:`cleanup_stale`)."""

CLOSE_SECONDS = 5.0
"""How long :meth:`ResourceGroup.close` waits for the group's processes to die and its directories to go."""

V1_CONTROLLERS = ("memory", "pids", "cpuacct")
"""The cgroup v1 hierarchies a ``cgroup1`` group needs (one directory in each)."""

V2_CONTROLLERS = ("memory", "pids")
"""The controllers a ``cgroup2`` group needs (CPU time comes from ``cpu.stat``, always there)."""

_MIB = 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MOUNT_OPTIONS = frozenset({"rw", "ro", "none", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                            "favordynmods"})  # cgroup v1 mount options that name no controller


class ResourceGroupError(RuntimeError):
    """A group cannot be used as asked (a forced mechanism is unavailable, a name is taken, a process survives)."""


class _Unavailable(Exception):
    """This mechanism cannot work here; the message says why (it ends up in :func:`describe_mechanism`)."""


@dataclass(frozen=True)
class Budget:
    """What a whole sandbox may use, all its processes together.

    Attributes:
        memory_mb: Memory in MiB: resident memory with tmpfs/shm pages where the mechanism counts them.
        processes: Processes and threads at once.
        cpu_seconds: CPU time of all processes together over the sandbox's life.

    Example:
        >>> Budget(memory_mb=3072, processes=64, cpu_seconds=300).cpu_seconds
        300
        >>> Budget(memory_mb=0, processes=64, cpu_seconds=300)
        Traceback (most recent call last):
        ...
        ValueError: Budget.memory_mb: expected a positive whole number of MiB, got 0
    """

    memory_mb: int
    processes: int
    cpu_seconds: float

    def __post_init__(self) -> None:
        for field, unit in (("memory_mb", " of MiB"), ("processes", "")):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Budget.{field}: expected a positive whole number{unit}, got {value!r}")
        cpu = self.cpu_seconds
        if not isinstance(cpu, (int, float)) or isinstance(cpu, bool) or not (cpu > 0 and math.isfinite(cpu)):
            raise ValueError(f"Budget.cpu_seconds: expected a positive number of seconds, got {cpu!r}")


@dataclass(frozen=True)
class Usage:
    """What a group's processes use now (memory, processes) and have used (CPU time).

    Example:
        >>> Usage(memory_mb=512.0, processes=3, cpu_seconds=1.5).memory_mb
        512.0
    """

    memory_mb: float
    processes: int
    cpu_seconds: float


@dataclass(frozen=True)
class _Sample:
    """One reading of a group: its usage, and the counters that say whether a budget was passed."""

    usage: Usage
    peak_memory_mb: float
    peak_processes: int
    oom_kills: int | None  # None: this kernel does not count OOM kills (old cgroup v1)
    limit_hits: int  # times the memory limit was reached (old v1 kernels only, where oom_kills is None)
    refused: int  # forks and threads the kernel refused (``pids.events`` max)


_EMPTY = _Sample(Usage(0.0, 0, 0.0), 0.0, 0, 0, 0, 0)


# --- reading cgroupfs and /proc ---------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise ResourceGroupError(f"cannot read {path}: {error.strerror or error}") from error


def _read_int(path: Path) -> int:
    text = _read(path).strip()
    try:
        return int(text)
    except ValueError:
        raise ResourceGroupError(f"{path}: expected a whole number, found {text[:40]!r}") from None


def _read_keyed(path: Path) -> dict[str, int]:
    """The ``key value`` lines of a cgroup file (``memory.events``, ``cpu.stat``, ``pids.events``)."""
    values = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def _write(path: Path, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    if len(names) < 2:
        return names[0] if names else "no controller"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _unescape(field: str) -> str:
    """A path field of ``/proc/self/mountinfo`` with its octal escapes (``\\040`` is a space) undone."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


@dataclass(frozen=True)
class _Mount:
    """A mounted cgroup hierarchy: ``point`` shows the hierarchy's ``root``; v1 names its controllers."""

    point: Path
    root: str
    version: int
    controllers: frozenset[str]


@dataclass(frozen=True)
class _Membership:
    """This process's cgroups: one path per v1 hierarchy (by its controllers) and its v2 path."""

    v1: tuple[tuple[frozenset[str], str], ...]
    v2: str | None


def _mounts() -> list[_Mount]:
    try:
        return _parse_mounts(Path("/proc/self/mountinfo").read_text())
    except OSError:
        return []


def _parse_mounts(text: str) -> list[_Mount]:
    """The cgroup hierarchies among the lines of ``/proc/self/mountinfo``."""
    mounts = []
    for line in text.splitlines():
        left, separator, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not separator or len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        options = frozenset(o for o in tail[2].split(",") if o not in _MOUNT_OPTIONS and "=" not in o)
        version = 2 if tail[0] == "cgroup2" else 1
        mounts.append(_Mount(Path(_unescape(fields[4])), _unescape(fields[3]), version,
                             options if version == 1 else frozenset()))
    return mounts


def _membership() -> _Membership:
    try:
        return _parse_membership(Path("/proc/self/cgroup").read_text())
    except OSError:
        return _Membership((), None)


def _parse_membership(text: str) -> _Membership:
    """The lines ``id:controllers:path`` of ``/proc/self/cgroup``."""
    v1, v2 = [], None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        else:
            v1.append((frozenset(c for c in parts[1].split(",") if "=" not in c), parts[2]))
    return _Membership(tuple(v1), v2)


def _directory(mount: _Mount, path: str) -> Path | None:
    """Where cgroup ``path`` (as ``/proc/self/cgroup`` names it) appears under ``mount``, if it does."""
    root = mount.root.rstrip("/")
    if (path != root and not path.startswith(root + "/")) or "/.." in path:  # ``/..``: outside our namespace
        return None
    return mount.point / path[len(root):].lstrip("/")


def _v1_bases() -> dict[str, Path]:
    """This process's own cgroup directory in each hierarchy of :data:`V1_CONTROLLERS`."""
    mounts, membership = [m for m in _mounts() if m.version == 1], _membership()
    bases, missing = {}, []
    for controller in V1_CONTROLLERS:
        paths = [path for controllers, path in membership.v1 if controller in controllers]
        found = [_directory(m, paths[0]) for m in mounts if controller in m.controllers] if paths else []
        found = [d for d in found if d is not None and d.is_dir()]
        if found:
            bases[controller] = found[0]
        else:
            missing.append(controller)
    if missing:
        raise _Unavailable(f"no v1 hierarchy for {_listing(missing)} is mounted where this process's cgroup shows")
    return bases


def _v2_own() -> Path:
    """This process's own directory in the unified hierarchy (raises :class:`_Unavailable` without one)."""
    path = _membership().v2
    for mount in _mounts():
        if mount.version == 2 and path is not None:
            directory = _directory(mount, path)
            if directory is not None and (directory / "cgroup.controllers").is_file():
                return directory
    raise _Unavailable("no unified (v2) hierarchy is mounted where this process's cgroup shows")


def _v2_is_mount_point(directory: Path) -> bool:
    return any(m.version == 2 and m.point == directory for m in _mounts())


# --- the processes of a group -----------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is not running: it holds no memory and uses no CPU)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        state = None
    if state is not None:
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass  # it ended meanwhile
    except PermissionError as error:
        raise ResourceGroupError(f"cannot signal process {pid} of the group: {error.strerror}") from error


def _kill_until_empty(members: Callable[[], set[int]], deadline: float) -> set[int]:
    """SIGKILL ``members()`` until none of them, nor any process signalled here, runs; or until ``deadline``
    (``time.monotonic``) passes. Returns those still running."""
    signalled: set[int] = set()
    while True:
        pids = {pid for pid in members() if pid != os.getpid() and _alive(pid)}
        dying = {pid for pid in signalled - pids if _alive(pid)}  # killed, still unmapping its memory
        if not (pids or dying) or time.monotonic() >= deadline:
            return pids | dying
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        signalled |= pids
        time.sleep(0.01)


@dataclass(frozen=True)
class _Proc:
    """What ``/proc/<pid>/stat`` says of one process."""

    pid: int
    ppid: int
    state: str
    cpu_ticks: int  # utime + stime + cutime + cstime
    threads: int
    start: int


def _parse_stat(pid: int, text: str) -> _Proc:
    fields = text[text.rindex(")") + 2:].split()  # fields[i] is field i + 3 of proc(5)
    ticks = sum(int(value) for value in fields[11:15])
    return _Proc(pid, int(fields[1]), fields[0], ticks, int(fields[17]), int(fields[19]))


def _processes(proc: Path) -> dict[int, _Proc]:
    table = {}
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = _parse_stat(int(entry.name), Path(entry.path, "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # it ended while we looked
    return table


def _tree(table: dict[int, _Proc], root: int) -> list[_Proc]:
    """``root`` and its descendants, by parent links, zombies left out."""
    children: dict[int, list[int]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(table[pid])
            todo.extend(children.get(pid, ()))
    return [p for p in found if p.state not in ("Z", "X")]


def _memory_bytes(proc: Path, pid: int, page_size: int) -> int:
    """PSS of one process from ``smaps_rollup``, else its RSS from ``statm``; 0 when it is gone."""
    try:
        with open(proc / str(pid) / "smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int((proc / str(pid) / "statm").read_text().split()[1]) * page_size
    except (OSError, ValueError, IndexError):
        return 0


# --- the three mechanisms ---------------------------------------------------------------------------------


class _Cgroup:
    """What cgroup v1 and v2 groups share: joining, listing, killing and removing their directories."""

    mechanism: Mechanism

    def __init__(self, directories: tuple[Path, ...], description: str) -> None:
        self.directories = directories
        self.description = description

    def join(self, pid: int) -> None:
        for directory in self.directories:
            try:
                _write(directory / "cgroup.procs", str(pid or os.getpid()))
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
        return _kill_until_empty(self.members, deadline)

    def sample(self) -> _Sample:
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
        raise _Unavailable(f"cannot create {error.filename}: {error.strerror}") from error
    return made


def _remove_quietly(directories: Iterable[Path]) -> None:
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            pass


def _set_limits(directories: list[Path], settings: list[tuple[Path, str]]) -> None:
    try:
        for path, value in settings:
            _write(path, value)
    except OSError as error:
        _remove_quietly(directories)
        raise _Unavailable(f"cannot write {path}: {error.strerror}") from error


class _Cgroup2(_Cgroup):
    mechanism: Mechanism = "cgroup2"

    @classmethod
    def create(cls, name: str, budget: Budget) -> _Cgroup2:
        own = _v2_own()
        offered = set(_read_or_unavailable(own / "cgroup.controllers").split())
        if not set(V2_CONTROLLERS) <= offered:
            raise _Unavailable(f"{own} offers {_listing(offered)}, not {_listing(set(V2_CONTROLLERS) - offered)}")
        parent, where = _v2_parent(own)
        group = parent / name
        made = _make_directories([group])
        settings = [(group / "memory.max", str(budget.memory_mb * _MIB)), (group / "pids.max", str(budget.processes))]
        if (group / "memory.swap.max").exists():
            settings.append((group / "memory.swap.max", "0"))
        _set_limits(made, settings)
        return cls((group,), f"cgroup v2 (memory, pids; CPU from cpu.stat) under {parent}{where}")

    @property
    def group(self) -> Path:
        return self.directories[0]

    def kill(self, deadline: float) -> set[int]:
        if (self.group / "cgroup.kill").exists():
            try:
                _write(self.group / "cgroup.kill", "1")
            except OSError:
                pass  # the loop below still kills them one by one
        return super().kill(deadline)

    def sample(self) -> _Sample:
        memory = _read_int(self.group / "memory.current") / _MIB
        peak_file = self.group / "memory.peak"
        peak = _read_int(peak_file) / _MIB if peak_file.exists() else memory
        processes = _read_int(self.group / "pids.current")
        pids_peak = self.group / "pids.peak"
        events = _read_keyed(self.group / "memory.events")
        cpu = _read_keyed(self.group / "cpu.stat").get("usage_usec", 0) / 1e6
        return _Sample(Usage(memory, processes, cpu), max(peak, memory),
                       max(_read_int(pids_peak) if pids_peak.exists() else 0, processes),
                       events.get("oom_kill", 0), events.get("max", 0),
                       _read_keyed(self.group / "pids.events").get("max", 0))


def _read_or_unavailable(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise _Unavailable(f"cannot read {path}: {error.strerror}") from error


def _v2_parent(own: Path) -> tuple[Path, str]:
    """Where a v2 group with memory and pids can go: under ``own``, else beside it; and a note on why beside."""
    wanted = set(V2_CONTROLLERS)
    enabled = set(_read_or_unavailable(own / "cgroup.subtree_control").split())
    if wanted <= enabled:
        return own, ""
    try:
        _write(own / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted - enabled)))
        return own, ""
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise _Unavailable(f"cannot enable {_listing(wanted - enabled)} in {own}/cgroup.subtree_control: "
                               f"{error.strerror}") from error
    # EBUSY: ``own`` holds processes, and cgroup v2 enables no controller below a cgroup that does. Its parent
    # enables memory and pids already (``own`` offers them), so a group beside ``own`` gets them.
    if _v2_is_mount_point(own):
        raise _Unavailable(f"{own} holds processes, so cgroup v2 enables no controller below it, and its parent "
                           f"is not visible; start the grader in a leaf cgroup of its own")
    return own.parent, f" (beside this process's cgroup {own.name}, which holds processes)"


class _Cgroup1(_Cgroup):
    mechanism: Mechanism = "cgroup1"

    def __init__(self, groups: dict[str, Path], description: str, limit_mb: int) -> None:
        super().__init__(tuple(dict.fromkeys(groups.values())), description)
        self.groups = groups
        self.limit_mb = limit_mb

    @classmethod
    def create(cls, name: str, budget: Budget) -> _Cgroup1:
        bases = _v1_bases()
        groups = {controller: base / name for controller, base in bases.items()}
        made = _make_directories(dict.fromkeys(groups.values()))
        memory = groups["memory"]
        settings = [(memory / "memory.limit_in_bytes", str(budget.memory_mb * _MIB))]
        if (memory / "memory.memsw.limit_in_bytes").exists():  # after memory.limit_in_bytes: memsw may not be less
            settings.append((memory / "memory.memsw.limit_in_bytes", str(budget.memory_mb * _MIB)))
        settings.append((groups["pids"] / "pids.max", str(budget.processes)))
        _set_limits(made, settings)
        places = ", ".join(str(base) for base in dict.fromkeys(bases.values()))
        return cls(groups, f"cgroup v1 ({', '.join(V1_CONTROLLERS)}) under {places}", budget.memory_mb)

    def sample(self) -> _Sample:
        memory_dir, pids_dir = self.groups["memory"], self.groups["pids"]
        memory = _read_int(memory_dir / "memory.usage_in_bytes") / _MIB
        peak = _read_int(memory_dir / "memory.max_usage_in_bytes") / _MIB
        oom = _read_keyed(memory_dir / "memory.oom_control").get("oom_kill")  # absent before Linux 4.13
        processes = _read_int(pids_dir / "pids.current")
        pids_peak = pids_dir / "pids.peak"
        cpu = _read_int(self.groups["cpuacct"] / "cpuacct.usage") / 1e9
        hits = 0
        if oom is None:  # only then: recent kernels may leave failcnt at 0 even after OOM kills
            counters = [memory_dir / "memory.failcnt", memory_dir / "memory.memsw.failcnt"]
            hits = max([_read_int(c) for c in counters if c.exists()] + [int(peak >= self.limit_mb)])
        return _Sample(Usage(memory, processes, cpu), max(peak, memory),
                       max(_read_int(pids_peak) if pids_peak.exists() else 0, processes),
                       oom, hits, _read_keyed(pids_dir / "pids.events").get("max", 0))


class _Monitor:
    """No kernel enforcement: sums the watched process tree from ``/proc`` at every sample."""

    mechanism: Mechanism = "monitor"

    def __init__(self, description: str, proc: Path = Path("/proc")) -> None:
        self.description = description
        self.proc = proc
        self.root: int | None = None
        self.root_start: int | None = None
        self.peak_memory_mb = 0.0
        self.peak_processes = 0
        self.cpu_seconds = 0.0

    @property
    def can_count(self) -> bool:
        return (self.proc / "self" / "stat").is_file()

    def join(self, pid: int) -> None:
        """Nothing to do: a monitor follows the tree given to :meth:`watch`."""

    def watch(self, root_pid: int) -> None:
        self.root = root_pid
        try:
            self.root_start = _parse_stat(root_pid, (self.proc / str(root_pid) / "stat").read_text()).start
        except (OSError, ValueError, IndexError):
            self.root_start = None  # gone already, or no /proc: nothing to count

    def _members(self) -> list[_Proc]:
        if self.root is None or self.root_start is None or not self.can_count:
            return []
        table = _processes(self.proc)
        root = table.get(self.root)
        if root is None or root.start != self.root_start:  # it ended (and its pid may serve another process)
            return []
        return _tree(table, self.root)

    def members(self) -> set[int]:
        return {process.pid for process in self._members()}

    def kill(self, deadline: float) -> set[int]:
        """Stop the whole tree first (a stopped process cannot fork, and a killed parent would hand its
        children to a process outside the tree), then kill it."""
        stopped: set[int] = set()
        while time.monotonic() < deadline:
            new = self.members() - stopped
            if not new:
                break
            for pid in new:
                _signal(pid, signal.SIGSTOP)
            stopped |= new
        return _kill_until_empty(lambda: self.members() | stopped, deadline)

    def sample(self) -> _Sample:
        members = self._members()
        if members:
            page_size, ticks = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
            memory = sum(_memory_bytes(self.proc, p.pid, page_size) for p in members) / _MIB
            processes = sum(p.threads for p in members)
            # Each live process counts itself and the processes it reaped (cutime, cstime): every CPU second once.
            # The total only grows: a process that ends takes its seconds with it until its parent reaps it.
            self.cpu_seconds = max(self.cpu_seconds, sum(p.cpu_ticks for p in members) / ticks)
            self.peak_memory_mb = max(self.peak_memory_mb, memory)
            self.peak_processes = max(self.peak_processes, processes)
        else:
            memory, processes = 0.0, 0
        return _Sample(Usage(memory, processes, self.cpu_seconds), self.peak_memory_mb, self.peak_processes, 0, 0, 0)

    def remove(self, deadline: float) -> None:
        """Nothing to remove."""


_Backend = _Cgroup2 | _Cgroup1 | _Monitor


def _open(name: str, budget: Budget, mechanism: str) -> _Backend:
    """The backend ``mechanism`` asks for (``auto``: the first that works), or a monitor that says why."""
    reasons = []
    if not sys.platform.startswith("linux"):
        reasons.append(f"cgroups exist only on Linux (this is {sys.platform})")
    else:
        for kind, backend in (("cgroup2", _Cgroup2), ("cgroup1", _Cgroup1)):
            if mechanism not in ("auto", kind):
                continue
            try:
                made = backend.create(name, budget)
            except _Unavailable as error:
                reasons.append(f"not cgroup v{kind[-1]}: {error}")
                continue
            if reasons:
                made.description += "; " + "; ".join(reasons)
            return made
    if mechanism in ("cgroup2", "cgroup1"):
        raise ResourceGroupError(f"{mechanism} was asked for but cannot be used here: {'; '.join(reasons)}")
    monitor = _Monitor("")
    if monitor.can_count:
        how = ("monitor (nothing enforced by the kernel: memory, processes and CPU time of the watched process "
               "tree sampled from /proc while polled)")
    else:
        how = f"monitor without /proc on {sys.platform}: nothing is counted or enforced (usage reads zero)"
    monitor.description = how + ("; " + "; ".join(reasons) if reasons else ", as asked")
    return monitor


# --- the public group ---------------------------------------------------------------------------------------


def _amounts(used: float, limit: float, unit: str = "") -> tuple[str, str]:
    """``used`` and ``limit`` as text, with enough decimals to tell them apart; MiB become GiB from 1 GiB."""
    if unit == "MiB" and limit >= 1024:
        used, limit, unit = used / 1024, limit / 1024, "GiB"
    for decimals in (1, 2, 3):
        pair = tuple(f"{value:.{decimals}f}".rstrip("0").rstrip(".") + (f" {unit}" if unit else "")
                     for value in (used, limit))
        if pair[0] != pair[1]:
            break
    return pair[0], pair[1]


class ResourceGroup:
    """Limits for a group of processes: a cgroup (v2, else v1) when this process may create one, else a monitor.

    Make one with :meth:`create`, move the sandbox's first process into it with :meth:`join` before that
    process execs ``bwrap`` (everything it starts then belongs to the group too), also :meth:`watch` it
    (the monitor needs it; cgroups ignore it), poll :meth:`exceeded`, and :meth:`close` the group at the
    end (or use it as a context manager). After :meth:`close`, :meth:`usage` and :meth:`exceeded` keep
    answering from the last reading, taken once the processes were gone.

    Attributes:
        name: The group's name (its directory name in each cgroup hierarchy).
        budget: What the group may use.
        mechanism: ``"cgroup2"``, ``"cgroup1"`` or ``"monitor"``.
        description: One line for logs: the mechanism, where the group lives, and why not a better one.

    Example:
        >>> group = ResourceGroup.create("dlcourse-42-0", Budget(600, 10, 5.0), mechanism="monitor")
        >>> group.mechanism, group.usage().processes, group.exceeded()
        ('monitor', 0, None)
        >>> group.close()
    """

    def __init__(self, name: str, budget: Budget, backend: _Backend) -> None:
        """Use :meth:`create`."""
        self.name = name
        self.budget = budget
        self.mechanism: Mechanism = backend.mechanism
        self.description = backend.description
        self._backend = backend
        self._closed = False
        self._final: _Sample | None = None

    @classmethod
    def create(cls, name: str, budget: Budget, *, mechanism: str = "auto") -> ResourceGroup:
        """A new group with ``budget``, empty until a process :meth:`join` s it.

        Args:
            name: Unique per sandbox, with the owner's pid after the prefix so that :func:`cleanup_stale`
                can tell leftovers: ``f"dlcourse-{os.getpid()}-{n}"``. Letters, digits, ``_.-``.
            budget: What all the group's processes together may use.
            mechanism: ``"auto"`` (cgroup v2, else v1, else a monitor: the reason is in ``description``),
                or one of them; a cgroup asked for by name raises when it cannot be made.

        Raises:
            ValueError: a bad name, budget or mechanism.
            ResourceGroupError: a group of this name exists already, or the cgroup asked for is unavailable.

        Example:
            >>> group = ResourceGroup.create(f"dlcourse-{os.getpid()}-0", Budget(3072, 64, 300))  # doctest: +SKIP
            >>> group.mechanism  # doctest: +SKIP
            'cgroup1'
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"ResourceGroup name: expected letters, digits and _.- (up to 100, such as "
                             f"{DEFAULT_PREFIX}-<pid>-<n>), got {name!r}")
        if not isinstance(budget, Budget):
            raise ValueError(f"ResourceGroup budget: expected a Budget, got {type(budget).__name__}")
        if mechanism not in MECHANISMS:
            raise ValueError(f"ResourceGroup mechanism: expected one of {', '.join(MECHANISMS)}, got {mechanism!r}")
        return cls(name, budget, _open(name, budget, mechanism))

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise ResourceGroupError(f"cannot {action}: the group {self.name} is closed")

    def join(self, pid: int = 0) -> None:
        """Move process ``pid`` (0: the caller) into the group, with all its threads; do it before it execs ``bwrap``.

        Safe in ``subprocess.Popen(preexec_fn=group.join)``. A monitor does nothing here: see :meth:`watch`.

        Example:
            >>> child = subprocess.Popen(["bwrap", ...], preexec_fn=group.join)  # doctest: +SKIP
        """
        if not isinstance(pid, int) or isinstance(pid, bool) or pid < 0:
            raise ValueError(f"join: expected a process id (0 for the caller), got {pid!r}")
        self._check_open("join it")
        self._backend.join(pid)

    def join_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid into to join (empty for a monitor).

        For a launcher in another process that joins itself before it execs ``bwrap``
        (``--join`` of :mod:`dlcourse.grading.sandbox`).
        """
        self._check_open("list its files")
        return [str(directory / "cgroup.procs") for directory in getattr(self._backend, "directories", ())]

    def watch(self, root_pid: int) -> None:
        """Follow ``root_pid`` and its descendants (the monitor sums them; cgroups ignore this).

        Example:
            >>> group.watch(child.pid)  # doctest: +SKIP
        """
        if not isinstance(root_pid, int) or isinstance(root_pid, bool) or root_pid <= 0:
            raise ValueError(f"watch: expected the pid of the sandbox's first process, got {root_pid!r}")
        self._check_open("watch a process")
        self._backend.watch(root_pid)

    def _sample(self) -> _Sample:
        if self._closed:
            return self._final or _EMPTY
        return self._backend.sample()

    def usage(self) -> Usage:
        """Memory and processes now, CPU time so far, of all the group's processes together.

        Example:
            >>> group.usage()  # doctest: +SKIP
            Usage(memory_mb=412.3, processes=5, cpu_seconds=1.7)
        """
        return self._sample().usage

    def exceeded(self) -> str | None:
        """``None`` while the group is within its budget, else what was passed and by how much, for an instructor.

        Memory counts as passed when the kernel's OOM killer stopped a process of a cgroup (or, on old v1
        kernels that do not count kills, when the limit was hit), or when a monitor saw more than the budget;
        processes when the kernel refused a fork or a thread (or a monitor saw too many); CPU time when the
        total passed the budget (nothing stops that but the caller). Several budgets passed give several
        clauses, joined by ``; ``.

        Example:
            >>> group.exceeded()  # doctest: +SKIP
            'the sandbox used 3.1 GiB of memory, over its 3 GiB limit'
        """
        sample, budget = self._sample(), self.budget
        said = []
        if sample.oom_kills:
            limit = _amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")[1]
            said.append(f"the sandbox reached its {limit} memory limit and the "
                        f"kernel's OOM killer stopped {sample.oom_kills} of its processes")
        elif sample.oom_kills is None and sample.limit_hits:
            limit = _amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")[1]
            said.append(f"the sandbox reached its {limit} memory limit "
                        f"{sample.limit_hits} times (this kernel does not say whether a process was killed)")
        elif sample.peak_memory_mb > budget.memory_mb:
            used, limit = _amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")
            said.append(f"the sandbox used {used} of memory, over its {limit} limit")
        if sample.refused:
            said.append(f"the sandbox tried to run more than {budget.processes} processes and threads at once; "
                        f"the kernel refused {sample.refused} of them")
        elif sample.peak_processes > budget.processes:
            said.append(f"the sandbox ran {sample.peak_processes} processes and threads at once, over its limit "
                        f"of {budget.processes}")
        if sample.usage.cpu_seconds > budget.cpu_seconds:
            used, limit = _amounts(sample.usage.cpu_seconds, budget.cpu_seconds, "s")
            said.append(f"the sandbox used {used} of CPU time, over its {limit} limit")
        return "; ".join(said) or None

    def kill_all(self) -> None:
        """SIGKILL every process of the group (cgroup v2: through ``cgroup.kill``), and those they fork meanwhile.

        Returns once none is left running, or after :data:`CLOSE_SECONDS` (then :meth:`close` says which).

        Example:
            >>> group.kill_all()  # doctest: +SKIP
        """
        if not self._closed:
            self._backend.kill(time.monotonic() + CLOSE_SECONDS)

    def close(self) -> None:
        """Kill every process of the group, wait (up to :data:`CLOSE_SECONDS`) until none is left, remove the group.

        Idempotent. Raises :class:`ResourceGroupError` when a process survives or a directory cannot be removed
        (then a later ``close()`` tries again).

        Example:
            >>> group.close()  # doctest: +SKIP
        """
        if self._closed:
            return
        deadline = time.monotonic() + CLOSE_SECONDS
        left = self._backend.kill(deadline)
        try:
            self._final = self._backend.sample()
        except ResourceGroupError:
            pass  # removed from outside: keep the last reading
        if left:
            raise ResourceGroupError(f"group {self.name}: processes {sorted(left)} still run after SIGKILL "
                                     f"and {CLOSE_SECONDS:g} s")
        self._backend.remove(deadline)
        self._closed = True

    def __enter__(self) -> ResourceGroup:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ResourceGroup {self.name} {self.mechanism} {state}: {self.budget}>"


def describe_mechanism() -> str:
    """One line for logs: the mechanism :meth:`ResourceGroup.create` gets on this machine, where, and why.

    It finds out by creating (and removing) an empty probe group.

    Example:
        >>> describe_mechanism()  # doctest: +SKIP
        'cgroup v1 (memory, pids, cpuacct) under /sys/fs/cgroup/memory/..., /sys/fs/cgroup/pids, ...; not cgroup
        v2: /sys/fs/cgroup/unified offers hugetlb, not memory, pids'
    """
    name = f"{DEFAULT_PREFIX}-{os.getpid()}-probe{time.monotonic_ns()}"
    group = ResourceGroup.create(name, Budget(memory_mb=64, processes=8, cpu_seconds=1))
    try:
        return group.description
    finally:
        group.close()


def _candidate_parents() -> list[Path]:
    """Every directory :meth:`ResourceGroup.create` may put a group in, on this machine."""
    parents: list[Path] = []
    try:
        parents.extend(_v1_bases().values())
    except _Unavailable:
        pass
    try:
        own = _v2_own()
    except _Unavailable:
        own = None
    if own is not None:
        parents.append(own)
        if not _v2_is_mount_point(own):
            parents.append(own.parent)
    return list(dict.fromkeys(parents))


def cleanup_stale(prefix: str = DEFAULT_PREFIX) -> list[Path]:
    """Remove empty groups that an earlier run left: named ``<prefix>-<pid>-...`` with ``pid`` no longer running.

    Groups that still hold processes, and those of running owners, are left alone.

    Returns:
        The directories removed.

    Example:
        >>> cleanup_stale("dlcourse")  # doctest: +SKIP
        [PosixPath('/sys/fs/cgroup/pids/dlcourse-4242-0')]
    """
    if not isinstance(prefix, str) or not _NAME.fullmatch(prefix):
        raise ValueError(f"cleanup_stale: expected a name prefix of letters, digits and _.-, got {prefix!r}")
    if not sys.platform.startswith("linux"):
        return []
    pattern = re.compile(re.escape(prefix) + r"-(\d+)(?:-.*)?")
    removed = []
    for parent in _candidate_parents():
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if not match or not entry.is_dir(follow_symlinks=False) or _alive(int(match.group(1))):
                continue
            try:
                os.rmdir(entry.path)
            except OSError:
                continue  # it holds processes (or a group of its own): not ours to take apart
            removed.append(Path(entry.path))
    return removed
