"""The resource group of last resort: no kernel enforcement, the watched process tree summed from ``/proc``.

``monitor`` is what :mod:`~dlcourse.grading.resources` falls back to when no cgroup can be made (not root and
nothing delegated, a read-only ``/sys/fs/cgroup``, another OS). The kernel enforces nothing;
:meth:`Monitor.sample` sums ``/proc`` over the process tree given to :meth:`Monitor.watch`, and the caller
stops the sandbox when :meth:`~dlcourse.grading.resources.ResourceGroup.exceeded` says so. Its limits, honestly:

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

Example:
    >>> monitor = Monitor("monitor")
    >>> monitor.sample().usage.processes, monitor.members()
    (0, set())
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from dlcourse.grading.process_table import (
    Proc,
    kill_until_empty,
    memory_bytes,
    parse_stat,
    process_table,
    process_tree,
    signal_process,
)
from dlcourse.grading.resource_budget import MIB, Mechanism, Sample, Usage


class Monitor:
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
            self.root_start = parse_stat(root_pid, (self.proc / str(root_pid) / "stat").read_text()).start
        except (OSError, ValueError, IndexError):
            self.root_start = None  # gone already, or no /proc: nothing to count

    def _members(self) -> list[Proc]:
        if self.root is None or self.root_start is None or not self.can_count:
            return []
        table = process_table(self.proc)
        root = table.get(self.root)
        if root is None or root.start != self.root_start:  # it ended (and its pid may serve another process)
            return []
        return process_tree(table, self.root)

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
                signal_process(pid, signal.SIGSTOP)
            stopped |= new
        return kill_until_empty(lambda: self.members() | stopped, deadline)

    def sample(self) -> Sample:
        members = self._members()
        if members:
            page_size, ticks = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
            memory = sum(memory_bytes(self.proc, p.pid, page_size) for p in members) / MIB
            processes = sum(p.threads for p in members)
            # Each live process counts itself and the processes it reaped (cutime, cstime): every CPU second once.
            # The total only grows: a process that ends takes its seconds with it until its parent reaps it.
            self.cpu_seconds = max(self.cpu_seconds, sum(p.cpu_ticks for p in members) / ticks)
            self.peak_memory_mb = max(self.peak_memory_mb, memory)
            self.peak_processes = max(self.peak_processes, processes)
        else:
            memory, processes = 0.0, 0
        return Sample(Usage(memory, processes, self.cpu_seconds), self.peak_memory_mb, self.peak_processes, 0, 0, 0)

    def remove(self, deadline: float) -> None:
        """Nothing to remove."""
