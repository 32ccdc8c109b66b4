"""Values as data: what may cross between the student's kernel and the grader's test kernel.

``dlcourse grade`` decides every test in a kernel that runs no submission code
(:mod:`~dlcourse.grading.harness`); the student's functions run in the
sandboxed student kernel (:mod:`~dlcourse.grading.subject`). Arguments and
results cross as *data*, never as pickles or live objects: a JSON tree plus raw
byte buffers, decoded on the other side into fresh objects of a fixed list of
trusted types. A student's object with a lying ``__eq__`` or ``__float__`` never
reaches the tests; it cannot even be expressed.

What is data (both ways): ``None``, ``bool``, ``int``, ``float``, ``complex``,
``str``, ``bytes``, ``bytearray``, lists, tuples, dicts, sets, ranges, slices,
NumPy arrays (numeric, bool and string dtypes; object arrays of data) and NumPy
scalars, PyTorch tensors and parameters (with their gradient), random generators
(``torch.Generator``, ``np.random.Generator``, ``RandomState``, ``random.Random``:
their state), PyTorch modules of an allow-list of classes (``torch.nn`` layers,
containers and losses, plus :class:`course_utils.checks_torch.ForwardRecorder`) with
their parameters, buffers, submodules and plain settings, and the optimizers
SGD, Adam, AdamW, RMSprop and Adagrad with their state.

Everything else depends on the direction (the *policy* of the encoder):

- from the grader to the student: a function becomes a **callback** (the student
  can call it; the call comes back to the grader with data arguments and the
  function runs there); a student object the grader holds goes back as its handle;
  anything else is an error that names the type;
- from the student to the grader: any other object becomes a **handle** -- the
  object stays in the student's kernel and the grader gets an opaque
  :class:`~dlcourse.grading.harness.StudentObject` that forwards calls,
  attributes and arithmetic, but refuses ``==``, ordering, ``bool()`` and
  ``hash()`` (those would let the student's code decide a comparison).

Mutation and identity follow the call: objects are numbered as they are
encoded (the *memo*), the receiver numbers them the same way, and after a call
the callee sends back the new content of every mutable argument it changed
(:meth:`Encoder.updates`), which the caller writes into its own objects in place
(:func:`apply_update`). A result that *is* an argument (``return w``) comes back
as a reference to it.

Example:
    >>> import numpy as np
    >>> node, blobs = encode_value({"w": np.arange(3.0), "n": 2})
    >>> value = decode_value(node, blobs)
    >>> value["w"].tolist(), value["n"]
    ([0.0, 1.0, 2.0], 2)
"""

from __future__ import annotations

import collections
import hashlib
import math
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of containers a value may have (a deeper one is refused, not recursed into)."""

MAX_NODES = 2_000_000
"""Most containers and scalars one message may hold (a flood of tiny objects is refused)."""

MAX_DIMENSIONS = 32
"""Most dimensions of an array or tensor."""

MAX_TEXT = 64 * 1024 * 1024
"""Longest string or byte string, in characters or bytes."""

MAX_INT_DIGITS = 4000
"""Longest integer, in decimal digits (below CPython's own limit for converting text to int)."""

NUMPY_KINDS = frozenset("biufcUS")
"""NumPy dtype kinds an array may have: bool, int, uint, float, complex, str, bytes (object arrays separately)."""

TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int8", "int16", "int32",
                "int64", "uint8", "bool")
"""PyTorch dtypes a tensor may have."""

TORCH_MODULES = (
    "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Bilinear", "Flatten", "Unflatten",
    "Embedding", "Dropout", "AlphaDropout", "BatchNorm1d", "LayerNorm",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardtanh",
    "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "Softmax", "LogSoftmax", "LogSigmoid", "PReLU", "Threshold",
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
)
"""``torch.nn`` classes a module (or any of its submodules) may be."""

COURSE_MODULES = ("course_utils.checks_torch.ForwardRecorder",)
"""The course's own module classes that may cross (test helpers whose records are data)."""

TORCH_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
"""``torch.optim`` classes an optimizer may be."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_PART_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_MODULE_INTERNALS = frozenset({"training", "_parameters", "_buffers", "_modules"})


class CodecError(ValueError):
    """A value cannot be sent, or what arrived is not well-formed data; the message says which and why."""


# ---------------------------------------------------------------- the memo
@dataclass
class Memo:
    """Objects numbered in the order they were encoded or decoded, so that both sides agree on the numbers.

    Example:
        >>> memo = Memo()
        >>> items = [1]
        >>> memo.add(items), memo.index_of(items), memo.objects[0] is items
        (0, 0, True)
    """

    objects: list[Any] = field(default_factory=list)
    _index: dict[int, int] = field(default_factory=dict)

    def add(self, obj: Any) -> int:
        self._index[id(obj)] = len(self.objects)
        self.objects.append(obj)
        return len(self.objects) - 1

    def index_of(self, obj: Any) -> int | None:
        index = self._index.get(id(obj))
        return index if index is not None and self.objects[index] is obj else None

    def get(self, index: Any) -> Any:
        if type(index) is not int or not 0 <= index < len(self.objects):
            raise CodecError(f"a reference to object #{index!r}, which this exchange does not have")
        if self.objects[index] is COPIED:
            raise CodecError(f"a reference to object #{index}, which crossed as a copy")
        return self.objects[index]


COPIED = object()
"""Stands in a :class:`Memo` for an object the other side may not refer to (it crossed as a copy)."""


# ---------------------------------------------------------------- lazily imported libraries
def _numpy() -> Any:
    import numpy

    return numpy


def _torch() -> Any:
    """PyTorch if this process has imported it (the codec never imports it first: that takes seconds)."""
    return sys.modules.get("torch")


def _is_torch(value: Any, name: str) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, getattr(torch, name))


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def module_class(name: str) -> type | None:
    """The allowed module class called ``name`` (``torch.nn.Linear`` style), or ``None``.

    Example:
        >>> module_class("os.system") is None
        True
    """
    torch = _torch()
    if torch is None:
        return None
    if name.startswith("torch.nn.") and name[len("torch.nn."):] in TORCH_MODULES:
        return getattr(torch.nn, name[len("torch.nn."):])
    if name in COURSE_MODULES:
        from course_utils import checks_torch

        return getattr(checks_torch, name.rsplit(".", 1)[1])
    return None


def module_class_name(cls: type) -> str | None:
    """The allow-list name of a module class, or ``None`` when it may not cross (subclasses may not)."""
    torch = _torch()
    if torch is None:
        return None
    if cls.__module__.startswith("torch.nn") and cls.__name__ in TORCH_MODULES and getattr(torch.nn, cls.__name__,
                                                                                            None) is cls:
        return f"torch.nn.{cls.__name__}"
    name = _qualified(cls)
    return name if name in COURSE_MODULES and module_class(name) is cls else None


def optimizer_class(name: str) -> type | None:
    torch = _torch()
    if torch is None or not name.startswith("torch.optim.") or name[len("torch.optim."):] not in TORCH_OPTIMIZERS:
        return None
    return getattr(torch.optim, name[len("torch.optim."):])


def optimizer_class_name(cls: type) -> str | None:
    torch = _torch()
    if torch is None or cls.__name__ not in TORCH_OPTIMIZERS or getattr(torch.optim, cls.__name__, None) is not cls:
        return None
    return f"torch.optim.{cls.__name__}"


# ---------------------------------------------------------------- encoding
@dataclass
class Encoder:
    """Turns a value into a JSON-able tree and a list of byte buffers.

    ``memo`` numbers the mutable objects (shared with the decoder's numbering
    on the other side); ``policy`` decides what to do with an object that is
    not data: return a node (a callback, a handle) or raise :class:`CodecError`.
    """

    memo: Memo = field(default_factory=Memo)
    policy: Callable[[Any], dict] | None = None
    blobs: list[Any] = field(default_factory=list)
    nodes: int = 0
    _content_of: Any = None  # the object whose content is being encoded (it keeps its number)

    def _register(self, value: Any) -> int:
        if value is self._content_of:
            self._content_of = None
            index = self.memo.index_of(value)
            assert index is not None
            return index
        return self.memo.add(value)

    def blob(self, data: Any) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CodecError(f"more than {MAX_NODES:,} values in one message")
        if depth > MAX_DEPTH:
            raise CodecError(f"a value nested more than {MAX_DEPTH} levels deep")
        kind = type(value)
        if value is None or kind is bool or kind is str:
            if kind is str and len(value) > MAX_TEXT:
                raise CodecError(f"a string of {len(value):,} characters (at most {MAX_TEXT:,})")
            return value
        if kind is int:
            if abs(value) >= 2**63:
                digits = str(value) if value.bit_length() < MAX_INT_DIGITS * 3 else ""
                if not digits or len(digits) > MAX_INT_DIGITS:
                    raise CodecError(f"an integer of more than {MAX_INT_DIGITS} digits")
                return {"t": "int", "v": digits}
            return value
        if kind is float:
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        index = self.memo.index_of(value)
        if index is not None and value is not self._content_of:
            return {"t": "ref", "i": index}
        if kind is complex:
            return {"t": "complex", "re": self.encode(value.real, depth + 1), "im": self.encode(value.imag, depth + 1)}
        if kind is bytes:
            return {"t": "bytes", "b": self.blob(value)}
        if kind is tuple:
            return {"t": "tuple", "v": [self.encode(item, depth + 1) for item in value]}
        if kind is frozenset:
            return {"t": "frozenset", "v": [self.encode(item, depth + 1) for item in value]}
        if kind is range:
            return {"t": "range", "v": [value.start, value.stop, value.step]}
        if kind is slice:
            return {"t": "slice", "v": [self.encode(p, depth + 1) for p in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"t": "ellipsis"}
        if kind is list:
            node = {"t": "list", "m": self._register(value)}
            node["v"] = [self.encode(item, depth + 1) for item in value]
            return node
        if kind in (dict, collections.OrderedDict, collections.defaultdict):
            node = {"t": "dict", "m": self._register(value)}
            if kind is collections.OrderedDict:
                node["o"] = True
            node["k"] = [self.encode(key, depth + 1) for key in value]
            node["v"] = [self.encode(item, depth + 1) for item in value.values()]
            return node
        if kind is set:
            node = {"t": "set", "m": self._register(value)}
            node["v"] = [self.encode(item, depth + 1) for item in value]
            return node
        if kind is bytearray:
            return {"t": "bytearray", "m": self._register(value), "b": self.blob(bytes(value))}
        if kind is random.Random:  # generators: the state first, then the number (the decoder needs it to build one)
            state = self.encode(value.getstate(), depth + 1)
            return {"t": "pyrandom", "s": state, "m": self._register(value)}
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(value, numpy.ndarray):
                return self._ndarray(value, depth)
            if isinstance(value, numpy.generic):
                return self._numpy_scalar(value)
            if kind is numpy.random.Generator:
                state = self.encode(value.bit_generator.state, depth + 1)
                return {"t": "npgen", "s": state, "m": self._register(value)}
            if kind is numpy.random.RandomState:
                state = self.encode(value.get_state(), depth + 1)
                return {"t": "nprs", "s": state, "m": self._register(value)}
            if isinstance(value, numpy.dtype):
                return {"t": "dtype", "v": value.str}
        torch = _torch()
        if torch is not None:
            if isinstance(value, torch.Tensor):
                return self._tensor(value, depth)
            if kind is torch.Generator:
                if value.device.type != "cpu":
                    raise CodecError("a random generator on the GPU cannot be sent (use a CPU generator)")
                return {"t": "tgen", "m": self._register(value), "b": self.blob(value.get_state().numpy().tobytes())}
            if kind is torch.dtype:
                return {"t": "tdtype", "v": str(value).removeprefix("torch.")}
            if kind is torch.device:
                return {"t": "tdevice", "v": str(value)}
            if isinstance(value, torch.nn.Module):
                name = module_class_name(kind)
                if name is not None:
                    return self._module(value, name, depth)
            if isinstance(value, torch.optim.Optimizer):
                name = optimizer_class_name(kind)
                if name is not None:
                    return self._optimizer(value, name, depth)
        if self.policy is None:
            raise CodecError(f"a {_type_name(value)} is not data and cannot be sent")
        return self.policy(value)

    # -- arrays and tensors
    def _ndarray(self, array: Any, depth: int) -> dict:
        numpy = _numpy()
        if array.ndim > MAX_DIMENSIONS:
            raise CodecError(f"an array with {array.ndim} dimensions (at most {MAX_DIMENSIONS})")
        index = self._register(array)
        if array.dtype.kind == "O":
            items = [self.encode(item, depth + 1) for item in array.ravel(order="C").tolist()]
            return {"t": "ndo", "m": index, "s": list(array.shape), "v": items}
        if array.dtype.kind not in NUMPY_KINDS:
            raise CodecError(f"an array of dtype {array.dtype} cannot be sent (numbers, bool and text only)")
        data = numpy.ascontiguousarray(array)
        raw = memoryview(data.reshape(-1)).cast("B") if data.size else b""
        return {"t": "nd", "m": index, "d": data.dtype.str, "s": list(array.shape), "b": self.blob(raw)}

    def _numpy_scalar(self, value: Any) -> dict:
        dtype = value.dtype
        if dtype.kind not in NUMPY_KINDS:
            raise CodecError(f"a NumPy scalar of dtype {dtype} cannot be sent")
        return {"t": "np", "d": dtype.str, "b": self.blob(value.tobytes())}

    def _tensor(self, tensor: Any, depth: int) -> dict:
        torch = _torch()
        kind = type(tensor)
        if kind not in (torch.Tensor, torch.nn.Parameter):
            raise CodecError(f"a tensor of the subclass {_type_name(tensor)} cannot be sent (plain tensors only)")
        if tensor.is_sparse or tensor.layout != torch.strided:
            raise CodecError("a sparse tensor cannot be sent (dense tensors only)")
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in TORCH_DTYPES:
            raise CodecError(f"a tensor of dtype {tensor.dtype} cannot be sent")
        if tensor.dim() > MAX_DIMENSIONS:
            raise CodecError(f"a tensor with {tensor.dim()} dimensions (at most {MAX_DIMENSIONS})")
        index = self._register(tensor)
        with torch.no_grad():
            plain = tensor.detach().to("cpu").contiguous()
            if plain.dtype == torch.bfloat16:
                raw = plain.view(torch.int16).numpy().tobytes()
            else:
                raw = plain.numpy().tobytes() if plain.numel() else b""
        node = {"t": "tensor", "m": index, "d": dtype, "s": list(tensor.shape), "b": self.blob(raw),
                "rg": bool(tensor.requires_grad), "p": kind is torch.nn.Parameter}
        if tensor.is_leaf and tensor.grad is not None:
            node["g"] = self.encode(tensor.grad, depth + 1)
        return node

    # -- modules and optimizers
    def _module(self, module: Any, name: str, depth: int) -> dict:
        index = self._register(module)
        attributes = {}
        for key, item in vars(module).items():
            if key in _MODULE_INTERNALS or key.startswith("_"):
                continue
            attributes[key] = self.encode(item, depth + 1)
        return {"t": "module", "m": index, "c": name, "tr": bool(module.training), "a": attributes,
                "p": {k: self.encode(v, depth + 1) for k, v in module._parameters.items()},
                "bu": {k: self.encode(v, depth + 1) for k, v in module._buffers.items()},
                "sub": {k: self.encode(v, depth + 1) for k, v in module._modules.items()}}

    def _optimizer(self, optimizer: Any, name: str, depth: int) -> dict:
        index = self._register(optimizer)
        defaults = self.encode(dict(optimizer.defaults), depth + 1)  # the decoder reads them first
        groups = []
        for group in optimizer.param_groups:
            settings = {k: self.encode(v, depth + 1) for k, v in group.items() if k != "params"}
            groups.append({"params": [self.encode(p, depth + 1) for p in group["params"]], "h": settings})
        state = [[self.encode(param, depth + 1), {k: self.encode(v, depth + 1) for k, v in entry.items()}]
                 for param, entry in optimizer.state.items()]
        return {"t": "optim", "m": index, "c": name, "defaults": defaults,
                "groups": groups, "state": state}

    # -- after a call
    def content(self, obj: Any) -> Any:
        """The node of the current content of ``obj``, an object both sides hold (it keeps its number).

        The other side writes it into its own object with :func:`apply_update`.
        """
        if self.memo.index_of(obj) is None:
            raise CodecError("content of an object this exchange does not hold")
        self._content_of = obj
        try:
            return self.encode(obj)
        finally:
            self._content_of = None


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


MUTABLE_TAGS = frozenset({"list", "dict", "set", "bytearray", "nd", "ndo", "tensor", "module", "optim", "tgen",
                          "npgen", "nprs", "pyrandom"})
"""Nodes whose objects can change in place during a call (their new content is sent back)."""


def fingerprint(node: Any, blobs: list[Any]) -> str:
    """A digest of a node and the buffers it refers to: equal digests mean equal content.

    Example:
        >>> fingerprint({"t": "bytes", "b": 0}, [b"ab"]) == fingerprint({"t": "bytes", "b": 0}, [b"ab"])
        True
    """
    digest = hashlib.blake2b(digest_size=16)

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            digest.update(b"{")
            for key in sorted(item):
                digest.update(key.encode())
                if key == "b" and type(item[key]) is int:
                    digest.update(memoryview(blobs[item[key]]).cast("B"))
                else:
                    walk(item[key])
            digest.update(b"}")
        elif isinstance(item, list):
            digest.update(b"[")
            for part in item:
                walk(part)
            digest.update(b"]")
        else:
            digest.update(repr(item).encode())

    walk(node)
    return digest.hexdigest()


# ---------------------------------------------------------------- decoding
@dataclass
class Decoder:
    """Builds fresh objects of trusted types from a tree and its buffers; anything malformed is a :class:`CodecError`.

    ``memo`` numbers decoded objects as the encoder numbered them;
    ``handle(node)`` and ``callback(node)`` resolve the direction-dependent
    nodes (``None``: not accepted here).
    """

    blobs: list[Any]
    memo: Memo = field(default_factory=Memo)
    handle: Callable[[int], Any] | None = None
    callback: Callable[[int], Any] | None = None
    name: Callable[[str], Any] | None = None
    library: Callable[[str], Any] | None = None
    nodes: int = 0
    _content_of: int | None = None  # the number of the object whose new content is being decoded

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CodecError(f"more than {MAX_NODES:,} values in one message")
        if depth > MAX_DEPTH:
            raise CodecError(f"a value nested more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if node is None or kind in (bool, int, float):
            return node
        if kind is str:
            if len(node) > MAX_TEXT:
                raise CodecError("a string over the length limit")
            return node
        if kind is not dict:
            raise CodecError(f"a malformed value (a JSON {kind.__name__} where an object was expected)")
        tag = node.get("t")
        method = getattr(self, f"_d_{tag}", None) if isinstance(tag, str) and tag.isidentifier() else None
        if method is None:
            raise CodecError(f"an unknown kind of value {str(tag)[:40]!r}")
        try:
            return method(node, depth + 1)
        except CodecError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RuntimeError,
                MemoryError) as error:
            raise CodecError(f"a malformed {tag} value ({type(error).__name__}: {str(error)[:200]})") from None

    # -- helpers
    def _items(self, node: dict, key: str, depth: int) -> list:
        items = node[key]
        if type(items) is not list:
            raise CodecError(f"a malformed {node['t']} value")
        return [self.decode(item, depth) for item in items]

    def _bytes(self, node: dict) -> Any:
        index = node["b"]
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise CodecError("a reference to a missing buffer")
        return self.blobs[index]

    def _register(self, node: dict, obj: Any) -> Any:
        if self._content_of is not None and node.get("m") == self._content_of:
            self._content_of = None  # an update: the object keeps its number (and the caller's object stays there)
            return obj
        if node.get("m") != len(self.memo.objects):
            raise CodecError("objects numbered out of order")
        self.memo.add(obj)
        return obj

    @staticmethod
    def _shape(node: dict) -> tuple[int, ...]:
        shape = node["s"]
        if type(shape) is not list or len(shape) > MAX_DIMENSIONS or any(
                type(n) is not int or n < 0 for n in shape):
            raise CodecError("an array with a malformed shape")
        return tuple(shape)

    # -- scalars and containers
    def _d_int(self, node: dict, depth: int) -> int:
        digits = node["v"]
        if type(digits) is not str or len(digits) > MAX_INT_DIGITS + 1 or not re.fullmatch(r"-?\d+", digits):
            raise CodecError("a malformed integer")
        return int(digits)

    def _d_float(self, node: dict, depth: int) -> float:
        if node["v"] not in ("nan", "inf", "-inf"):
            raise CodecError("a malformed float")
        return float(node["v"])

    def _d_complex(self, node: dict, depth: int) -> complex:
        real, imag = self.decode(node["re"], depth), self.decode(node["im"], depth)
        if type(real) is not float or type(imag) is not float:
            raise CodecError("a malformed complex number")
        return complex(real, imag)

    def _d_bytes(self, node: dict, depth: int) -> bytes:
        return bytes(self._bytes(node))

    def _d_bytearray(self, node: dict, depth: int) -> bytearray:
        return self._register(node, bytearray(self._bytes(node)))

    def _d_tuple(self, node: dict, depth: int) -> tuple:
        return tuple(self._items(node, "v", depth))

    def _d_frozenset(self, node: dict, depth: int) -> frozenset:
        return frozenset(_hashable(self._items(node, "v", depth)))

    def _d_range(self, node: dict, depth: int) -> range:
        parts = node["v"]
        if type(parts) is not list or len(parts) != 3 or any(type(p) is not int for p in parts):
            raise CodecError("a malformed range")
        return range(*parts)

    def _d_slice(self, node: dict, depth: int) -> slice:
        parts = self._items(node, "v", depth)
        if len(parts) != 3:
            raise CodecError("a malformed slice")
        return slice(*parts)

    def _d_ellipsis(self, node: dict, depth: int) -> Any:
        return Ellipsis

    def _d_ref(self, node: dict, depth: int) -> Any:
        return self.memo.get(node["i"])

    def _d_list(self, node: dict, depth: int) -> list:
        result: list = self._register(node, [])
        result.extend(self._items(node, "v", depth))
        return result

    def _d_dict(self, node: dict, depth: int) -> dict:
        result: dict = self._register(node, collections.OrderedDict() if node.get("o") is True else {})
        keys, values = self._items(node, "k", depth), self._items(node, "v", depth)
        if len(keys) != len(values):
            raise CodecError("a malformed dict")
        for key, value in zip(keys, values):
            result[_hashable([key])[0]] = value
        return result

    def _d_set(self, node: dict, depth: int) -> set:
        result: set = self._register(node, set())
        result.update(_hashable(self._items(node, "v", depth)))
        return result

    def _d_pyrandom(self, node: dict, depth: int) -> random.Random:
        state = self.decode(node["s"], depth)
        generator = random.Random()
        generator.setstate(state)
        return self._register(node, generator)

    # -- numpy
    def _d_nd(self, node: dict, depth: int) -> Any:
        numpy = _numpy()
        dtype = _numpy_dtype(node["d"])
        shape = self._shape(node)
        data = self._bytes(node)
        if math.prod(shape) * dtype.itemsize != len(memoryview(data).cast("B")):
            raise CodecError("an array whose data does not match its shape and dtype")
        array = numpy.frombuffer(data, dtype=dtype).reshape(shape).copy()
        return self._register(node, array)

    def _d_ndo(self, node: dict, depth: int) -> Any:
        numpy = _numpy()
        shape = self._shape(node)
        array = self._register(node, numpy.empty(shape, dtype=object))
        items = self._items(node, "v", depth)
        if len(items) != array.size:
            raise CodecError("an object array whose items do not match its shape")
        for position, item in zip(numpy.ndindex(*shape), items):
            array[position] = item
        return array

    def _d_np(self, node: dict, depth: int) -> Any:
        numpy = _numpy()
        dtype = _numpy_dtype(node["d"])
        data = bytes(self._bytes(node))
        if len(data) != dtype.itemsize:
            raise CodecError("a NumPy scalar whose data does not match its dtype")
        return numpy.frombuffer(data, dtype=dtype)[0]

    def _d_dtype(self, node: dict, depth: int) -> Any:
        return _numpy_dtype(node["v"])

    def _d_npgen(self, node: dict, depth: int) -> Any:
        numpy = _numpy()
        state = self.decode(node["s"], depth)
        if not isinstance(state, dict) or state.get("bit_generator") not in ("PCG64", "PCG64DXSM", "MT19937",
                                                                             "Philox", "SFC64"):
            raise CodecError("a malformed NumPy random generator")
        bit_generator = getattr(numpy.random, state["bit_generator"])()
        bit_generator.state = state
        return self._register(node, numpy.random.Generator(bit_generator))

    def _d_nprs(self, node: dict, depth: int) -> Any:
        numpy = _numpy()
        state = self.decode(node["s"], depth)
        generator = numpy.random.RandomState()
        generator.set_state(state)
        return self._register(node, generator)

    # -- torch
    def _require_torch(self) -> Any:
        torch = _torch()
        if torch is None:
            import torch  # the other side sent a tensor: this side needs PyTorch to hold it
        return torch

    def _d_tdtype(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        if node["v"] not in TORCH_DTYPES:
            raise CodecError("an unknown PyTorch dtype")
        return getattr(torch, node["v"])

    def _d_tdevice(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        if type(node["v"]) is not str or not re.fullmatch(r"(cpu|cuda|mps|meta)(:\d{1,2})?", node["v"]):
            raise CodecError("an unknown PyTorch device")
        return torch.device(node["v"])

    def _d_tensor(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        numpy = _numpy()
        if node["d"] not in TORCH_DTYPES:
            raise CodecError("a tensor of an unknown dtype")
        dtype = getattr(torch, node["d"])
        shape = self._shape(node)
        data = self._bytes(node)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if math.prod(shape) * itemsize != len(memoryview(data).cast("B")):
            raise CodecError("a tensor whose data does not match its shape and dtype")
        if dtype == torch.bfloat16:
            flat = torch.from_numpy(numpy.frombuffer(data, dtype=numpy.int16).copy()).view(torch.bfloat16)
        elif math.prod(shape) == 0:
            flat = torch.empty(0, dtype=dtype)
        else:
            flat = torch.from_numpy(numpy.frombuffer(data, dtype=_numpy_of_torch(dtype)).copy())
        tensor = flat.reshape(shape)
        wants_grad = node.get("rg") is True
        if node.get("p") is True:
            tensor = torch.nn.Parameter(tensor, requires_grad=wants_grad)
        elif wants_grad:
            tensor.requires_grad_(True)
        self._register(node, tensor)
        if "g" in node:
            grad = self.decode(node["g"], depth)
            if not isinstance(grad, torch.Tensor) or grad.shape != tensor.shape:
                raise CodecError("a gradient whose shape does not match its tensor")
            tensor.grad = grad
        return tensor

    def _d_tgen(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        generator = self._register(node, torch.Generator())
        state = torch.from_numpy(_numpy().frombuffer(self._bytes(node), dtype="uint8").copy())
        generator.set_state(state)
        return generator

    def _d_module(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        cls = module_class(node["c"]) if type(node["c"]) is str else None
        if cls is None:
            raise CodecError(f"a module of the class {str(node['c'])[:80]!r}, which may not be sent")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
        self._register(node, module)
        _fill_module(module, self._module_parts(node, depth))
        return module

    def _module_parts(self, node: dict, depth: int) -> dict:
        torch = self._require_torch()
        parts = {"training": node["tr"], "attributes": {}, "parameters": {}, "buffers": {}, "children": {}}
        if type(parts["training"]) is not bool:
            raise CodecError("a module with a malformed training flag")
        for key, out in (("a", "attributes"), ("p", "parameters"), ("bu", "buffers"), ("sub", "children")):
            entries = node[key]
            if type(entries) is not dict:
                raise CodecError("a malformed module")
            for name, item in entries.items():
                if not (_NAME if key == "a" else _PART_NAME).match(name):
                    raise CodecError(f"a module part with the name {name[:40]!r}")
                parts[out][name] = self.decode(item, depth)
        for name, value in parts["parameters"].items():
            if value is not None and not isinstance(value, torch.nn.Parameter):
                raise CodecError(f"module parameter {name!r} is not a parameter")
        for name, value in parts["buffers"].items():
            if value is not None and not isinstance(value, torch.Tensor):
                raise CodecError(f"module buffer {name!r} is not a tensor")
        for name, value in parts["children"].items():
            if value is not None and not isinstance(value, torch.nn.Module):
                raise CodecError(f"submodule {name!r} is not a module")
        return parts

    def _d_optim(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        cls = optimizer_class(node["c"]) if type(node["c"]) is str else None
        if cls is None:
            raise CodecError(f"an optimizer of the class {str(node['c'])[:80]!r}, which may not be sent")
        index = node.get("m")
        updating = self._content_of is not None and index == self._content_of
        self._register(node, None)  # its number, taken now; the optimizer is built once its parameters are
        defaults = self.decode(node["defaults"], depth)
        groups = []
        for group in node["groups"]:
            params = self._items(group, "params", depth)
            if not all(isinstance(p, torch.Tensor) for p in params):
                raise CodecError("an optimizer whose parameters are not tensors")
            groups.append({"params": params, **{k: self.decode(v, depth) for k, v in group["h"].items()}})
        if not isinstance(defaults, dict) or not all(type(k) is str for k in defaults):
            raise CodecError("an optimizer with malformed settings")
        optimizer = cls(groups or [{"params": []}], **_optimizer_settings(defaults))
        for group, settings in zip(optimizer.param_groups, groups):
            group.update({k: v for k, v in settings.items() if k != "params"})
        for param_node, entry in node["state"]:
            param = self.decode(param_node, depth)
            if not isinstance(param, torch.Tensor) or type(entry) is not dict:
                raise CodecError("a malformed optimizer state")
            optimizer.state[param] = {k: self.decode(v, depth) for k, v in entry.items()}
        if not updating:
            self.memo.objects[index] = optimizer
            self.memo._index[id(optimizer)] = index
        return optimizer

    # -- direction-dependent
    def _d_handle(self, node: dict, depth: int) -> Any:
        if self.handle is None:
            raise CodecError("an object handle where none may be")
        return self.handle(node["i"])

    def _d_cb(self, node: dict, depth: int) -> Any:
        if self.callback is None:
            raise CodecError("a callback where none may be")
        return self.callback(node["i"])

    def _d_name(self, node: dict, depth: int) -> Any:
        if self.name is None or type(node["n"]) is not str:
            raise CodecError("a name reference where none may be")
        return self.name(node["n"])

    def _d_lib(self, node: dict, depth: int) -> Any:
        if self.library is None or type(node["n"]) is not str:
            raise CodecError("a library reference where none may be")
        return self.library(node["n"])


def _optimizer_settings(defaults: dict) -> dict:
    """The settings an optimizer's constructor accepts (newer PyTorch adds keys older ones refuse, and back)."""
    return {k: v for k, v in defaults.items() if k not in ("differentiable", "capturable", "foreach", "fused")
            or v not in (None, False)}


def _hashable(items: list) -> list:
    for item in items:
        try:
            hash(item)
        except TypeError:
            raise CodecError(f"an unhashable {type(item).__name__} as a dict key or set item") from None
    return items


def _numpy_dtype(text: Any) -> Any:
    numpy = _numpy()
    if type(text) is not str or len(text) > 16:
        raise CodecError("a malformed dtype")
    try:
        dtype = numpy.dtype(text)
    except TypeError:
        raise CodecError(f"an unknown dtype {text!r}") from None
    if dtype.kind not in NUMPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CodecError(f"the dtype {text!r}, which may not be sent")
    return dtype


def _numpy_of_torch(dtype: Any) -> str:
    return {"float16": "float16", "float32": "float32", "float64": "float64", "complex64": "complex64",
            "complex128": "complex128", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
            "uint8": "uint8", "bool": "bool"}[str(dtype).removeprefix("torch.")]


def _fill_module(module: Any, parts: dict) -> None:
    """Give a module the settings, parameters, buffers and children of ``parts`` (reusing objects it has)."""
    cls = type(module)
    for name, value in parts["attributes"].items():
        if hasattr(cls, name) or name in _MODULE_INTERNALS:
            raise CodecError(f"the module setting {name!r} would replace a method of {cls.__name__}")
        module.__dict__[name] = value
    module.training = parts["training"]
    for name, value in parts["parameters"].items():
        old = module._parameters.get(name)
        if old is not None and value is not None and old is not value:
            _copy_tensor(old, value)
        else:
            module._parameters[name] = value
    for name in set(module._parameters) - set(parts["parameters"]):
        del module._parameters[name]
    for name, value in parts["buffers"].items():
        old = module._buffers.get(name)
        if old is not None and value is not None and old is not value and old.shape == value.shape:
            _copy_tensor(old, value)
        else:
            module._buffers[name] = value
    for name in set(module._buffers) - set(parts["buffers"]):
        del module._buffers[name]
    module._modules.clear()
    module._modules.update(parts["children"])


def _copy_tensor(target: Any, source: Any) -> None:
    torch = _torch()
    with torch.no_grad():
        if target.shape == source.shape and target.dtype == source.dtype:
            target.copy_(source)
        else:
            target.data = source.detach().clone()
    if target.is_leaf:
        target.grad = None if source.grad is None else source.grad.detach().clone()
        if source.requires_grad != target.requires_grad:
            target.requires_grad_(source.requires_grad)


# ---------------------------------------------------------------- updates after a call
def apply_update(target: Any, node: Any, decoder: Decoder) -> None:
    """Write the content of ``node`` (from :meth:`Encoder.content` on the other side) into ``target`` in place.

    The caller's list, dict, array, tensor, module, optimizer or generator
    then holds what the callee left in its copy, as if both were one object.

    Example:
        >>> items = [1, 2]
        >>> apply_update(items, {"t": "list", "m": 0, "v": [3]}, Decoder([], Memo([items])))
        >>> items
        [3]
    """
    if not isinstance(node, dict) or node.get("t") not in MUTABLE_TAGS:
        raise CodecError("a malformed update")
    tag = node["t"]
    index = node.get("m")
    if type(index) is not int or decoder.memo.get(index) is not target:
        raise CodecError("an update for an object the call did not share")
    decoder._content_of = index
    try:
        fresh = decoder.decode(node)
    finally:
        decoder._content_of = None
    kind = type(target)
    if tag == "list" and kind is list:
        target[:] = fresh
    elif tag == "dict" and isinstance(target, dict):
        target.clear()
        target.update(fresh)
    elif tag == "set" and kind is set:
        target.clear()
        target.update(fresh)
    elif tag == "bytearray" and kind is bytearray:
        target[:] = fresh
    elif tag in ("nd", "ndo") and kind is type(fresh):
        if target.shape != fresh.shape or target.dtype != fresh.dtype:
            raise CodecError(f"the call changed an argument array's shape or dtype in place ({target.shape} "
                             f"{target.dtype} to {fresh.shape} {fresh.dtype})")
        target[...] = fresh
    elif tag == "tensor" and _is_torch(target, "Tensor"):
        _copy_tensor(target, fresh)
    elif tag == "module" and type(target) is type(fresh) and module_class_name(type(target)) is not None:
        _fill_module(target, {"training": fresh.training, "attributes": {
            k: v for k, v in vars(fresh).items() if not k.startswith("_") and k not in _MODULE_INTERNALS},
            "parameters": dict(fresh._parameters), "buffers": dict(fresh._buffers),
            "children": dict(fresh._modules)})
    elif tag == "optim" and type(target) is type(fresh):
        target.state.clear()
        target.state.update(fresh.state)
        for group, new in zip(target.param_groups, fresh.param_groups):
            group.update({k: v for k, v in new.items() if k != "params"})
    elif tag == "tgen" and type(target) is type(fresh):
        target.set_state(fresh.get_state())
    elif tag == "npgen" and type(target) is type(fresh):
        target.bit_generator.state = fresh.bit_generator.state
    elif tag == "nprs" and type(target) is type(fresh):
        target.set_state(fresh.get_state())
    elif tag == "pyrandom" and type(target) is type(fresh):
        target.setstate(fresh.getstate())
    else:
        raise CodecError(f"an update of a {tag} for a {_type_name(target)}")


# ---------------------------------------------------------------- one-shot helpers
def encode_value(value: Any, policy: Callable[[Any], dict] | None = None) -> tuple[Any, list[Any]]:
    """``value`` as a tree and buffers (raises :class:`CodecError` for what is not data and ``policy`` refuses).

    Example:
        >>> encode_value((1, "a"))[0]
        {'t': 'tuple', 'v': [1, 'a']}
    """
    encoder = Encoder(policy=policy)
    return encoder.encode(value), encoder.blobs


def decode_value(node: Any, blobs: list[Any]) -> Any:
    """The value :func:`encode_value` encoded, as fresh objects of trusted types.

    Example:
        >>> decode_value({"t": "tuple", "v": [1, "a"]}, [])
        (1, 'a')
    """
    return Decoder(blobs).decode(node)
