"""A "TensorFlow Playground" inside the notebook: a small MLP learns a 2-D toy set while you watch.

:class:`PlaygroundWidget` (built by :func:`playground_widget`) wraps a
:class:`~course_utils.widgets.mlp_training.Playground` (the plain logic:
data, network, training, picture; importable from here too) in core
ipywidgets: dropdowns and a text box for the settings, an ``ipywidgets.Play``
control as start/pause (each tick it sends trains a few epochs inside a
callback, so the kernel is never blocked), and "step" and "reset" buttons.

Example:
    >>> w = playground_widget(dataset="xor", hidden="4")
    >>> w.step_button.click()            # what a press of "step" does
    >>> w.playground.epoch
    10
    >>> w.show()  # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

from course_utils.widgets.core import LiveWidget
from course_utils.widgets.mlp_training import (
    ACTIVATIONS,
    BATCH_SIZES,
    DATASETS,
    EPOCHS_PER_STEP,
    LEARNING_RATES,
    Playground,
    check_choice,
    parse_hidden,
)

__all__ = [
    "ACTIVATIONS", "BATCH_SIZES", "DATASETS", "EPOCHS_PER_STEP", "LEARNING_RATES", "Playground", "PlaygroundWidget",
    "parse_hidden", "playground_widget",
]


class PlaygroundWidget(LiveWidget):
    """The controls, status line and live picture around a :class:`Playground` (a :class:`LiveWidget`).

    Attributes: ``playground`` (the logic), ``live``, ``box``, and the
    controls ``dataset``, ``hidden``, ``activation``, ``lr``, ``batch_size``,
    ``epochs_per_step``, ``play`` (start/pause: an ``ipywidgets.Play`` whose
    every tick trains ``epochs_per_step`` epochs), ``step_button``,
    ``reset_button``, ``status``. A setting the playground refuses (hidden
    layers "8,x") is reported in the status line and changes nothing.
    """

    def __init__(self, dataset: str = "circles", hidden: str = "8,8", activation: str = "tanh", lr: float = 0.03,
                 batch_size: int = 10, epochs_per_step: int = 10, seed: int = 0):
        import ipywidgets as widgets

        check_choice(lr, LEARNING_RATES, "lr")
        check_choice(batch_size, BATCH_SIZES, "batch_size")
        check_choice(epochs_per_step, EPOCHS_PER_STEP, "epochs_per_step")
        super().__init__(Playground(dataset=dataset, hidden=hidden, activation=activation, lr=lr,
                                    batch_size=batch_size, seed=seed))
        style = {"description_width": "initial"}
        self.dataset = widgets.Dropdown(options=list(DATASETS), value=dataset, description="data", style=style)
        self.hidden = widgets.Text(value=hidden, description="hidden layers", placeholder="e.g. 8,8", style=style)
        self.activation = widgets.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation",
                                           style=style)
        self.lr = widgets.Dropdown(options=list(LEARNING_RATES), value=lr, description="learning rate", style=style)
        self.batch_size = widgets.Dropdown(options=list(BATCH_SIZES), value=batch_size, description="batch size",
                                           style=style)
        self.epochs_per_step = widgets.Dropdown(options=list(EPOCHS_PER_STEP), value=epochs_per_step,
                                                description="epochs per step", style=style)
        self.play = widgets.Play(value=0, min=0, max=1_000_000, step=1, interval=400,
                                 description="start / pause", show_repeat=False)
        self.step_button = widgets.Button(description="step", tooltip="train 'epochs per step' epochs")
        self.reset_button = widgets.Button(description="reset", tooltip="back to the initial weights")
        self.status = widgets.HTML()
        self._update_status()

        self.play.observe(self._on_tick, names="value")
        self.step_button.on_click(self._on_step)
        self.reset_button.on_click(self._on_reset)
        for control, name in ((self.dataset, "dataset"), (self.hidden, "hidden"), (self.activation, "activation"),
                              (self.lr, "lr"), (self.batch_size, "batch_size")):
            control.observe(lambda change, name=name: self._on_setting(name, change["new"]), names="value")
        run_row = widgets.HBox([self.play, self.step_button, self.reset_button, self.epochs_per_step])
        model_row = widgets.HBox([self.dataset, self.hidden, self.activation])
        train_row = widgets.HBox([self.lr, self.batch_size])
        self._arrange([run_row, model_row, train_row, self.status, self.live.image])

    @property
    def playground(self) -> Playground:
        """The :class:`Playground` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self, error: str | None = None) -> None:
        pg = self.playground
        line = f"{html.escape(pg.architecture)} ({pg.n_parameters} parameters) &nbsp; {html.escape(pg.status())}"
        if error:
            line += f"<br><span style='color:#D55E00'>{html.escape(error)}</span>"
        self.status.value = line

    def _train(self) -> None:
        self.playground.step(int(self.epochs_per_step.value))
        self.refresh()

    def _on_tick(self, change: dict) -> None:
        if change["new"] > change["old"]:   # the Play control's stop button jumps back to 0: not a tick
            self._train()

    def _on_step(self, _: Any = None) -> None:
        self._train()

    def _on_reset(self, _: Any = None) -> None:
        self.playground.reset()
        self.refresh()

    def _on_setting(self, name: str, value: Any) -> None:
        try:
            setattr(self.playground, name, value)
        except ValueError as error:      # e.g. hidden layers "8,x": say so, keep the current network
            self._update_status(str(error))
            return
        self.refresh()


def playground_widget(dataset: str = "circles", hidden: str = "8,8", activation: str = "tanh", lr: float = 0.03,
                      batch_size: int = 10, epochs_per_step: int = 10, seed: int = 0) -> PlaygroundWidget:
    """Build the playground widget; display it with ``w.show()``.

    Example:
        >>> w = playground_widget(dataset="moons", hidden="8")
        >>> w.hidden.value = "8,8"          # what typing in the "hidden layers" box does
        >>> w.playground.architecture
        '2 → 8 → 8 → 1'
    """
    return PlaygroundWidget(dataset=dataset, hidden=hidden, activation=activation, lr=lr, batch_size=batch_size,
                            epochs_per_step=epochs_per_step, seed=seed)
