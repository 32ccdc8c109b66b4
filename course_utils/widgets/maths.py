"""The few maths helpers the widgets share, each defined once and numerically stable.

They are plumbing for the pictures: the lectures write their own ``sigmoid``
and ``softmax`` in the notebook, where the student reads them, and check them
against PyTorch. These work on NumPy arrays and on plain numbers, never
overflow, and raise no floating-point warnings, even at ``z = ±1000``.

Example:
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    >>> float(sigmoid_derivative(0.0)), float(tanh_derivative(0.0))
    (0.25, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["log_softmax", "sigmoid", "sigmoid_derivative", "tanh_derivative"]

def sigmoid(z: Any) -> np.ndarray:
    """The logistic sigmoid ``1 / (1 + exp(-z))``, elementwise, as float64.

    Computed as ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``
    with ``e = exp(-|z|)``: exp only sees arguments ``<= 0``, so nothing
    overflows, and small values keep their relative accuracy
    (``sigmoid(-40)`` is ``4.25e-18``, not 0). Where the result is too small
    for a float64 (``z < -745``) it rounds to 0, as it should, without a
    warning. A plain number gives a NumPy scalar.

    Example:
        >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
        [0.0, 0.5, 1.0]
        >>> f"{sigmoid(-40.0):.3g}"
        '4.25e-18'
    """
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(under="ignore"):  # exp(-1000) rounding to 0 is the right answer, not an error
        e = np.exp(-np.abs(z))
        return (np.where(z >= 0, 1.0, e) / (1.0 + e))[()]


def sigmoid_derivative(z: Any) -> np.ndarray:
    """``sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))``, elementwise; its largest value is ``1/4``, at ``z = 0``.

    Written ``sigmoid(z) sigmoid(-z)``, which stays accurate for large ``|z|``
    (``1 - sigmoid(z)`` would round to 0 there).

    Example:
        >>> sigmoid_derivative(np.array([-1000.0, 0.0, 1000.0])).tolist()
        [0.0, 0.25, 0.0]
    """
    z = np.asarray(z, dtype=np.float64)
    return (sigmoid(z) * sigmoid(-z))[()]


def tanh_derivative(z: Any) -> np.ndarray:
    """``tanh'(z) = 1 - tanh(z)^2`` (what PyTorch's autograd computes too).

    Example:
        >>> tanh_derivative(np.array([-1000.0, 0.0, 1000.0])).tolist()
        [0.0, 1.0, 0.0]
    """
    return (1.0 - np.tanh(np.asarray(z, dtype=np.float64)) ** 2)[()]


def log_softmax(z: Any, axis: int = -1) -> np.ndarray:
    """``log softmax(z) = z - logsumexp(z)`` along ``axis``, computed with the maximum subtracted first.

    Stays finite where ``softmax`` itself underflows to 0, so a cross-entropy
    ``-log_softmax(z)[k]`` is never infinite.

    Example:
        >>> log_softmax(np.array([0.0, 0.0])).round(4).tolist()
        [-0.6931, -0.6931]
        >>> float(-log_softmax(np.array([500.0, -500.0]))[1])
        1000.0
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 0:
        raise ValueError("log_softmax: expected an array of logits with at least one axis, got a single number")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
