"""Resource limits for a whole sandbox: all its processes together, not one process at a time.

The rlimits of :mod:`~dlcourse.grading.sandbox` hold per process, so a notebook that forks
multiplies them: four processes may each take the full ``RLIMIT_DATA``. A :class:`ResourceGroup`
holds one :class:`~dlcourse.grading.resource_budget.Budget` (memory, processes and threads, CPU time)
for every process of a sandbox at once, with the best mechanism this machine allows
(:func:`describe_mechanism` says which, and why):

``cgroup2``, ``cgroup1``
    A group in the unified cgroup hierarchy, else one in each v1 hierarchy it needs, when this process may
    create one (root, or a delegated subtree): the kernel enforces memory and processes
    (:mod:`~dlcourse.grading.cgroups`; :mod:`~dlcourse.grading.cgroup_hierarchy` finds where).
``monitor``
    When no cgroup can be made (not root and nothing delegated, a read-only ``/sys/fs/cgroup``,
    another OS). The kernel enforces nothing; :meth:`ResourceGroup.usage` samples ``/proc`` over the
    process tree given to :meth:`ResourceGroup.watch`, and the caller stops the sandbox when
    :meth:`ResourceGroup.exceeded` says so (:mod:`~dlcourse.grading.process_monitor` says, honestly,
    what it misses).

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

import os
import re
import sys
import time
from pathlib import Path
from types import TracebackType

from dlcourse.grading.cgroup_hierarchy import group_parents
from dlcourse.grading.cgroups import Cgroup1, Cgroup2
from dlcourse.grading.process_monitor import Monitor
from dlcourse.grading.process_table import alive
from dlcourse.grading.resource_budget import (
    DEFAULT_PREFIX,
    EMPTY_SAMPLE,
    Budget,
    Mechanism,
    MechanismUnavailable,
    ResourceGroupError,
    Sample,
    Usage,
    describe_excess,
)

MECHANISMS = ("auto", "cgroup2", "cgroup1", "monitor")
"""What :meth:`ResourceGroup.create` accepts as ``mechanism``: ``auto`` takes the first that works."""

CLOSE_SECONDS = 5.0
"""How long :meth:`ResourceGroup.close` waits for the group's processes to die and its directories to go."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

__all__ = ["CLOSE_SECONDS", "DEFAULT_PREFIX", "MECHANISMS", "Budget", "ResourceGroup", "ResourceGroupError", "Usage",
           "cleanup_stale", "describe_mechanism"]

_Backend = Cgroup2 | Cgroup1 | Monitor
"""What holds a group's budget: one object per mechanism, with the same methods."""


def _open(name: str, budget: Budget, mechanism: str) -> _Backend:
    """The backend ``mechanism`` asks for (``auto``: the first that works), or a monitor that says why."""
    reasons: list[str] = []
    made = _open_cgroup(name, budget, mechanism, reasons)
    if made is not None:
        return made
    if mechanism in ("cgroup2", "cgroup1"):
        raise ResourceGroupError(f"{mechanism} was asked for but cannot be used here: {'; '.join(reasons)}")
    return _monitor_saying_why(reasons)


def _open_cgroup(name: str, budget: Budget, mechanism: str, reasons: list[str]) -> Cgroup2 | Cgroup1 | None:
    """The first cgroup ``mechanism`` allows that can be made here, or ``None``; why not each, in ``reasons``."""
    if not sys.platform.startswith("linux"):
        reasons.append(f"cgroups exist only on Linux (this is {sys.platform})")
        return None
    for kind, backend in (("cgroup2", Cgroup2), ("cgroup1", Cgroup1)):
        if mechanism not in ("auto", kind):
            continue
        try:
            made = backend.create(name, budget)
        except MechanismUnavailable as error:
            reasons.append(f"not cgroup v{kind[-1]}: {error}")
            continue
        if reasons:
            made.description += "; " + "; ".join(reasons)
        return made
    return None


def _monitor_saying_why(reasons: list[str]) -> Monitor:
    """A monitor whose description says what it counts here and why no cgroup could be made."""
    monitor = Monitor("")
    if monitor.can_count:
        how = ("monitor (nothing enforced by the kernel: memory, processes and CPU time of the watched process "
               "tree sampled from /proc while polled)")
    else:
        how = f"monitor without /proc on {sys.platform}: nothing is counted or enforced (usage reads zero)"
    monitor.description = how + ("; " + "; ".join(reasons) if reasons else ", as asked")
    return monitor


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
        self._final: Sample | None = None

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

    def _sample(self) -> Sample:
        if self._closed:
            return self._final or EMPTY_SAMPLE
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

        What counts as passed, for each budget: :func:`~dlcourse.grading.resource_budget.describe_excess`.

        Example:
            >>> group.exceeded()  # doctest: +SKIP
            'the sandbox used 3.1 GiB of memory, over its 3 GiB limit'
        """
        return describe_excess(self._sample(), self.budget)

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
    for parent in group_parents():
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if not match or not entry.is_dir(follow_symlinks=False) or alive(int(match.group(1))):
                continue
            try:
                os.rmdir(entry.path)
            except OSError:
                continue  # it holds processes (or a group of its own): not ours to take apart
            removed.append(Path(entry.path))
    return removed
