"""Softmax explorer: logits and a temperature in, class probabilities and the cross-entropy loss out.

:class:`SoftmaxExplorer` holds the state (3 to 5 logits, the temperature, the
true class) and draws it; :func:`softmax_explorer` wraps it in core ipywidgets
(sliders for the logits, a log-scale temperature slider, dropdowns for the
number of classes and the true class) as a :class:`SoftmaxExplorerWidget`.
Tests drive the plain class, or change the controls programmatically, without
a browser.

Example:
    >>> explorer = SoftmaxExplorer(logits=(5.0, 4.0, 2.0))
    >>> explorer.probabilities().round(2).tolist()
    [0.71, 0.26, 0.04]
    >>> w = softmax_explorer(logits=(5.0, 4.0, 2.0))
    >>> w.temperature_slider.value = 10.0     # what moving the temperature slider does
    >>> w.explorer.probabilities().round(2).tolist()
    [0.38, 0.34, 0.28]
    >>> w.show()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_utils.plotting import CLASS_COLORS
from course_utils.widgets.core import LiveWidget, float_slider
from course_utils.widgets.maths import log_softmax

__all__ = ["SoftmaxExplorer", "SoftmaxExplorerWidget", "softmax_explorer"]

MIN_CLASSES = 3
MAX_CLASSES = 5
LOGIT_RANGE = (-10.0, 10.0)
TEMPERATURE_RANGE = (0.1, 10.0)
_SPARE_LOGITS = (0.0, -1.0, 1.0, -2.0, 2.0)  # logits of classes switched on later, when none were given


class SoftmaxExplorer:
    """The state behind the softmax explorer and the numbers it shows.

    ``probabilities()`` is ``softmax(logits / temperature)`` computed stably
    (the maximum is subtracted first); ``loss()`` is the cross-entropy
    ``-ln p[true_class]`` computed from the log-softmax, so it stays finite even
    when the probability underflows to 0.

    Example:
        >>> explorer = SoftmaxExplorer(logits=(4.0, 4.0, 1.0), true_class=2)
        >>> round(explorer.loss(), 3)
        3.718
        >>> explorer.set_temperature(10.0); round(explorer.loss(), 3)
        1.308
    """

    def __init__(self, logits: Sequence[float] = (5.0, 4.0, 2.0), temperature: float = 1.0, true_class: int = 0):
        values = [float(v) for v in _as_sequence(logits, "logits")]
        if not MIN_CLASSES <= len(values) <= MAX_CLASSES:
            raise ValueError(f"logits: expected {MIN_CLASSES} to {MAX_CLASSES} values, got {len(values)}: {values}")
        for value in values:
            _check_logit(value)
        self._all_logits = values + list(_SPARE_LOGITS[len(values):])
        self.num_classes = len(values)
        self.temperature = 1.0
        self.true_class = 0
        self.set_temperature(temperature)
        self.set_true_class(true_class)

    # ------------------------------------------------------------ state
    @property
    def logits(self) -> np.ndarray:
        """The logits of the classes in use, shape ``(num_classes,)``."""
        return np.array(self._all_logits[: self.num_classes], dtype=np.float64)

    def set_logit(self, index: int, value: float) -> None:
        """Set the logit of class ``index`` (0-based, any of the 5 slots, shown or not)."""
        if not isinstance(index, (int, np.integer)) or not 0 <= index < MAX_CLASSES:
            raise ValueError(f"index: expected an int from 0 to {MAX_CLASSES - 1}, got {index!r}")
        value = float(value)
        _check_logit(value)
        self._all_logits[int(index)] = value

    def set_num_classes(self, k: int) -> None:
        """Use the first ``k`` logits (3 to 5); a true class beyond them moves to the last class."""
        if not isinstance(k, (int, np.integer)) or not MIN_CLASSES <= k <= MAX_CLASSES:
            raise ValueError(f"number of classes: expected an int from {MIN_CLASSES} to {MAX_CLASSES}, got {k!r}")
        self.num_classes = int(k)
        self.true_class = min(self.true_class, self.num_classes - 1)

    def set_temperature(self, temperature: float) -> None:
        """Set the temperature ``T > 0`` that divides the logits."""
        temperature = float(temperature)
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature: expected a positive finite number, got {temperature!r}")
        self.temperature = temperature

    def set_true_class(self, true_class: int) -> None:
        """Set the true class (0-based) the loss is computed for."""
        if not isinstance(true_class, (int, np.integer)) or not 0 <= true_class < self.num_classes:
            raise ValueError(f"true_class: expected an int from 0 to {self.num_classes - 1}, got {true_class!r}")
        self.true_class = int(true_class)

    # ------------------------------------------------------------ numbers
    def log_probabilities(self) -> np.ndarray:
        """``log softmax(logits / T)`` = ``z - logsumexp(z)`` with ``z = logits / T``."""
        return log_softmax(self.logits / self.temperature)

    def probabilities(self) -> np.ndarray:
        """``softmax(logits / T)``: positive, summing to 1."""
        return np.exp(self.log_probabilities())

    def loss(self) -> float:
        """Cross-entropy with a one-hot target: ``-ln p[true_class]`` (nats)."""
        return float(-self.log_probabilities()[self.true_class])

    def entropy(self) -> float:
        """Entropy of the predicted distribution in bits (0 log 0 taken as 0)."""
        p = self.probabilities()
        nonzero = p > 0
        return float(-(p[nonzero] * np.log2(p[nonzero])).sum())

    def summary(self) -> str:
        """One line with the loss and the entropy, as the widget shows it."""
        p = self.probabilities()
        return (f"T = {self.temperature:.2f}   true class {self.true_class}: p = {p[self.true_class]:.3f},"
                f"   loss = -ln p = {self.loss():.3f} nats   entropy = {self.entropy():.2f} bits"
                f" (max {np.log2(self.num_classes):.2f})")

    # ------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """Bars of the probabilities (the true class outlined), with the T = 1 probabilities as ticks."""
        p = self.probabilities()
        k = self.num_classes
        classes = np.arange(k)
        fig, (ax_logits, ax_probs) = plt.subplots(1, 2, figsize=(9.0, 3.4), gridspec_kw={"width_ratios": [1, 1.4]})
        colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in classes]
        ax_logits.bar(classes, self.logits, color=colors, alpha=0.8)
        ax_logits.axhline(0, color="grey", linewidth=0.8)
        ax_logits.set(title="logits z", xlabel="class", ylabel="logit z", xticks=classes,
                      ylim=(LOGIT_RANGE[0] - 0.5, LOGIT_RANGE[1] + 0.5))
        bars = ax_probs.bar(classes, p, color=colors, alpha=0.8, label="softmax(z / T)")
        bars[self.true_class].set_edgecolor("black")
        bars[self.true_class].set_linewidth(2.5)
        if not np.isclose(self.temperature, 1.0):
            at_one = np.exp(log_softmax(self.logits))
            ax_probs.scatter(classes, at_one, marker="_", s=900, color="black", linewidths=2, label="softmax(z), T = 1")
        for x, value in zip(classes, p):
            ax_probs.text(x, value + 0.02, f"{value:.2f}", ha="center", va="bottom", fontsize=9)
        ax_probs.set(title=f"softmax(z / T) at T = {self.temperature:.2f}\n"
                           f"true class {self.true_class}: loss = -ln {p[self.true_class]:.3f} = {self.loss():.3f}",
                     xlabel="class (true class outlined)", ylabel="probability", xticks=classes, ylim=(0, 1.12))
        ax_probs.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        return fig


def _as_sequence(values: Any, name: str) -> list:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got shape {array.shape}")
    return array.tolist()


def _check_logit(value: float) -> None:
    if not np.isfinite(value):
        raise ValueError(f"logit: expected a finite number, got {value!r}")


class SoftmaxExplorerWidget(LiveWidget):
    """Sliders for the logits and the temperature, dropdowns for the classes, around a :class:`SoftmaxExplorer`.

    A :class:`LiveWidget`. Sliders set the logits (-10 to 10) and the
    temperature (0.1 to 10, log scale); dropdowns choose how many classes (3 to
    5) and the true class. Every change redraws the probability bars and the
    loss. Attributes: ``explorer`` (the logic), ``live``, ``box``, and the
    controls ``logit_sliders`` (a list of 5; those beyond the number of
    classes are hidden), ``temperature_slider``, ``num_classes_dropdown``,
    ``true_class_dropdown``, ``status``.
    """

    def __init__(self, logits: Sequence[float] = (5.0, 4.0, 2.0), temperature: float = 1.0, true_class: int = 0):
        import ipywidgets as widgets

        super().__init__(SoftmaxExplorer(logits, temperature, true_class))
        explorer = self.explorer
        self.logit_sliders = [float_slider(f"z{i}", explorer._all_logits[i], *LOGIT_RANGE, step=0.1)
                              for i in range(MAX_CLASSES)]
        self.temperature_slider = widgets.FloatLogSlider(
            value=explorer.temperature, base=10, min=np.log10(TEMPERATURE_RANGE[0]),
            max=np.log10(TEMPERATURE_RANGE[1]), step=0.05, description="temperature T", continuous_update=False,
            readout_format=".2f", style={"description_width": "initial"},
        )
        self.num_classes_dropdown = widgets.Dropdown(options=list(range(MIN_CLASSES, MAX_CLASSES + 1)),
                                                     value=explorer.num_classes, description="classes")
        self.true_class_dropdown = widgets.Dropdown(options=list(range(explorer.num_classes)),
                                                    value=explorer.true_class, description="true class")
        self.status = widgets.HTML()
        self._syncing = False  # True while the code itself rewrites the dropdown's options: ignore its callbacks

        for i, slider in enumerate(self.logit_sliders):
            slider.observe(self._on_logit(i), names="value")
        self.temperature_slider.observe(self._on_temperature, names="value")
        self.num_classes_dropdown.observe(self._on_num_classes, names="value")
        self.true_class_dropdown.observe(self._on_true_class, names="value")
        self._show_sliders()
        self._update_status()
        # Controls above the picture (two columns), so that the picture never squeezes the sliders.
        controls = widgets.HBox([
            widgets.VBox(self.logit_sliders),
            widgets.VBox([self.num_classes_dropdown, self.temperature_slider, self.true_class_dropdown]),
        ])
        self._arrange([controls, self.live.image, self.status])

    @property
    def explorer(self) -> SoftmaxExplorer:
        """The :class:`SoftmaxExplorer` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self) -> None:
        self.status.value = f"<code>{self.explorer.summary()}</code>"

    def _show_sliders(self) -> None:
        for i, slider in enumerate(self.logit_sliders):
            slider.layout.display = None if i < self.explorer.num_classes else "none"

    def _on_logit(self, index: int) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            self.explorer.set_logit(index, change["new"])
            if index < self.explorer.num_classes:
                self.refresh()
        return handler

    def _on_temperature(self, change: dict) -> None:
        self.explorer.set_temperature(change["new"])
        self.refresh()

    def _on_num_classes(self, change: dict) -> None:
        explorer = self.explorer
        explorer.set_num_classes(change["new"])
        self._syncing = True
        try:
            self.true_class_dropdown.options = list(range(explorer.num_classes))
            self.true_class_dropdown.value = explorer.true_class
        finally:
            self._syncing = False
        self._show_sliders()
        self.refresh()

    def _on_true_class(self, change: dict) -> None:
        if self._syncing or change["new"] is None:
            return
        self.explorer.set_true_class(change["new"])
        self.refresh()


def softmax_explorer(logits: Sequence[float] = (5.0, 4.0, 2.0), temperature: float = 1.0,
                     true_class: int = 0) -> SoftmaxExplorerWidget:
    """Build the softmax explorer widget; display it with ``w.show()``.

    Example:
        >>> w = softmax_explorer(logits=(5.0, 4.0, 2.0))
        >>> w.true_class_dropdown.value = 2     # what picking true class 2 does
        >>> round(w.explorer.loss(), 2)
        3.35
    """
    return SoftmaxExplorerWidget(logits, temperature, true_class)
