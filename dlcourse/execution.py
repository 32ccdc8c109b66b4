"""Executing the course's notebooks and judging the result (used by ``dlcourse check`` and the tests).

A lecture or a solution passes when every cell runs without an error and
nothing is written to stderr (a warning a student did not cause is a bug).
A student version (``assignments/``) passes when the only errors are
``NotImplementedError`` in answer cells or in the test cells that call them.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dlcourse.cells import cell_role
from dlcourse.layout import is_student_version

DEFAULT_TIME_LIMIT = 120.0
"""Seconds a whole notebook may take before ``dlcourse check`` counts it as failed (a guard against hangs)."""

TARGET_SECONDS = 60.0
"""The time every notebook should stay under on a 2-core CPU (reported, see the benchmarks)."""


@dataclass
class CellProblem:
    """One cell that failed or wrote to stderr."""

    index: int
    kind: str  # "error" or "stderr"
    name: str  # exception name, or "stderr"
    message: str
    role: str  # "answer", "test", "free-text" or "other"

    def describe(self) -> str:
        return f"cell {self.index} ({self.role}): {self.name}: {self.message}"


@dataclass
class RunResult:
    """What happened when a notebook was executed."""

    path: Path
    seconds: float
    problems: list[CellProblem] = field(default_factory=list)
    crash: str | None = None  # the kernel died, timed out, or the file could not be read
    student_version: bool = False

    @property
    def unanswered(self) -> list[CellProblem]:
        """Errors that are expected in a blank student version."""
        return [p for p in self.problems if self.student_version and _is_expected_student_error(p)]

    @property
    def failures(self) -> list[CellProblem]:
        """Problems that make the run fail."""
        return [p for p in self.problems if not (self.student_version and _is_expected_student_error(p))]

    @property
    def ok(self) -> bool:
        return self.crash is None and not self.failures

    @property
    def status(self) -> str:
        if self.crash:
            return "FAILED"
        if self.failures:
            return "FAILED"
        if self.unanswered:
            return f"ok ({len(self.unanswered)} unanswered)"
        return "ok"


def _is_expected_student_error(problem: CellProblem) -> bool:
    return problem.kind == "error" and problem.name == "NotImplementedError" and problem.role in ("answer", "test")


def collect_problems(nb: nbformat.NotebookNode) -> list[CellProblem]:
    """Errors and stderr output of an executed notebook, cell by cell."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(CellProblem(index, "error", output.ename, output.evalue[:300], cell_role(cell)))
            elif output.output_type == "stream" and output.name == "stderr":
                text = output.text.strip().splitlines()
                first_line = (text[0] if text else "")[:300]
                problems.append(CellProblem(index, "stderr", "stderr", first_line, cell_role(cell)))
    return problems


def execute_notebook(
    path: str | Path,
    time_limit: float = DEFAULT_TIME_LIMIT,
    save_to: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run the notebook at ``path`` top to bottom in a fresh ``python3`` kernel, in its own folder.

    Every cell runs even after an error, so that all problems are reported.
    ``time_limit`` bounds each cell and the whole run. ``save_to`` writes the
    executed notebook there.

    Example:
        >>> result = execute_notebook("notebooks/03_logic_gates.ipynb")  # doctest: +SKIP
        >>> result.ok, round(result.seconds)  # doctest: +SKIP
        (True, 9)
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    result = RunResult(path=path, seconds=0.0, student_version=is_student_version(path))
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:
        result.crash = f"cannot read notebook: {type(error).__name__}: {error}"
        return result
    kernel_env = dict(os.environ)
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning on stderr
    kernel_env.update(env or {})
    client = NotebookClient(
        nb,
        timeout=int(time_limit),
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    start = time.perf_counter()
    # The kernel process's own log (start-up notices, crash messages) is kept
    # out of the terminal and quoted only when the kernel dies.
    with tempfile.TemporaryFile() as kernel_log:
        try:
            client.execute(env=kernel_env, stderr=kernel_log)
        except CellTimeoutError as error:
            result.crash = f"a cell ran longer than {time_limit:.0f} s: {str(error).splitlines()[0]}"
        except DeadKernelError as error:
            kernel_log.seek(0)
            tail = kernel_log.read().decode(errors="replace").strip().splitlines()[-3:]
            result.crash = f"the kernel died: {error}" + ("\n" + "\n".join(tail) if tail else "")
        except Exception as error:  # the kernel could not start, and the like
            result.crash = f"{type(error).__name__}: {error}"
    result.seconds = time.perf_counter() - start
    result.problems = collect_problems(nb)
    if result.crash is None and result.seconds > time_limit:
        result.crash = f"took {result.seconds:.0f} s, over the limit of {time_limit:.0f} s"
    if save_to is not None:
        nbformat.write(nb, str(save_to))
    return result
