"""Universal approximation with "bumps" of steep sigmoids (lecture 02).

A one-hidden-layer network with sigmoid units can approximate a continuous
function on an interval as closely as we like. The construction behind the
picture proof (Nielsen, *Neural Networks and Deep Learning*, ch. 4): split the
interval into ``N`` pieces; on piece ``[a, b]`` with height ``h`` put a *bump*

    h * (sigmoid(k * (x - a)) - sigmoid(k * (x - b)))

made of two steep sigmoids (two hidden units), and add the bumps up. The
network has ``2N`` hidden units; its error shrinks like ``1 / N`` for a
Lipschitz target.

:class:`BumpApproximation` is the logic (a target, a number of bumps, the
network's weights, the fit and its errors, a picture);
:class:`BumpApproximationWidget` (built by :func:`approximation_widget`) wires
it to a slider and a dropdown.

Example:
    >>> model = BumpApproximation("|x|", n_bumps=10)
    >>> model.n_hidden
    20
    >>> round(model.max_error(), 3)
    0.1
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_utils.plotting import CLASS_COLORS
from course_utils.widgets.core import LiveWidget
from course_utils.widgets.maths import sigmoid

__all__ = ["DOMAIN", "TARGETS", "BumpApproximation", "BumpApproximationWidget", "approximation_widget",
           "bump_network", "network_output"]

DOMAIN = (-1.0, 1.0)
"""The interval the targets are approximated on."""

TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin(2πx)": lambda x: np.sin(2 * np.pi * x),
    "|x|": np.abs,
    "step": lambda x: (x > 0).astype(np.float64),
    "x²": lambda x: x**2,
}
"""Target functions by name; "step" is discontinuous, so its largest error never shrinks."""

MAX_BUMPS = 60
"""The largest number of bumps the widget's slider offers."""


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {list(TARGETS)}")
    return target


def _check_n_bumps(n_bumps: int) -> int:
    if isinstance(n_bumps, bool) or not isinstance(n_bumps, (int, np.integer)) or n_bumps < 1:
        raise ValueError(f"n_bumps must be a positive int, got {n_bumps!r}")
    return int(n_bumps)


def bump_network(f: Callable[[np.ndarray], np.ndarray], n_bumps: int, domain: tuple[float, float] = DOMAIN,
                 sharpness: float = 20.0) -> dict[str, np.ndarray]:
    """The weights of a one-hidden-layer sigmoid network that builds ``f`` from ``n_bumps`` bumps.

    Piece ``i`` of the ``n_bumps`` equal pieces of ``domain`` gets the height
    ``f`` has at its midpoint. Hidden unit ``i`` steps up at the piece's left
    edge, unit ``n_bumps + i`` at its right edge; the output weights are
    ``+h`` and ``-h``. The outermost edges are moved one piece outside the
    domain, so that the fit does not sag to half height at its ends. The steps
    have slope ``k = sharpness / width`` (steeper as the pieces get narrower).

    Returns ``{"W1": (1, 2N), "b1": (2N,), "W2": (2N, 1), "b2": (1,)}``, used as
    ``sigmoid(x @ W1 + b1) @ W2 + b2`` for ``x`` of shape ``(n, 1)``.

    Example:
        >>> params = bump_network(np.abs, 4)
        >>> params["W1"].shape, params["W2"].shape
        ((1, 8), (8, 1))
    """
    n_bumps = _check_n_bumps(n_bumps)
    lo, hi = (float(v) for v in domain)
    if not lo < hi:
        raise ValueError(f"domain must be (low, high) with low < high, got {domain!r}")
    if not sharpness > 0:
        raise ValueError(f"sharpness must be positive, got {sharpness!r}")
    width = (hi - lo) / n_bumps
    edges = np.linspace(lo, hi, n_bumps + 1)
    heights = np.asarray(f((edges[:-1] + edges[1:]) / 2), dtype=np.float64).reshape(n_bumps)
    left, right = edges[:-1].copy(), edges[1:].copy()
    left[0] -= width
    right[-1] += width
    k = sharpness / width
    steps = np.concatenate([left, right])
    return {
        "W1": np.full((1, 2 * n_bumps), k),
        "b1": -k * steps,
        "W2": np.concatenate([heights, -heights]).reshape(-1, 1),
        "b2": np.zeros(1),
    }


def network_output(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``sigmoid(x W1 + b1) W2 + b2`` for 1-D inputs ``x``; returns shape ``(len(x),)``.

    Example:
        >>> params = bump_network(np.abs, 50)
        >>> bool(abs(network_output(params, np.array([0.5]))[0] - 0.5) < 0.02)
        True
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    hidden = sigmoid(x @ params["W1"] + params["b1"])
    return (hidden @ params["W2"] + params["b2"]).reshape(-1)


class BumpApproximation:
    """The state behind the widget: a target function, a number of bumps, and the network they give.

    Errors are measured on ``n_points`` evenly spaced points of :data:`DOMAIN`.

    Example:
        >>> model = BumpApproximation("x²", n_bumps=5)
        >>> model.set_n_bumps(50)
        >>> model.max_error() < 0.05
        True
    """

    def __init__(self, target: str = "sin(2πx)", n_bumps: int = 5, sharpness: float = 20.0, n_points: int = 1001):
        self.target = _check_target(target)
        self.n_bumps = _check_n_bumps(n_bumps)
        if not sharpness > 0:
            raise ValueError(f"sharpness must be positive, got {sharpness!r}")
        self.sharpness = float(sharpness)
        if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
            raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
        self.x = np.linspace(*DOMAIN, int(n_points))

    # ------------------------------------------------------------------ state
    def set_target(self, target: str) -> None:
        """Choose the target function (a key of :data:`TARGETS`)."""
        self.target = _check_target(target)

    def set_n_bumps(self, n_bumps: int) -> None:
        """Choose the number of bumps (the network has twice as many hidden units)."""
        self.n_bumps = _check_n_bumps(n_bumps)

    @property
    def n_hidden(self) -> int:
        """Hidden units in the network: two steep sigmoids per bump."""
        return 2 * self.n_bumps

    # ------------------------------------------------------------------ logic
    def params(self) -> dict[str, np.ndarray]:
        """The network's weights (see :func:`bump_network`)."""
        return bump_network(TARGETS[self.target], self.n_bumps, DOMAIN, self.sharpness)

    def target_values(self) -> np.ndarray:
        """The target on the evaluation points."""
        return np.asarray(TARGETS[self.target](self.x), dtype=np.float64)

    def fit_values(self) -> np.ndarray:
        """The network's output on the evaluation points."""
        return network_output(self.params(), self.x)

    def errors(self) -> np.ndarray:
        """``|target - fit|`` on the evaluation points."""
        return np.abs(self.target_values() - self.fit_values())

    def max_error(self) -> float:
        """The largest error on the evaluation points."""
        return float(self.errors().max())

    def mean_error(self) -> float:
        """The mean absolute error on the evaluation points."""
        return float(self.errors().mean())

    def summary(self) -> str:
        """One line: bumps, hidden units and both errors."""
        return (f"{self.n_bumps} bump(s) = {self.n_hidden} hidden units: "
                f"max error {self.max_error():.3f}, mean error {self.mean_error():.4f}")

    # ------------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """Left: the target, the network's fit and (for up to 12 bumps) each bump. Right: the error."""
        fig, (ax, err_ax) = plt.subplots(1, 2, figsize=(10.0, 3.8), gridspec_kw={"width_ratios": [1.4, 1.0]})
        target, fit, error = self.target_values(), self.fit_values(), self.errors()
        if self.n_bumps <= 12:
            params = self.params()
            hidden = sigmoid(self.x[:, None] @ params["W1"] + params["b1"])
            weights = params["W2"][:, 0]
            n = self.n_bumps
            for i in range(n):
                bump = hidden[:, i] * weights[i] + hidden[:, n + i] * weights[n + i]
                ax.plot(self.x, bump, color="0.6", linewidth=0.8, label="one bump (2 units)" if i == 0 else None)
        ax.plot(self.x, target, color="black", linewidth=2.0, label=f"target {self.target}")
        ax.plot(self.x, fit, color=CLASS_COLORS[1], linewidth=2.0, linestyle="--", label="network")
        ax.set(title=f"{self.n_bumps} bump(s) = {self.n_hidden} hidden sigmoid units", xlabel="x", ylabel="y")
        ax.legend(loc="lower left", fontsize=8)
        err_ax.plot(self.x, error, color=CLASS_COLORS[0], label="|target - network|")
        err_ax.axhline(error.max(), color=CLASS_COLORS[1], linestyle=":", label=f"max {error.max():.3f}")
        err_ax.axhline(error.mean(), color=CLASS_COLORS[2], linestyle="--", label=f"mean {error.mean():.4f}")
        err_ax.set(title="error of the network", xlabel="x", ylabel="absolute error",
                   ylim=(0, max(1e-3, error.max()) * 1.7))   # headroom: the legend sits above the largest error
        err_ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        return fig


class BumpApproximationWidget(LiveWidget):
    """A slider for the number of bumps and a dropdown for the target around a :class:`BumpApproximation`.

    A :class:`LiveWidget`: the picture and the errors update on every change.
    Attributes: ``approximation`` (the logic), ``live``, ``box``, and the
    controls ``n_bumps_slider``, ``target_dropdown``, ``status``.
    """

    def __init__(self, target: str = "sin(2πx)", n_bumps: int = 5, sharpness: float = 20.0):
        import ipywidgets as widgets

        super().__init__(BumpApproximation(target, n_bumps, sharpness=sharpness))
        approximation = self.approximation
        self.n_bumps_slider = widgets.IntSlider(
            value=approximation.n_bumps, min=1, max=max(MAX_BUMPS, approximation.n_bumps), step=1,
            description="bumps N", continuous_update=False, style={"description_width": "initial"})
        self.target_dropdown = widgets.Dropdown(options=list(TARGETS), value=approximation.target,
                                                description="target", style={"description_width": "initial"})
        self.status = widgets.HTML()
        self._update_status()
        self.n_bumps_slider.observe(self._on_n_bumps, names="value")
        self.target_dropdown.observe(self._on_target, names="value")
        self._arrange([widgets.HBox([self.n_bumps_slider, self.target_dropdown]), self.status, self.live.image])

    @property
    def approximation(self) -> BumpApproximation:
        """The :class:`BumpApproximation` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self) -> None:
        self.status.value = self.approximation.summary()

    def _on_n_bumps(self, change: dict) -> None:
        self.approximation.set_n_bumps(int(change["new"]))
        self.refresh()

    def _on_target(self, change: dict) -> None:
        self.approximation.set_target(change["new"])
        self.refresh()


def approximation_widget(target: str = "sin(2πx)", n_bumps: int = 5,
                         sharpness: float = 20.0) -> BumpApproximationWidget:
    """Build the universal-approximation widget; display it with ``w.show()``.

    Example:
        >>> w = approximation_widget("|x|", n_bumps=2)
        >>> w.n_bumps_slider.value = 20     # what moving the slider does
        >>> w.approximation.n_hidden
        40
    """
    return BumpApproximationWidget(target, n_bumps, sharpness=sharpness)
