"""The "retina" trainer: Rosenblatt's 1958 left/right demonstration as a widget (lecture 01).

A perceptron looks at cards on a ``size x size`` retina of photo-cells
(20 x 20 = 400 in 1958). Each card carries one filled square, on the left or
on the right half; the perceptron must answer "Q" (left) or "O" (right).
Sliders choose how many training cards it has been shown (0..200) and how
noisy the cards are; the picture shows the learned weights as an image, the
test accuracy after every trial, and a few test cards with the machine's answers.

The logic is the plain class :class:`RetinaTrainer` (tests drive it without a
browser); :class:`RetinaTrainerWidget` (built by :func:`retina_trainer_widget`)
wraps it in core ipywidgets.

Example:
    >>> trainer = RetinaTrainer(n_trials=50, noise=0.1, seed=0)
    >>> trainer.weights.shape
    (20, 20)
    >>> 0.0 <= trainer.accuracy <= 1.0
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_utils.widgets.core import LiveWidget, float_slider

__all__ = ["RetinaTrainer", "RetinaTrainerWidget", "make_retina_cards", "retina_trainer_widget"]

SIDES = ("left", "right")
ANSWERS = {1: "Q", -1: "O"}  # the 1958 machine printed "Q" for left squares and "O" for right squares


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 10 or size % 2:
        raise ValueError(f"size must be an even int >= 10 (the retina is size x size), got {size!r}")
    return int(size)


def _check_noise(noise: float) -> float:
    if not np.isfinite(noise) or not 0.0 <= noise <= 0.5:
        raise ValueError(f"noise must be a probability in [0, 0.5], got {noise!r}")
    return float(noise)


def make_retina_cards(n: int, seed: int = 0, size: int = 20, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random cards with one filled square each, and their targets (+1 left, -1 right).

    A square of side 3..size//2-2 lies entirely in the left or the right half;
    then every pixel is flipped with probability ``noise``. The squares depend
    on ``seed`` only, not on ``noise``, so the same seed at a higher noise
    gives the same squares with more flipped pixels.

    Example:
        >>> cards, targets = make_retina_cards(4, seed=0)
        >>> cards.shape, sorted(set(targets.tolist()))
        ((4, 20, 20), [-1, 1])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    size, noise = _check_size(size), _check_noise(noise)
    squares = np.random.default_rng([seed, 0])
    flips = np.random.default_rng([seed, 1])
    half = size // 2
    targets = np.where(np.arange(n) % 2 == 0, 1, -1)  # left, right, left, ... then shuffled
    squares.shuffle(targets)
    cards = np.zeros((n, size, size))
    for i, target in enumerate(targets):
        side = int(squares.integers(3, half - 1))
        row = int(squares.integers(0, size - side + 1))
        col = (0 if target == 1 else half) + int(squares.integers(0, half - side + 1))
        cards[i, row:row + side, col:col + side] = 1.0
    flip = flips.random(cards.shape) < noise
    cards[flip] = 1.0 - cards[flip]
    return cards, targets.astype(np.int64)


@dataclass
class _Run:
    """Everything trained for one (noise, seed): the history of weights and accuracies."""

    train_cards: np.ndarray
    train_targets: np.ndarray
    test_cards: np.ndarray
    test_targets: np.ndarray
    weights: np.ndarray  # (max_trials + 1, size * size + 1): bias first, after 0, 1, ... trials
    accuracy: np.ndarray  # (max_trials + 1,) test accuracy after 0, 1, ... trials
    mistakes: np.ndarray  # (max_trials,) True where trial k changed the weights


class RetinaTrainer:
    """A perceptron on a retina, trained with the rule ``w <- w + lr * t * x`` on its mistakes.

    The answer to a card ``x`` (pixels with a leading 1 for the bias) is
    +1 ("Q", left) when ``w . x > 0`` and -1 ("O", right) otherwise; a trial is
    a mistake when the answer differs from the target ``t``. Weights start at 0.

    Example:
        >>> trainer = RetinaTrainer(n_trials=0)
        >>> float(np.abs(trainer.weights).sum()), trainer.accuracy
        (0.0, 0.5)
    """

    def __init__(self, n_trials: int = 50, noise: float = 0.1, seed: int = 0, size: int = 20,
                 max_trials: int = 200, n_test: int = 400, lr: float = 1.0):
        self.size = _check_size(size)
        if isinstance(max_trials, bool) or not isinstance(max_trials, (int, np.integer)) or max_trials < 1:
            raise ValueError(f"max_trials must be a positive int, got {max_trials!r}")
        self.max_trials = int(max_trials)
        self.n_test = int(n_test)
        self.lr = float(lr)
        self._noise = _check_noise(noise)
        self._seed = int(seed)
        self._n_trials = self._check_trials(n_trials)
        self._run = self._train()

    # -- state -------------------------------------------------------------
    def _check_trials(self, n_trials: int) -> int:
        if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) \
                or not 0 <= n_trials <= self.max_trials:
            raise ValueError(f"n_trials must be an int in [0, {self.max_trials}], got {n_trials!r}")
        return int(n_trials)

    @property
    def n_trials(self) -> int:
        """How many training cards the perceptron has been shown."""
        return self._n_trials

    @property
    def noise(self) -> float:
        """Probability that a pixel of a card is flipped."""
        return self._noise

    @property
    def seed(self) -> int:
        """Which random cards are used (training and test)."""
        return self._seed

    def set(self, n_trials: int | None = None, noise: float | None = None, seed: int | None = None) -> None:
        """Change the number of trials, the noise or the seed (retraining only when the cards change)."""
        new_trials = self._n_trials if n_trials is None else self._check_trials(n_trials)
        new_noise = self._noise if noise is None else _check_noise(noise)
        new_seed = self._seed if seed is None else int(seed)
        retrain = (new_noise, new_seed) != (self._noise, self._seed)
        self._n_trials, self._noise, self._seed = new_trials, new_noise, new_seed
        if retrain:
            self._run = self._train()

    def _train(self) -> _Run:
        train_x, train_t = make_retina_cards(self.max_trials, seed=self._seed, size=self.size, noise=self._noise)
        test_x, test_t = make_retina_cards(self.n_test, seed=self._seed + 10_000, size=self.size, noise=self._noise)
        inputs = np.hstack([np.ones((self.max_trials, 1)), train_x.reshape(self.max_trials, -1)])
        test_inputs = np.hstack([np.ones((self.n_test, 1)), test_x.reshape(self.n_test, -1)])
        w = np.zeros(inputs.shape[1])
        history = [w.copy()]
        mistakes = np.zeros(self.max_trials, dtype=bool)
        for k, (x, t) in enumerate(zip(inputs, train_t)):
            answer = 1 if w @ x > 0 else -1
            if answer != t:
                w = w + self.lr * t * x
                mistakes[k] = True
            history.append(w.copy())
        weights = np.array(history)
        answers = np.where(test_inputs @ weights.T > 0, 1, -1)  # (n_test, max_trials + 1)
        accuracy = (answers == test_t[:, None]).mean(axis=0)
        return _Run(train_x, train_t, test_x, test_t, weights, accuracy, mistakes)

    # -- results -----------------------------------------------------------
    @property
    def train_cards(self) -> np.ndarray:
        """The training cards in the order they are shown, shape (max_trials, size, size)."""
        return self._run.train_cards

    @property
    def train_targets(self) -> np.ndarray:
        """+1 (left) or -1 (right) for each training card."""
        return self._run.train_targets

    @property
    def test_cards(self) -> np.ndarray:
        return self._run.test_cards

    @property
    def test_targets(self) -> np.ndarray:
        return self._run.test_targets

    @property
    def weights(self) -> np.ndarray:
        """The pixel weights after ``n_trials`` trials, as a (size, size) image (bias left out)."""
        return self._run.weights[self._n_trials, 1:].reshape(self.size, self.size)

    @property
    def bias(self) -> float:
        return float(self._run.weights[self._n_trials, 0])

    @property
    def accuracy(self) -> float:
        """Test accuracy after ``n_trials`` trials (0.5 before any training: every answer is "O")."""
        return float(self._run.accuracy[self._n_trials])

    @property
    def accuracy_curve(self) -> np.ndarray:
        """Test accuracy after 0, 1, ..., max_trials trials."""
        return self._run.accuracy.copy()

    @property
    def n_mistakes(self) -> int:
        """How many of the first ``n_trials`` trials were mistakes (and changed the weights)."""
        return int(self._run.mistakes[:self._n_trials].sum())

    def trials_to_reach(self, accuracy: float = 0.9) -> int | None:
        """The first number of trials after which the test accuracy is at least ``accuracy`` (None if never)."""
        reached = np.flatnonzero(self._run.accuracy >= accuracy)
        return int(reached[0]) if reached.size else None

    def answers(self, cards: np.ndarray) -> np.ndarray:
        """The machine's answers (+1 "Q" / -1 "O") to ``cards`` of shape (n, size, size)."""
        cards = np.asarray(cards, dtype=np.float64)
        if cards.ndim != 3 or cards.shape[1:] != (self.size, self.size):
            raise ValueError(f"cards must have shape (n, {self.size}, {self.size}), got {cards.shape}")
        scores = cards.reshape(len(cards), -1) @ self.weights.ravel() + self.bias
        return np.where(scores > 0, 1, -1)

    # -- picture -----------------------------------------------------------
    def figure(self) -> Figure:
        """Weights as an image, test accuracy against trials, and nine test cards with the answers."""
        fig, (ax_w, ax_acc, ax_cards) = plt.subplots(1, 3, figsize=(13.5, 4.0),
                                                     gridspec_kw={"width_ratios": [1.0, 1.3, 1.0]})
        w = self.weights
        limit = max(float(np.abs(w).max()), 1e-9)
        image = ax_w.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax_w.axvline(self.size / 2 - 0.5, color="k", linewidth=0.8, linestyle=":")
        fig.colorbar(image, ax=ax_w, fraction=0.046, pad=0.04, label="weight")
        ax_w.set(title=f"Weights after {self.n_trials} trials", xlabel="retina column", ylabel="retina row",
                 xticks=range(0, self.size, 5), yticks=range(0, self.size, 5))
        ax_w.grid(False)

        trials = np.arange(self.max_trials + 1)
        ax_acc.plot(trials, self._run.accuracy, color="#0072B2", label="test accuracy")
        ax_acc.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="90 %")
        ax_acc.axvline(self.n_trials, color="#D55E00", linewidth=1.5,
                       label=f"{self.n_trials} trials: {self.accuracy:.0%}")
        ax_acc.set(title=f"Learning curve (noise {self.noise:.2f}, {self.n_mistakes} mistakes so far)",
                   xlabel="training cards shown (trials)", ylabel="accuracy on 400 test cards", ylim=(0.3, 1.02))
        ax_acc.legend(loc="lower right")

        shown = self.test_cards[:9]
        answers = self.answers(shown)
        gap = 2
        mosaic = np.full((3 * self.size + 2 * gap, 3 * self.size + 2 * gap), 0.5)
        for i, card in enumerate(shown):
            r, c = divmod(i, 3)
            mosaic[r * (self.size + gap):r * (self.size + gap) + self.size,
                   c * (self.size + gap):c * (self.size + gap) + self.size] = card
        ax_cards.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1)
        for c in range(3):  # the middle of each card: left of it means "Q"
            ax_cards.axvline(c * (self.size + gap) + self.size / 2 - 0.5, color="#56B4E9", linewidth=0.8)
        for i, (answer, target) in enumerate(zip(answers, self.test_targets[:9])):
            r, c = divmod(i, 3)
            ax_cards.text(c * (self.size + gap) + 1, r * (self.size + gap) + 3, ANSWERS[int(answer)],
                          color="#009E73" if answer == target else "#D55E00", fontsize=13, fontweight="bold",
                          bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})
        ax_cards.set(title='Test cards: answer "Q" = left, "O" = right\n(green right, orange wrong)',
                     xticks=[], yticks=[])
        ax_cards.grid(False)
        fig.tight_layout()
        return fig


class RetinaTrainerWidget(LiveWidget):
    """Sliders for trials, noise and seed around a :class:`RetinaTrainer`, with a live picture.

    A :class:`LiveWidget`. Attributes: ``trainer`` (the logic), ``live``,
    ``box``, and the controls ``trials_slider``, ``noise_slider``,
    ``seed_slider``. :meth:`show` displays it with its static picture.
    """

    def __init__(self, n_trials: int = 50, noise: float = 0.1, seed: int = 0):
        import ipywidgets as widgets

        super().__init__(RetinaTrainer(n_trials=n_trials, noise=noise, seed=seed))
        trainer = self.trainer
        self.trials_slider = widgets.IntSlider(
            value=trainer.n_trials, min=0, max=trainer.max_trials, step=1, description="cards shown",
            continuous_update=False, style={"description_width": "initial"})
        self.noise_slider = float_slider("noise", trainer.noise, 0.0, 0.3, step=0.01)
        self.seed_slider = widgets.IntSlider(
            value=trainer.seed, min=0, max=9, step=1, description="card set (seed)",
            continuous_update=False, style={"description_width": "initial"})
        for slider in (self.trials_slider, self.noise_slider, self.seed_slider):
            slider.observe(self._changed, names="value")
        self._arrange([widgets.HBox([self.trials_slider, self.noise_slider, self.seed_slider]), self.live.image])

    @property
    def trainer(self) -> RetinaTrainer:
        """The :class:`RetinaTrainer` the widget drives (its ``logic``)."""
        return self.logic

    def _changed(self, _change: dict | None = None) -> None:
        self.trainer.set(n_trials=int(self.trials_slider.value), noise=float(self.noise_slider.value),
                         seed=int(self.seed_slider.value))
        self.refresh()


def retina_trainer_widget(n_trials: int = 50, noise: float = 0.1, seed: int = 0) -> RetinaTrainerWidget:
    """Build the retina trainer widget; display it with ``w.show()``.

    Example:
        >>> w = retina_trainer_widget(n_trials=10)
        >>> w.trials_slider.value = 100   # retrains nothing, picks the weights after 100 trials
        >>> w.trainer.n_trials
        100
    """
    return RetinaTrainerWidget(n_trials=n_trials, noise=noise, seed=seed)
