"""The grader's test kernel side: test cells run here, and reach the student's code only through data.

``dlcourse grade`` runs every test cell -- visible and hidden -- in a kernel of
its own that runs no submission code. Before a test cell, the grader binds the
notebook names the test uses (:meth:`Harness.begin`): a function the student
defined becomes a :class:`~dlcourse.grading.harness_proxies.StudentFunction`,
data the student's cells computed arrives as a copy, anything else as a
:class:`~dlcourse.grading.harness_proxies.StudentObject`. Calling a student
function sends the arguments as data to the student's kernel
(:mod:`~dlcourse.grading.subject`), which runs it and answers with data.
Every comparison, check, helper and builtin the test uses is this kernel's own;
what the student's code can influence is the data it returns.

The guarantees this gives (the README's "trust boundary"):

- a test's verdict is decided here: it passes when its code raises nothing in
  this kernel; no student code runs in this process;
- from the student's side only data arrives: values of a fixed list of trusted
  types, built afresh (:mod:`~dlcourse.grading.codec`); a student's object
  that is not data stays in the student's kernel, and its handle here refuses
  ``==``, ordering, ``bool()``, ``hash()`` and ``in``, so it can never decide a
  comparison; ``__array_interface__``-style attributes are refused too;
- the source of the tests never leaves this kernel: the student's kernel gets
  the arguments of the calls, handles of the tests' functions it may call back
  (never their code or names), and the tests' random states.

Example:
    >>> obj = StudentObject(None, 1)
    >>> obj == 3
    Traceback (most recent call last):
    ...
    TypeError: a test compared a student's object with `==`; compare its data instead (e.g. float(x), x.tolist())
"""

from __future__ import annotations

import builtins
import functools
import inspect
import os
import random
import socket
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from dlcourse.grading.codec import Decoder
from dlcourse.grading.codec_common import CodecError, _torch
from dlcourse.grading.exchange import (
    BrokenExchange,
    decode_arguments,
    encode_arguments,
    fingerprints,
    read_reply,
    reply_for,
)
from dlcourse.grading.harness_proxies import StudentCodeError, StudentFunction, StudentObject
from dlcourse.grading.rpc import MAX_MESSAGE_BYTES, Channel, Peer, PeerTimeout, ProtocolError

LIBRARY_MODULES = ("torch", "torch.nn.functional", "torch.nn", "torch.optim", "numpy", "numpy.linalg", "math",
                   "cmath", "scipy.special", "operator", "builtins")
"""Where a function or class the tests pass to the student's code is looked up by name (``torch.sigmoid``):
the student's kernel uses its own copy of it, so that, for example, autograd works through it."""


# ---------------------------------------------------------------- the context of a call
def random_states() -> dict[str, Any]:
    """The global random generators' states as plain JSON: Python's, NumPy's legacy one, PyTorch's CPU one.

    NumPy and PyTorch count only when this kernel has imported them.

    Example:
        >>> sorted(random_states())[:1]
        ['numpy']
    """
    version, internal, gauss = random.getstate()
    states: dict[str, Any] = {"python": [version, list(internal), gauss]}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        name, keys, position, has_gauss, cached = numpy.random.get_state(legacy=True)
        states["numpy"] = [name, keys.tolist(), int(position), int(has_gauss), float(cached)]
    torch = _torch()
    if torch is not None:
        states["torch"] = torch.get_rng_state().numpy().tobytes().hex()
    return states


def _random_fingerprints() -> dict[str, int]:
    prints = {"python": hash(random.getstate())}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        state = numpy.random.get_state(legacy=True)
        prints["numpy"] = hash((state[1].tobytes(), state[2], state[3], state[4]))
    torch = _torch()
    if torch is not None:
        prints["torch"] = hash(torch.get_rng_state().numpy().tobytes())
    return prints


def library_name(value: Any) -> str | None:
    """``"torch.sigmoid"`` for ``torch.sigmoid``: the public name of a library function or class, if it has one.

    Example:
        >>> import math
        >>> library_name(math.exp), library_name(lambda x: x)
        ('math.exp', None)
    """
    name = getattr(value, "__name__", None)
    if not isinstance(name, str) or name.startswith("_"):
        return None
    for module_name in LIBRARY_MODULES:
        module = sys.modules.get(module_name)
        try:
            if module is not None and getattr(module, name, None) is value:
                return f"{module_name}.{name}"
        except Exception:  # a lazy module attribute that fails to load
            continue
    return None


# ---------------------------------------------------------------- the harness
class Harness:
    """The test kernel's end of the exchange with the student's kernel (one per graded notebook).

    It listens on a Unix socket at ``path``; for each test cell the grader
    has the student's kernel connect (:func:`dlcourse.grading.subject.serve`)
    and calls :meth:`begin` before the cell and :meth:`end` after it.
    """

    def __init__(self, path: str, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.path = path
        self.max_message_bytes = max_message_bytes
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o666)  # the student's kernel runs as another user
        self.listener.listen(1)
        self.peer: Peer | None = None
        self.deadline: float | None = None
        self.problem: str | None = None
        self.callbacks: dict[int, Callable] = {}
        self._callback_numbers: dict[int, int] = {}
        self.objects: dict[int, StudentObject] = {}
        self._pushed: dict[str, int] = {}
        self.calls = 0

    # -- a test cell
    def begin(self, namespace: dict, names: list[str], seconds: float, token: str = "") -> None:
        """Wait for the student's kernel, then bind ``names`` in ``namespace`` to what the student's notebook holds.

        Only a connection that first says ``token`` (given to this cell's serving call) is taken; any other
        one -- left over, or opened by the student's code -- is closed.
        """
        self.end()
        self.deadline = time.monotonic() + seconds
        self.problem = None
        self.callbacks.clear()  # a test's functions can be called back during its own cell only
        self._callback_numbers.clear()
        self.peer = Peer(self._connection(token), self._answer, deadline=self.deadline)
        if not names:
            return
        reply, blobs = self._request({"op": "names", "names": list(names)}, [])
        described = reply.get("names")
        if reply.get("ok") is not True or not isinstance(described, dict) or set(described) != set(names):
            raise StudentCodeError("the student's kernel did not say what the notebook's names hold")
        decoder = self._decoder(blobs)
        for name in names:
            entry = described[name]
            kind = entry.get("kind") if isinstance(entry, dict) else None
            if kind == "callable":
                namespace[name] = StudentFunction(self, name)
            elif kind == "value":
                namespace[name] = decoder.decode(entry.get("value"))
            elif kind == "missing":
                namespace.pop(name, None)
            else:
                raise StudentCodeError(f"the student's kernel described {name!r} in a malformed way")

    def _connection(self, token: str) -> Channel:
        while True:
            left = self.deadline - time.monotonic() if self.deadline is not None else 0
            if left <= 0:
                raise StudentCodeError("the student's kernel did not connect to the grader")
            self.listener.settimeout(left)
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                raise StudentCodeError("the student's kernel did not connect to the grader") from None
            channel = Channel(connection, self.max_message_bytes)
            try:
                hello, _ = channel.receive(min(self.deadline, time.monotonic() + 5))
                if hello.get("op") == "hello" and hello.get("token") == token:
                    return channel
            except (ProtocolError, PeerTimeout):
                pass
            channel.close()

    def end(self) -> None:
        """Tell the student's kernel the test cell is over, and close the connection."""
        peer, self.peer = self.peer, None
        self.callbacks.clear()
        self._callback_numbers.clear()
        if peer is None:
            return
        try:
            peer.channel.send({"op": "end"}, [], deadline=time.monotonic() + 2)
        except (ProtocolError, PeerTimeout, OSError):
            pass
        peer.channel.close()

    def close(self) -> None:
        self.end()
        self.listener.close()

    # -- requests
    def call(self, target: dict, args: tuple, kwargs: dict) -> Any:
        """Call the student's function or object ``target`` with ``args`` (sent as data); return the result."""
        header, blobs, memo = encode_arguments(args, kwargs, self._policy)
        reply, reply_blobs = self._request({"op": "call", "target": target, **header,
                                            "context": self._context()}, blobs)
        return self._result(reply, reply_blobs, memo)

    def operate(self, op: str, name: Any, args: list) -> Any:
        """Apply an operation (``getattr``, ``binary`` ``add``, ``unary`` ``float``, ...) in the student's kernel."""
        header, blobs, memo = encode_arguments(tuple(args), {}, self._policy)
        reply, reply_blobs = self._request({"op": op, "name": name, **header, "context": self._context()}, blobs)
        return self._result(reply, reply_blobs, memo)

    def _result(self, reply: dict, blobs: list, memo: Any) -> Any:
        decoder = self._decoder(blobs)
        decoder.memo = memo
        context = reply.get("context") if isinstance(reply.get("context"), dict) else {}
        try:
            value = read_reply(reply, decoder)
        except (CodecError, BrokenExchange) as error:
            self._broken(f"the student's kernel sent a malformed answer ({error})")
        self._rewarn(context.get("warnings"))
        return value

    def _rewarn(self, recorded: Any) -> None:
        if not isinstance(recorded, list):
            return
        for item in recorded[:50]:
            if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                continue
            category = getattr(builtins, item[0], None)
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            warnings.warn(item[1][:1000], category, stacklevel=4)

    def _request(self, header: dict, blobs: list) -> tuple[dict, list]:
        if self.peer is None:
            raise StudentCodeError(self.problem or "the student's code was called outside a test cell")
        self.calls += 1
        try:
            return self.peer.request(header, blobs, self.deadline)
        except PeerTimeout:
            self._broken("the student's code did not answer before the time limit")
        except ProtocolError as error:
            self._broken(f"the student's kernel stopped answering ({error})")

    def _broken(self, problem: str) -> Any:
        self.problem = problem
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.channel.close()
        raise StudentCodeError(problem)

    def _context(self) -> dict:
        context: dict[str, Any] = {}
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            context["numpy_errors"] = numpy.geterr()
        torch = _torch()
        if torch is not None:
            context["grad"] = torch.is_grad_enabled()
        prints = _random_fingerprints()
        if prints != self._pushed:
            states = random_states()
            context["random"] = {key: value for key, value in states.items() if prints.get(key) !=
                                 self._pushed.get(key)}
            self._pushed = prints
        return context

    # -- what the student's side may send and ask
    def _decoder(self, blobs: list) -> Decoder:
        return Decoder(blobs, handle=self._student_object, callback=self._callback)

    def _student_object(self, number: Any) -> StudentObject:
        if type(number) is not int or number <= 0:
            raise CodecError("a malformed object handle")
        obj = self.objects.get(number)
        if obj is None:
            obj = self.objects[number] = StudentObject(self, number)
        return obj

    def _callback(self, number: Any) -> Callable:
        if type(number) is not int or number not in self.callbacks:
            raise CodecError(f"a callback #{number!r} the tests never gave out")
        return self.callbacks[number]

    def _policy(self, value: Any) -> dict:
        if isinstance(value, StudentObject) and value._dlcourse_harness is self:
            return {"t": "handle", "i": value._dlcourse_number}
        if isinstance(value, StudentFunction) and value._dlcourse_harness is self:
            return {"t": "name", "n": value.__name__}
        name = library_name(value)
        if name is not None:
            return {"t": "lib", "n": name}
        if inspect.isroutine(value) or isinstance(value, functools.partial):
            number = self._callback_numbers.get(id(value))
            if number is None or self.callbacks.get(number) is not value:
                number = len(self.callbacks) + 1
                self.callbacks[number] = value
                self._callback_numbers[id(value)] = number
            return {"t": "cb", "i": number}
        raise CodecError(f"a test tried to pass a {type(value).__module__}.{type(value).__qualname__} to the "
                         "student's code; only data, functions and the student's own objects can be passed")

    def _answer(self, header: dict, blobs: list) -> tuple[dict, list]:
        """A request from the student's side while it runs: only calls of the tests' own callbacks are served."""
        target = header.get("target")
        try:
            if header.get("op") != "call" or not isinstance(target, dict) or target.get("t") != "cb":
                raise CodecError("the student's kernel asked for something other than a callback")
            function = self._callback(target.get("i"))
        except CodecError as error:
            self._broken(f"the student's kernel sent a malformed request ({error})")
        try:
            # Data only: a handle of a student's object would let the student's code watch every operation
            # the test's function applies to it (and so read the function's code).
            decoder = Decoder(blobs, handle=None, callback=self._callback)
            args, kwargs = decode_arguments(header, decoder)
        except (CodecError, BrokenExchange) as error:  # this call fails, in the student's code; the exchange goes on
            return {"ok": False, "error": {"type": "TypeError", "message": f"a function of the tests takes data "
                                                                          f"only: {str(error)[:300]}"}}, []
        before = fingerprints(decoder.memo)
        return reply_for(lambda: function(*args, **kwargs), decoder.memo, before, self._policy)
