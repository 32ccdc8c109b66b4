"""What every part of the codec shares: its error, its limits, the memo that numbers objects, lazy library access.

The codec (:mod:`~dlcourse.grading.codec`) turns values into data and back;
these are the pieces all its parts use. It runs in both kernels; it imports
NumPy only when a value needs it, and PyTorch never (:func:`_torch` only looks
whether this process has imported it).

Example:
    >>> memo = Memo()
    >>> memo.add([1]), memo.get(0)
    (0, [1])
"""

from __future__ import annotations

import sys
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


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
