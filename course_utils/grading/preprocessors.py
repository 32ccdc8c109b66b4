"""The pieces the course plugs into nbgrader: preprocessors and the sandboxed kernel manager.

- :class:`StderrIsNotFailure` (autograde): a warning on stderr never costs points (GRADING_THREATS #20).
- :class:`HideHiddenTests` (feedback): the feedback shows neither the hidden tests nor their tracebacks
  (nbgrader issues #917, #1363).
- :class:`GuardedExecute` (autograde, used by ``dlcourse grade``): nbgrader's ``Execute`` with a
  per-notebook time limit, output caps, kernel deaths and tampering turned into a clear stop
  (the cells left get 0) and a reason for the instructor, and the kernel in the sandbox.
- :class:`SandboxedKernelManager`: starts the kernel through :mod:`course_utils.grading.sandbox`.
"""

from __future__ import annotations

import ast
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from queue import Empty
from time import monotonic

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Dict, Integer, List, Unicode

from course_utils.grading.limits import Limits
from course_utils.grading.sandbox import describe_exit, sandbox_uid

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests: not shown in the feedback)"
STOPPED = "GraderStopped"
"""``ename`` of the error put into every cell the grader did not run after it stopped a notebook."""


# ---------------------------------------------------------------- autograde: stderr
class StderrIsNotFailure(NbGraderPreprocessor):
    """Turn stderr output into stdout output, marked as such, so that warnings never cost points.

    nbgrader 0.9 gives a test cell zero points when it wrote anything to
    stderr, so a correct answer that merely triggers a library warning
    (PyTorch emits several) would score 0. The text stays visible in the
    feedback, prefixed with ``[stderr]``; only real errors cost points.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("x")
        >>> cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="careful\\n")]
        >>> StderrIsNotFailure().preprocess_cell(cell, {}, 0)[0].outputs[0]["text"]
        '[stderr] careful\\n'
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(f"[stderr] {line}" for line in output["text"].splitlines(True))
        return cell, resources


# ---------------------------------------------------------------- feedback: hidden tests
def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def strip_hidden_region(source: str) -> tuple[str, bool]:
    """``source`` with every ``### BEGIN/END HIDDEN TESTS`` region replaced by one comment; and whether it had one.

    An unterminated region hides everything to the end of the cell.

    Example:
        >>> strip_hidden_region("a = 1\\n### BEGIN HIDDEN TESTS\\nassert f(3) == 9\\n### END HIDDEN TESTS\\n")
        ('a = 1\\n# (hidden tests: not shown in the feedback)\\n', True)
    """
    kept: list[str] = []
    hiding = found = False
    for line in source.splitlines(True):
        if HIDDEN_BEGIN in line:
            if not hiding:
                kept.append(HIDDEN_NOTE + "\n")
            hiding = found = True
        elif HIDDEN_END in line:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "".join(kept), found


class HideHiddenTests(NbGraderPreprocessor):
    """In the feedback, remove hidden tests from test cells and the tracebacks that would quote them.

    nbgrader restores the hidden tests before autograding and leaves them, and
    the tracebacks of their failures, in the feedback (issues #917, #1363). For
    a cell with hidden tests this keeps the visible part of its source and, of
    its output, only the error name and message -- the message the course's
    checks write for students. ``show_messages = False`` hides those too.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\\nassert f(2) == 4, 'f(2)'\\n### END HIDDEN TESTS")
        >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
        >>> cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="f(2)",
        ...                                        traceback=["  assert f(2) == 4", "AssertionError: f(2)"])]
        >>> cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
        >>> cell.source, cell.outputs[0]["traceback"]
        ('# (hidden tests: not shown in the feedback)\\n', ['AssertionError: f(2)'])
    """

    show_messages = Bool(True, help="show the error message of a failed hidden test (not its code)").tag(
        config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if not _is_test_cell(cell):
            return cell, resources
        source, hidden = strip_hidden_region(cell.source)
        if not hidden:
            return cell, resources
        cell.source = source
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue  # what a hidden test prints may quote its inputs and expected values
            message = output.get("evalue", "") if self.show_messages else "a hidden test failed"
            output["evalue"] = message
            output["traceback"] = [f"{output.get('ename', 'Error')}: {message}"]
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources


# ---------------------------------------------------------------- the sandboxed kernel
class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start in the sandbox of :mod:`course_utils.grading.sandbox`.

    Each kernel gets a private folder for its connection file and Unix sockets
    (the sandbox has no network), removed when the kernel is gone. ``limits``
    is ``Limits.to_dict()``; ``slot`` picks the unprivileged user when the
    grader runs as root.
    """

    limits = Dict(help="Limits.to_dict() of the run").tag(config=True)
    slot = Integer(0, help="worker slot (with course: picks the user id when the grader is root)").tag(config=True)
    course = Unicode("", help="the course folder (with slot: picks the user id when the grader is root)").tag(
        config=True)

    _conn_dir: str | None = None

    async def _async_pre_start_kernel(self, **kw):  # type: ignore[override]
        self._conn_dir = tempfile.mkdtemp(prefix="dlcourse-kernel-")
        self.transport = "ipc"
        self.connection_file = os.path.join(self._conn_dir, "kernel.json")
        self.ip = os.path.join(self._conn_dir, "kernel-ipc")
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        import json
        import sys

        kernel = super().format_kernel_cmd(extra_arguments)
        workdir = str(self._launch_args.get("cwd") or os.getcwd())
        return [sys.executable, "-m", "course_utils.grading.sandbox", "--workdir", workdir,
                "--conn-dir", str(self._conn_dir), "--limits", json.dumps(Limits(**self.limits).to_dict()),
                "--uid", str(sandbox_uid(self.slot, self.course or None)), "--parent", str(os.getpid()), "--", *kernel]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._conn_dir and not restart:
            shutil.rmtree(self._conn_dir, ignore_errors=True)
            self._conn_dir = None

    cleanup_resources = _async_cleanup_resources

    def exit_description(self) -> str | None:
        """Why the kernel process ended, from the sandbox's exit status (``None`` while it runs)."""
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        return describe_exit(code, Limits(**self.limits)) if code is not None else None


# ---------------------------------------------------------------- autograde: guarded execution
@dataclass
class Flag:
    """Something about one notebook's run that a human should know (the student is flagged)."""

    kind: str  # "timeout", "time-limit", "interrupt-ignored", "kernel-died", "memory", "tampering", "guard"
    message: str
    cell: int | None = None


@dataclass
class RunReport:
    """What :class:`GuardedExecute` saw while running one notebook."""

    notebook: str
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    grader_error: str | None = None  # not the student's fault: the guard could not start, and the like


RUN_REPORTS: list[RunReport] = []
"""Reports of the notebooks executed in this process, newest last; the grading worker reads and clears it."""


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _note_output(text: str) -> NotebookNode:
    """A plain-text display (not a stream, which would be merged with the output it is about and cut with it)."""
    return NotebookNode(output_type="display_data", data={"text/plain": text}, metadata={})


def _describe_cell(cell: NotebookNode, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")


def _output_size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    if "data" in content:
        return sum(len(value) if isinstance(value, str) else len(str(value)) for value in content["data"].values())
    if "traceback" in content:
        return sum(len(line) for line in content["traceback"]) + len(content.get("evalue", ""))
    return 0


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with the limits and checks ``dlcourse grade`` needs.

    - ``notebook_timeout``: the whole notebook's wall-clock budget; each cell
      gets at most what is left of it. When it runs out, or a cell ignores the
      interrupt sent at its time limit, or the kernel dies, the grader stops: the
      cells left are not run, each gets a ``GraderStopped`` error (0 points), and
      the reason is flagged.
    - ``guard``: :mod:`course_utils.grading.guard` is installed at kernel start
      and asked after every cell whether the notebook changed what the tests
      rely on; at the first change the grader stops the same way (tests that
      would run after the tampering earn nothing) and flags what changed.
    - ``cell_output_kb`` / ``notebook_output_kb``: output beyond them is dropped
      as it arrives, with a note in the cell.
    - ``sandboxed``: kernels start through :class:`SandboxedKernelManager`.
    - The kernel runs in a scratch copy of the submission folder, so nothing it
      writes reaches the course tree.

    Each run's :class:`RunReport` is appended to :data:`RUN_REPORTS`.
    """

    notebook_timeout = Integer(300, help="seconds the whole notebook may run (kernel start included)").tag(
        config=True)
    guard = Bool(True, help="detect tampering with the checks (course_utils.grading.guard)").tag(config=True)
    guard_modules = List(Unicode(), help="extra modules the guard watches").tag(config=True)
    guard_names = Dict(help="notebook name -> 'module' or 'module:attribute' it must keep referring to").tag(
        config=True)
    guard_timeout = Integer(20, help="seconds to wait for the guard's report after a cell").tag(config=True)
    cell_output_kb = Integer(200, help="output one cell may produce, KiB").tag(config=True)
    notebook_output_kb = Integer(2048, help="output the notebook may produce, KiB").tag(config=True)
    sandboxed = Bool(False, help="start kernels in the sandbox (SandboxedKernelManager)").tag(config=True)
    scratch_dir = Unicode("", help="where the scratch working copies go (default: the system's temp folder)").tag(
        config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.sandboxed:
            self.kernel_manager_class = SandboxedKernelManager

    # -- the run
    def preprocess(self, nb: NotebookNode, resources: dict, km=None) -> tuple[NotebookNode, dict]:
        name = resources.get("unique_key") or resources.get("nbgrader", {}).get("notebook") or "notebook"
        self._report = RunReport(notebook=str(name))
        RUN_REPORTS.append(self._report)
        self._started = monotonic()
        self._deadline = self._started + self.notebook_timeout
        self._stopped: str | None = None
        self._guard_checked = False
        self._cell_index = -1
        self._cell_bytes = self._notebook_bytes = 0
        self._cell_capped = self._notebook_capped = False
        self.timeout_func = self._cell_timeout
        self.extra_arguments = self._kernel_arguments()
        folder = resources.get("metadata", {}).get("path") or os.getcwd()
        if self.scratch_dir:
            os.makedirs(self.scratch_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="dlcourse-work-", dir=self.scratch_dir or None) as scratch:
            workdir = os.path.join(scratch, "work")
            _copy_regular_files(folder, workdir)
            resources.setdefault("metadata", {})["path"] = workdir
            try:
                nb, resources = super().preprocess(nb, resources, km)
            finally:
                resources["metadata"]["path"] = folder
        self._report.seconds = monotonic() - self._started
        if self._report.grader_error:
            raise RuntimeError(self._report.grader_error)
        return nb, resources

    def _kernel_arguments(self) -> list[str]:
        arguments = ["--HistoryManager.hist_file=:memory:"]
        if self.guard:
            call = (f"__import__('course_utils.grading.guard', fromlist=['install'])"
                    f".install(modules={list(self.guard_modules)!r}, names={dict(self.guard_names)!r})")
            arguments.append(f"--IPKernelApp.exec_lines={[call]!r}")
        return arguments

    def _cell_timeout(self, cell: NotebookNode) -> int:
        left = self._deadline - monotonic()
        return max(1, int(min(self.timeout or left, left)))

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._stopped is None and self.guard and not self._guard_checked:
            self._guard_checked = True
            problem = self._guard_findings()
            if problem is None or problem[0] is not None or problem[1]:  # before any student code ran
                detail = "no answer" if problem is None else problem[0] or "; ".join(problem[1])
                self._report.grader_error = f"the grader's guard did not start in the kernel: {detail}"
                self._stop(index, "guard", self._report.grader_error)
        if self._stopped is None and self._deadline - monotonic() < 1:
            self._stop(index, "time-limit", f"the notebook used up its {self.notebook_timeout} s time limit "
                                            f"before {_describe_cell(cell, index)}")
        if self._stopped is not None:
            cell.outputs = [_error_output(STOPPED, f"not run: {self._stopped}")]
            cell.execution_count = None
            return cell, resources
        self._cell_index, self._cell_bytes, self._cell_capped = index, 0, False
        limited_by_notebook = self._cell_timeout(cell) < (self.timeout or 0)
        where = _describe_cell(cell, index)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            cell.outputs.append(_error_output("CellTimeoutError", "the cell ignored the interrupt and was stopped"))
            self._stop(index, "interrupt-ignored",
                       f"{where} ran past its time limit and ignored the interrupt; the kernel was stopped")
            return cell, resources
        except DeadKernelError:
            why = self._death_reason()
            cell.outputs.append(_error_output("DeadKernelError", why))
            self._stop(index, "kernel-died", f"{why} in {where}")
            return cell, resources
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if any(o.get("ename") == "CellTimeoutError" for o in errors):
            if limited_by_notebook:
                self._stop(index, "time-limit", f"the notebook used up its {self.notebook_timeout} s time limit "
                                                f"in {where}")
                return cell, resources
            self._report.flags.append(Flag("timeout", f"{where} ran over the {self.timeout} s cell limit and was "
                                                      "interrupted; the rest of the notebook ran", index))
        if any(o.get("ename") == "MemoryError" for o in errors):
            self._report.flags.append(Flag("memory", f"{where} ran out of memory (MemoryError)", index))
        if self.guard:
            problem = self._guard_findings()
            if problem is None:
                self._stop(index, "tampering", f"after {where} the grader's integrity check got no answer "
                                               "(the kernel's machinery was altered, or it hangs)")
            elif problem[0] is not None:
                self._stop(index, "tampering", f"after {where} the grader's integrity check failed: {problem[0]}")
            elif problem[1]:
                self._stop(index, "tampering", f"{where} changed what the tests rely on: " + "; ".join(problem[1]))
        return cell, resources

    def _stop(self, index: int, kind: str, message: str) -> None:
        self._stopped = message
        self._report.flags.append(Flag(kind, message, index))
        if self.km is not None:
            try:
                if run_sync(self.km.is_alive)():
                    run_sync(self.km.shutdown_kernel)(now=True)
            except Exception as error:  # already gone
                self.log.debug("stopping the kernel: %s", error)

    def _death_reason(self) -> str:
        describe = getattr(self.km, "exit_description", None)
        why = describe() if describe else None
        return why or "the kernel died (os._exit(), a crash, or a resource limit)"

    # -- the guard
    def _guard_findings(self) -> tuple[str | None, tuple[str, ...]] | None:
        """``(error, findings)`` from the guard; ``None`` when the kernel sent no report in time."""
        nonce = secrets.token_hex(8)
        expression = f"__import__('course_utils.grading.guard', fromlist=['report']).report({nonce!r})"
        reply = run_sync(self._async_user_expression)(expression, self.guard_timeout)
        if reply is None:
            return None
        if reply.get("status") != "ok":
            return (f"{reply.get('ename', 'error')}: {reply.get('evalue', '')}"[:300], ())
        text = reply.get("data", {}).get("text/plain", "")
        try:
            value = ast.literal_eval(text)
            if isinstance(value, str):
                value = ast.literal_eval(value)
            sent, findings = value
            if sent != nonce or not all(isinstance(f, str) for f in findings):
                raise ValueError("nonce or findings do not match")
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return (f"its report was unreadable: {text[:120]!r}", ())
        return (None, tuple(findings))

    async def _async_user_expression(self, expression: str, timeout: float) -> dict | None:
        if self.kc is None:
            return None
        try:
            msg_id = self.kc.execute("", silent=True, store_history=False,
                                     user_expressions={"guard": expression}, allow_stdin=False)
        except Exception:
            return None
        deadline = monotonic() + timeout
        while True:
            left = deadline - monotonic()
            if left <= 0:
                return None
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                content = msg.get("content", {})
                if content.get("status") != "ok":
                    return {"status": "error", "ename": content.get("ename", "error"),
                            "evalue": content.get("evalue", "the check could not run")}
                return content.get("user_expressions", {}).get("guard")

    # -- output caps
    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = _output_size(content)
        if msg.get("msg_type") == "error":
            if size > self.cell_output_kb * 1024:  # keep the error (it decides the score), shorten the traceback
                content["traceback"] = [line[:2000] for line in content.get("traceback", [])[-20:]]
                content["evalue"] = content.get("evalue", "")[:2000]
            return super().output(outs, msg, display_id, cell_index)
        if cell_index != self._cell_index:
            self._cell_index, self._cell_bytes, self._cell_capped = cell_index, 0, False
        cell_limit, notebook_limit = self.cell_output_kb * 1024, self.notebook_output_kb * 1024
        if self._cell_bytes + size > cell_limit or self._notebook_bytes + size > notebook_limit:
            if not self._cell_capped:
                self._cell_capped = True
                which = (f"this cell's output passed {self.cell_output_kb} KiB"
                         if self._cell_bytes + size > cell_limit
                         else f"the notebook's output passed {self.notebook_output_kb} KiB")
                outs.append(_note_output(f"[the grader dropped the rest of this output: {which}]"))
                note = f"output capped in cell {cell_index + 1} ({which})"
                if note not in self._report.notes:
                    self._report.notes.append(note)
            return None
        self._cell_bytes += size
        self._notebook_bytes += size
        return super().output(outs, msg, display_id, cell_index)


def _copy_regular_files(source: str, destination: str) -> None:
    """Copy the submission folder's regular files (no links, devices or notebooks' checkpoints) to a scratch copy."""
    os.makedirs(destination, exist_ok=True)
    for base, dirs, files in os.walk(source, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints" and not os.path.islink(os.path.join(base, d))]
        target = os.path.join(destination, os.path.relpath(base, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            path = os.path.join(base, name)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copyfile(path, os.path.join(target, name))

