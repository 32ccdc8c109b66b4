"""Plots with one consistent look: decision boundaries, functions with derivatives,
training curves and truth tables.

Every function draws on ``ax`` (a new figure when ``ax`` is None), gives the
plot a title and labelled axes, and returns the Axes so that you can add to it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb

# Colour-blind-safe colours (Okabe & Ito), class 0 first.
CLASS_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
COURSE_STYLE: dict[str, Any] = {
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.frameon": False,
    "axes.prop_cycle": plt.cycler(color=list(CLASS_COLORS)),
}


def use_course_style() -> None:
    """Apply the course's plot style to every later figure.

    Example:
        >>> use_course_style()
    """
    plt.rcParams.update(COURSE_STYLE)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize or COURSE_STYLE["figure.figsize"])
    return ax


def _as_points(X: Any, name: str = "X") -> np.ndarray:
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2): n points in the plane; got shape {X.shape}")
    return X


def _call_classifier(predict: Callable[..., Any], grid: np.ndarray) -> np.ndarray:
    """Evaluate a NumPy or PyTorch classifier on ``grid`` and return a NumPy array.

    torch is imported only when the classifier needs it, so NumPy-only lectures never pay for it.
    """
    torch = sys.modules.get("torch")  # a torch model means torch is already imported
    if torch is not None and isinstance(predict, torch.nn.Module):
        params = next(predict.parameters(), None)
        device = params.device if params is not None else torch.device("cpu")
        dtype = params.dtype if params is not None else torch.float32
        was_training = predict.training
        predict.eval()
        with torch.no_grad():
            out = predict(torch.as_tensor(grid, dtype=dtype, device=device))
        predict.train(was_training)
    else:
        try:
            out = predict(grid)
        except (TypeError, AttributeError):  # a torch function that rejects NumPy input
            if torch is None:
                raise
            with torch.no_grad():
                out = predict(torch.as_tensor(grid, dtype=torch.float32))
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=np.float64)


def plot_decision_boundary(
    predict: Callable[..., Any],
    X: Any,
    y: Any | None = None,
    ax: Axes | None = None,
    title: str = "Decision boundary",
    resolution: int = 200,
    padding: float = 0.5,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
) -> Axes:
    """Colour the plane by the class ``predict`` gives each point; draw the data on top.

    ``predict`` maps an ``(m, 2)`` array (or tensor) to one of: class labels
    ``(m,)``, probabilities of class 1 ``(m,)`` or ``(m, 1)``, or class scores
    ``(m, k)`` (the argmax is taken). A ``torch.nn.Module`` is run in eval mode
    under ``no_grad`` on its own device.

    Example:
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
        >>> ax = plot_decision_boundary(lambda P: P.sum(axis=1) > 1.5, X, [0, 0, 0, 1], title="AND")
    """
    X = _as_points(X)
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    ax = _new_axes(ax)
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    out = _call_classifier(predict, grid)
    if out.ndim == 2 and out.shape[1] > 1:
        out = out.argmax(axis=1)
    out = out.reshape(-1)
    if out.shape[0] != grid.shape[0]:
        raise ValueError(f"predict returned {out.shape[0]} values for {grid.shape[0]} points; expected one per point")
    zz = out.reshape(xx.shape)
    is_probability = not np.allclose(out, np.round(out)) and out.min() >= 0 and out.max() <= 1
    if is_probability:
        ax.contourf(xx, yy, zz, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35, vmin=0, vmax=1)
        ax.contour(xx, yy, zz, levels=[0.5], colors="k", linewidths=1.5)
    else:
        n_classes = int(max(zz.max(), 0 if y is None else np.max(y))) + 1
        cmap = ListedColormap(CLASS_COLORS[:n_classes])
        ax.contourf(xx, yy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.25)
        if n_classes > 1 and len(np.unique(zz)) > 1:
            ax.contour(xx, yy, zz, levels=np.arange(n_classes) + 0.5, colors="k", linewidths=1.0)
    if y is not None:
        labels = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y).reshape(-1).astype(int)
        if labels.shape[0] != X.shape[0]:
            raise ValueError(f"y has {labels.shape[0]} labels for {X.shape[0]} points; expected one per point")
        for k in np.unique(labels):
            members = labels == k
            ax.scatter(X[members, 0], X[members, 1], s=30, color=CLASS_COLORS[k % len(CLASS_COLORS)],
                       edgecolor="white", linewidth=0.5, label=f"class {k}", zorder=3)
        ax.legend(loc="best")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    return ax


def plot_function_and_derivative(
    f: Callable[[np.ndarray], Any],
    df: Callable[[np.ndarray], Any] | None = None,
    name: str = "f",
    x_range: tuple[float, float] = (-5.0, 5.0),
    axes: Sequence[Axes] | None = None,
    num: int = 500,
) -> Sequence[Axes]:
    """Plot ``f`` and its derivative side by side on ``x_range``.

    Without ``df`` the derivative is estimated by central differences.

    Example:
        >>> axes = plot_function_and_derivative(np.tanh, lambda x: 1 - np.tanh(x) ** 2, name="tanh")
    """
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    x = np.linspace(lo, hi, num)
    fx = np.asarray(f(x), dtype=np.float64)
    if df is None:
        h = 1e-5
        dfx = (np.asarray(f(x + h), dtype=np.float64) - np.asarray(f(x - h), dtype=np.float64)) / (2 * h)
    else:
        dfx = np.asarray(df(x), dtype=np.float64)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    left, right = axes
    left.plot(x, fx, color=CLASS_COLORS[0], linewidth=2)
    left.set(title=f"{name}(x)", xlabel="x", ylabel=f"{name}(x)")
    right.plot(x, dfx, color=CLASS_COLORS[1], linewidth=2)
    right.set(title=f"{name}'(x)", xlabel="x", ylabel=f"{name}'(x)")
    for ax in axes:
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.axvline(0, color="grey", linewidth=0.8)
    return axes


def plot_training_curves(
    history: Mapping[str, Sequence[float]],
    axes: Sequence[Axes] | None = None,
    title: str = "Training curves",
    xlabel: str = "epoch",
) -> Sequence[Axes]:
    """Plot losses (keys containing "loss") left and other metrics (e.g. accuracy) right.

    Example:
        >>> axes = plot_training_curves({"train loss": [1.0, 0.5], "test accuracy": [0.6, 0.9]})
    """
    if not history:
        raise ValueError("history is empty; expected e.g. {'train loss': [...], 'test accuracy': [...]}")
    losses = {k: v for k, v in history.items() if "loss" in k.lower()}
    metrics = {k: v for k, v in history.items() if "loss" not in k.lower()}
    panels = [group for group in (losses, metrics) if group]
    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        axes = list(axes[0])
    for ax, group in zip(axes, panels):
        for label, values in group.items():
            values = np.asarray(values, dtype=np.float64)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=label)
        ax.set(title=f"{title}: {'loss' if group is losses else 'metrics'}", xlabel=xlabel,
               ylabel="loss" if group is losses else "value")
        ax.legend()
    return axes


def _class_tint(label: int) -> tuple[float, float, float]:
    """The light tint of class ``label``'s colour that a truth table's output cell gets (30 % colour, 70 % white)."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
        raise ValueError(f"label must be a class index (a non-negative int), got {label!r}")
    r, g, b = to_rgb(CLASS_COLORS[int(label) % len(CLASS_COLORS)])
    return (0.7 + 0.3 * r, 0.7 + 0.3 * g, 0.7 + 0.3 * b)


def plot_truth_table(
    inputs: Any,
    outputs: Any,
    input_names: Sequence[str] = ("$x^1$", "$x^2$"),
    output_name: str = "y",
    title: str = "Truth table",
    ax: Axes | None = None,
) -> Axes:
    """Draw a truth table: one row per input combination, the output column highlighted.

    An output cell is tinted with its class colour, as :func:`plot_decision_boundary` draws that class
    (0: blue, 1: orange), so a table next to a decision plot reads with the same colours.

    Example:
        >>> ax = plot_truth_table([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1], title="AND")
    """
    inputs = np.asarray(inputs)
    outputs = np.asarray(outputs).reshape(-1)
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (rows, n_inputs), got shape {inputs.shape}")
    if outputs.shape[0] != inputs.shape[0]:
        raise ValueError(f"outputs has {outputs.shape[0]} values for {inputs.shape[0]} rows; expected one per row")
    if len(input_names) != inputs.shape[1]:
        raise ValueError(f"input_names has {len(input_names)} names for {inputs.shape[1]} input columns")
    ax = _new_axes(ax, figsize=(1.0 + 0.9 * (inputs.shape[1] + 1), 0.5 + 0.35 * (len(outputs) + 1)))
    cells = [[f"{v:g}" for v in row] + [f"{o:g}"] for row, o in zip(inputs, outputs)]
    table = ax.table(cellText=cells, colLabels=list(input_names) + [output_name], loc="center", cellLoc="center")
    table.scale(1.0, 1.4)
    for (row, col), cell in table.get_celld().items():
        if row == 0:
            cell.set_facecolor("#dddddd")
        elif col == inputs.shape[1]:
            cell.set_facecolor(_class_tint(0 if float(outputs[row - 1]) == 0 else 1))
    ax.axis("off")
    ax.set_title(title)
    return ax
