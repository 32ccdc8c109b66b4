"""Checks for test cells: each failure says what was expected, what came back, and where.

Use them in self-checks and in graded test cells::

    assert_close(sigmoid(0.0), 0.5, "sigmoid(0)")
    assert_equal(truth_table(AND), [0, 0, 0, 1], "AND truth table")

A test cell must never end in a bare expression (nbgrader would read its value
as partial credit), so these functions return ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CheckError", "assert_close", "assert_equal", "assert_shape", "assert_finite", "as_array"]


class CheckError(AssertionError):
    """A failed check; the message is written for the student."""


def as_array(value: Any, name: str = "value") -> np.ndarray:
    """``value`` as a NumPy array (torch tensors are detached and moved to the CPU).

    Example:
        >>> as_array([1, 2]).tolist()
        [1, 2]
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if value is None:
        raise CheckError(f"{name}: expected a number or an array, got None (did the function forget to return?)")
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and other oddities
        raise CheckError(f"{name}: expected a number or an array, got {type(value).__name__}: {error}") from None
    if array.dtype == object:
        raise CheckError(f"{name}: expected numbers, got {type(value).__name__} {_short(value)}")
    return array


def _short(value: Any, limit: int = 200) -> str:
    text = np.array2string(value, threshold=20, precision=6) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def assert_shape(actual: Any, shape: tuple[int, ...], name: str = "value") -> None:
    """Fail unless ``actual`` has exactly ``shape``.

    Example:
        >>> assert_shape(np.zeros((4, 2)), (4, 2), "X")
    """
    got = as_array(actual, name).shape
    if tuple(got) != tuple(shape):
        raise CheckError(f"{name}: expected shape {tuple(shape)}, got shape {tuple(got)}")


def assert_finite(actual: Any, name: str = "value") -> None:
    """Fail if ``actual`` contains nan or inf, saying where.

    Example:
        >>> assert_finite([1.0, 2.0], "loss")
    """
    array = as_array(actual, name).astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        raise CheckError(f"{name}: expected finite numbers, got {array[bad][0]} at index {where} "
                         f"({int(bad.sum())} non-finite value(s) in all)")


def assert_close(actual: Any, expected: Any, name: str = "value", rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Fail unless ``actual`` equals ``expected`` within ``atol + rtol * |expected|``.

    Shapes must match exactly (no broadcasting). The message shows both values
    and the first index where they differ most.

    Example:
        >>> assert_close(0.1 + 0.2, 0.3, "sum")
    """
    got = as_array(actual, name)
    want = as_array(expected, f"expected {name}")
    if got.shape != want.shape:
        raise CheckError(f"{name}: expected shape {want.shape}, got shape {got.shape}\n"
                         f"  expected: {_short(want)}\n  got:      {_short(got)}")
    if not np.issubdtype(got.dtype, np.number) and got.dtype != bool:
        raise CheckError(f"{name}: expected numbers, got dtype {got.dtype}")
    got64, want64 = got.astype(np.float64), want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(got64 - want64)
        allowed = atol + rtol * np.abs(want64)
        same_nonfinite = (got64 == want64) | (np.isnan(got64) & np.isnan(want64))
        wrong = ~((error <= allowed) | same_nonfinite)
    if not wrong.any():
        return
    if got.ndim == 0:
        raise CheckError(f"{name}: expected {want64.item()!r}, got {got64.item()!r} "
                         f"(difference {error.item():.3g}, allowed {allowed.item():.3g})")
    score = np.where(wrong, np.nan_to_num(error, nan=np.inf, posinf=np.inf), -1.0)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), got.shape))
    raise CheckError(
        f"{name}: {int(wrong.sum())} of {wrong.size} value(s) differ; largest difference at index {index}: "
        f"expected {want64[index].item()!r}, got {got64[index].item()!r}\n"
        f"  expected: {_short(want)}\n  got:      {_short(got)}"
    )


def assert_equal(actual: Any, expected: Any, name: str = "value") -> None:
    """Fail unless ``actual`` equals ``expected`` exactly (same shape, same values).

    Use it for integers, labels and truth tables; use :func:`assert_close` for floats.

    Example:
        >>> assert_equal([0, 0, 0, 1], [0, 0, 0, 1], "AND")
    """
    got = as_array(actual, name)
    want = as_array(expected, f"expected {name}")
    if got.shape != want.shape:
        raise CheckError(f"{name}: expected shape {want.shape}, got shape {got.shape}\n"
                         f"  expected: {_short(want)}\n  got:      {_short(got)}")
    wrong = got != want
    if np.any(wrong):
        if got.ndim == 0:
            raise CheckError(f"{name}: expected {want.item()!r}, got {got.item()!r}")
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise CheckError(
            f"{name}: {int(np.sum(wrong))} of {wrong.size} value(s) differ; first at index {index}: "
            f"expected {want[index].item()!r}, got {got[index].item()!r}\n"
            f"  expected: {_short(want)}\n  got:      {_short(got)}"
        )
