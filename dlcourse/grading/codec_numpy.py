"""NumPy values as data: arrays (numeric, bool and string dtypes; object arrays of data), scalars, dtypes.

The methods here belong to the codec's :class:`~dlcourse.grading.codec.Encoder`
and :class:`~dlcourse.grading.codec.Decoder` (they supply ``encode``,
``decode`` and the numbering); NumPy's random generators (``Generator``,
``RandomState``) cross as their state. Encoding looks for NumPy among the
imported modules only; decoding imports it when an array arrives.

Example:
    >>> from dlcourse.grading.codec import decode_value, encode_value
    >>> import numpy as np
    >>> decode_value(*encode_value(np.eye(2, dtype="int8"))).tolist()
    [[1, 0], [0, 1]]
"""

from __future__ import annotations

import math
from typing import Any

from dlcourse.grading.codec_common import MAX_DIMENSIONS, CodecError, _numpy

NUMPY_KINDS = frozenset("biufcUS")
"""NumPy dtype kinds an array may have: bool, int, uint, float, complex, str, bytes (object arrays separately)."""


class NumpyEncoding:
    """The part of :class:`~dlcourse.grading.codec.Encoder` that encodes NumPy arrays and scalars."""

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


class NumpyDecoding:
    """The part of :class:`~dlcourse.grading.codec.Decoder` that builds NumPy arrays, scalars, dtypes and generators."""

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
