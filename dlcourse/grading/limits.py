"""The limits every graded notebook runs under (``dlcourse grade``; the README lists them).

They are generous for honest work -- every assignment runs in seconds and
uses a few hundred MiB -- and stop what a submission must not do: run for
ever, fill the memory or the disk, fork without end, or flood the feedback.

Example:
    >>> Limits().cell_seconds
    60
    >>> Limits(cpu_seconds=20).with_overrides(memory_mb=1024).memory_mb
    1024
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

CELL_SECONDS = 60
"""Wall-clock seconds one cell may run before the kernel is interrupted (nbgrader's ``Execute.timeout``)."""

NOTEBOOK_SECONDS = 300
"""Wall-clock seconds the whole notebook may run, kernel start included; the cells left get 0."""

CPU_SECONDS = 300
"""CPU seconds a kernel's sandbox may use, all its processes together (its resource group; each process also
has it as ``RLIMIT_CPU``); past it the notebook is stopped."""

MEMORY_MB = 3072
"""Memory of a kernel's sandbox in MiB, all its processes (and its tmpfs files) together, and of each process
(``RLIMIT_DATA``). PyTorch alone takes about 800 MiB."""

ADDRESS_SPACE_EXTRA_MB = 6144
"""Address space allowed beyond ``memory_mb`` (``RLIMIT_AS``): PyTorch reserves 3 GiB it never touches."""

PROCESSES = 64
"""Processes and threads a kernel's sandbox may hold at once (its resource group, and ``RLIMIT_NPROC``)."""

FILE_MB = 64
"""Largest file the student's code may write, in MiB (``RLIMIT_FSIZE``)."""

TMP_MB = 256
"""Size of the sandbox's private ``/tmp`` and ``/dev/shm`` (each), in MiB."""

WORK_MB = 256
"""Size of the kernel's working copy (a tmpfs: the submission's files and whatever the code writes), in MiB."""

MESSAGE_MB = 256
"""Largest result one call of a student's function may send to the tests, in MiB."""

RECEIVED_MB = 64
"""All a kernel may send the grader during one notebook (every message: outputs, errors, display updates,
widget state, metadata), in MiB; past it the notebook is stopped as a flood."""

CELL_RECEIVED_MB = 16
"""All a kernel may send the grader while one cell runs, in MiB (also the largest single message)."""

OPEN_FILES = 1024
"""Open file descriptors (``RLIMIT_NOFILE``)."""

CELL_OUTPUT_KB = 200
"""Output one cell may produce (text and pictures), in KiB; the rest is dropped with a note."""

NOTEBOOK_OUTPUT_KB = 2048
"""Output the whole notebook may produce, in KiB, so that a feedback page stays small."""

SUBMISSION_MB = 20
"""Largest notebook file accepted for grading, in MiB."""


@dataclass(frozen=True)
class Limits:
    """Per-notebook and per-cell limits of a grading run (defaults: the constants above)."""

    cell_seconds: int = CELL_SECONDS
    notebook_seconds: int = NOTEBOOK_SECONDS
    cpu_seconds: int = CPU_SECONDS
    memory_mb: int = MEMORY_MB
    processes: int = PROCESSES
    file_mb: int = FILE_MB
    tmp_mb: int = TMP_MB
    work_mb: int = WORK_MB
    message_mb: int = MESSAGE_MB
    received_mb: int = RECEIVED_MB
    cell_received_mb: int = CELL_RECEIVED_MB
    open_files: int = OPEN_FILES
    cell_output_kb: int = CELL_OUTPUT_KB
    notebook_output_kb: int = NOTEBOOK_OUTPUT_KB

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{field.name}: expected a positive whole number, got {value!r}")
        if self.cell_seconds > self.notebook_seconds:
            raise ValueError(f"Limits: cell_seconds ({self.cell_seconds}) cannot exceed notebook_seconds "
                             f"({self.notebook_seconds})")

    @property
    def address_space_mb(self) -> int:
        """The ``RLIMIT_AS`` in MiB: ``memory_mb`` plus room for reserved but unused address space."""
        return self.memory_mb + ADDRESS_SPACE_EXTRA_MB

    def with_overrides(self, **changes: int | None) -> Limits:
        """A copy with the given fields changed; ``None`` values are ignored.

        Example:
            >>> Limits().with_overrides(cell_seconds=5, cpu_seconds=None).cell_seconds
            5
        """
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, int]:
        """The limits as a plain dict (for JSON)."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line for logs and the summary."""
        return (f"cell {self.cell_seconds} s, notebook {self.notebook_seconds} s, CPU {self.cpu_seconds} s, "
                f"memory {self.memory_mb} MiB, {self.processes} processes, files {self.file_mb} MiB, "
                f"working copy {self.work_mb} MiB, output {self.cell_output_kb} KiB/cell and "
                f"{self.notebook_output_kb} KiB/notebook, messages {self.cell_received_mb} MiB/cell and "
                f"{self.received_mb} MiB/notebook")
