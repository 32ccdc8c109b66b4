"""A small scalar computational graph: its values, its gradients, and a picture of it.

:class:`SmallGraph` evaluates a graph of :class:`GraphNode` objects forward
(every node's value) and backward (d output / d node for every node, the
contributions of several consumers summed); :func:`draw_graph` draws it with
the values in green above each node and the gradients in orange below, as on the
slides. This is plumbing for the pictures of lecture 06 and its
:mod:`backprop stepper <course_utils.widgets.backprop>`: the autograd engine the
course teaches is written in the lecture notebook itself.

Example:
    >>> g = sum_times_graph()                       # f = (x + y) * z
    >>> values = g.forward({"x": 1.0, "y": -2.0, "z": 3.0})
    >>> values["f"], g.backward(values)["x"]
    (-3.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle

from course_utils.widgets.maths import sigmoid, sigmoid_derivative, tanh_derivative

__all__ = ["GraphNode", "SmallGraph", "draw_graph", "format_number", "sigmoid_neuron_graph", "sum_times_graph"]

VALUE_COLOR = "#009E73"      # green: values (forward pass), as on the slides
GRAD_COLOR = "#D55E00"       # orange (vermillion): gradients (backward pass)
CURRENT_COLOR = "#E69F00"    # ring around the node the last step touched


# op name -> (symbol drawn in the node, forward, local gradients d out / d input_i)
_OPS: dict[str, tuple[str, Callable[..., float], Callable[..., tuple[float, ...]]]] = {
    "add": ("+", lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "mul": ("×", lambda a, b: a * b, lambda a, b: (b, a)),
    "sigmoid": ("σ", lambda a: float(sigmoid(a)), lambda a: (float(sigmoid_derivative(a)),)),
    "tanh": ("tanh", math.tanh, lambda a: (float(tanh_derivative(a)),)),
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

    def check_inputs(self, inputs: Mapping[str, float]) -> dict[str, float]:
        """The value of every input node, as floats; a clear error names the missing ones."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing input value(s) for {missing}; the graph's inputs are {self.input_names}")
        return {n: float(inputs[n]) for n in self.input_names}

    def forward(self, inputs: Mapping[str, float]) -> dict[str, float]:
        """The value of every node."""
        values = self.check_inputs(inputs)
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


def format_number(value: float) -> str:
    """A number as the pictures and captions show it: 3 significant digits, a true minus sign.

    Example:
        >>> format_number(-2.0), format_number(0.123456)
        ('−2', '0.123')
    """
    return f"{value:.3g}".replace("-", "−")


def draw_graph(
    graph: SmallGraph,
    values: Mapping[str, float] | None = None,
    grads: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    highlight: str | None = None,
    output_name: str | None = None,
) -> Axes:
    """Draw ``graph``: each node with its value (green, above) and gradient (orange, below) where given.

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
            ax.text(x, y + radius + 0.07, format_number(values[node.name]), ha="center", va="bottom",
                    color=VALUE_COLOR, fontsize=12, fontweight="bold", zorder=4)
        if node.name in grads:
            ax.text(x, y - radius - 0.07, format_number(grads[node.name]), ha="center", va="top",
                    color=GRAD_COLOR, fontsize=12, fontweight="bold", zorder=4)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(f"green: value of the node (forward)    orange: d{out}/d(node) (backward)", fontsize=9)
    if title:
        ax.set_title(title)
    return ax
