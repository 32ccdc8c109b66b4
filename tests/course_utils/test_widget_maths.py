"""The maths the widgets share: each helper against its textbook formula, at ordinary and at extreme inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.widgets.maths import log_softmax, sigmoid, sigmoid_derivative, tanh_derivative

EXTREME = np.array([-1e4, -1000.0, -720.0, -40.0, 0.0, 40.0, 720.0, 1000.0, 1e4])


def test_sigmoid_matches_the_formula_to_rounding():
    z = np.linspace(-30, 30, 601)
    textbook = np.array([1.0 / (1.0 + math.exp(-v)) for v in z])
    assert np.allclose(sigmoid(z), textbook, rtol=1e-14, atol=0)  # relative accuracy, tails included


def test_sigmoid_is_exact_and_quiet_at_extremes():
    with np.errstate(all="raise"):  # no overflow, no underflow, nothing invalid
        s = sigmoid(EXTREME)
        d = sigmoid_derivative(EXTREME)
        t = tanh_derivative(EXTREME)
    assert s[0] == s[1] == 0.0 and s[-1] == s[-2] == 1.0 and s[4] == 0.5
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) >= 0)
    assert float(sigmoid(-40.0)) == pytest.approx(math.exp(-40.0) / (1 + math.exp(-40.0)), rel=1e-14)
    assert d[0] == d[-1] == 0.0 and d[4] == 0.25
    assert t[0] == t[-1] == 0.0 and t[4] == 1.0


def test_nan_stays_nan_and_numbers_stay_numbers():
    assert np.isnan(sigmoid(np.array([np.nan]))).all()
    assert isinstance(sigmoid(0.5), np.floating) and isinstance(sigmoid([0.5]), np.ndarray)
    assert sigmoid([[0.0, 0.0]]).shape == (1, 2)


def test_derivatives_match_central_differences():
    z = np.linspace(-8, 8, 161)
    h = 1e-6
    assert np.allclose(sigmoid_derivative(z), (sigmoid(z + h) - sigmoid(z - h)) / (2 * h), atol=1e-9)
    assert np.allclose(tanh_derivative(z), (np.tanh(z + h) - np.tanh(z - h)) / (2 * h), atol=1e-9)


def test_log_softmax_is_finite_where_softmax_underflows():
    z = np.array([[5.0, 4.0, 2.0], [500.0, -500.0, 0.0]])
    out = log_softmax(z)
    assert np.allclose(np.exp(out).sum(axis=1), 1.0)
    exps = [math.exp(v - 5.0) for v in z[0]]
    assert np.allclose(out[0], [math.log(e / sum(exps)) for e in exps], rtol=1e-14)
    assert out[1, 1] == pytest.approx(-1000.0) and np.isfinite(out).all()
    assert np.allclose(log_softmax(z.T, axis=0), out.T)
    with pytest.raises(ValueError, match="at least one axis"):
        log_softmax(3.0)
