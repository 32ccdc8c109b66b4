"""A small MLP learning a 2-D toy set by minibatch SGD, a few epochs per call: the logic of the playground.

:class:`Playground` is the plain logic (no widgets) behind the
:mod:`playground widget <course_utils.widgets.playground>`: a data set from
:mod:`course_utils.data` (xor, circles, moons, spirals; a training and a test
sample drawn with different seeds), a PyTorch MLP ``2 -> hidden... -> 1``
with the chosen activation, and minibatch SGD on ``BCEWithLogitsLoss``.
:meth:`Playground.step` trains a few epochs and records the losses,
:meth:`Playground.reset` goes back to the initial weights of the seed, and
:meth:`Playground.figure` returns a figure of the decision boundary and the
loss curves. The settings the widget offers are listed here too.

The training loop here is plumbing for the picture; the loop the course
teaches is written out in lecture 08.

Example:
    >>> pg = Playground(dataset="xor", hidden="4", activation="tanh", lr=0.3, batch_size=10)
    >>> start = pg.loss_history[-1]
    >>> pg.step(50)
    >>> pg.epoch, pg.loss_history[-1] < start
    (50, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from course_utils.data import make_circles, make_moons, make_spirals, make_xor
from course_utils.plotting import CLASS_COLORS

__all__ = [
    "ACTIVATIONS", "BATCH_SIZES", "DATASETS", "EPOCHS_PER_STEP", "LEARNING_RATES", "MAX_EPOCHS_PER_CALL", "N_POINTS",
    "Playground", "check_choice", "parse_hidden",
]

DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "circles": lambda n, seed: make_circles(n, noise=0.08, seed=seed),
    "xor": lambda n, seed: make_xor(n, noise=0.15, seed=seed),
    "moons": lambda n, seed: make_moons(n, noise=0.15, seed=seed),
    "spirals": lambda n, seed: make_spirals(n, classes=2, noise=0.05, seed=seed),
}
"""The toy sets, by name: each maps ``(n, seed)`` to ``(X, y)`` with two classes."""

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
"""The activation functions of the hidden layers, by name."""

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
"""The learning rates the widget offers (TensorFlow Playground's list)."""

BATCH_SIZES = (1, 4, 10, 16, 32, 64, 200)
"""The batch sizes the widget offers; 200 is the whole training set (full-batch gradient descent)."""

EPOCHS_PER_STEP = (1, 5, 10, 25, 50)
"""How many epochs one press of "step" (or one tick of "start") trains, as offered by the widget."""

MAX_LAYERS = 6
MAX_UNITS = 64
MAX_EPOCHS_PER_CALL = 500
"""The most epochs one call of :meth:`Playground.step` runs, so that one call never blocks the kernel for long."""

N_POINTS = 200
"""Points in the training set and, drawn with another seed, in the test set."""


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """The hidden-layer sizes written as text: ``"8,8"`` -> ``(8, 8)``; ``""`` -> ``()`` (no hidden layer).

    Spaces are ignored. A sequence of ints is accepted too. Raises ``ValueError``
    saying what was expected for anything else: a non-integer, a size below 1 or
    above 64, more than 6 layers.

    Example:
        >>> parse_hidden(" 8, 4 "), parse_hidden("")
        ((8, 4), ())
    """
    if isinstance(text, str):
        cleaned = text.replace(" ", "")
        parts = cleaned.split(",") if cleaned else []
        sizes = []
        for part in parts:
            if not part.isdigit():
                raise ValueError(
                    f"hidden layers: expected whole numbers separated by commas, like '8,8' (or '' for none); "
                    f"got {text!r}, where {part!r} is not a whole number"
                )
            sizes.append(int(part))
    else:
        try:
            sizes = list(text)
        except TypeError:
            raise ValueError(f"hidden layers: expected text like '8,8' or a list of ints, got {text!r}") from None
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in sizes):
            raise ValueError(f"hidden layers: expected a list of ints, got {text!r}")
    if len(sizes) > MAX_LAYERS:
        raise ValueError(f"hidden layers: at most {MAX_LAYERS} layers, got {len(sizes)} in {text!r}")
    for size in sizes:
        if not 1 <= size <= MAX_UNITS:
            raise ValueError(f"hidden layers: each layer needs 1 to {MAX_UNITS} units, got {size} in {text!r}")
    return tuple(int(s) for s in sizes)


def check_choice(value: Any, choices: Sequence[Any], name: str) -> Any:
    """``value`` if it is one of ``choices``; otherwise a ``ValueError`` naming ``name`` and the choices.

    Example:
        >>> check_choice("relu", list(ACTIVATIONS), "activation")
        'relu'
    """
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


class Playground:
    """A small MLP learning a 2-D toy set by minibatch SGD, a few epochs per call.

    The network is ``Linear(2, h1) -> act -> ... -> Linear(h_last, 1)``: one
    logit, trained with ``BCEWithLogitsLoss`` (the binary head of lecture 08).
    Inputs are standardised with the training set's mean and standard
    deviation. ``loss_history`` and ``test_loss_history`` hold the mean loss on
    the training and the test set before training and after every epoch.

    Changing ``dataset``, ``hidden`` or ``activation`` rebuilds the network
    (a reset); changing ``lr`` or ``batch_size`` keeps the weights, as in
    TensorFlow Playground. Everything random comes from ``seed``: the same
    settings always give the same pictures.

    Example:
        >>> pg = Playground(dataset="circles", hidden="8,8", activation="relu")
        >>> pg.architecture
        '2 → 8 → 8 → 1'
        >>> pg.hidden = "8,x"
        Traceback (most recent call last):
        ...
        ValueError: hidden layers: expected whole numbers separated by commas, like '8,8' (or '' for none); got '8,x', where 'x' is not a whole number
    """  # noqa: E501

    def __init__(self, dataset: str = "circles", hidden: str | Sequence[int] = "8,8", activation: str = "tanh",
                 lr: float = 0.03, batch_size: int = 10, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
        self.seed = int(seed)
        self._dataset = check_choice(dataset, list(DATASETS), "dataset")
        self._hidden = parse_hidden(hidden)
        self._activation = check_choice(activation, list(ACTIVATIONS), "activation")
        self.lr = lr
        self.batch_size = batch_size
        self.reset()

    # ------------------------------------------------------------ settings
    @property
    def dataset(self) -> str:
        """The toy set's name (one of :data:`DATASETS`); setting it draws the new data and resets."""
        return self._dataset

    @dataset.setter
    def dataset(self, value: str) -> None:
        self._dataset = check_choice(value, list(DATASETS), "dataset")
        self.reset()

    @property
    def hidden(self) -> tuple[int, ...]:
        """The hidden-layer sizes; set it with text like ``"8,8"`` or a list (this resets)."""
        return self._hidden

    @hidden.setter
    def hidden(self, value: str | Sequence[int]) -> None:
        self._hidden = parse_hidden(value)  # raises before anything changes
        self.reset()

    @property
    def activation(self) -> str:
        """The hidden layers' activation: "relu", "tanh" or "sigmoid" (setting it resets)."""
        return self._activation

    @activation.setter
    def activation(self, value: str) -> None:
        self._activation = check_choice(value, list(ACTIVATIONS), "activation")
        self.reset()

    @property
    def lr(self) -> float:
        """The SGD learning rate (a positive number); changing it keeps the weights."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(value)
        if not np.isfinite(value) or not 0 < value <= 10:
            raise ValueError(f"lr: expected a number in (0, 10], got {value!r}")
        self._lr = value
        if hasattr(self, "optimizer"):
            for group in self.optimizer.param_groups:
                group["lr"] = value

    @property
    def batch_size(self) -> int:
        """Points per SGD update (1 to the training-set size); changing it keeps the weights."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= N_POINTS:
            raise ValueError(f"batch_size: expected an int from 1 to {N_POINTS}, got {value!r}")
        self._batch_size = int(value)

    @property
    def architecture(self) -> str:
        """The layer widths as text, e.g. ``'2 → 8 → 8 → 1'``."""
        return " → ".join(str(n) for n in (2, *self._hidden, 1))

    @property
    def n_parameters(self) -> int:
        """The number of weights and biases in the network."""
        return sum(p.numel() for p in self.model.parameters())

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Draw the data of the current set and start again from the initial weights of ``seed``."""
        make = DATASETS[self._dataset]
        X_train, y_train = make(N_POINTS, self.seed)
        X_test, y_test = make(N_POINTS, self.seed + 1000)
        self.X_train, self.y_train, self.X_test, self.y_test = X_train, y_train, X_test, y_test
        self._mean, self._std = X_train.mean(axis=0), X_train.std(axis=0)
        self._tensors = {
            "train": (self._inputs(X_train), torch.as_tensor(y_train, dtype=torch.float32)),
            "test": (self._inputs(X_test), torch.as_tensor(y_test, dtype=torch.float32)),
        }
        with torch.random.fork_rng(devices=[]):  # seeded weights, without touching the caller's generator
            torch.manual_seed(self.seed)
            layers: list[nn.Module] = []
            width = 2
            for units in self._hidden:
                layers += [nn.Linear(width, units), ACTIVATIONS[self._activation]()]
                width = units
            layers.append(nn.Linear(width, 1))
            self.model = nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self._lr)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self._shuffle = torch.Generator().manual_seed(self.seed)
        self.epoch = 0
        self.loss_history: list[float] = [self.loss("train")]
        self.test_loss_history: list[float] = [self.loss("test")]

    def _inputs(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((np.asarray(X, dtype=np.float64) - self._mean) / self._std, dtype=torch.float32)

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs).squeeze(1)

    def loss(self, split: str = "train") -> float:
        """The mean ``BCEWithLogitsLoss`` on the "train" or "test" set now."""
        X, y = self._tensors[check_choice(split, ["train", "test"], "split")]
        with torch.no_grad():
            return float(self.loss_fn(self._logits(X), y))

    def accuracy(self, split: str = "test") -> float:
        """The fraction of the "train" or "test" points on the right side of the boundary."""
        X, y = self._tensors[check_choice(split, ["train", "test"], "split")]
        with torch.no_grad():
            return float(((self._logits(X) > 0).float() == y).float().mean())

    def predict_proba(self, points: Any) -> np.ndarray:
        """P(class 1) for points of shape ``(m, 2)`` in the data's own coordinates."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"points: expected shape (m, 2), got shape {points.shape}")
        with torch.no_grad():
            return torch.sigmoid(self._logits(self._inputs(points))).numpy().astype(np.float64)

    def step(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs (1 to 500) of minibatch SGD; record both losses after each."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) \
                or not 1 <= epochs <= MAX_EPOCHS_PER_CALL:
            raise ValueError(f"epochs: expected an int from 1 to {MAX_EPOCHS_PER_CALL}, got {epochs!r}")
        X, y = self._tensors["train"]
        for _ in range(int(epochs)):
            order = torch.randperm(len(y), generator=self._shuffle)
            for start in range(0, len(y), self._batch_size):
                batch = order[start:start + self._batch_size]
                self.optimizer.zero_grad()
                self.loss_fn(self._logits(X[batch]), y[batch]).backward()
                self.optimizer.step()
            self.epoch += 1
            self.loss_history.append(self.loss("train"))
            self.test_loss_history.append(self.loss("test"))

    def status(self) -> str:
        """One line: epoch, losses and test accuracy now."""
        return (f"epoch {self.epoch}: train loss {self.loss_history[-1]:.3f}, "
                f"test loss {self.test_loss_history[-1]:.3f}, test accuracy {self.accuracy('test'):.0%}")

    # ------------------------------------------------------------ picture
    def figure(self) -> Figure:
        """A new figure: the data and the decision boundary (left), the loss curves (right)."""
        fig, (ax_data, ax_loss) = plt.subplots(1, 2, figsize=(11.0, 4.3), gridspec_kw={"width_ratios": [1, 1.15]})
        both = np.vstack([self.X_train, self.X_test])
        lo, hi = both.min(axis=0) - 0.3, both.max(axis=0) + 0.3
        xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], 90), np.linspace(lo[1], hi[1], 90))
        proba = self.predict_proba(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
        ax_data.contourf(xx, yy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35, vmin=0, vmax=1)
        if proba.min() < 0.5 < proba.max():
            ax_data.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1.5)
        for k in (0, 1):
            train, test = self.y_train == k, self.y_test == k
            ax_data.scatter(self.X_train[train, 0], self.X_train[train, 1], s=22, color=CLASS_COLORS[k],
                            edgecolor="white", linewidth=0.5, label=f"class {k} (train)", zorder=3)
            ax_data.scatter(self.X_test[test, 0], self.X_test[test, 1], s=22, facecolor="none",
                            edgecolor=CLASS_COLORS[k], linewidth=1.0, label=f"class {k} (test)", zorder=3)
        ax_data.plot([], [], "k-", label="P(class 1) = 0.5")
        ax_data.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=3)
        ax_data.set(title=f"{self._dataset}: {self.architecture}, {self._activation}\n"
                          f"epoch {self.epoch}, test accuracy {self.accuracy('test'):.0%}",
                    xlabel="$x_1$", ylabel="$x_2$", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))

        epochs = np.arange(len(self.loss_history))
        ax_loss.plot(epochs, self.loss_history, color=CLASS_COLORS[0], label="training loss")
        ax_loss.plot(epochs, self.test_loss_history, color=CLASS_COLORS[1], linestyle="--", label="test loss")
        ax_loss.set(title=f"Loss (lr {self._lr:g}, batch size {self._batch_size}): "
                          f"train {self.loss_history[-1]:.3f}, test {self.test_loss_history[-1]:.3f}",
                    xlabel="epoch", ylabel="BCE loss (nats)",
                    ylim=(0, max(0.8, 1.05 * max(max(self.loss_history), max(self.test_loss_history)))))
        ax_loss.title.set_fontsize(10)
        ax_loss.legend(loc="upper right")
        fig.subplots_adjust(wspace=0.25)
        return fig
