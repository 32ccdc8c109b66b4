"""Autograding in two kernels: the student's code in one, the tests in another that runs no submission code.

:class:`SplitExecute` replaces nbgrader's ``Execute`` in ``dlcourse grade``. For
each submitted notebook it starts two sandboxed kernels (:mod:`~dlcourse.grading.kernels`):

- the **student kernel** runs the submission's cells -- answer cells, cells the
  student added, the assignment's given cells as the student left them -- but
  never a test cell;
- the **test kernel** runs the assignment's own versions of the cells the tests
  need (imports, data, given helpers; :mod:`~dlcourse.grading.plan`) and
  every test cell, visible and hidden. A test cell reaches the student's
  functions through :mod:`~dlcourse.grading.harness`: arguments go to the
  student kernel as data, results come back as data.

A test cell passes when it raises nothing in the test kernel; nbgrader scores
the outputs that kernel produced. The student kernel's only influence is the
data its functions return (and the text they print, shown in the test cell as
plain output). The hidden tests' source is never sent to the student kernel.

Limits: every message a kernel sends counts against ``received_mb`` (outputs,
errors, display updates, widget messages, metadata: anything), one message may
not exceed ``message_mb``; kept output is capped per cell and per notebook; each
cell has a time limit and the notebook one in all; each kernel's processes
together have a memory, process and CPU budget (:mod:`~dlcourse.grading.resources`).
When a limit stops the notebook, the cells left get a ``GraderStopped`` error
(0 points) and the reason is reported. The report of a run is written as JSON
to ``report_path`` (:class:`~dlcourse.grading.run_report.RunReport`), for the grading worker;
:class:`~dlcourse.grading.kernel_pair.KernelPair` starts, stops and closes the two kernels.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import monotonic

import nbformat
from jupyter_core.utils import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Dict, Integer, Unicode

from dlcourse.cells import is_test_cell, nbgrader_meta
from dlcourse.grading.kernel_driver import Reply
from dlcourse.grading.kernel_pair import KernelPair
from dlcourse.grading.kernels import EXCHANGE_FOLDER, folder_prefix, shared_memory_folder
from dlcourse.grading.limits import Limits
from dlcourse.grading.outputs import STOPPED, OutputBudget, describe_cell, error_output, to_output
from dlcourse.grading.plan import GradingPlan, plan_notebook
from dlcourse.grading.run_report import Flag, RunReport
from dlcourse.grading.sandbox import RPC_DIR
from dlcourse.grading.working_copy import copy_files, files_size, make_readable

SERVE_CODE = "__import__('dlcourse.grading.subject', fromlist=['serve']).serve({path!r}, {token!r})"
HARNESS_CODE = ("__dlcourse_harness__ = __import__('dlcourse.grading.harness', fromlist=['Harness'])"
                ".Harness({path!r}, {max_bytes})")
BEGIN_CODE = "__dlcourse_harness__.begin(globals(), {names!r}, {seconds}, {token!r})"
END_CODE = "__dlcourse_harness__.end()"


# ---------------------------------------------------------------- the preprocessor
class SplitExecute(NbGraderPreprocessor):
    """Execute a submission in a student kernel and a test kernel (see the module docstring)."""

    limits = Dict(help="Limits.to_dict() of the run").tag(config=True)
    sandboxed = Bool(True, help="run both kernels in bubblewrap (False: plain processes, for trusted work)").tag(
        config=True)
    source_dir = Unicode("", help="the folder of the assignments' sources (solutions/)").tag(config=True)
    scratch_dir = Unicode("", help="where working copies go (default: the system's temporary folder)").tag(
        config=True)
    report_path = Unicode("", help="where to write the run's report (JSON)").tag(config=True)
    slot = Integer(0, help="worker slot (picks the kernels' user ids when the grader is root)").tag(config=True)
    course = Unicode("", help="the course folder (picks the kernels' user ids when the grader is root)").tag(
        config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        limits = Limits(**self.limits) if self.limits else Limits()
        if not self.sandboxed:
            self.log.warning("grading without the sandbox: the student's code runs with your permissions "
                             "(install bubblewrap, or use `dlcourse grade`, which refuses to run without it)")
        info = resources.get("nbgrader", {})
        name = str(info.get("notebook") or resources.get("unique_key") or "notebook")
        report = RunReport(notebook=name)
        started = monotonic()
        try:
            source_path = Path(self.source_dir) / str(info.get("assignment")) / f"{name}.ipynb"
            source = nbformat.read(source_path, as_version=4)
            run = _NotebookRun(self, nb, source, plan_notebook(source), limits, report,
                               resources.get("metadata", {}).get("path") or os.getcwd(), source_path.parent)
            run_sync(run.run)()
        except Exception as error:
            report.grader_error = report.grader_error or f"{type(error).__name__}: {error}"
        report.seconds = round(monotonic() - started, 2)
        if self.report_path:
            Path(self.report_path).write_text(report.to_json())
        if report.grader_error:
            raise RuntimeError(report.grader_error)
        return nb, resources


class _NotebookRun:
    """One notebook in two kernels, cell by cell."""

    def __init__(self, owner: SplitExecute, nb: NotebookNode, source: NotebookNode, plan: GradingPlan,
                 limits: Limits, report: RunReport, folder: str, source_folder: Path) -> None:
        self.owner, self.nb, self.source, self.plan, self.limits = owner, nb, source, plan, limits
        self.report, self.folder, self.source_folder = report, folder, source_folder
        self.budget = OutputBudget(limits.cell_output_kb * 1024, limits.notebook_output_kb * 1024, report.notes)
        self.deadline = monotonic() + limits.notebook_seconds
        self.stopped: str | None = None
        self.count = 0
        self.kernels = KernelPair(limits, sandboxed=owner.sandboxed, slot=owner.slot, course=owner.course)
        self.drivers = self.kernels.drivers
        self.socket = ""
        self.shared_done: set[int] = set()
        self.shared_task: asyncio.Future | None = None

    # -- the run
    async def run(self) -> None:
        scratch_root = self.owner.scratch_dir or None
        if scratch_root:
            os.makedirs(scratch_root, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dlcourse-work-", dir=scratch_root) as scratch, \
                tempfile.TemporaryDirectory(prefix=folder_prefix(EXCHANGE_FOLDER), dir=shared_memory_folder()) as rpc:
            work = os.path.join(scratch, "work")
            if not self._make_working_copy(work):
                return
            self._share_exchange_folder(rpc)
            try:
                if await self._start(work, rpc):
                    watchdog = asyncio.ensure_future(self._watch_resources())
                    try:
                        await self._cells()
                    finally:
                        watchdog.cancel()
            finally:
                await self.kernels.close(self.report.notes)

    def _make_working_copy(self, work: str) -> bool:
        """Copy the submission's regular files to ``work``; ``False`` (the notebook stopped) when they are too big."""
        size = files_size(self.folder)
        if size > self.limits.work_mb * 2**20:  # measured before anything is copied onto the grader's disk
            self._stop_before_start("files", f"the submission's files take {size / 2**20:.0f} MiB, over the "
                                             f"{self.limits.work_mb} MiB of the working copy")
            return False
        copy_files(self.folder, work)
        make_readable(work)
        return True

    def _share_exchange_folder(self, rpc: str) -> None:
        """The exchange folder: the test kernel's, which the student's kernel may only pass through."""
        tests_uid = self.kernels.uid("tests")
        if os.geteuid() == 0 and self.owner.sandboxed:
            os.chown(rpc, tests_uid, tests_uid)
        os.chmod(rpc, 0o711 if self.owner.sandboxed else 0o700)
        self.socket = os.path.join(RPC_DIR if self.owner.sandboxed else rpc, "socket")

    async def _start(self, work: str, rpc: str) -> bool:
        errors = await self.kernels.start(work, str(self.source_folder), rpc)
        if errors["tests"] is not None:
            self.report.grader_error = f"the test kernel did not start: {self.kernels.death('tests', errors['tests'])}"
            return False
        if errors["student"] is not None:
            self._stop_before_start("kernel-died", f"the student's kernel did not start: "
                                                   f"{self.kernels.death('student', errors['student'])}")
            return False
        code = HARNESS_CODE.format(path=self.socket, max_bytes=self.limits.message_mb * 2**20)
        reply = await self.drivers["tests"].execute(code, 60, silent=True, store_history=False)
        if reply.status != "ok":
            self.report.grader_error = f"the test kernel could not set up the exchange: {reply.ename}: {reply.evalue}"
            return False
        return True

    def _stop_before_start(self, kind: str, message: str) -> None:
        self.stopped = message
        self.report.flags.append(Flag(kind, message, None))
        for cell in self.nb.cells:
            if cell.get("cell_type") == "code":
                cell.outputs = [error_output(STOPPED, f"not run: {message}")]
                cell.execution_count = None

    async def _cells(self) -> None:
        tests = [i for i, cell in enumerate(self.nb.cells) if is_test_cell(cell)]
        self._schedule_shared(tests, 0)
        done_tests = 0
        for index, cell in enumerate(self.nb.cells):
            if cell.get("cell_type") != "code":
                continue
            if self.stopped is None and not cell.source.strip():
                continue
            if self.stopped is None and self.deadline - monotonic() < 1:
                self._stop(index, "time-limit", f"the notebook used up its {self.limits.notebook_seconds} s time "
                                                f"limit before {describe_cell(cell, index)}")
            if self.stopped is not None:
                cell.outputs = [error_output(STOPPED, f"not run: {self.stopped}")]
                cell.execution_count = None
                continue
            if is_test_cell(cell):
                await self._test_cell(cell, index)
                done_tests += 1
                self._schedule_shared(tests, done_tests)
            else:
                await self._student_cell(cell, index)
        if self.shared_task is not None:
            self.shared_task.cancel()

    # -- the assignment's own cells in the test kernel
    def _schedule_shared(self, tests: list[int], position: int) -> None:
        """Start running, in the test kernel, the assignment's cells the next test cell needs."""
        if position >= len(tests) or self.stopped is not None:
            self.shared_task = None
            return
        grade_id = nbgrader_meta(self.nb.cells[tests[position]]).get("grade_id")
        try:
            wanted = [i for i in self.plan.shared_before(grade_id) if i not in self.shared_done]
        except KeyError:
            wanted = []
        self.shared_done.update(wanted)
        self.shared_task = asyncio.ensure_future(self._run_shared(wanted))

    async def _run_shared(self, indices: list[int]) -> str | None:
        for index in indices:
            cell = self.source.cells[index]
            timeout = max(1.0, self.deadline - monotonic())
            reply = await self.drivers["tests"].execute(cell.source, timeout, store_history=False)
            if reply.status != "ok":
                return (f"the assignment's cell {index + 1} failed in the grader's test kernel: "
                        f"{reply.ename or reply.status}: {reply.evalue}")
        return None

    # -- a cell of the student's
    async def _student_cell(self, cell: NotebookNode, index: int) -> None:
        where = describe_cell(cell, index)
        outputs: list = []
        state: dict = {}
        limit = min(self.limits.cell_seconds, self.deadline - monotonic())
        reply = await self.drivers["student"].execute(cell.source, limit, lambda m: self._sink(m, outputs, state,
                                                                                                where))
        cell.outputs = outputs
        self.count += 1
        cell.execution_count = self.count
        self._after("student", reply, cell, index, limit)

    def _after(self, role: str, reply: Reply, cell: NotebookNode, index: int, limit: float) -> None:
        """Flag or stop after an execution, from how it ended."""
        where = describe_cell(cell, index)
        driver = self.drivers[role]
        whose = "the student's kernel" if role == "student" else "the test kernel"
        if driver.flood is not None and (reply.status != "dead" or driver.km.exit_description() is None):
            self._stop(index, "flood", f"{driver.flood}, in {where}")
        elif reply.status == "dead":
            death = self.kernels.death(role)
            self._stop(index, "kernel-died", f"{death} in {where}" if role == "student" else
                       f"the test kernel died while checking {where} ({death}): look at what the "
                       "student's functions returned")
        elif reply.status == "ignored":
            cell.outputs.append(error_output("CellTimeoutError", "the cell ignored the interrupt and was stopped"))
            self._stop(index, "interrupt-ignored", f"{where} ran past its time limit and {whose} ignored the "
                                                   "interrupt; the kernel was stopped")
        elif reply.status == "timeout":
            cell.outputs.append(error_output("CellTimeoutError", f"the cell ran over its {limit:.0f} s time limit "
                                                                 "and was interrupted"))
            if limit < self.limits.cell_seconds:
                self._stop(index, "time-limit", f"the notebook used up its {self.limits.notebook_seconds} s time "
                                                f"limit in {where}")
            else:
                self.report.flags.append(Flag("timeout", f"{where} ran over the {self.limits.cell_seconds} s cell "
                                                         "limit and was interrupted; the rest of the notebook ran",
                                              index))
        elif reply.ename == "MemoryError":
            self.report.flags.append(Flag("memory", f"{where} ran out of memory (MemoryError)", index))
        problem = self.kernels.resources_problem()
        if problem and self.stopped is None:
            self._stop(index, "resources", f"{problem} (in {where})")

    # -- a test cell
    async def _test_cell(self, cell: NotebookNode, index: int) -> None:
        if await self._shared_cells_failed(cell, index):
            return
        where = describe_cell(cell, index)
        outputs: list = []
        state: dict = {}
        limit = max(1.0, min(self.limits.cell_seconds, self.deadline - monotonic()))
        tests = self.drivers["tests"]

        def printed(msg: dict) -> None:  # what the student's functions print while the test runs: text only
            if msg.get("msg_type") == "stream":
                self._sink(msg, outputs, state, where)

        serving, begun = await self._serve_and_begin(cell, limit, printed)
        if begun.status == "ok":
            reply = await tests.execute(cell.source, max(1.0, limit - 0.5),
                                        lambda m: self._sink(m, outputs, state, where))
        else:
            reply = self._no_answer(serving, outputs, where, index)
        await tests.execute(END_CODE, 10, silent=True, store_history=False)
        served = await serving
        cell.outputs = outputs
        if reply.status != "ok" and not any(o.get("output_type") == "error" for o in outputs):
            # The verdict is the test kernel's answer: a test that did not finish cleanly always shows an error
            # (its own may have been lost to a flood, or the kernel stopped before it could send one).
            outputs.append(error_output(reply.ename or STOPPED, reply.evalue or
                                        f"the test did not finish ({reply.status})"))
        self.count += 1
        cell.execution_count = self.count
        self._after("tests", reply, cell, index, limit)
        if self.stopped is None:
            self._after("student", served if served.status in ("dead", "ignored") else Reply("ok"), cell, index,
                        limit)

    async def _shared_cells_failed(self, cell: NotebookNode, index: int) -> bool:
        """Wait for the assignment's cells this test needs; when one failed, stop the notebook (a grader error)."""
        if self.shared_task is None:
            return False
        problem = await self.shared_task
        self.shared_task = None
        if not problem:
            return False
        self.report.grader_error = problem
        self._stop(index, "grader", problem)
        cell.outputs = [error_output(STOPPED, f"not run: {problem}")]
        return True

    async def _serve_and_begin(self, cell: NotebookNode, limit: float,
                               printed: Callable[[dict], None]) -> tuple[asyncio.Future, Reply]:
        """Have the student's kernel serve this test's calls and the test kernel connect to it.

        Returns the serving execution (still running) and how the test kernel's beginning ended.
        """
        grade_id = nbgrader_meta(cell).get("grade_id")
        try:
            names = self.plan.needs(grade_id)
        except KeyError:
            names = []
        student, tests = self.drivers["student"], self.drivers["tests"]
        token = secrets.token_hex(16)  # tells this cell's connection from any other the student's code opened
        serve_id = student.kc.execute(SERVE_CODE.format(path=self.socket, token=token), silent=False,
                                      store_history=False, allow_stdin=False)
        serving = asyncio.ensure_future(student.wait(serve_id, limit + 3, printed))
        beginning = asyncio.ensure_future(tests.execute(BEGIN_CODE.format(names=names, seconds=limit, token=token),
                                                        limit,
                                                        silent=True, store_history=False))
        await asyncio.wait({serving, beginning}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done() and not beginning.done():  # the student's kernel stopped serving before it connected
            try:
                await tests.km.interrupt_kernel()
            except Exception:
                pass
        return serving, await beginning

    def _no_answer(self, serving: asyncio.Future, outputs: list, where: str, index: int) -> Reply:
        """The test's verdict when the student's kernel did not answer it (flagged once per notebook)."""
        answer = serving.result() if serving.done() else None
        why = (f"it stopped serving ({answer.ename}: {answer.evalue})" if answer and answer.ename
               else "it did not connect")
        outputs.append(error_output("StudentCodeError", f"the student's kernel did not answer the tests: {why}"))
        if not any(flag.kind == "no-answer" for flag in self.report.flags):
            self.report.flags.append(Flag("no-answer", f"the student's kernel did not answer the tests in "
                                                       f"{where} ({why}): its notebook changed how the kernel "
                                                       "runs code, or broke it", index))
        return Reply("error", "StudentCodeError", why)

    # -- outputs
    def _sink(self, msg: dict, outputs: list, state: dict, where: str) -> None:
        kind = msg.get("msg_type")
        if kind == "clear_output":
            if msg.get("content", {}).get("wait"):
                state["clear_on_next"] = True
            else:
                outputs.clear()
            return
        output = to_output(msg)
        if output is None:
            return
        if state.pop("clear_on_next", False):
            outputs.clear()
        self.budget.keep(outputs, output, state, where)

    # -- stopping
    def _stop(self, index: int, kind: str, message: str) -> None:
        if self.stopped is not None:
            return
        self.stopped = message
        self.report.flags.append(Flag(kind, message, index))
        self.kernels.kill()

    async def _watch_resources(self) -> None:
        """Stop the notebook when a kernel's sandbox passes its CPU budget (or, with a monitor, any budget)."""
        while self.stopped is None:
            await asyncio.sleep(0.25)
            problem = self.kernels.resources_problem()
            if problem:
                self._stop(-1, "resources", problem)
                return
