"""The two kernels of one graded notebook: started in their sandboxes, each in its resource group; stopped, closed.

:class:`KernelPair` starts the student's kernel (on the working copy of the submission) and the grader's test
kernel (on the assignment's source folder), each with its own user id (:func:`~dlcourse.grading.sandbox.sandbox_uid`)
and, sandboxed, its own :class:`~dlcourse.grading.resources.ResourceGroup`; it says when a group passed its
budget, kills both kernels with everything they started, and closes all at the end. Both kernels' sockets
share one messaging context of bounded queues (:func:`~dlcourse.grading.kernel_driver.messaging_context`).

Example:
    >>> KernelPair(Limits(), sandboxed=False, slot=0, course="").resources_problem() is None
    True
"""

from __future__ import annotations

import asyncio
import json
import os

import zmq.asyncio

from dlcourse.grading.kernel_driver import KernelDriver, messaging_context
from dlcourse.grading.kernels import SandboxedKernelManager
from dlcourse.grading.limits import Limits
from dlcourse.grading.resources import Budget, ResourceGroup
from dlcourse.grading.sandbox import sandbox_uid


class KernelPair:
    """The student's and the test kernel of one notebook, with their resource groups (see the module docstring)."""

    def __init__(self, limits: Limits, *, sandboxed: bool, slot: int, course: str) -> None:
        self.limits, self.sandboxed, self.slot, self.course = limits, sandboxed, slot, course
        self.groups: dict[str, ResourceGroup] = {}
        self.drivers: dict[str, KernelDriver] = {}
        self.context: zmq.asyncio.Context | None = None

    def uid(self, role: str) -> int:
        """The user id the ``role`` kernel runs as when the grader is root."""
        return sandbox_uid(self.slot, self.course or None, role)

    async def start(self, work: str, source_folder: str, rpc: str) -> dict[str, BaseException | None]:
        """Start both kernels; return, by role, why one did not start (``None``: it did)."""
        context = self.context = messaging_context(self.limits)
        budget = Budget(memory_mb=self.limits.memory_mb, processes=self.limits.processes,
                        cpu_seconds=float(self.limits.cpu_seconds))
        for role, files in (("student", work), ("tests", source_folder)):
            if self.sandboxed:
                group = ResourceGroup.create(f"dlcourse-{os.getpid()}-{role}-{os.urandom(4).hex()}", budget)
                self.groups[role] = group
            km = SandboxedKernelManager(
                kernel_name="python3", limits=self.limits.to_dict(),
                uid=self.uid(role), files_dir=files, rpc_dir=rpc,
                sandboxed=self.sandboxed,
                resource_paths=json.dumps(self.groups[role].join_files()) if role in self.groups else "")
            self.drivers[role] = KernelDriver(role if role == "student" else "test", km, context, self.limits)
        results = await asyncio.gather(*(driver.start(["--HistoryManager.hist_file=:memory:"])
                                         for driver in self.drivers.values()), return_exceptions=True)
        for role, driver in self.drivers.items():
            if role in self.groups and driver.km.pid:
                self.groups[role].watch(driver.km.pid)
        return {role: error if isinstance(error, BaseException) else None
                for role, error in zip(self.drivers, results)}

    def kill(self) -> None:
        """Kill both kernels' processes, and everything in their resource groups."""
        for driver in self.drivers.values():
            provisioner = getattr(driver.km, "provisioner", None)
            process = getattr(provisioner, "process", None)
            if process is not None and process.poll() is None:
                process.kill()
        for group in self.groups.values():
            try:
                group.kill_all()
            except Exception:
                pass

    def resources_problem(self) -> str | None:
        """What a kernel's sandbox passed of its budget, or ``None``."""
        for role, group in self.groups.items():
            try:
                problem = group.exceeded()
            except Exception:
                problem = None
            if problem:
                return f"{'the student' if role == 'student' else 'the test'} kernel's sandbox: {problem}"
        return None

    def death(self, role: str, error: BaseException | None = None) -> str:
        """Why the ``role`` kernel is gone (or did not start: ``error``), in words."""
        driver = self.drivers[role]
        why = driver.km.exit_description() if hasattr(driver.km, "exit_description") else None
        if why:
            return why
        if error is not None:
            return f"{type(error).__name__}: {str(error)[:300]}"
        return "the kernel died (os._exit(), a crash, or a resource limit)"

    async def close(self, notes: list[str]) -> None:
        """Shut both kernels down, remove their resource groups (a failure goes to ``notes``), free the sockets."""
        await asyncio.gather(*(driver.shutdown() for driver in self.drivers.values()))
        for role, group in self.groups.items():
            try:
                group.close()
            except Exception as error:
                notes.append(f"the {role} kernel's resource group could not be removed: {error}")
        if self.context is not None:  # its sockets and I/O thread: a worker grades many notebooks
            self.context.destroy(linger=0)
