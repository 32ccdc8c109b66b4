"""A threshold neuron on the four inputs of a two-input logic gate (lecture 03).

:class:`ThresholdNeuron` is the logic: weights ``w1, w2``, threshold ``w0``,
a target gate, its truth table, one step of the perceptron rule, and a
picture. :class:`ThresholdNeuronWidget` (built by
:func:`threshold_neuron_widget`) wires it to sliders, a dropdown and two
buttons; tests drive both without a browser.

The neuron computes ``a(x) = [w1 * x1 + w2 * x2 - w0 > 0]``. The perceptron
step here is the 0/1 form of the rule taught in the lecture,
``w <- w + lr * (y - a(x)) * x`` on the augmented input ``(x1, x2, -1)``,
applied to the next row (in truth-table order) whose output is wrong.

Example:
    >>> neuron = ThresholdNeuron(1.0, 1.0, 1.5, gate="AND")
    >>> neuron.truth_table()[:, 3].tolist()
    [0, 0, 0, 1]
    >>> neuron.perceptron_step().updated
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from course_utils.plotting import CLASS_COLORS, plot_truth_table
from course_utils.widgets.core import LiveWidget, float_slider

__all__ = ["GATES", "INPUTS", "StepResult", "ThresholdNeuron", "ThresholdNeuronWidget", "threshold_neuron_widget"]

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
"""The four inputs ``(x1, x2)`` of a two-input gate, in truth-table order."""

GATES: dict[str, tuple[int, int, int, int]] = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "NOR": (1, 0, 0, 0),
    "XOR": (0, 1, 1, 0),
}
"""The target column of each gate's truth table, rows in the order of :data:`INPUTS`."""


def _check_gate(gate: str) -> str:
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; expected one of {sorted(GATES)}")
    return gate


def _check_number(value: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class StepResult:
    """What one perceptron step did.

    ``row`` is the truth-table row it corrected (None when every row was already
    right); ``before`` and ``after`` are the weights ``(w1, w2, w0)``.
    """

    updated: bool
    row: int | None
    x: tuple[float, float] | None
    target: int | None
    output: int | None
    before: tuple[float, float, float]
    after: tuple[float, float, float]
    message: str


class ThresholdNeuron:
    """The state behind the widget: weights, threshold and a target gate.

    Example:
        >>> neuron = ThresholdNeuron(gate="OR")
        >>> neuron.errors()
        3
        >>> result = neuron.perceptron_step()
        >>> result.row, result.after
        (1, (0.0, 1.0, -1.0))
    """

    def __init__(self, w1: float = 0.0, w2: float = 0.0, w0: float = 0.0, gate: str = "AND",
                 learning_rate: float = 1.0):
        self.learning_rate = _check_number(learning_rate, "learning_rate")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        self._initial = (_check_number(w1, "w1"), _check_number(w2, "w2"), _check_number(w0, "w0"))
        self.gate = _check_gate(gate)
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def weights(self) -> tuple[float, float, float]:
        """``(w1, w2, w0)``."""
        return (self.w1, self.w2, self.w0)

    def set_weights(self, w1: float, w2: float, w0: float) -> None:
        """Set both weights and the threshold."""
        self.w1, self.w2, self.w0 = (_check_number(w1, "w1"), _check_number(w2, "w2"), _check_number(w0, "w0"))

    def set_gate(self, gate: str) -> None:
        """Choose the target gate (one of :data:`GATES`); the weights stay."""
        self.gate = _check_gate(gate)
        self._next_row = 0

    def reset(self) -> None:
        """Back to the initial weights, with no steps taken."""
        self.w1, self.w2, self.w0 = self._initial
        self.n_updates = 0
        self._next_row = 0

    # ------------------------------------------------------------------ logic
    def scores(self) -> np.ndarray:
        """``w1 * x1 + w2 * x2 - w0`` on the four inputs."""
        return INPUTS @ np.array([self.w1, self.w2]) - self.w0

    def outputs(self) -> np.ndarray:
        """The neuron's outputs ``[score > 0]`` on the four inputs, as 0/1 integers."""
        return (self.scores() > 0).astype(np.int64)

    def targets(self) -> np.ndarray:
        """The target gate's truth-table column."""
        return np.array(GATES[self.gate], dtype=np.int64)

    def truth_table(self) -> np.ndarray:
        """A ``(4, 4)`` integer array; columns ``x1, x2, target, output``, rows in truth-table order."""
        return np.column_stack([INPUTS.astype(np.int64), self.targets(), self.outputs()])

    def errors(self) -> int:
        """How many of the four rows the neuron gets wrong."""
        return int(np.sum(self.outputs() != self.targets()))

    def is_solved(self) -> bool:
        """True when the neuron computes the target gate on all four rows."""
        return self.errors() == 0

    def perceptron_step(self) -> StepResult:
        """One step of the perceptron rule on the next wrong row, searching cyclically from the last one.

        The update is ``(w1, w2) += lr * (y - a) * (x1, x2)`` and ``w0 -= lr * (y - a)``.
        """
        before = self.weights
        wrong = self.outputs() != self.targets()
        if not wrong.any():
            return StepResult(False, None, None, None, None, before, before,
                              f"All four rows are right: the neuron computes {self.gate}. Nothing to update.")
        row = next(r % 4 for r in range(self._next_row, self._next_row + 4) if wrong[r % 4])
        x1, x2 = INPUTS[row]
        target, output = int(self.targets()[row]), int(self.outputs()[row])
        delta = self.learning_rate * (target - output)  # +lr on a missed 1, -lr on a false 1
        self.w1, self.w2, self.w0 = float(self.w1 + delta * x1), float(self.w2 + delta * x2), float(self.w0 - delta)
        self.n_updates += 1
        self._next_row = (row + 1) % 4
        direction = "raise" if delta > 0 else "lower"
        message = (f"Update {self.n_updates}: row x = ({x1:g}, {x2:g}) should give {target} but gave {output}, "
                   f"so {direction} the score there: (w1, w2, w0) {_fmt(before)} -> {_fmt(self.weights)}.")
        return StepResult(True, row, (float(x1), float(x2)), target, output, before, self.weights, message)

    # ------------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """A figure: the decision line and its normal over the four points (left), the truth table (right)."""
        fig, (ax, table_ax) = plt.subplots(1, 2, figsize=(9.0, 3.9), gridspec_kw={"width_ratios": [1.35, 1.0]})
        w = np.array([self.w1, self.w2])
        targets = self.targets()
        # Shade where the neuron outputs 1 (an image of the half-plane: cheap to redraw on every move).
        grid = np.linspace(-0.5, 1.5, 201)
        xx, yy = np.meshgrid(grid, grid)
        region = (w[0] * xx + w[1] * yy - self.w0 > 0).astype(np.float64)
        ax.imshow(region, extent=(-0.5, 1.5, -0.5, 1.5), origin="lower", cmap=ListedColormap(CLASS_COLORS[:2]),
                  vmin=0, vmax=1, alpha=0.25, interpolation="nearest", aspect="equal")
        for k in (0, 1):
            members = targets == k
            ax.scatter(INPUTS[members, 0], INPUTS[members, 1], s=90, color=CLASS_COLORS[k], edgecolor="white",
                       linewidth=0.8, label=f"{self.gate} = {k}", zorder=3)
        wrong = self.outputs() != targets
        if wrong.any():
            ax.scatter(INPUTS[wrong, 0], INPUTS[wrong, 1], s=220, facecolors="none", edgecolors="black",
                       linewidths=1.8, label="wrong", zorder=4)
        norm = float(np.hypot(*w))
        if norm > 0:
            foot = w * self.w0 / norm**2  # the point of the line closest to the origin
            direction = np.array([-w[1], w[0]]) / norm
            ends = foot + np.outer([-10.0, 10.0], direction)
            ax.plot(ends[:, 0], ends[:, 1], color="black", linewidth=2,
                    label=f"${_line_tex(self.w1, self.w2)} = {self.w0:.3g}$")
            start = np.clip(foot, -0.3, 1.3)
            ax.annotate("", xy=start + 0.4 * w / norm, xytext=start,
                        arrowprops={"arrowstyle": "->", "color": CLASS_COLORS[2], "linewidth": 2})
            ax.plot([], [], color=CLASS_COLORS[2], linewidth=2, label="normal $(w_1, w_2)$")
        else:
            ax.text(0.5, 0.5, "no line: $w_1 = w_2 = 0$", ha="center", va="center", transform=ax.transAxes)
        ax.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="$x^1$", ylabel="$x^2$",
               title=f"target {self.gate}: {self.errors()} of 4 rows wrong")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        plot_truth_table(np.column_stack([INPUTS, targets]), self.outputs(),
                         input_names=("$x^1$", "$x^2$", self.gate), output_name="neuron", ax=table_ax,
                         title=f"$w_1={self.w1:.2f}$, $w_2={self.w2:.2f}$, $w_0={self.w0:.2f}$")
        for (r, _), cell in table_ax.tables[0].get_celld().items():
            if r > 0 and wrong[r - 1]:
                cell.set_edgecolor("black")
                cell.set_linewidth(2.0)
        fig.tight_layout()
        return fig


def _line_tex(w1: float, w2: float) -> str:
    """LaTeX for ``w1 x^1 + w2 x^2`` without zero terms or unit coefficients, e.g. ``x^1 - 2x^2``."""
    text = ""
    for c, var in ((w1, "x^1"), (w2, "x^2")):
        if c == 0:
            continue
        size = "" if abs(c) == 1 else f"{abs(c):.3g}"
        sign = ("-" if c < 0 else "") if not text else (" - " if c < 0 else " + ")
        text += f"{sign}{size}{var}"
    return text


def _fmt(weights: tuple[float, float, float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in weights) + ")"


class ThresholdNeuronWidget(LiveWidget):
    """Sliders for ``w1, w2, w0``, a target-gate dropdown and "perceptron step" / "reset" buttons.

    A :class:`LiveWidget` around a :class:`ThresholdNeuron`. Attributes:
    ``neuron`` (the logic), ``live``, ``box``, and the controls
    ``weight_sliders`` (a dict: ``"w1"``, ``"w2"``, ``"w0"``), ``gate_dropdown``,
    ``step_button``, ``reset_button``, ``status``. The sliders follow the
    perceptron's steps and stretch to fit weights beyond their range.
    """

    def __init__(self, w1: float = 0.0, w2: float = 0.0, w0: float = 0.0, gate: str = "AND",
                 learning_rate: float = 1.0):
        import ipywidgets as widgets

        super().__init__(ThresholdNeuron(w1, w2, w0, gate=gate, learning_rate=learning_rate))
        neuron = self.neuron
        self.weight_sliders = {
            name: float_slider(label, value, -3.0, 3.0, 0.1)
            for name, label, value in (("w1", "w₁", neuron.w1), ("w2", "w₂", neuron.w2), ("w0", "w₀", neuron.w0))
        }
        self.gate_dropdown = widgets.Dropdown(options=list(GATES), value=neuron.gate, description="target gate",
                                              style={"description_width": "initial"})
        self.step_button = widgets.Button(description="perceptron step", button_style="primary")
        self.reset_button = widgets.Button(description="reset")
        self.status = widgets.HTML(value="Move the sliders, or press <b>perceptron step</b>.")
        self._syncing = False  # True while the code itself moves the sliders

        for slider in self.weight_sliders.values():
            slider.observe(self._on_slider, names="value")
        self.gate_dropdown.observe(self._on_gate, names="value")
        self.step_button.on_click(self._on_step)
        self.reset_button.on_click(self._on_reset)
        self._arrange([
            widgets.HBox(list(self.weight_sliders.values())),
            widgets.HBox([self.gate_dropdown, self.step_button, self.reset_button]),
            self.status,
            self.live.image,
        ])

    @property
    def neuron(self) -> ThresholdNeuron:
        """The :class:`ThresholdNeuron` the widget drives (its ``logic``)."""
        return self.logic

    def _say(self, message: str) -> None:
        self.status.value = message
        self.live.refresh()

    def _sync_sliders(self) -> None:
        self._syncing = True
        try:
            for name, value in zip(("w1", "w2", "w0"), self.neuron.weights):
                slider = self.weight_sliders[name]
                slider.max, slider.min = max(slider.max, value), min(slider.min, value)
                slider.value = value
        finally:
            self._syncing = False

    def _on_slider(self, _change: dict) -> None:
        if self._syncing:
            return
        sliders, neuron = self.weight_sliders, self.neuron
        neuron.set_weights(sliders["w1"].value, sliders["w2"].value, sliders["w0"].value)
        self._say(f"{neuron.errors()} of 4 rows wrong for {neuron.gate}.")

    def _on_gate(self, change: dict) -> None:
        self.neuron.set_gate(change["new"])
        self._say(f"Target is now {self.neuron.gate}: {self.neuron.errors()} of 4 rows wrong.")

    def _on_step(self, _button: Any = None) -> None:
        result = self.neuron.perceptron_step()
        self._sync_sliders()
        self._say(result.message)

    def _on_reset(self, _button: Any = None) -> None:
        self.neuron.reset()
        self._sync_sliders()
        self._say("Back to the initial weights.")


def threshold_neuron_widget(w1: float = 0.0, w2: float = 0.0, w0: float = 0.0, gate: str = "AND",
                            learning_rate: float = 1.0) -> ThresholdNeuronWidget:
    """Build the threshold-neuron widget; display it with ``w.show()``.

    Example:
        >>> w = threshold_neuron_widget(gate="OR")
        >>> w.step_button.click()          # what a press of "perceptron step" does
        >>> w.neuron.weights
        (0.0, 1.0, -1.0)
    """
    return ThresholdNeuronWidget(w1, w2, w0, gate=gate, learning_rate=learning_rate)
