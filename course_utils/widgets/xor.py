"""XOR training, step by step: the input space and the hidden space of a 2-2-1 sigmoid network side by side.

:class:`XorTrainer` is the plain logic (no widgets): a 2-2-1 sigmoid network
trained on the four XOR points by gradient descent on the mean squared error.
Its gradients are **central finite differences** (2P = 18 forward passes per
step for the P = 9 parameters), the method of lecture 04; backpropagation
comes in lecture 06. :func:`xor_training_widget` wraps it in core ipywidgets:
"step" runs k steps, "reset" starts again from the chosen seed, and the
picture shows the decision boundary in the input plane next to the hidden
plane, where XOR becomes linearly separable. Training only ever runs in short
bursts inside a button callback, so the kernel is never blocked.

Example:
    >>> trainer = XorTrainer(seed=0, lr=2.0)
    >>> trainer.step(500)
    >>> trainer.steps, trainer.forward_passes
    (500, 9000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_utils.plotting import CLASS_COLORS
from course_utils.widgets.core import LiveWidget
from course_utils.widgets.maths import sigmoid

__all__ = ["XOR_X", "XOR_Y", "XorTrainer", "XorTrainingWidget", "unpack_params", "xor_training_widget"]

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
"""The four inputs of XOR, in truth-table order."""

XOR_Y = np.array([0, 1, 1, 0], dtype=np.float64)
"""XOR of each row of :data:`XOR_X`: ``[x1 != x2]``."""

N_PARAMS = 9
"""Parameters of the 2-2-1 network: W1 (2x2), b1 (2), w2 (2), b2 (1)."""

MAX_STEPS_PER_CALL = 5000
"""The most steps one call of :meth:`XorTrainer.step` runs, so that a button press never blocks the kernel for long."""


def unpack_params(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split parameter vectors ``(..., 9)`` into ``W1 (..., 2, 2)``, ``b1 (..., 2)``, ``w2 (..., 2)``, ``b2 (...)``.

    ``W1[..., i, j]`` is the weight from input ``i`` to hidden unit ``j``.

    Example:
        >>> W1, b1, w2, b2 = unpack_params(np.arange(9.0))
        >>> W1.tolist(), b1.tolist(), w2.tolist(), float(b2)
        ([[0.0, 1.0], [2.0, 3.0]], [4.0, 5.0], [6.0, 7.0], 8.0)
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[-1:] != (N_PARAMS,):
        raise ValueError(f"expected parameter vector(s) of shape (..., {N_PARAMS}), got shape {theta.shape}")
    lead = theta.shape[:-1]
    return theta[..., 0:4].reshape(lead + (2, 2)), theta[..., 4:6], theta[..., 6:8], theta[..., 8]


def _forward(theta: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations ``(..., n, 2)`` and outputs ``(..., n)`` for parameter vectors ``(..., 9)``."""
    W1, b1, w2, b2 = unpack_params(theta)
    H = sigmoid(np.einsum("nd,...dm->...nm", X, W1) + b1[..., None, :])
    p = sigmoid(np.einsum("...nm,...m->...n", H, w2) + b2[..., None])
    return H, p


@dataclass
class TrainerState:
    """What :class:`XorTrainer` reports after each call (for a status line)."""

    steps: int
    loss: float
    accuracy: float
    forward_passes: int


def _scatter_classes(ax, points: np.ndarray, labels: np.ndarray) -> None:
    """Class 0 as large circles, class 1 as smaller squares on top: both stay visible where they coincide."""
    for k, marker, size in ((0, "o", 130), (1, "s", 55)):
        members = labels == k
        ax.scatter(points[members, 0], points[members, 1], s=size, marker=marker, color=CLASS_COLORS[k],
                   edgecolor="black", zorder=3 + k, label=f"y = {k}")


class XorTrainer:
    """A 2-2-1 sigmoid network that learns XOR by gradient descent, a few steps per call.

    Model: ``h = sigmoid(x W1 + b1)``, ``p = sigmoid(h . w2 + b2)``; loss: the
    mean squared error ``mean((p - y)^2)`` over the four XOR points.
    Gradients are **central finite differences**,
    ``(L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)`` for each of the
    9 parameters: 18 forward passes per step, all counted in
    :attr:`forward_passes` (the forward passes used to report the loss and
    draw pictures are not counted). No backpropagation is used.

    The initial parameters are ``np.random.default_rng(seed).normal(0, 1, 9)``.

    Example:
        >>> trainer = XorTrainer(seed=0)
        >>> before = trainer.loss()
        >>> trainer.step(1000)
        >>> trainer.loss() < before
        True
    """

    def __init__(self, seed: int = 0, lr: float = 2.0, eps: float = 1e-4):
        self.lr = lr
        self.eps = eps
        self.reset(seed)

    # ------------------------------------------------------------ settings
    @property
    def lr(self) -> float:
        """The learning rate (a positive number); changing it keeps the current parameters."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(value)
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"lr must be a positive number, got {value!r}")
        self._lr = value

    @property
    def eps(self) -> float:
        """The finite-difference step."""
        return self._eps

    @eps.setter
    def eps(self, value: float) -> None:
        value = float(value)
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"eps must be a positive number, got {value!r}")
        self._eps = value

    # ------------------------------------------------------------ state
    def reset(self, seed: int | None = None) -> None:
        """Start again from the initial parameters of ``seed`` (the current seed when None)."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be an int >= 0, got {seed!r}")
            self.seed = int(seed)
        self.theta = np.random.default_rng(self.seed).normal(0.0, 1.0, N_PARAMS)
        self.steps = 0
        self.forward_passes = 0
        self.loss_history: list[float] = [self.loss()]

    def forward(self, X: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Hidden activations ``(n, 2)`` and output probabilities ``(n,)`` (default: the four XOR points)."""
        X = XOR_X if X is None else np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"X must have shape (n, 2), got shape {X.shape}")
        return _forward(self.theta, X)

    def _losses(self, thetas: np.ndarray) -> np.ndarray:
        _, p = _forward(thetas, XOR_X)
        return np.mean((p - XOR_Y) ** 2, axis=-1)

    def loss(self) -> float:
        """The mean squared error on the four XOR points now."""
        return float(self._losses(self.theta))

    def accuracy(self) -> float:
        """The fraction of the four XOR points classified right (output > 0.5 means class 1)."""
        _, p = self.forward()
        return float(np.mean((p > 0.5) == (XOR_Y > 0.5)))

    def gradient(self) -> np.ndarray:
        """The central finite-difference gradient of the loss (costs 2 x 9 = 18 forward passes)."""
        shifts = np.eye(N_PARAMS) * self.eps
        up = self._losses(self.theta + shifts)      # 9 networks, one forward pass each
        down = self._losses(self.theta - shifts)    # 9 more
        self.forward_passes += 2 * N_PARAMS
        return (up - down) / (2.0 * self.eps)

    def step(self, k: int = 1) -> None:
        """Run ``k`` gradient-descent steps (1 <= k <= 5000, so that one call stays short)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_STEPS_PER_CALL:
            raise ValueError(f"k must be an int from 1 to {MAX_STEPS_PER_CALL}, got {k!r}")
        for _ in range(int(k)):
            self.theta = self.theta - self.lr * self.gradient()
            self.steps += 1
            self.loss_history.append(self.loss())

    def state(self) -> TrainerState:
        """Steps, loss, accuracy and forward passes now."""
        return TrainerState(self.steps, self.loss(), self.accuracy(), self.forward_passes)

    # ------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """A new figure: input space with the decision boundary, hidden space, loss curve."""
        fig, (ax_in, ax_hid, ax_loss) = plt.subplots(1, 3, figsize=(13.5, 4.0),
                                                     gridspec_kw={"width_ratios": [1, 1, 1.1]})
        W1, b1, w2, b2 = unpack_params(self.theta)
        labels = XOR_Y.astype(int)
        state = self.state()

        # Input space: the network's output and its 0.5 level line, plus each hidden unit's line.
        grid = np.linspace(-0.5, 1.5, 121)
        xx, yy = np.meshgrid(grid, grid)
        points = np.column_stack([xx.ravel(), yy.ravel()])
        H_grid, p_grid = self.forward(points)
        ax_in.contourf(xx, yy, p_grid.reshape(xx.shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                       alpha=0.35, vmin=0, vmax=1)
        if p_grid.min() < 0.5 < p_grid.max():
            ax_in.contour(xx, yy, p_grid.reshape(xx.shape), levels=[0.5], colors="k", linewidths=1.5)
        for j, style in zip(range(2), ("--", ":")):
            if p_grid.size and H_grid[:, j].min() < 0.5 < H_grid[:, j].max():
                ax_in.contour(xx, yy, H_grid[:, j].reshape(xx.shape), levels=[0.5], colors=CLASS_COLORS[2],
                              linewidths=1.5, linestyles=style, zorder=4)
        _scatter_classes(ax_in, XOR_X, labels)
        ax_in.plot([], [], "k-", label="output = 0.5")
        for j, style in zip(range(2), ("--", ":")):
            ax_in.plot([], [], color=CLASS_COLORS[2], linestyle=style, label=f"hidden unit {j + 1} = 0.5")
        ax_in.set(title=f"Input space (accuracy {state.accuracy:.0%})", xlabel="$x^1$", ylabel="$x^2$",
                  xlim=(-0.5, 1.5), ylim=(-0.5, 1.5))

        # Hidden space: where the hidden layer sends the grid and the four points; the output line there.
        for value in np.linspace(-0.5, 1.5, 9):
            line = np.linspace(-0.5, 1.5, 60)
            for segment in (np.column_stack([line, np.full_like(line, value)]),
                            np.column_stack([np.full_like(line, value), line])):
                H_line, _ = self.forward(segment)
                ax_hid.plot(H_line[:, 0], H_line[:, 1], color="grey", linewidth=0.5, alpha=0.5)
        H, _ = self.forward()
        _scatter_classes(ax_hid, H, labels)
        h = np.linspace(-0.05, 1.05, 50)
        if abs(w2[1]) > 1e-12:
            ax_hid.plot(h, -(w2[0] * h + b2) / w2[1], "k-", label="output = 0.5")
        elif abs(w2[0]) > 1e-12:
            ax_hid.axvline(-b2 / w2[0], color="k", label="output = 0.5")
        ax_hid.set(title="Hidden space (grid: the input plane, bent)", xlabel="$h_1$", ylabel="$h_2$",
                   xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))

        # Loss curve.
        ax_loss.plot(np.arange(len(self.loss_history)), self.loss_history, color=CLASS_COLORS[0])
        ax_loss.set(title=f"Training loss (seed {self.seed}, lr {self.lr:g})\n"
                          f"step {state.steps}: {state.forward_passes} forward passes for gradients",
                    xlabel="gradient step", ylabel="mean squared error", ylim=(0, max(0.3, max(self.loss_history))))
        ax_loss.title.set_fontsize(10)
        # One legend for both planes, below the panels: a legend inside would cover the coloured field and lines.
        fig.subplots_adjust(wspace=0.3, bottom=0.24)
        handles, names = ax_in.get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=len(names), fontsize=9,
                   frameon=False)
        return fig


class XorTrainingWidget(LiveWidget):
    """The controls, status line and live picture around an :class:`XorTrainer` (a :class:`LiveWidget`).

    Attributes: ``trainer`` (the logic), ``live``, ``box``, and the controls
    ``step_button``, ``reset_button``, ``steps_per_click``, ``seed``, ``lr``,
    ``status``. :meth:`show` displays it with its static picture.
    """

    def __init__(self, seed: int = 0, lr: float = 2.0, steps_per_click: int = 100):
        import ipywidgets as widgets

        choices = [1, 10, 100, 1000]
        if steps_per_click not in choices:
            raise ValueError(f"steps_per_click must be one of {choices}, got {steps_per_click!r}")
        super().__init__(XorTrainer(seed=seed, lr=lr))
        self.step_button = widgets.Button(description="step", tooltip="run k gradient steps")
        self.reset_button = widgets.Button(description="reset", tooltip="back to the initial weights of this seed")
        self.steps_per_click = widgets.Dropdown(options=choices, value=steps_per_click, description="k steps",
                                                style={"description_width": "initial"})
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=10_000, description="seed",
                                           style={"description_width": "initial"})
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-1, max=1.3, step=0.05, description="learning rate",
                                         continuous_update=False, readout_format=".2f",
                                         style={"description_width": "initial"})
        self.status = widgets.HTML()
        self._update_status()

        self.step_button.on_click(self._on_step)
        self.reset_button.on_click(self._on_reset)
        self.seed.observe(self._on_seed, names="value")
        self.lr.observe(self._on_lr, names="value")
        controls = widgets.HBox([self.step_button, self.steps_per_click, self.reset_button, self.seed, self.lr])
        self._arrange([controls, self.status, self.live.image])

    @property
    def trainer(self) -> XorTrainer:
        """The :class:`XorTrainer` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self) -> None:
        s = self.trainer.state()
        self.status.value = (f"step {s.steps} &nbsp; loss {s.loss:.4f} &nbsp; accuracy {s.accuracy:.0%} &nbsp; "
                             f"forward passes for gradients: {s.forward_passes}")

    def _on_step(self, _: Any = None) -> None:
        self.trainer.step(int(self.steps_per_click.value))
        self.refresh()

    def _on_reset(self, _: Any = None) -> None:
        self.trainer.reset(int(self.seed.value))
        self.refresh()

    def _on_seed(self, change: dict) -> None:
        self.trainer.reset(int(change["new"]))
        self.refresh()

    def _on_lr(self, change: dict) -> None:
        self.trainer.lr = float(change["new"])
        self._update_status()


def xor_training_widget(seed: int = 0, lr: float = 2.0, steps_per_click: int = 100) -> XorTrainingWidget:
    """Build the XOR training widget; display it with ``w.show()``.

    Example:
        >>> w = xor_training_widget(seed=0)
        >>> w.step_button.click()          # what a press of "step" does
        >>> w.trainer.steps
        100
    """
    return XorTrainingWidget(seed=seed, lr=lr, steps_per_click=steps_per_click)
