"""Activation explorer: pick an activation function, see f(x) and its derivative f'(x).

:data:`ACTIVATIONS` is the widget's own table of activation functions (the
plumbing that draws them; lecture 05 writes and checks the implementations in
the notebook itself). :class:`ActivationExplorer` holds the state (which
activation, the value of its parameter alpha where it has one) and draws it;
:func:`activation_explorer` wraps it in core ipywidgets (a dropdown and an
alpha slider) as an :class:`ActivationExplorerWidget`. Tests drive the plain
class, or change the controls programmatically, without a browser.

Example:
    >>> explorer = ActivationExplorer("sigmoid")
    >>> round(explorer.max_derivative(), 4)
    0.25
    >>> explorer.set_activation("elu"); explorer.alpha
    1.0
    >>> w = activation_explorer("sigmoid")
    >>> w.activation_dropdown.value = "tanh"     # what picking "Tanh" does
    >>> w.explorer.name
    'tanh'
    >>> w.show()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_utils.plotting import CLASS_COLORS
from course_utils.widgets.core import LiveWidget, float_slider
from course_utils.widgets.maths import sigmoid, sigmoid_derivative, tanh_derivative

__all__ = ["ACTIVATIONS", "ActivationExplorer", "ActivationExplorerWidget", "ActivationSpec", "activation_explorer"]

X_RANGE = (-5.0, 5.0)
SELU_LAMBDA = 1.0507009873554804934193349852946  # Klambauer et al. (2017), as in torch.nn.SELU
SELU_ALPHA = 1.6732632423543772848170429916717

Array = np.ndarray


@dataclass(frozen=True)
class ActivationSpec:
    """One row of the table: how to compute f and f' (both take ``x`` and ``alpha``) and how to label them."""

    label: str
    formula: str  # LaTeX, shown in the title
    f: Callable[[Array, float], Array]
    df: Callable[[Array, float], Array]
    alpha: float | None = None  # the default alpha; None when the function has no parameter
    alpha_range: tuple[float, float] = (0.0, 1.0)


# Stable building blocks: exp only ever sees non-positive arguments, so nothing overflows.
def _softplus(x: Array) -> Array:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _normal_cdf(x: Array) -> Array:
    return 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(-x / math.sqrt(2.0))


def _normal_pdf(x: Array) -> Array:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _elu(x: Array, a: float) -> Array:
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))


def _elu_grad(x: Array, a: float) -> Array:
    return np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0.0)))


ACTIVATIONS: dict[str, ActivationSpec] = {
    "sigmoid": ActivationSpec(
        "Sigmoid", r"\sigma(x) = \frac{1}{1 + e^{-x}}",
        lambda x, a: sigmoid(x), lambda x, a: sigmoid_derivative(x)),
    "tanh": ActivationSpec(
        "Tanh", r"\tanh x = \frac{e^x - e^{-x}}{e^x + e^{-x}}",
        lambda x, a: np.tanh(x), lambda x, a: tanh_derivative(x)),
    "softsign": ActivationSpec(
        "SoftSign", r"\frac{x}{1 + |x|}",
        lambda x, a: x / (1.0 + np.abs(x)), lambda x, a: 1.0 / (1.0 + np.abs(x)) ** 2),
    "heaviside": ActivationSpec(
        "Heaviside step", r"[x \geq 0]",
        lambda x, a: (x >= 0).astype(np.float64), lambda x, a: np.zeros_like(x)),
    "softplus": ActivationSpec(
        "SoftPlus", r"\ln(1 + e^x)",
        lambda x, a: _softplus(x), lambda x, a: sigmoid(x)),
    "relu": ActivationSpec(
        "ReLU", r"\max(0, x)",
        lambda x, a: np.maximum(x, 0.0), lambda x, a: (x > 0).astype(np.float64)),
    "leaky_relu": ActivationSpec(
        "Leaky ReLU", r"\max(\alpha x, x)",
        lambda x, a: np.where(x > 0, x, a * x), lambda x, a: np.where(x > 0, 1.0, a),
        alpha=0.01, alpha_range=(0.0, 1.0)),
    "prelu": ActivationSpec(
        "PReLU (alpha is learned)", r"x \;(x > 0),\; \alpha x \;(x \leq 0)",
        lambda x, a: np.where(x > 0, x, a * x), lambda x, a: np.where(x > 0, 1.0, a),
        alpha=0.25, alpha_range=(0.0, 1.0)),
    "elu": ActivationSpec(
        "ELU", r"x \;(x > 0),\; \alpha(e^x - 1) \;(x \leq 0)",
        _elu, _elu_grad, alpha=1.0, alpha_range=(0.1, 3.0)),
    "gelu": ActivationSpec(
        "GELU", r"x\,\Phi(x)",
        lambda x, a: x * _normal_cdf(x), lambda x, a: _normal_cdf(x) + x * _normal_pdf(x)),
    "selu": ActivationSpec(
        "SELU", r"\lambda x \;(x > 0),\; \lambda\alpha(e^x - 1) \;(x \leq 0)",
        lambda x, a: SELU_LAMBDA * _elu(x, SELU_ALPHA), lambda x, a: SELU_LAMBDA * _elu_grad(x, SELU_ALPHA)),
    "silu": ActivationSpec(
        "SiLU / Swish", r"x\,\sigma(x)",
        lambda x, a: x * sigmoid(x), lambda x, a: sigmoid(x) * (1.0 + x * sigmoid(-x))),
}


class ActivationExplorer:
    """The state behind the activation explorer: which activation, its alpha, and the curves it draws.

    At a kink (x = 0 for ReLU and its relatives) the derivative takes the
    value of its x < 0 branch, as PyTorch's autograd does.

    Example:
        >>> explorer = ActivationExplorer("leaky_relu", alpha=0.2)
        >>> explorer.derivative(np.array([-1.0, 2.0])).tolist()
        [0.2, 1.0]
    """

    def __init__(self, name: str = "sigmoid", alpha: float | None = None, x_range: tuple[float, float] = X_RANGE,
                 num: int = 401):
        lo, hi = (float(v) for v in x_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"x_range: expected (low, high) with finite low < high, got {x_range!r}")
        if not isinstance(num, (int, np.integer)) or num < 3:
            raise ValueError(f"num: expected an int >= 3 (points on the curve), got {num!r}")
        self.x = np.linspace(lo, hi, int(num))
        self.name = "sigmoid"
        self.alpha: float | None = None
        self.set_activation(name)
        if alpha is not None:
            self.set_alpha(alpha)

    # ------------------------------------------------------------ state
    @property
    def spec(self) -> ActivationSpec:
        return ACTIVATIONS[self.name]

    @property
    def has_alpha(self) -> bool:
        """True for the activations with a parameter alpha (Leaky ReLU, PReLU, ELU)."""
        return self.spec.alpha is not None

    def set_activation(self, name: str) -> None:
        """Switch to the activation ``name`` (a key of :data:`ACTIVATIONS`); alpha returns to its default."""
        if name not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")
        self.name = name
        self.alpha = self.spec.alpha

    def set_alpha(self, value: float) -> None:
        """Set alpha, within the activation's range; only for activations that have one."""
        if not self.has_alpha:
            with_alpha = [key for key, spec in ACTIVATIONS.items() if spec.alpha is not None]
            raise ValueError(f"alpha: {self.name} has no parameter alpha (only {', '.join(with_alpha)} do)")
        value = float(value)
        lo, hi = self.spec.alpha_range
        if not (np.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"alpha: expected a number from {lo} to {hi} for {self.name}, got {value!r}")
        self.alpha = value

    # ------------------------------------------------------------ numbers
    def function(self, x: Any) -> np.ndarray:
        """f(x) of the current activation (float64, same shape as ``x``)."""
        x = np.asarray(x, dtype=np.float64)
        return np.asarray(self.spec.f(x, self.alpha if self.alpha is not None else 0.0), dtype=np.float64)

    def derivative(self, x: Any) -> np.ndarray:
        """f'(x) of the current activation (float64, same shape as ``x``)."""
        x = np.asarray(x, dtype=np.float64)
        return np.broadcast_to(np.asarray(self.spec.df(x, self.alpha if self.alpha is not None else 0.0),
                                          dtype=np.float64), x.shape).copy()

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, f(x), f'(x))`` on the explorer's grid."""
        return self.x, self.function(self.x), self.derivative(self.x)

    def max_derivative(self) -> float:
        """The largest f'(x) on the grid (1/4 for the sigmoid: the root of network paralysis)."""
        return float(self.curves()[2].max())

    def summary(self) -> str:
        """One line with the numbers the picture shows."""
        x, _, dfx = self.curves()
        alpha = f"alpha = {self.alpha:.2f}   " if self.has_alpha else ""
        return (f"{self.spec.label}: {alpha}max f' = {dfx.max():.3f}   "
                f"f'({x[0]:g}) = {dfx[0]:.3g}   f'({x[-1]:g}) = {dfx[-1]:.3g}")

    # ------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """Two panels: f(x) on the left, f'(x) on the right, with the sigmoid's bound f' <= 1/4 for reference."""
        x, fx, dfx = self.curves()
        alpha = f", $\\alpha$ = {self.alpha:.2f}" if self.has_alpha else ""
        fig, (ax_f, ax_df) = plt.subplots(1, 2, figsize=(10.0, 3.6))
        ax_f.plot(x, fx, color=CLASS_COLORS[0], linewidth=2.2, label="f(x)")
        ax_f.set(title=f"{self.spec.label}: ${self.spec.formula}${alpha}", xlabel="x", ylabel="f(x)")
        ax_df.plot(x, dfx, color=CLASS_COLORS[1], linewidth=2.2, label="f'(x)")
        ax_df.axhline(0.25, color="grey", linestyle=":", linewidth=1.2, label="1/4 (max of the sigmoid's f')")
        ax_df.set(title=f"derivative f'(x): max {dfx.max():.3f}", xlabel="x", ylabel="f'(x)")
        low = min(-0.1, float(dfx.min()) - 0.1)
        ax_df.set_ylim(low, max(1.15, float(dfx.max()) + 0.1))
        for ax in (ax_f, ax_df):
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.axvline(0, color="grey", linewidth=0.8)
            ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        return fig


class ActivationExplorerWidget(LiveWidget):
    """A dropdown for the activation and an alpha slider around an :class:`ActivationExplorer` (a :class:`LiveWidget`).

    The alpha slider is enabled for the activations that have a parameter
    (Leaky ReLU, PReLU, ELU) and set to its default whenever the activation
    changes. Every change redraws f and f'. Attributes: ``explorer`` (the
    logic), ``live``, ``box``, and the controls ``activation_dropdown``,
    ``alpha_slider``, ``status``.
    """

    def __init__(self, name: str = "sigmoid", alpha: float | None = None):
        import ipywidgets as widgets

        super().__init__(ActivationExplorer(name, alpha))
        self.activation_dropdown = widgets.Dropdown(options=[(spec.label, key) for key, spec in ACTIVATIONS.items()],
                                                    value=self.explorer.name, description="activation")
        self.alpha_slider = float_slider("alpha", 0.0, 0.0, 3.0, step=0.01)
        self.status = widgets.HTML()
        self._syncing = False  # True while the code itself rewrites the slider: ignore its callbacks
        self.activation_dropdown.observe(self._on_activation, names="value")
        self.alpha_slider.observe(self._on_alpha, names="value")
        self._sync_slider()
        self._update_status()
        self._arrange([widgets.HBox([self.activation_dropdown, self.alpha_slider]), self.live.image, self.status])

    @property
    def explorer(self) -> ActivationExplorer:
        """The :class:`ActivationExplorer` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self) -> None:
        self.status.value = f"<code>{self.explorer.summary()}</code>"

    def _sync_slider(self) -> None:
        explorer, slider = self.explorer, self.alpha_slider
        self._syncing = True
        try:
            if explorer.has_alpha:
                lo, hi = explorer.spec.alpha_range
                slider.max = max(hi, slider.min)  # widen first so that min <= max holds at every step
                slider.min, slider.max = lo, hi
                slider.value = explorer.alpha
                slider.disabled = False
                slider.description = "alpha"
            else:
                slider.disabled = True
                slider.description = "alpha (none)"
        finally:
            self._syncing = False

    def _on_activation(self, change: dict) -> None:
        self.explorer.set_activation(change["new"])
        self._sync_slider()
        self.refresh()

    def _on_alpha(self, change: dict) -> None:
        if self._syncing or not self.explorer.has_alpha:
            return
        self.explorer.set_alpha(change["new"])
        self.refresh()


def activation_explorer(name: str = "sigmoid", alpha: float | None = None) -> ActivationExplorerWidget:
    """Build the activation explorer widget; display it with ``w.show()``.

    Example:
        >>> w = activation_explorer("elu")
        >>> w.alpha_slider.value = 2.0
        >>> w.explorer.alpha
        2.0
    """
    return ActivationExplorerWidget(name, alpha)
