"""One problem the pre-flight check finds in a submission (:class:`Issue`), and the words that describe it.

Every message of the pre-flight check is a sentence for the instructor: where in the notebook
(:func:`place`), what is there (:func:`value_kind`, :func:`short`) and what was expected (:func:`one_of`).
A submission is untrusted, so these helpers accept any value and keep what they quote short.

Example:
    >>> str(Issue("empty", "hw03.ipynb is an empty file", fatal=True))
    'hw03.ipynb is an empty file'
    >>> place(("cells", 2, "metadata", "nbgrader")), value_kind([1, "a"]), one_of(["code", "raw"])
    ("cell 3's metadata.nbgrader", 'a list whose item 1 is the number 1', "'code' or 'raw'")
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 40


@dataclass
class Issue:
    """One problem with a submission: ``fatal`` ones stop it from being graded.

    ``code`` names the kind of problem (``"too-deep"``, ``"duplicate-id"``, ...), for programs;
    ``message`` says it in a sentence, for the instructor.
    """

    code: str
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        return self.message


def short(value: Any) -> str:
    """``repr(value)``, cut to about 40 characters: a submitted value may be any size.

    Example:
        >>> short("x" * 100)
        "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"
    """
    return _SHORT.repr(value)


def first_line(error: Any) -> str:
    """The first line of ``str(error)`` (at most 300 characters), or the error's type name when it is empty.

    Example:
        >>> first_line(ValueError("bad value\\nmore")), first_line(KeyError())
        ('bad value', 'KeyError')
    """
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def place(path: Sequence[str | int]) -> str:
    """Where ``path`` points in a notebook: ``("cells", 2, "source")`` is "cell 3's source".

    Example:
        >>> place(("cells", 0)), place(("metadata", "kernel spec")), place(())
        ('cell 1', "the notebook's metadata['kernel spec']", 'the notebook')
    """
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "cells" and isinstance(parts[1], int):
        head, rest = f"cell {parts[1] + 1}", parts[2:]
    else:
        head, rest = "the notebook", parts
    if not rest:
        return head
    steps = [f"[{part}]" if isinstance(part, int) else f".{part}" if str(part).isidentifier()
             else f"[{short(part)}]" for part in rest]
    return f"{head}'s {''.join(steps).lstrip('.')}"


def value_kind(value: Any, inner: bool = False) -> str:
    """What ``value`` is, in words: "a string", "the number 3", "a list whose item 2 is an object", ...

    Example:
        >>> value_kind(None), value_kind(True), value_kind(["a", {}])
        ('null', 'true', 'a list whose item 2 is an object')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {short(value)}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        odd = next((index for index, item in enumerate(value) if not isinstance(item, str)), None)
        if inner or odd is None:
            return "a list" if value else "an empty list"
        return f"a list whose item {odd + 1} is {value_kind(value[odd], inner=True)}"
    return type(value).__name__


def one_of(items: Sequence[Any]) -> str:
    """``['a', 'b', 'c']`` as "'a', 'b' or 'c'" (at most six, then "...").

    Example:
        >>> one_of(["a", "b", "c"]), one_of([])
        ("'a', 'b' or 'c'", 'nothing')
    """
    shown = [short(item) for item in items[:6]] + (["..."] if len(items) > 6 else [])
    if not shown:
        return "nothing"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
