"""What a sandbox's processes may use together, what they use, and how a passed budget is said.

The vocabulary shared by the mechanisms of :mod:`~dlcourse.grading.resources` (``cgroup2`` and ``cgroup1`` in
:mod:`~dlcourse.grading.cgroups`, ``monitor`` in :mod:`~dlcourse.grading.process_monitor`): a
:class:`Budget`, a :class:`Usage`, one :class:`Sample` of a group (its usage and the counters that say
whether a budget was passed), and :func:`describe_excess`, the sentence an instructor reads.

Example:
    >>> budget = Budget(memory_mb=3072, processes=64, cpu_seconds=300)
    >>> describe_excess(Sample(Usage(3174.4, 5, 1.0), 3174.4, 5, 0, 0, 0), budget)
    'the sandbox used 3.1 GiB of memory, over its 3 GiB limit'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Mechanism = Literal["cgroup2", "cgroup1", "monitor"]
"""How a :class:`~dlcourse.grading.resources.ResourceGroup` holds its budget."""

DEFAULT_PREFIX = "dlcourse"
"""Name prefix of the groups the grader makes: ``dlcourse-<pid>-<n>`` (see
:func:`~dlcourse.grading.resources.cleanup_stale`)."""

MIB = 1024 * 1024


class ResourceGroupError(RuntimeError):
    """A group cannot be used as asked (a forced mechanism is unavailable, a name is taken, a process survives)."""


class MechanismUnavailable(Exception):
    """This mechanism cannot work here; the message says why (it ends up in
    :func:`~dlcourse.grading.resources.describe_mechanism`)."""


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
class Sample:
    """One reading of a group: its usage, and the counters that say whether a budget was passed."""

    usage: Usage
    peak_memory_mb: float
    peak_processes: int
    oom_kills: int | None  # None: this kernel does not count OOM kills (old cgroup v1)
    limit_hits: int  # times the memory limit was reached (old v1 kernels only, where oom_kills is None)
    refused: int  # forks and threads the kernel refused (``pids.events`` max)


EMPTY_SAMPLE = Sample(Usage(0.0, 0, 0.0), 0.0, 0, 0, 0, 0)


def amounts(used: float, limit: float, unit: str = "") -> tuple[str, str]:
    """``used`` and ``limit`` as text, with enough decimals to tell them apart; MiB become GiB from 1 GiB."""
    if unit == "MiB" and limit >= 1024:
        used, limit, unit = used / 1024, limit / 1024, "GiB"
    for decimals in (1, 2, 3):
        pair = tuple(f"{value:.{decimals}f}".rstrip("0").rstrip(".") + (f" {unit}" if unit else "")
                     for value in (used, limit))
        if pair[0] != pair[1]:
            break
    return pair[0], pair[1]


def describe_excess(sample: Sample, budget: Budget) -> str | None:
    """``None`` while ``sample`` is within ``budget``, else what was passed and by how much, for an instructor.

    Memory counts as passed when the kernel's OOM killer stopped a process of a cgroup (or, on old v1
    kernels that do not count kills, when the limit was hit), or when a monitor saw more than the budget;
    processes when the kernel refused a fork or a thread (or a monitor saw too many); CPU time when the
    total passed the budget (nothing stops that but the caller). Several budgets passed give several
    clauses, joined by ``; ``.

    Example:
        >>> describe_excess(EMPTY_SAMPLE, Budget(600, 10, 5.0)) is None
        True
    """
    said = [clause for clause in (_memory_excess(sample, budget), _processes_excess(sample, budget),
                                  _cpu_excess(sample, budget)) if clause]
    return "; ".join(said) or None


def _memory_excess(sample: Sample, budget: Budget) -> str | None:
    if sample.oom_kills:
        limit = amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")[1]
        return (f"the sandbox reached its {limit} memory limit and the "
                f"kernel's OOM killer stopped {sample.oom_kills} of its processes")
    if sample.oom_kills is None and sample.limit_hits:
        limit = amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")[1]
        return (f"the sandbox reached its {limit} memory limit "
                f"{sample.limit_hits} times (this kernel does not say whether a process was killed)")
    if sample.peak_memory_mb > budget.memory_mb:
        used, limit = amounts(sample.peak_memory_mb, budget.memory_mb, "MiB")
        return f"the sandbox used {used} of memory, over its {limit} limit"
    return None


def _processes_excess(sample: Sample, budget: Budget) -> str | None:
    if sample.refused:
        return (f"the sandbox tried to run more than {budget.processes} processes and threads at once; "
                f"the kernel refused {sample.refused} of them")
    if sample.peak_processes > budget.processes:
        return (f"the sandbox ran {sample.peak_processes} processes and threads at once, over its limit "
                f"of {budget.processes}")
    return None


def _cpu_excess(sample: Sample, budget: Budget) -> str | None:
    if sample.usage.cpu_seconds > budget.cpu_seconds:
        used, limit = amounts(sample.usage.cpu_seconds, budget.cpu_seconds, "s")
        return f"the sandbox used {used} of CPU time, over its {limit} limit"
    return None
