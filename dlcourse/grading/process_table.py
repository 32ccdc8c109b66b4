"""The processes of a resource group, by pid: whether one runs, killing them all, and what ``/proc`` says of them.

Shared by the mechanisms of :mod:`~dlcourse.grading.resources`: every one kills a group with
:func:`kill_until_empty`; the monitor (:mod:`~dlcourse.grading.process_monitor`) also reads the process table
(:func:`process_table`), follows a tree by parent links (:func:`process_tree`) and sums its memory
(:func:`memory_bytes`).

Example:
    >>> line = "42 (python3 (x)) S 1 42 42 0 -1 4194560 100 0 0 0 30 20 5 5 20 0 3 0 777 0 0"
    >>> proc = parse_stat(42, line)
    >>> proc.ppid, proc.state, proc.cpu_ticks, proc.threads, proc.start
    (1, 'S', 60, 3, 777)
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlcourse.grading.resource_budget import ResourceGroupError


def alive(pid: int) -> bool:
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


def signal_process(pid: int, number: int) -> None:
    """Send signal ``number`` to ``pid``, unless it ended meanwhile."""
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass  # it ended meanwhile
    except PermissionError as error:
        raise ResourceGroupError(f"cannot signal process {pid} of the group: {error.strerror}") from error


def kill_until_empty(members: Callable[[], set[int]], deadline: float) -> set[int]:
    """SIGKILL ``members()`` until none of them, nor any process signalled here, runs; or until ``deadline``
    (``time.monotonic``) passes. Returns those still running."""
    signalled: set[int] = set()
    while True:
        pids = {pid for pid in members() if pid != os.getpid() and alive(pid)}
        dying = {pid for pid in signalled - pids if alive(pid)}  # killed, still unmapping its memory
        if not (pids or dying) or time.monotonic() >= deadline:
            return pids | dying
        for pid in pids:
            signal_process(pid, signal.SIGKILL)
        signalled |= pids
        time.sleep(0.01)


@dataclass(frozen=True)
class Proc:
    """What ``/proc/<pid>/stat`` says of one process."""

    pid: int
    ppid: int
    state: str
    cpu_ticks: int  # utime + stime + cutime + cstime
    threads: int
    start: int


def parse_stat(pid: int, text: str) -> Proc:
    """One process from the text of its ``/proc/<pid>/stat`` (the command name may hold spaces and parentheses)."""
    fields = text[text.rindex(")") + 2:].split()  # fields[i] is field i + 3 of proc(5)
    ticks = sum(int(value) for value in fields[11:15])
    return Proc(pid, int(fields[1]), fields[0], ticks, int(fields[17]), int(fields[19]))


def process_table(proc: Path) -> dict[int, Proc]:
    """Every process the ``/proc`` folder ``proc`` shows, by pid."""
    table = {}
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = parse_stat(int(entry.name), Path(entry.path, "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # it ended while we looked
    return table


def process_tree(table: dict[int, Proc], root: int) -> list[Proc]:
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


def memory_bytes(proc: Path, pid: int, page_size: int) -> int:
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
