"""Backprop stepper: walk through the forward and then the backward pass of a small graph.

The logic is a plain class, :class:`BackpropStepper`, that tests drive without
a browser; :class:`BackpropStepperWidget` (built by :func:`backprop_stepper`)
wraps it in core ipywidgets: one number box per input, "next step" and "reset"
buttons, and the picture.

The graphs and their drawing (:class:`SmallGraph`, :func:`draw_graph`, the two
example graphs) live in :mod:`course_utils.widgets.graph` and are importable
from here too. They are plumbing for the picture: the autograd engine the
course teaches is written in the lecture notebook itself.

Example:
    >>> stepper = BackpropStepper()            # f = (x + y) * z at x = 1, y = -2, z = 3
    >>> while stepper.next_step():
    ...     pass
    >>> stepper.values_shown["f"], stepper.grads_shown["x"]
    (-3.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_utils.widgets.core import LiveWidget
from course_utils.widgets.graph import (
    GraphNode,
    SmallGraph,
    draw_graph,
    format_number,
    sigmoid_neuron_graph,
    sum_times_graph,
)

__all__ = [
    "GraphNode", "SmallGraph", "Step", "BackpropStepper", "BackpropStepperWidget",
    "sum_times_graph", "sigmoid_neuron_graph", "draw_graph", "backprop_stepper",
]


def _factor(value: float) -> str:
    """A number as a factor in a product: negative numbers in brackets."""
    return f"({format_number(value)})" if value < 0 else format_number(value)


@dataclass(frozen=True)
class Step:
    """One step of the walk: ``kind`` is "forward" or "backward"; ``node`` is the node it reveals."""

    kind: str
    node: str


class BackpropStepper:
    """The state behind the widget: which values and gradients of the graph have been revealed.

    The walk has one forward step per node (in topological order), then one
    backward step per node (in reverse order), starting from d out/d out = 1.
    Changing an input recomputes every number and keeps the position.

    Example:
        >>> s = BackpropStepper()
        >>> s.next_step(); s.caption
        True
        'forward: x = 1'
    """

    def __init__(self, graph: SmallGraph | None = None, inputs: Mapping[str, float] | None = None):
        self.graph = graph if graph is not None else sum_times_graph()
        if not isinstance(self.graph, SmallGraph):
            raise TypeError(f"graph must be a SmallGraph, got {type(self.graph).__name__}")
        start = {"x": 1.0, "y": -2.0, "z": 3.0} if graph is None else {}
        start.update(inputs or {})
        for name in self.graph.input_names:
            start.setdefault(name, 1.0)
        self.inputs = self.graph.check_inputs(start)
        self.steps = [Step("forward", n.name) for n in self.graph.nodes] + \
                     [Step("backward", n.name) for n in reversed(self.graph.nodes)]
        self.position = 0
        self._recompute()

    def _recompute(self) -> None:
        self.values = self.graph.forward(self.inputs)
        self.local = self.graph.local_gradients(self.values)
        self.grads = self.graph.backward(self.values)

    # --------------------------------------------------------------- control
    def next_step(self) -> bool:
        """Reveal one more number; False (and nothing changes) when the walk is finished."""
        if self.done:
            return False
        self.position += 1
        return True

    def reset(self) -> None:
        """Back to the start: nothing revealed."""
        self.position = 0

    def set_input(self, name: str, value: float) -> None:
        """Change one input; every value and gradient is recomputed, the position is kept."""
        if name not in self.graph.input_names:
            raise ValueError(f"unknown input {name!r}; the graph's inputs are {self.graph.input_names}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"input {name!r} must be a finite number, got {value}")
        self.inputs[name] = value
        self._recompute()

    # ----------------------------------------------------------------- state
    @property
    def done(self) -> bool:
        return self.position >= len(self.steps)

    @property
    def phase(self) -> str:
        """"start", "forward", "backward" or "done"."""
        if self.position == 0:
            return "start"
        if self.done:
            return "done"
        return self.steps[self.position - 1].kind

    @property
    def values_shown(self) -> dict[str, float]:
        names = [s.node for s in self.steps[: self.position] if s.kind == "forward"]
        return {n: self.values[n] for n in names}

    @property
    def grads_shown(self) -> dict[str, float]:
        names = [s.node for s in self.steps[: self.position] if s.kind == "backward"]
        return {n: self.grads[n] for n in names}

    @property
    def current_node(self) -> str | None:
        return self.steps[self.position - 1].node if self.position else None

    @property
    def caption(self) -> str:
        """The arithmetic of the last step, in words and numbers."""
        if self.position == 0:
            return "start: press 'next step' to run the forward pass"
        step = self.steps[self.position - 1]
        node = self.graph.by_name[step.node]
        out = self.graph.output
        v = self.values
        if step.kind == "forward":
            if node.op == "input":
                return f"forward: {node.name} = {format_number(v[node.name])}"
            args = [f"{p}" for p in node.inputs]
            nums = [_factor(v[p]) for p in node.inputs]
            if node.op in ("add", "mul"):
                sym = " + " if node.op == "add" else " · "
                return f"forward: {node.name} = {sym.join(args)} = {sym.join(nums)} = {format_number(v[node.name])}"
            return f"forward: {node.name} = {node.op}({args[0]}) = {node.op}({nums[0]}) = {format_number(v[node.name])}"
        if node.name == out:
            return f"backward: d{out}/d{out} = 1 (start of the backward pass)"
        terms, nums = [], []
        for consumer, i in self.graph.consumers(node.name):
            terms.append(f"d{out}/d{consumer} · ∂{consumer}/∂{node.name}")
            nums.append(f"{_factor(self.grads[consumer])} · {_factor(self.local[consumer][i])}")
        if not terms:
            return f"backward: {node.name} does not reach {out}: d{out}/d{node.name} = 0"
        return (f"backward: d{out}/d{node.name} = {' + '.join(terms)} (upstream · local) "
                f"= {' + '.join(nums)} = {format_number(self.grads[node.name])}")

    def figure(self) -> Figure:
        """A new figure of the current state (the caller closes it)."""
        xs = [n.position[0] for n in self.graph.nodes]
        ys = [n.position[1] for n in self.graph.nodes]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * (max(xs) - min(xs)) + 2.5),
                                        max(4.0, 0.9 * (max(ys) - min(ys)) + 2.5)))
        title = f"step {self.position} of {len(self.steps)} ({self.phase})\n{self.caption}"
        draw_graph(self.graph, self.values_shown, self.grads_shown, ax=ax, title=title,
                   highlight=self.current_node)
        ax.title.set_fontsize(10)
        return fig


class BackpropStepperWidget(LiveWidget):
    """A number box per input, "next step" and "reset" buttons, a status line and the picture of the graph.

    A :class:`LiveWidget` around a :class:`BackpropStepper` for ``graph``
    ((x + y)·z at x=1, y=−2, z=3 by default), after ``steps`` steps already
    taken (so that the static picture can show a later state). Attributes:
    ``stepper`` (the logic), ``live``, ``box``, and the controls
    ``input_fields`` (input name -> FloatText), ``next_button``,
    ``reset_button``, ``status`` (the arithmetic of the last step).
    """

    def __init__(self, graph: SmallGraph | None = None, inputs: Mapping[str, float] | None = None, steps: int = 0):
        import ipywidgets as widgets

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative int, got {steps!r}")
        stepper = BackpropStepper(graph, inputs)
        for _ in range(steps):
            stepper.next_step()
        super().__init__(stepper)
        self.input_fields = {
            name: widgets.FloatText(value=stepper.inputs[name], description=name, step=0.5,
                                    layout=widgets.Layout(width="150px"),
                                    style={"description_width": "30px"})
            for name in stepper.graph.input_names
        }
        self.next_button = widgets.Button(description="next step", button_style="success")
        self.reset_button = widgets.Button(description="reset")
        self.status = widgets.HTML()
        self._update_status()
        for name, field in self.input_fields.items():
            field.observe(self._on_input(name), names="value")
        self.next_button.on_click(self._on_next)
        self.reset_button.on_click(self._on_reset)
        self._arrange([
            widgets.HBox(list(self.input_fields.values())),
            widgets.HBox([self.next_button, self.reset_button]),
            self.status,
            self.live.image,
        ])

    @property
    def stepper(self) -> BackpropStepper:
        """The :class:`BackpropStepper` the widget drives (its ``logic``)."""
        return self.logic

    def _update_status(self) -> None:
        self.next_button.disabled = self.stepper.done
        self.status.value = f"<b>{self.stepper.phase}</b>: {self.stepper.caption}"

    def _on_input(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            try:
                self.stepper.set_input(name, change["new"])
            except ValueError:  # a non-finite number typed in: keep the previous value
                self.input_fields[name].value = self.stepper.inputs[name]
                return
            self.refresh()
        return handler

    def _on_next(self, _button: Any = None) -> None:
        if self.stepper.next_step():
            self.refresh()

    def _on_reset(self, _button: Any = None) -> None:
        self.stepper.reset()
        self.refresh()


def backprop_stepper(graph: SmallGraph | None = None, inputs: Mapping[str, float] | None = None,
                     steps: int = 0) -> BackpropStepperWidget:
    """Build the backprop stepper widget for ``graph`` ((x + y)·z at x=1, y=−2, z=3 by default).

    ``steps`` steps are taken at once, so the static picture can show a later state.

    Example:
        >>> w = backprop_stepper(steps=5)   # the forward pass done
        >>> w.stepper.phase
        'forward'
        >>> w.next_button.click()           # what a press of "next step" does
        >>> w.stepper.grads_shown
        {'f': 1.0}
        >>> w.show()  # doctest: +SKIP
    """
    return BackpropStepperWidget(graph, inputs, steps)
