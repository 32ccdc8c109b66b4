"""Running code in a grading kernel: every message it sends counted against the limits, none trusted.

:class:`KernelDriver` runs code in one kernel (:class:`~dlcourse.grading.kernels.SandboxedKernelManager`)
and hands each message it sends, counted against the limits, to whoever turns it into outputs
(:mod:`~dlcourse.grading.outputs`). The grader opens only the channels it reads (shell and IOPub); its
sockets queue few messages of bounded size (:func:`messaging_context`), and a connection the kernel drops
(which is what a message over the size limit does) counts as a flood.

Example:
    >>> Reply("timeout", "KeyboardInterrupt").status
    'timeout'
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from time import monotonic
from typing import Any

import zmq
import zmq.asyncio

from dlcourse.grading.kernels import SandboxedKernelManager
from dlcourse.grading.limits import Limits
from dlcourse.grading.outputs import message_size

KERNEL_START_SECONDS = 120
"""How long a kernel may take to start (importing PyTorch on a loaded machine takes a while)."""

INTERRUPT_GRACE_SECONDS = 5
"""How long a kernel has to answer after an interrupt before it is stopped."""

DEATH_GRACE_SECONDS = 1.5
"""After a kernel drops a connection, how long the grader waits to tell a death from a message over the limit."""

RECEIVE_QUEUE = 16
"""Messages of a kernel the grader's sockets queue before they are read (the kernel's side drops the rest)."""


@dataclass
class Reply:
    """How an execution ended."""

    status: str  # "ok", "error", "timeout" (interrupted and answered), "ignored" (no answer after interrupt), "dead"
    ename: str = ""
    evalue: str = ""


class KernelDriver:
    """Runs code in one kernel and turns what it sends into notebook outputs, counting every message."""

    def __init__(self, name: str, km: SandboxedKernelManager, context: zmq.asyncio.Context, limits: Limits) -> None:
        self.name, self.km, self.context, self.limits = name, km, context, limits
        self.kc: Any = None
        self.received = 0
        self.cell_received = 0
        self.flood: str | None = None
        self.closing = False
        self._watchers: list[asyncio.Future] = []

    async def start(self, extra_arguments: list[str]) -> None:
        await self.km.start_kernel(extra_arguments=extra_arguments)
        self.kc = self.km.client(context=self.context)
        # Only the channels the grader reads: a kernel's messages on any other would pile up unread and uncounted
        # (interrupts and shutdowns go by signal).
        self.kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        await self.kc.wait_for_ready(timeout=KERNEL_START_SECONDS)
        self.km.lock_connection_folder()  # before any code of the notebook runs
        self.km.ready = True
        for channel in (self.kc.iopub_channel, self.kc.shell_channel):
            self._watchers.append(asyncio.ensure_future(self._watch_connection(channel.socket)))

    async def _watch_connection(self, socket: Any) -> None:
        """A connection the kernel's side dropped means a message over the size limit (which zmq discards
        unseen): count it as a flood, so that a lost message never goes unnoticed."""
        monitor = socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        try:
            await monitor.recv_multipart()
            await asyncio.sleep(DEATH_GRACE_SECONDS)  # a dying kernel drops its connections first: let it die
            if self.flood is None and not self.closing and await self.alive():
                self.flood = (f"the {self.name} kernel sent a message over "
                              f"{min(self.limits.cell_received_mb, self.limits.received_mb)} MiB: a flood")
        except (asyncio.CancelledError, zmq.ZMQError):
            pass
        finally:
            monitor.close(linger=0)

    async def alive(self) -> bool:
        try:
            return bool(await self.km.is_alive())
        except Exception:
            return False

    def count(self, msg: dict) -> None:
        size = message_size(msg)
        self.received += size
        self.cell_received += size
        if self.flood is not None:
            return
        if self.received > self.limits.received_mb * 2**20:
            self.flood = (f"the {self.name} kernel sent more than {self.limits.received_mb} MiB of messages "
                          "(outputs, errors, display updates, widget state, metadata) in the notebook: a flood")
        elif self.cell_received > self.limits.cell_received_mb * 2**20:
            self.flood = (f"the {self.name} kernel sent more than {self.limits.cell_received_mb} MiB of messages "
                          "(outputs, errors, display updates, widget state, metadata) in one cell: a flood")

    async def execute(self, code: str, timeout: float, sink: Any = None, silent: bool = False,
                      store_history: bool = True) -> Reply:
        """Run ``code``; each IOPub message of it goes to ``sink(msg)``; wait at most ``timeout`` seconds."""
        msg_id = self.kc.execute(code, silent=silent, store_history=store_history, allow_stdin=False)
        self.cell_received = 0
        return await self.wait(msg_id, timeout, sink)

    async def wait(self, msg_id: str, timeout: float, sink: Any = None) -> Reply:
        idle = asyncio.Event()
        reader = asyncio.ensure_future(self._read_iopub(msg_id, sink, idle))
        try:
            reply = await self._read_reply(msg_id, timeout)
            if reply.status in ("ok", "error", "timeout"):
                try:
                    await asyncio.wait_for(idle.wait(), timeout=5)
                except asyncio.TimeoutError:
                    pass
            return reply
        finally:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass

    async def _read_iopub(self, msg_id: str, sink: Any, idle: asyncio.Event) -> None:
        while True:
            try:
                msg = await self.kc.get_iopub_msg(timeout=1)
            except Exception:  # queue.Empty, or a channel closed by a dead kernel
                if not await self.alive():
                    return
                continue
            self.count(msg)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg.get("msg_type") == "status" and msg.get("content", {}).get("execution_state") == "idle":
                idle.set()
                continue
            if sink is not None and self.flood is None:
                sink(msg)

    async def _read_reply(self, msg_id: str, timeout: float) -> Reply:
        deadline = monotonic() + timeout
        interrupted_at = None
        while True:
            if self.flood is not None:
                return Reply("dead", "Flood", self.flood)
            now = monotonic()
            if interrupted_at is None and now >= deadline:
                interrupted_at = now
                try:
                    await self.km.interrupt_kernel()
                except Exception:
                    pass
            if interrupted_at is not None and now >= interrupted_at + INTERRUPT_GRACE_SECONDS:
                return Reply("ignored")
            try:
                msg = await self.kc.get_shell_msg(timeout=0.5)
            except Exception:
                if not await self.alive():
                    return Reply("dead")
                continue
            self.count(msg)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = msg.get("content", {})
            if interrupted_at is not None:
                return Reply("timeout", str(content.get("ename", "")), str(content.get("evalue", "")))
            return Reply("ok" if content.get("status") == "ok" else "error", str(content.get("ename", ""))[:200],
                         str(content.get("evalue", ""))[:2000])

    async def shutdown(self) -> None:
        self.closing = True
        for watcher in self._watchers:
            watcher.cancel()
        if self.kc is not None:
            self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:
            pass


def messaging_context(limits: Limits) -> zmq.asyncio.Context:
    """A messaging context whose sockets hold little: at most RECEIVE_QUEUE messages, each of bounded size.

    What a kernel can make the grader hold before it reads is RCVHWM messages of at most MAXMSGSIZE each.
    Destroy it with the notebook (``context.destroy(linger=0)``).
    """
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, min(limits.cell_received_mb, limits.received_mb) * 2**20)
    context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
    return context
