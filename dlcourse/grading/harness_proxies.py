"""Stand-ins in the grader's test kernel for the student's functions and objects, which stay in the student's kernel.

A test names a function of the student's notebook and gets a
:class:`StudentFunction`; calling it runs the function in the student's kernel
(through the :class:`~dlcourse.grading.harness.Harness`, with the arguments as
data). A result that is not data stays there too, and the test gets a
:class:`StudentObject`: its methods, attributes and operators are forwarded,
and what comes back is data again (or another handle). A handle refuses ``==``,
ordering, ``bool()``, ``hash()`` and ``in`` (the student's code would decide the
comparison), and ``__array_interface__``-style attributes (a raw memory address).

Example:
    >>> obj = StudentObject(None, 1)
    >>> obj == 3
    Traceback (most recent call last):
    ...
    TypeError: a test compared a student's object with `==`; compare its data instead (e.g. float(x), x.tolist())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class StudentCodeError(RuntimeError):
    """The student's kernel did not answer properly (it crashed, hung past the time limit, or sent garbage)."""


class Forwarder(Protocol):
    """What a stand-in needs of the :class:`~dlcourse.grading.harness.Harness`: a way into the student's kernel."""

    def call(self, target: dict, args: tuple, kwargs: dict) -> Any: ...

    def operate(self, op: str, name: Any, args: list) -> Any: ...


class StudentFunction:
    """A function (or class) the student's notebook defines; calling it runs it in the student's kernel."""

    __slots__ = ("_dlcourse_harness", "__name__", "__qualname__")

    def __init__(self, harness: Forwarder, name: str) -> None:
        self._dlcourse_harness = harness
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._dlcourse_harness.call({"t": "name", "n": self.__name__}, args, kwargs)

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


def _refuse(what: str) -> Callable:
    def method(self: Any, *args: Any) -> Any:
        raise TypeError(f"a test compared a student's object with {what}; compare its data instead "
                        "(e.g. float(x), x.tolist())")
    return method


class StudentObject:
    """An object that stays in the student's kernel; its methods, attributes and operators are forwarded there.

    What comes back is data again (or another handle). It refuses to be
    compared, hashed or tested for truth: those would let the student's code
    decide a test's ``==`` or ``assert x``.
    """

    __slots__ = ("_dlcourse_harness", "_dlcourse_number", "__weakref__")

    def __init__(self, harness: Forwarder | None, number: int) -> None:
        object.__setattr__(self, "_dlcourse_harness", harness)
        object.__setattr__(self, "_dlcourse_number", number)

    def _operate(self, op: str, name: Any, args: list) -> Any:
        harness = self._dlcourse_harness
        if harness is None:
            raise StudentCodeError("this object belongs to a grading session that has ended")
        return harness.operate(op, name, args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name.startswith(("_repr_", "_ipython_", "_dlcourse_")):
            raise AttributeError(name)  # never ask the student for e.g. __array_interface__ (a raw memory address)
        return self._operate("getattr", name, [self])

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("__") or name.startswith("_dlcourse_"):
            raise AttributeError(f"cannot set {name} of a student's object")
        self._operate("setattr", name, [self, value])

    def __delattr__(self, name: str) -> None:
        self._operate("delattr", name, [self])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        harness = self._dlcourse_harness
        if harness is None:
            raise StudentCodeError("this object belongs to a grading session that has ended")
        return harness.call({"t": "handle", "i": self._dlcourse_number}, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._operate("getitem", None, [self, key])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._operate("setitem", None, [self, key, value])

    def __delitem__(self, key: Any) -> None:
        self._operate("delitem", None, [self, key])

    def __repr__(self) -> str:
        try:
            text = self._operate("unary", "repr", [self])
        except Exception:
            text = None
        return text[:1000] if isinstance(text, str) else f"<a student's object #{self._dlcourse_number}>"

    def __str__(self) -> str:
        try:
            text = self._operate("unary", "str", [self])
        except Exception:
            text = None
        return text[:1000] if isinstance(text, str) else repr(self)

    def __format__(self, spec: str) -> str:
        if spec and spec[-1] in "eEfFgGn%":
            return format(float(self), spec)
        if spec and spec[-1] in "bcdoxX":
            return format(int(self), spec)
        return format(str(self), spec)

    def __float__(self) -> float:
        return _checked(self._operate("unary", "float", [self]), float, "float()")

    def __int__(self) -> int:
        return _checked(self._operate("unary", "int", [self]), int, "int()")

    def __index__(self) -> int:
        return _checked(self._operate("unary", "index", [self]), int, "an index")

    def __complex__(self) -> complex:
        return _checked(self._operate("unary", "complex", [self]), complex, "complex()")

    def __len__(self) -> int:
        return _checked(self._operate("unary", "len", [self]), int, "len()")

    def __iter__(self) -> Any:
        return self._operate("unary", "iter", [self])

    def __next__(self) -> Any:
        return self._operate("unary", "next", [self])

    def __round__(self, digits: int | None = None) -> Any:
        return self._operate("unary", "round", [self]) if digits is None else round(float(self), digits)

    __eq__ = _refuse("`==`")
    __ne__ = _refuse("`!=`")
    __lt__ = _refuse("`<`")
    __le__ = _refuse("`<=`")
    __gt__ = _refuse("`>`")
    __ge__ = _refuse("`>=`")
    __bool__ = _refuse("a truth test (`if x`, `assert x`, `and`/`or`)")
    __hash__ = _refuse("hash() (as a dict key or set item)")  # type: ignore[assignment]
    __contains__ = _refuse("`in`")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a student's object cannot be pickled")


def _checked(value: Any, kind: type, what: str) -> Any:
    if type(value) is not kind and not (kind is float and type(value) is int):
        raise TypeError(f"the student's object gave {type(value).__name__} for {what}, expected {kind.__name__}")
    return kind(value)


def _binary(name: str, reflected: bool = False) -> Callable:
    def method(self: StudentObject, other: Any) -> Any:
        return self._operate("binary", name, [other, self] if reflected else [self, other])
    return method


def _unary(name: str) -> Callable:
    def method(self: StudentObject) -> Any:
        return self._operate("unary", name, [self])
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lshift",
              "rshift"):
    _op = _name + "_" if _name in ("and", "or") else _name
    setattr(StudentObject, f"__{_name}__", _binary(_op))
    setattr(StudentObject, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(StudentObject, f"__i{_name}__", _binary("i" + _op if _name not in ("and", "or") else "i" + _name))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StudentObject, f"__{_name}__", _unary(_name))
