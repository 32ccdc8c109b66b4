"""The XOR training widget: its logic class driven without a browser, and its controls changed programmatically."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.widgets.xor import N_PARAMS, XOR_X, XOR_Y, XorTrainer, unpack_params, xor_training_widget


def test_initial_parameters_come_from_the_seed():
    a, b, c = XorTrainer(seed=3), XorTrainer(seed=3), XorTrainer(seed=4)
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta, np.random.default_rng(3).normal(0.0, 1.0, N_PARAMS))
    assert not np.allclose(a.theta, c.theta)
    assert a.steps == 0 and a.forward_passes == 0 and len(a.loss_history) == 1


def test_forward_matches_the_formula():
    trainer = XorTrainer(seed=1)
    W1, b1, w2, b2 = unpack_params(trainer.theta)
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    H = sigmoid(XOR_X @ W1 + b1)
    p = sigmoid(H @ w2 + b2)
    H_got, p_got = trainer.forward()
    np.testing.assert_allclose(H_got, H, rtol=1e-12)
    np.testing.assert_allclose(p_got, p, rtol=1e-12)
    assert trainer.loss() == pytest.approx(np.mean((p - XOR_Y) ** 2), rel=1e-12)


def test_finite_difference_gradient_matches_backprop_and_counts_passes():
    trainer = XorTrainer(seed=2)
    grad = trainer.gradient()
    assert trainer.forward_passes == 2 * N_PARAMS
    # Analytic gradient of the mean squared error (backprop written out by hand).
    W1, b1, w2, b2 = unpack_params(trainer.theta)
    H, p = trainer.forward()
    dz2 = 2 * (p - XOR_Y) / 4 * p * (1 - p)
    dH = np.outer(dz2, w2) * H * (1 - H)
    analytic = np.concatenate([(XOR_X.T @ dH).ravel(), dH.sum(0), H.T @ dz2, [dz2.sum()]])
    np.testing.assert_allclose(grad, analytic, rtol=1e-6, atol=1e-9)


def test_training_solves_xor_for_seed_0_and_counts_forward_passes():
    trainer = XorTrainer(seed=0, lr=2.0)
    start = trainer.loss()
    trainer.step(1000)
    assert trainer.steps == 1000
    assert trainer.forward_passes == 1000 * 2 * N_PARAMS
    assert len(trainer.loss_history) == 1001
    assert trainer.loss() < start / 10
    assert trainer.accuracy() == 1.0


def test_failure_mode_seed_6_gets_stuck():
    trainer = XorTrainer(seed=6, lr=2.0)
    trainer.step(3000)
    assert trainer.accuracy() < 1.0
    assert trainer.loss() == pytest.approx(0.125, abs=0.005)  # two points left at output 0.5


def test_reset_and_bad_input():
    trainer = XorTrainer(seed=5)
    theta0 = trainer.theta.copy()
    trainer.step(10)
    assert not np.allclose(trainer.theta, theta0)
    trainer.reset()
    np.testing.assert_array_equal(trainer.theta, theta0)
    assert trainer.steps == 0 and trainer.forward_passes == 0
    with pytest.raises(ValueError, match="k must be"):
        trainer.step(10**6)        # one call may never block the kernel for long
    with pytest.raises(ValueError, match="k must be"):
        trainer.step(0)
    with pytest.raises(ValueError, match="lr must be"):
        trainer.lr = -1.0
    with pytest.raises(ValueError, match="seed must be"):
        trainer.reset(-3)
    with pytest.raises(ValueError, match="shape"):
        trainer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        unpack_params(np.zeros(8))


def test_widget_buttons_and_controls_change_state_and_picture():
    w = xor_training_widget(seed=0, lr=2.0, steps_per_click=100)
    png0 = w.live.png
    assert png0.startswith(b"\x89PNG")
    w.step_button.click()
    assert w.trainer.steps == 100
    assert w.trainer.forward_passes == 100 * 2 * N_PARAMS
    assert "step 100" in w.status.value
    png1 = w.live.png
    assert png1 != png0

    w.steps_per_click.value = 10
    w.step_button.click()
    assert w.trainer.steps == 110

    w.lr.value = 5.0
    assert w.trainer.lr == pytest.approx(5.0)
    assert w.trainer.steps == 110              # a new learning rate keeps the weights

    w.lr.value = 2.0
    w.reset_button.click()
    assert w.trainer.steps == 0
    assert w.live.png == png0                  # same seed and learning rate: back to the first picture

    w.seed.value = 7
    assert w.trainer.seed == 7 and w.trainer.steps == 0
    np.testing.assert_array_equal(w.trainer.theta, np.random.default_rng(7).normal(0.0, 1.0, N_PARAMS))
    assert w.live.png != png0


def test_widget_rejects_bad_steps_per_click():
    with pytest.raises(ValueError, match="steps_per_click"):
        xor_training_widget(steps_per_click=7)
