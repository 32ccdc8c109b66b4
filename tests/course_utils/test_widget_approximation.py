"""The universal-approximation widget: the bump network, its errors, and the live widget driven without a browser."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.widgets.approximation import (
    DOMAIN,
    TARGETS,
    BumpApproximation,
    approximation_widget,
    bump_network,
    network_output,
)
from course_utils.widgets.maths import sigmoid


@pytest.mark.parametrize("n_bumps", [1, 3, 17])
def test_network_is_a_sum_of_bumps(n_bumps):
    params = bump_network(np.cos, n_bumps)
    assert params["W1"].shape == (1, 2 * n_bumps) and params["b1"].shape == (2 * n_bumps,)
    assert params["W2"].shape == (2 * n_bumps, 1) and params["b2"].shape == (1,)
    x = np.linspace(*DOMAIN, 301)
    width = (DOMAIN[1] - DOMAIN[0]) / n_bumps
    k = 20.0 / width
    edges = np.linspace(*DOMAIN, n_bumps + 1)
    left, right = edges[:-1].copy(), edges[1:].copy()
    left[0] -= width
    right[-1] += width
    heights = np.cos((edges[:-1] + edges[1:]) / 2)
    by_hand = sum(h * (sigmoid(k * (x - a)) - sigmoid(k * (x - b))) for h, a, b in zip(heights, left, right))
    assert np.allclose(network_output(params, x), by_hand, atol=1e-12)


@pytest.mark.parametrize(("target", "lipschitz"), [("sin(2πx)", 2 * np.pi), ("|x|", 1.0), ("x²", 2.0)])
def test_error_of_continuous_targets_shrinks_like_one_over_n(target, lipschitz):
    model = BumpApproximation(target, n_bumps=1)
    errors = []
    for n in (5, 10, 20, 40, 80):
        model.set_n_bumps(n)
        half_width = (DOMAIN[1] - DOMAIN[0]) / n / 2
        assert model.max_error() <= lipschitz * half_width + 1e-3, f"{target}, N={n}: {model.summary()}"
        errors.append(model.max_error())
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert model.mean_error() < model.max_error()


def test_step_target_keeps_its_largest_error():
    model = BumpApproximation("step", n_bumps=4)
    big = model.max_error()
    model.set_n_bumps(60)
    assert model.max_error() > 0.45 and big > 0.45  # the jump is never matched
    assert model.mean_error() < 0.01  # but the average error still vanishes


def test_state_setters_and_hidden_units():
    model = BumpApproximation()
    model.set_target("x²")
    model.set_n_bumps(7)
    assert model.target == "x²" and model.n_bumps == 7 and model.n_hidden == 14
    assert model.target_values().shape == model.fit_values().shape == model.x.shape
    assert "7 bump(s) = 14 hidden units" in model.summary()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: BumpApproximation("cos"), "unknown target"),
    (lambda: BumpApproximation(n_bumps=0), "positive int"),
    (lambda: BumpApproximation().set_n_bumps(2.5), "positive int"),
    (lambda: BumpApproximation(sharpness=0), "sharpness"),
    (lambda: bump_network(np.abs, 3, domain=(1.0, -1.0)), "low < high"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("n_bumps", [1, 5, 10, 60])
def test_error_legend_leaves_the_data_visible(target, n_bumps):
    """The error panel's legend sits above every point of the error curve that lies under it."""
    model = BumpApproximation(target, n_bumps=n_bumps)
    fig = model.figure()
    try:
        err_ax = fig.axes[1]
        fig.canvas.draw()
        box = err_ax.get_legend().get_window_extent().transformed(err_ax.transData.inverted())
        under = (model.x >= box.x0) & (model.x <= box.x1)
        assert model.errors()[under].max(initial=0.0) < box.y0, "the legend covers part of the error curve"
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n_bumps", [3, 30])
def test_figure_has_titles_labels_and_legends(n_bumps):
    fig = BumpApproximation("|x|", n_bumps=n_bumps).figure()
    try:
        fit_ax, err_ax = fig.axes
        for ax in (fit_ax, err_ax):
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
        assert f"{2 * n_bumps} hidden" in fit_ax.get_title()
    finally:
        plt.close(fig)


def test_widget_slider_changes_the_model_and_the_picture():
    w = approximation_widget("sin(2πx)", n_bumps=3)
    model, live = w.approximation, w.live
    first, first_error = live.png, model.max_error()
    assert first.startswith(b"\x89PNG")
    w.n_bumps_slider.value = 40
    assert model.n_bumps == 40 and model.n_hidden == 80
    assert model.max_error() < first_error
    assert live.png != first
    assert "80 hidden units" in w.status.value


def test_widget_dropdown_changes_the_target():
    w = approximation_widget("sin(2πx)", n_bumps=10)
    before = w.live.png
    assert set(w.target_dropdown.options) == set(TARGETS)
    w.target_dropdown.value = "step"
    assert w.approximation.target == "step"
    assert w.live.png != before
    assert f"{w.approximation.max_error():.3f}" in w.status.value
