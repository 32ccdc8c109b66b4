"""The student's kernel side of grading: run what the tests ask for, and answer with data.

While a test cell runs in the grader's own kernel (:mod:`~dlcourse.grading.harness`),
the grader has the student's kernel call :func:`serve`. It connects to the test
kernel's socket and answers its requests until the test cell ends: call a
function of the notebook by name, call or inspect an object it returned before
(a *handle*), apply an operator to one, or tell what some names of the notebook
hold. Results go back as data (:mod:`~dlcourse.grading.codec`); an object
that is not data stays here and the tests get its handle.

Nothing here is trusted: this module runs in the student's process, which the
student controls completely, and the grader treats everything it sends as
untrusted data. It exists so that honest work is answered faithfully.

Each call runs in the context the test set up in its own kernel: the random
generators' states (when the test seeded or used them since the last call),
NumPy's floating-point error handling, PyTorch's gradient mode; warnings the call
raises are sent back and raised again in the test's kernel, where its own
warning filters decide what they mean.

Example:
    >>> subject = Subject({"double": lambda x: 2 * x})
    >>> subject.lookup("double")(21)
    42
"""

from __future__ import annotations

import importlib
import operator
import socket
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

from dlcourse.grading.codec import Decoder, Encoder, encode_value
from dlcourse.grading.codec_common import CodecError, _torch
from dlcourse.grading.exchange import (
    decode_arguments,
    describe_error,
    encode_arguments,
    fingerprints,
    read_reply,
    reply_for,
)
from dlcourse.grading.rpc import Channel, Peer

BINARY = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_", "xor", "lshift", "rshift",
    "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul", "iand", "ior", "ixor")}
"""Binary operators the tests may apply to a student's object (``a + b`` with ``a`` or ``b`` a handle)."""

UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert,
         "float": float, "int": int, "complex": complex, "index": operator.index, "len": len, "iter": iter,
         "next": next, "str": str, "repr": repr, "round": round}
"""Unary operations and conversions the tests may apply to a student's object."""

LIBRARIES = ("numpy", "torch", "math", "cmath", "scipy", "operator", "builtins", "functools", "itertools")
"""Libraries whose functions and classes a test may pass by name (``activation=torch.sigmoid``)."""

MAX_WARNINGS = 50
"""Most warnings one call sends back."""


@dataclass
class GraderFunction:
    """A function of the tests that the student's code was given: calling it asks the grader's kernel to run it."""

    subject: Subject
    number: int

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.subject.call_back(self.number, args, kwargs)

    def __repr__(self) -> str:
        return "<a function of the tests>"


@dataclass
class Subject:
    """The student's kernel's end of the exchange; ``namespace`` is the notebook's global namespace."""

    namespace: dict
    handles: dict[int, Any] = field(default_factory=dict)
    _numbers: dict[int, int] = field(default_factory=dict)
    peer: Peer | None = None

    # -- names and handles
    def lookup(self, name: str) -> Any:
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        return self.namespace[name]

    def handle_of(self, value: Any) -> dict:
        """The encoder's policy here: what is not data is sent as a handle (a callback goes back as itself)."""
        if isinstance(value, GraderFunction) and value.subject is self:
            return {"t": "cb", "i": value.number}
        number = self._numbers.get(id(value))
        if number is None or self.handles.get(number) is not value:
            number = len(self.handles) + 1
            self.handles[number] = value
            self._numbers[id(value)] = number
        return {"t": "handle", "i": number}

    def resolve(self, number: Any) -> Any:
        if type(number) is not int or number not in self.handles:
            raise CodecError(f"an object handle #{number!r} that this kernel never gave out")
        return self.handles[number]

    def grader_function(self, number: Any) -> GraderFunction:
        if type(number) is not int:
            raise CodecError("a malformed callback")
        return GraderFunction(self, number)

    def decoder(self, blobs: list) -> Decoder:
        return Decoder(blobs, handle=self.resolve, callback=self.grader_function, name=self.lookup,
                       library=library_object)

    # -- serving
    def serve(self, path: str, token: str = "", timeout: float = 30.0) -> None:
        """Connect to the test kernel at ``path``, say ``token``, and answer requests until the test cell ends."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(path)
        channel = Channel(sock)
        channel.send({"op": "hello", "token": token})
        self.peer = Peer(channel, self.answer)
        try:
            while True:
                header, blobs = channel.receive(deadline=None)
                if header.get("op") == "end":
                    return
                self.peer.answer(header, blobs)
        finally:
            self.peer = None
            channel.close()

    def answer(self, header: dict, blobs: list) -> tuple[dict, list]:
        """One request of the tests, answered."""
        try:
            decoder = self.decoder(blobs)
            op = header.get("op")
            if op == "names":
                return self._names(header.get("names"))
            with _Context(header.get("context")) as context:
                if op == "call":
                    target = decoder.decode(header.get("target"))
                    args, kwargs = decode_arguments(header, decoder)
                    before = fingerprints(decoder.memo)
                    reply, reply_blobs = reply_for(lambda: target(*args, **kwargs), decoder.memo, before,
                                                   self.handle_of)
                elif op in ("getattr", "setattr", "delattr", "getitem", "setitem", "delitem", "binary", "unary"):
                    args, kwargs = decode_arguments(header, decoder)
                    before = fingerprints(decoder.memo)
                    action = self._operation(op, header.get("name"), args)
                    reply, reply_blobs = reply_for(action, decoder.memo, before, self.handle_of)
                else:
                    raise CodecError(f"an unknown request {str(op)[:40]!r}")
            reply["context"] = context.after()
            return reply, reply_blobs
        except Exception as error:
            return {"ok": False, "error": describe_error(error)}, []

    def _operation(self, op: str, name: Any, args: list) -> Any:
        if op == "binary":
            if name not in BINARY or len(args) != 2:
                raise CodecError(f"an unknown operator {str(name)[:40]!r}")
            return lambda: BINARY[name](*args)
        if op == "unary":
            if name not in UNARY or len(args) != 1:
                raise CodecError(f"an unknown operation {str(name)[:40]!r}")
            return lambda: UNARY[name](args[0])
        if not isinstance(name, str) and op in ("getattr", "setattr", "delattr"):
            raise CodecError("an attribute name that is not a string")
        actions = {
            "getattr": lambda: getattr(args[0], name),
            "setattr": lambda: setattr(args[0], name, args[1]),
            "delattr": lambda: delattr(args[0], name),
            "getitem": lambda: args[0][args[1]],
            "setitem": lambda: operator.setitem(args[0], args[1], args[2]),
            "delitem": lambda: operator.delitem(args[0], args[1]),
        }
        return actions[op]

    def _names(self, names: Any) -> tuple[dict, list]:
        if type(names) is not list or not all(type(n) is str for n in names):
            raise CodecError("a malformed list of names")
        encoder = Encoder(policy=self.handle_of)
        described = {}
        for name in names:
            if name not in self.namespace:
                described[name] = {"kind": "missing"}
                continue
            value = self.namespace[name]
            try:
                node, blobs = encode_value(value)  # data?
            except CodecError:
                if callable(value):
                    described[name] = {"kind": "callable"}
                else:
                    described[name] = {"kind": "value", "value": encoder.encode(value)}
                continue
            described[name] = {"kind": "value", "value": encoder.encode(value)}
        return {"ok": True, "names": described}, encoder.blobs

    # -- calling the tests back
    def call_back(self, number: int, args: tuple, kwargs: dict) -> Any:
        if self.peer is None:
            raise RuntimeError("a function of the tests was called after its test cell ended")
        header, blobs, memo = encode_arguments(args, kwargs, self.handle_of)
        reply, reply_blobs = self.peer.request({"op": "call", "target": {"t": "cb", "i": number}, **header}, blobs,
                                               deadline=None)
        decoder = self.decoder(reply_blobs)
        decoder.memo = memo
        return read_reply(reply, decoder)


class _Context:
    """The test's context for one request: random states, NumPy error handling, gradient mode; warnings recorded."""

    def __init__(self, context: Any) -> None:
        self.context = context if isinstance(context, dict) else {}

    def __enter__(self) -> _Context:
        numpy = sys.modules.get("numpy")
        set_random_states(self.context.get("random"))
        self._errstate = None
        errors = self.context.get("numpy_errors")
        if numpy is not None and isinstance(errors, dict):
            allowed = {k: v for k, v in errors.items() if k in ("divide", "over", "under", "invalid")
                       and v in ("ignore", "warn", "raise", "call", "print", "log")}
            self._errstate = numpy.errstate(**allowed)
            self._errstate.__enter__()
        torch = _torch()
        self._grad = None
        if torch is not None and isinstance(self.context.get("grad"), bool):
            self._grad = torch.is_grad_enabled()
            torch.set_grad_enabled(self.context["grad"])
        self._warnings = warnings.catch_warnings(record=True)
        self.recorded = self._warnings.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._warnings.__exit__(*exc)
        if self._errstate is not None:
            self._errstate.__exit__(*exc)

    def after(self) -> dict:
        """What the test's kernel should know after the request: the warnings the call raised."""
        return {"warnings": [
            [next((c.__name__ for c in w.category.__mro__ if c.__module__ == "builtins"), "UserWarning"),
             str(w.message)[:1000]] for w in self.recorded[:MAX_WARNINGS]]}


def set_random_states(states: Any) -> None:
    """Set the global random generators to the states the tests sent (:func:`harness.random_states`' format)."""
    if not isinstance(states, dict):
        return
    if "python" in states:
        import random

        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in states:
        numpy = importlib.import_module("numpy")
        name, keys, position, has_gauss, cached = states["numpy"]
        numpy.random.set_state((name, numpy.array(keys, dtype=numpy.uint32), position, has_gauss, cached))
    if "torch" in states:
        torch = _torch() or importlib.import_module("torch")
        torch.set_rng_state(torch.tensor(list(bytes.fromhex(states["torch"])), dtype=torch.uint8))


def library_object(name: str) -> Any:
    """The function or class a test passed by name, e.g. ``"torch.sigmoid"`` (from an allowed library only)."""
    module_name, _, attribute = name.rpartition(".")
    if not module_name or module_name.split(".")[0] not in LIBRARIES or attribute.startswith("_"):
        raise CodecError(f"a library object {name[:80]!r} from outside the allowed libraries")
    return getattr(importlib.import_module(module_name), attribute)


_SUBJECT: dict[str, Subject] = {}
"""The kernel's one :class:`Subject` (its handles live as long as the kernel), made on the first :func:`serve`."""


def serve(path: str, token: str = "", timeout: float = 30.0) -> None:
    """Entry point for the grader: answer the tests' requests through the socket at ``path`` (see the module doc)."""
    import __main__

    subject = _SUBJECT.get("kernel")
    if subject is None:
        subject = _SUBJECT["kernel"] = Subject(vars(__main__))
    subject.serve(path, token, timeout)
