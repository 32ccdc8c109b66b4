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
  :class:`~dlcourse.grading.harness_proxies.StudentObject` that forwards calls,
  attributes and arithmetic, but refuses ``==``, ordering, ``bool()`` and
  ``hash()`` (those would let the student's code decide a comparison).

Mutation and identity follow the call: objects are numbered as they are
encoded (the *memo*), the receiver numbers them the same way, and after a call
the callee sends back the new content of every mutable argument it changed
(:meth:`Encoder.content`), which the caller writes into its own objects in place
(:func:`~dlcourse.grading.codec_updates.apply_update`). A result that *is* an
argument (``return w``) comes back as a reference to it.

This module holds the dispatch (what is data) and the plain Python values; the
other kinds of values are in :mod:`~dlcourse.grading.codec_numpy` and
:mod:`~dlcourse.grading.codec_torch` (tensors, modules, optimizers), references
and handles in :mod:`~dlcourse.grading.codec_references`, the updates after a
call in :mod:`~dlcourse.grading.codec_updates`, and what they all share (the
error, the limits, the memo) in :mod:`~dlcourse.grading.codec_common`.

Example:
    >>> import numpy as np
    >>> node, blobs = encode_value({"w": np.arange(3.0), "n": 2})
    >>> value = decode_value(node, blobs)
    >>> value["w"].tolist(), value["n"]
    ([0.0, 1.0, 2.0], 2)
"""

from __future__ import annotations

import collections
import math
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlcourse.grading.codec_common import (
    MAX_DEPTH,
    MAX_DIMENSIONS,
    MAX_INT_DIGITS,
    MAX_NODES,
    MAX_TEXT,
    CodecError,
    Memo,
    _torch,
    _type_name,
)
from dlcourse.grading.codec_numpy import NumpyDecoding, NumpyEncoding
from dlcourse.grading.codec_references import ReferenceDecoding
from dlcourse.grading.codec_torch import TorchDecoding, TorchEncoding, module_class_name, optimizer_class_name


# ---------------------------------------------------------------- encoding
@dataclass
class Encoder(NumpyEncoding, TorchEncoding):
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


# ---------------------------------------------------------------- decoding
@dataclass
class Decoder(NumpyDecoding, TorchDecoding, ReferenceDecoding):
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


def _hashable(items: list) -> list:
    for item in items:
        try:
            hash(item)
        except TypeError:
            raise CodecError(f"an unhashable {type(item).__name__} as a dict key or set item") from None
    return items


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
