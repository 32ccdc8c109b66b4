"""Backprop stepper: walk through the forward and then the backward pass of a small graph.

The logic is a plain class, :class:`BackpropStepper`, that tests drive without
a browser; :func:`backprop_stepper` wraps it in core ipywidgets (one number box
per input, "next step" and "reset" buttons) and redraws the picture with
:class:`~course_utils.widgets.core.LiveFigure`.

The small graph evaluator here (:class:`SmallGraph`) is plumbing for the
picture. The autograd engine the course teaches is written in the lecture
notebook itself.

Example:
    >>> stepper = BackpropStepper()            # f = (x + y) * z at x = 1, y = -2, z = 3
    >>> while stepper.next_step():
    ...     pass
    >>> stepper.values_shown["f"], stepper.grads_shown["x"]
    (-3.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle

__all__ = [
    "GraphNode", "SmallGraph", "Step", "BackpropStepper", "BackpropStepperWidget",
    "sum_times_graph", "sigmoid_neuron_graph", "draw_graph", "backprop_stepper",
]

VALUE_COLOR = "#009E73"      # green: values (forward pass), as on the slides
GRAD_COLOR = "#D55E00"       # red: gradients (backward pass)
CURRENT_COLOR = "#E69F00"    # ring around the node the last step touched


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


# op name -> (symbol drawn in the node, forward, local gradients d out / d input_i)
_OPS: dict[str, tuple[str, Callable[..., float], Callable[..., tuple[float, ...]]]] = {
    "add": ("+", lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "mul": ("×", lambda a, b: a * b, lambda a, b: (b, a)),
    "sigmoid": ("σ", _sigmoid, lambda a: (_sigmoid(a) * (1.0 - _sigmoid(a)),)),
    "tanh": ("tanh", math.tanh, lambda a: (1.0 - math.tanh(a) ** 2,)),
    "exp": ("exp", lambda a: math.exp(min(a, 700.0)), lambda a: (math.exp(min(a, 700.0)),)),
    "square": ("²", lambda a: a * a, lambda a: (2.0 * a,)),
}
_ARITY = {"add": 2, "mul": 2, "sigmoid": 1, "tanh": 1, "exp": 1, "square": 1}


@dataclass(frozen=True)
class GraphNode:
    """One node of a small computational graph.

    ``op`` is ``"input"`` or one of ``add``, ``mul``, ``sigmoid``, ``tanh``,
    ``exp``, ``square``; ``inputs`` names the nodes it reads; ``position`` is
    where it is drawn.
    """

    name: str
    op: str = "input"
    inputs: tuple[str, ...] = ()
    position: tuple[float, float] = (0.0, 0.0)


class SmallGraph:
    """A small scalar computational graph, given in topological order (every node after its inputs).

    Example:
        >>> g = sum_times_graph()
        >>> g.forward({"x": 1.0, "y": -2.0, "z": 3.0})["f"]
        -3.0
    """

    def __init__(self, nodes: Sequence[GraphNode], output: str | None = None):
        if not nodes:
            raise ValueError("a graph needs at least one node")
        seen: dict[str, GraphNode] = {}
        for node in nodes:
            if not isinstance(node, GraphNode):
                raise TypeError(f"expected GraphNode objects, got {type(node).__name__}")
            if node.name in seen:
                raise ValueError(f"node names must be unique; {node.name!r} appears twice")
            if node.op == "input":
                if node.inputs:
                    raise ValueError(f"input node {node.name!r} must not read other nodes")
            elif node.op not in _OPS:
                raise ValueError(f"node {node.name!r}: unknown op {node.op!r}; "
                                 f"expected 'input' or one of {sorted(_OPS)}")
            elif len(node.inputs) != _ARITY[node.op]:
                raise ValueError(f"node {node.name!r}: op {node.op!r} takes {_ARITY[node.op]} input(s), "
                                 f"got {len(node.inputs)}")
            for parent in node.inputs:
                if parent not in seen:
                    raise ValueError(f"node {node.name!r} reads {parent!r}, which is not defined before it "
                                     "(list the nodes in topological order)")
            seen[node.name] = node
        self.nodes: tuple[GraphNode, ...] = tuple(nodes)
        self.by_name = seen
        self.output = output if output is not None else nodes[-1].name
        if self.output not in seen:
            raise ValueError(f"output {self.output!r} is not a node of the graph")
        self.input_names = [n.name for n in nodes if n.op == "input"]

    def symbol(self, name: str) -> str:
        """What is drawn inside the node: the variable name for inputs, the op symbol otherwise."""
        node = self.by_name[name]
        return node.name if node.op == "input" else _OPS[node.op][0]

    def _check_inputs(self, inputs: Mapping[str, float]) -> dict[str, float]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing input value(s) for {missing}; the graph's inputs are {self.input_names}")
        return {n: float(inputs[n]) for n in self.input_names}

    def forward(self, inputs: Mapping[str, float]) -> dict[str, float]:
        """The value of every node."""
        values = self._check_inputs(inputs)
        for node in self.nodes:
            if node.op != "input":
                values[node.name] = float(_OPS[node.op][1](*(values[p] for p in node.inputs)))
        return values

    def local_gradients(self, values: Mapping[str, float]) -> dict[str, tuple[float, ...]]:
        """For each operation node, d node / d input for each of its inputs (computed on the forward pass)."""
        return {node.name: tuple(float(g) for g in _OPS[node.op][2](*(values[p] for p in node.inputs)))
                for node in self.nodes if node.op != "input"}

    def consumers(self, name: str) -> list[tuple[str, int]]:
        """The nodes that read ``name``, with the position of ``name`` among their inputs."""
        return [(node.name, i) for node in self.nodes for i, p in enumerate(node.inputs) if p == name]

    def backward(self, values: Mapping[str, float]) -> dict[str, float]:
        """d output / d node for every node (contributions from several consumers are summed)."""
        local = self.local_gradients(values)
        grads = {node.name: 0.0 for node in self.nodes}
        grads[self.output] = 1.0
        for node in reversed(self.nodes):
            for parent, g in zip(node.inputs, local.get(node.name, ())):
                grads[parent] += grads[node.name] * g
        return grads


def sum_times_graph() -> SmallGraph:
    """The seed's example f(x, y, z) = (x + y) * z, drawn as on the slides (q = x + y)."""
    return SmallGraph([
        GraphNode("x", position=(0.0, 3.0)),
        GraphNode("y", position=(0.0, 1.5)),
        GraphNode("z", position=(0.0, 0.0)),
        GraphNode("q", "add", ("x", "y"), position=(2.2, 2.25)),
        GraphNode("f", "mul", ("q", "z"), position=(4.4, 1.1)),
    ])


def sigmoid_neuron_graph() -> SmallGraph:
    """One sigmoid neuron f = sigmoid(w0*x0 + w1*x1 + b) (the cs231n example)."""
    return SmallGraph([
        GraphNode("w0", position=(0.0, 6.0)),
        GraphNode("x0", position=(0.0, 4.5)),
        GraphNode("w1", position=(0.0, 3.0)),
        GraphNode("x1", position=(0.0, 1.5)),
        GraphNode("b", position=(0.0, 0.0)),
        GraphNode("p0", "mul", ("w0", "x0"), position=(2.0, 5.25)),
        GraphNode("p1", "mul", ("w1", "x1"), position=(2.0, 2.25)),
        GraphNode("s", "add", ("p0", "p1"), position=(4.0, 3.75)),
        GraphNode("a", "add", ("s", "b"), position=(6.0, 2.0)),
        GraphNode("f", "sigmoid", ("a",), position=(8.0, 2.0)),
    ])


def _fmt(value: float) -> str:
    text = f"{value:.3g}"
    return text.replace("-", "−")


def _factor(value: float) -> str:
    """A number as a factor in a product: negative numbers in brackets."""
    return f"({_fmt(value)})" if value < 0 else _fmt(value)


def draw_graph(
    graph: SmallGraph,
    values: Mapping[str, float] | None = None,
    grads: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    highlight: str | None = None,
    output_name: str | None = None,
) -> Axes:
    """Draw ``graph``: each node with its value (green, above) and gradient (red, below) where given.

    ``values`` and ``grads`` may hold only some nodes (the ones revealed so
    far); ``highlight`` rings one node. Returns the Axes.

    Example:
        >>> g = sum_times_graph()
        >>> ax = draw_graph(g, values=g.forward({"x": 1, "y": -2, "z": 3}), title="forward pass")
    """
    if not isinstance(graph, SmallGraph):
        raise TypeError(f"graph must be a SmallGraph, got {type(graph).__name__}")
    values, grads = dict(values or {}), dict(grads or {})
    for mapping, what in ((values, "values"), (grads, "grads")):
        unknown = [k for k in mapping if k not in graph.by_name]
        if unknown:
            raise ValueError(f"{what} names unknown node(s) {unknown}; the graph has {list(graph.by_name)}")
    out = output_name or graph.output
    xs = [n.position[0] for n in graph.nodes]
    ys = [n.position[1] for n in graph.nodes]
    if ax is None:
        width = max(5.0, 1.1 * (max(xs) - min(xs)) + 2.0)
        height = max(3.0, 0.9 * (max(ys) - min(ys)) + 2.0)
        _, ax = plt.subplots(figsize=(width, height))
    radius = 0.35
    for node in graph.nodes:
        x1, y1 = node.position
        for parent in node.inputs:
            x0, y0 = graph.by_name[parent].position
            length = math.hypot(x1 - x0, y1 - y0)
            dx, dy = (x1 - x0) / length, (y1 - y0) / length
            ax.annotate("", xy=(x1 - dx * radius, y1 - dy * radius), xytext=(x0 + dx * radius, y0 + dy * radius),
                        arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1.3})
    for node in graph.nodes:
        x, y = node.position
        is_input = node.op == "input"
        ring = CURRENT_COLOR if node.name == highlight else "0.2"
        ax.add_patch(Circle((x, y), radius, facecolor="#F2F2F2" if is_input else "#DCEBF7",
                            edgecolor=ring, lw=3.0 if node.name == highlight else 1.2, zorder=3))
        symbol = graph.symbol(node.name)
        ax.text(x, y, symbol, ha="center", va="center", fontsize=13 if len(symbol) <= 2 else 9, zorder=4)
        if not is_input:
            ax.text(x + radius + 0.06, y + radius * 0.35, node.name, ha="left", va="bottom", fontsize=10,
                    color="0.3", style="italic", zorder=4)
        if node.name in values:
            ax.text(x, y + radius + 0.07, _fmt(values[node.name]), ha="center", va="bottom",
                    color=VALUE_COLOR, fontsize=12, fontweight="bold", zorder=4)
        if node.name in grads:
            ax.text(x, y - radius - 0.07, _fmt(grads[node.name]), ha="center", va="top",
                    color=GRAD_COLOR, fontsize=12, fontweight="bold", zorder=4)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(f"green: value of the node (forward)    red: d{out}/d(node) (backward)", fontsize=9)
    if title:
        ax.set_title(title)
    return ax


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
        self.inputs = self.graph._check_inputs(start)
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
                return f"forward: {node.name} = {_fmt(v[node.name])}"
            args = [f"{p}" for p in node.inputs]
            nums = [_factor(v[p]) for p in node.inputs]
            if node.op in ("add", "mul"):
                sym = " + " if node.op == "add" else " · "
                return f"forward: {node.name} = {sym.join(args)} = {sym.join(nums)} = {_fmt(v[node.name])}"
            return f"forward: {node.name} = {node.op}({args[0]}) = {node.op}({nums[0]}) = {_fmt(v[node.name])}"
        if node.name == out:
            return f"backward: d{out}/d{out} = 1 (start of the backward pass)"
        terms, nums = [], []
        for consumer, i in self.graph.consumers(node.name):
            terms.append(f"d{out}/d{consumer} · ∂{consumer}/∂{node.name}")
            nums.append(f"{_factor(self.grads[consumer])} · {_factor(self.local[consumer][i])}")
        if not terms:
            return f"backward: {node.name} does not reach {out}: d{out}/d{node.name} = 0"
        return (f"backward: d{out}/d{node.name} = {' + '.join(terms)} (upstream · local) "
                f"= {' + '.join(nums)} = {_fmt(self.grads[node.name])}")

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


class BackpropStepperWidget:
    """The widget: a number box per input, "next step" and "reset" buttons, the picture and a caption.

    Attributes ``stepper``, ``fields`` (input name -> FloatText), ``next_button``,
    ``reset_button``, ``caption`` (HTML), ``live`` (LiveFigure) and ``box`` (the
    whole widget). Call :meth:`show` to display it with its static picture.
    """

    def __init__(self, stepper: BackpropStepper):
        import ipywidgets as widgets

        from course_utils.widgets.core import LiveFigure

        self.stepper = stepper
        self.fields = {
            name: widgets.FloatText(value=stepper.inputs[name], description=name, step=0.5,
                                    layout=widgets.Layout(width="150px"),
                                    style={"description_width": "30px"})
            for name in stepper.graph.input_names
        }
        self.next_button = widgets.Button(description="next step", button_style="success")
        self.reset_button = widgets.Button(description="reset")
        self.caption = widgets.HTML(value=self._caption_html())
        self.live = LiveFigure(stepper.figure)
        for name, field in self.fields.items():
            field.observe(self._on_input(name), names="value")
        self.next_button.on_click(self._on_next)
        self.reset_button.on_click(self._on_reset)
        self.box = widgets.VBox([
            widgets.HBox(list(self.fields.values())),
            widgets.HBox([self.next_button, self.reset_button]),
            self.caption,
            self.live.image,
        ])

    def _caption_html(self) -> str:
        return f"<b>{self.stepper.phase}</b>: {self.stepper.caption}"

    def _update(self) -> None:
        self.next_button.disabled = self.stepper.done
        self.caption.value = self._caption_html()
        self.live.refresh()

    def _on_input(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            try:
                self.stepper.set_input(name, change["new"])
            except ValueError:  # a non-finite number typed in: keep the previous value
                self.fields[name].value = self.stepper.inputs[name]
                return
            self._update()
        return handler

    def _on_next(self, _button=None) -> None:
        if self.stepper.next_step():
            self._update()

    def _on_reset(self, _button=None) -> None:
        self.stepper.reset()
        self._update()

    def show(self) -> None:
        """Display the widget, with a static picture for viewers without a widget frontend."""
        from course_utils.widgets.core import show_widget

        show_widget(self.box, self.live.png)


def backprop_stepper(graph: SmallGraph | None = None, inputs: Mapping[str, float] | None = None,
                     steps: int = 0) -> BackpropStepperWidget:
    """Build the backprop stepper widget for ``graph`` ((x + y)·z at x=1, y=−2, z=3 by default).

    ``steps`` steps are taken at once, so the static picture can show a later state.

    Example:
        >>> w = backprop_stepper(steps=5)   # the forward pass done
        >>> w.stepper.phase
        'forward'
        >>> w.show()  # doctest: +SKIP
    """
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    stepper = BackpropStepper(graph, inputs)
    for _ in range(steps):
        stepper.next_step()
    return BackpropStepperWidget(stepper)
