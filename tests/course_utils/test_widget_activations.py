"""The activation explorer: its table against PyTorch, its validation, and the live widget driven without a browser."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from course_utils.widgets.activations import ACTIVATIONS, ActivationExplorer, activation_explorer

TORCH_NAMES = {
    "sigmoid": lambda F, t, a: t.sigmoid(), "tanh": lambda F, t, a: t.tanh(),
    "softsign": lambda F, t, a: F.softsign(t), "softplus": lambda F, t, a: F.softplus(t),
    "relu": lambda F, t, a: F.relu(t), "leaky_relu": lambda F, t, a: F.leaky_relu(t, a),
    "prelu": lambda F, t, a: F.prelu(t, t.new_tensor([a])), "elu": lambda F, t, a: F.elu(t, a),
    "gelu": lambda F, t, a: F.gelu(t), "selu": lambda F, t, a: F.selu(t), "silu": lambda F, t, a: F.silu(t),
}


def test_every_activation_has_a_torch_twin_or_is_the_step():
    assert set(ACTIVATIONS) == set(TORCH_NAMES) | {"heaviside"}


@pytest.mark.parametrize("name", sorted(TORCH_NAMES))
def test_function_and_derivative_match_torch_autograd(name):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    explorer = ActivationExplorer(name)
    x = np.concatenate([np.linspace(-6, 6, 121), [0.0, -1e-9, 1e-9]])
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = TORCH_NAMES[name](F, t, explorer.alpha)
    y.sum().backward()
    assert np.allclose(explorer.function(x), y.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert np.allclose(explorer.derivative(x), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_central_differences_away_from_kinks(name):
    explorer = ActivationExplorer(name)
    x = np.linspace(-4.95, 4.95, 100)  # never within 0.05 of the kink at 0
    h = 1e-6
    numeric = (explorer.function(x + h) - explorer.function(x - h)) / (2 * h)
    assert np.allclose(explorer.derivative(x), numeric, rtol=1e-6, atol=1e-8)


def test_extreme_inputs_stay_finite_without_warnings():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            for name in ACTIVATIONS:
                explorer = ActivationExplorer(name)
                assert np.isfinite(explorer.function(x)).all() and np.isfinite(explorer.derivative(x)).all(), name


def test_seed_facts():
    assert ActivationExplorer("sigmoid").max_derivative() == pytest.approx(0.25)
    assert ActivationExplorer("tanh").max_derivative() == pytest.approx(1.0)
    elu = ActivationExplorer("elu", alpha=0.7)
    x = np.linspace(-5, -0.1, 50)
    assert np.allclose(elu.derivative(x), elu.function(x) + 0.7)  # ELU: f'(x) = f(x) + alpha for x < 0
    softplus, sigmoid = ActivationExplorer("softplus"), ActivationExplorer("sigmoid")
    assert np.allclose(softplus.derivative(x), sigmoid.function(x))


def test_alpha_defaults_and_switching():
    explorer = ActivationExplorer("leaky_relu")
    assert explorer.has_alpha and explorer.alpha == 0.01
    explorer.set_alpha(0.3)
    assert explorer.function(np.array([-2.0])).tolist() == [-0.6]
    explorer.set_activation("elu")
    assert explorer.alpha == 1.0
    explorer.set_activation("gelu")
    assert not explorer.has_alpha and explorer.alpha is None


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ActivationExplorer("swish2"), "expected one of"),
    (lambda: ActivationExplorer("sigmoid", alpha=0.5), "has no parameter alpha"),
    (lambda: ActivationExplorer("elu", alpha=5.0), "from 0.1 to 3.0"),
    (lambda: ActivationExplorer("elu", alpha=float("nan")), "alpha"),
    (lambda: ActivationExplorer(x_range=(1.0, -1.0)), "x_range"),
    (lambda: ActivationExplorer(num=2), "num"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_figure_has_titles_and_labels(name):
    import matplotlib.pyplot as plt

    fig = ActivationExplorer(name).figure()
    try:
        assert len(fig.axes) == 2
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    finally:
        plt.close(fig)


def test_widget_controls_update_state_and_picture():
    ui = activation_explorer("sigmoid")
    assert ui.live.png.startswith(b"\x89PNG")
    assert ui.alpha_slider.disabled and "0.250" in ui.status.value

    before = ui.live.png
    ui.activation_dropdown.value = "relu"
    assert ui.explorer.name == "relu" and ui.alpha_slider.disabled
    assert ui.live.png != before

    before = ui.live.png
    ui.activation_dropdown.value = "elu"
    assert ui.explorer.name == "elu" and not ui.alpha_slider.disabled
    assert ui.alpha_slider.value == pytest.approx(1.0)
    assert (ui.alpha_slider.min, ui.alpha_slider.max) == pytest.approx((0.1, 3.0))
    assert ui.live.png != before

    before = ui.live.png
    ui.alpha_slider.value = 2.0
    assert ui.explorer.alpha == pytest.approx(2.0)
    assert "alpha = 2.00" in ui.status.value
    assert ui.live.png != before

    ui.activation_dropdown.value = "leaky_relu"
    assert ui.explorer.alpha == pytest.approx(0.01) and ui.alpha_slider.value == pytest.approx(0.01)
    assert (ui.alpha_slider.min, ui.alpha_slider.max) == pytest.approx((0.0, 1.0))


def test_widget_starts_where_asked():
    ui = activation_explorer("prelu", alpha=0.5)
    assert ui.explorer.alpha == 0.5 and ui.alpha_slider.value == pytest.approx(0.5)
    assert not ui.alpha_slider.disabled
