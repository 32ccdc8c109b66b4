"""A grading kernel: started in the sandbox, as its own user, with nothing of the grader's process inherited.

:class:`SandboxedKernelManager` is a Jupyter kernel manager for the two kernels
that grade a notebook (:mod:`~dlcourse.grading.split_execute`): the student's
and the grader's test kernel. Each gets

- a private folder for its connection file and Unix sockets (the sandbox has no
  network), removed with the kernel;
- a launcher run as ``python -I`` (isolated: no current folder, no ``PYTHON*``
  variables, no user site on ``sys.path``) from that private folder, so that no
  file of the submission can be imported outside the sandbox;
- standard input from ``/dev/null`` and standard output and error into a pipe
  that the grader drains and keeps the end of (nothing of the grader's own
  files: not its log, not its terminal);
- the sandbox of :mod:`~dlcourse.grading.sandbox`, with the files it may see
  (``files_dir``: the submission for the student's kernel, the assignment's
  source folder for the test kernel), the exchange folder shared by both
  (``rpc_dir``) and its user id;
- a resource group for all its processes together (:mod:`~dlcourse.grading.resources`).

:mod:`~dlcourse.grading.kernel_driver` then runs code in it, every message it sends counted.

Example:
    >>> KernelOutput(limit=4).feed(b"abcdef").text()
    'cdef'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Integer, Unicode

from dlcourse.grading.confinement import FILES_DO_NOT_FIT
from dlcourse.grading.limits import Limits
from dlcourse.grading.sandbox import describe_exit

KERNEL_LOG_BYTES = 64 * 1024
"""How much of a kernel's own output (start-up messages, a crash) the grader keeps: the end of it."""


def shared_memory_folder() -> str | None:
    """``/dev/shm`` when it is a writable tmpfs, else ``None`` (the system's temporary folder).

    The folders a kernel shares with the grader (its sockets, the exchange) go there: what a kernel writes into
    them takes memory, which its cgroup counts and limits, never the grading machine's disk.
    """
    folder = "/dev/shm"
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK) else None


KERNEL_FOLDER = "dlcourse-kernel"
EXCHANGE_FOLDER = "dlc-rpc"
"""Prefixes of the folders a grading process makes for its kernels, followed by its pid (see :func:`cleanup_stale`)."""


def folder_prefix(kind: str) -> str:
    """The prefix of this process's folders of ``kind`` (its pid included, so that leftovers can be told apart)."""
    return f"{kind}-{os.getpid()}-"


def cleanup_stale() -> list[str]:
    """Remove kernel and exchange folders left by grading processes that are gone (killed, say); return them.

    Example:
        >>> isinstance(cleanup_stale(), list)
        True
    """
    removed = []
    for base in {shared_memory_folder() or tempfile.gettempdir(), tempfile.gettempdir()}:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if name.startswith((KERNEL_FOLDER + "-", EXCHANGE_FOLDER + "-")) and len(parts) >= 4 and \
                    parts[-2].isdigit() and not os.path.exists(f"/proc/{parts[-2]}"):
                remove_tree(os.path.join(base, name))
                removed.append(os.path.join(base, name))
    return removed


def remove_tree(path: str) -> None:
    """Remove a folder however deep a kernel made it (``shutil.rmtree`` recurses and fails past ~1000 levels)."""
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", path], capture_output=True, timeout=120)


class KernelOutput:
    """The last ``limit`` bytes a kernel process wrote to its stdout and stderr."""

    def __init__(self, limit: int = KERNEL_LOG_BYTES) -> None:
        self.limit = limit
        self._data = bytearray()
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> KernelOutput:
        with self._lock:
            self._data += chunk
            if len(self._data) > self.limit:
                del self._data[:len(self._data) - self.limit]
        return self

    def text(self) -> str:
        with self._lock:
            return self._data.decode(errors="replace")

    def drain(self, fd: int) -> threading.Thread:
        """Read ``fd`` until it closes, in a daemon thread."""
        def run() -> None:
            try:
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        return
                    self.feed(chunk)
            except OSError:
                return
            finally:
                os.close(fd)

        thread = threading.Thread(target=run, daemon=True, name="kernel-output")
        thread.start()
        return thread


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start in the grading sandbox (see the module docstring)."""

    limits = Dict(help="Limits.to_dict() of the run").tag(config=True)
    uid = Integer(-1, help="the user id the kernel runs as when the grader is root").tag(config=True)
    files_dir = Unicode("", help="the folder whose regular files the kernel gets as its working copy").tag(
        config=True)
    rpc_dir = Unicode("", help="the folder shared with the other grading kernel (the exchange socket)").tag(
        config=True)
    sandboxed = Bool(True, help="run the kernel in bubblewrap (False: a plain subprocess, for trusted work)").tag(
        config=True)
    resource_paths = Unicode("", help="JSON list of cgroup.procs files the launcher joins").tag(config=True)

    _conn_dir: str | None = None
    output: KernelOutput | None = None
    ready = False  # set by the grader once the kernel answered: from then on its exit status is the student's

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:  # type: ignore[override]
        self._conn_dir = tempfile.mkdtemp(prefix=folder_prefix(KERNEL_FOLDER), dir=shared_memory_folder())
        self.transport = "ipc"
        self.connection_file = os.path.join(self._conn_dir, "kernel.json")
        self.ip = os.path.join(self._conn_dir, "kernel-ipc")
        self.output = KernelOutput()
        read_end, write_end = os.pipe()
        self.output.drain(read_end)
        # Sandboxed, the launcher starts in the private folder (the sandbox makes the working copy); unsandboxed
        # (trusted work only), the kernel simply runs in its files' folder.
        cwd = self._conn_dir if self.sandboxed or not self.files_dir else self.files_dir
        kw.update(cwd=cwd, stdin=open(os.devnull, "rb"), stdout=write_end, stderr=write_end)
        self._write_end = write_end
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:  # type: ignore[override]
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:  # the kernel holds its own copies; the grader keeps only the read end
            for handle in (kw.get("stdin"), self.__dict__.pop("_write_end", None)):
                if isinstance(handle, int):
                    os.close(handle)
                elif handle is not None:
                    handle.close()

    _launch_kernel = _async_launch_kernel

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        kernel = super().format_kernel_cmd(extra_arguments)
        if not self.sandboxed:
            return kernel
        command = [sys.executable, "-I", "-m", "dlcourse.grading.sandbox",
                   "--files", self.files_dir, "--conn-dir", str(self._conn_dir), "--rpc-dir", self.rpc_dir,
                   "--limits", json.dumps(Limits(**self.limits).to_dict()), "--uid", str(self.uid),
                   "--parent", str(os.getpid())]
        if self.resource_paths:
            command += ["--join", self.resource_paths]
        return [*command, "--", *kernel]

    def lock_connection_folder(self) -> None:
        """Once the kernel has made its sockets, stop it from making anything else in its connection folder.

        When the grader is root the folder belongs to root, and the kernel (another user) could write into it
        only while it started; from now on it can use its sockets and nothing more. (Without root the kernel
        runs as the grader's own user; the folder lives in memory that its cgroup counts.)
        """
        if self._conn_dir and self.sandboxed and os.geteuid() == 0:
            os.chmod(self._conn_dir, 0o711)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._conn_dir and not restart:
            remove_tree(self._conn_dir)
            self._conn_dir = None

    cleanup_resources = _async_cleanup_resources

    @property
    def pid(self) -> int | None:
        process = getattr(self.provisioner, "process", None)
        return getattr(process, "pid", None)

    def exit_description(self) -> str | None:
        """Why the kernel process ended, from the sandbox's exit status (``None`` while it runs)."""
        process = getattr(self.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return None
        limits = Limits(**self.limits)
        if code == FILES_DO_NOT_FIT and not self.ready:
            return f"the submission's files do not fit the {limits.work_mb} MiB of the working copy"
        # Only the exit status: what the kernel printed is the student's text, never the grader's word.
        return describe_exit(code, limits)
