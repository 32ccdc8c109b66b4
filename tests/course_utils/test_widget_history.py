"""The retina trainer widget of lecture 01 (course_utils.widgets.history), driven without a browser."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.widgets.core import mimebundle_with_picture
from course_utils.widgets.history import RetinaTrainer, make_retina_cards, retina_trainer_widget


def test_cards_have_one_square_on_the_right_side():
    cards, targets = make_retina_cards(40, seed=3, size=20, noise=0.0)
    assert cards.shape == (40, 20, 20)
    assert set(np.unique(cards)) <= {0.0, 1.0}
    assert set(targets.tolist()) == {-1, 1}
    for card, target in zip(cards, targets):
        ink_left, ink_right = card[:, :10].sum(), card[:, 10:].sum()
        assert (ink_left > 0, ink_right > 0) == ((True, False) if target == 1 else (False, True))
        rows, cols = np.nonzero(card)
        side = rows.max() - rows.min() + 1
        assert side == cols.max() - cols.min() + 1 and card.sum() == side * side and 3 <= side <= 8


def test_noise_flips_pixels_but_keeps_the_squares():
    clean, _ = make_retina_cards(50, seed=1, noise=0.0)
    noisy, _ = make_retina_cards(50, seed=1, noise=0.2)
    flipped = (clean != noisy).mean()
    assert 0.17 < flipped < 0.23, f"expected about 20 % flipped pixels, got {flipped:.3f}"


def test_untrained_perceptron_makes_no_distinction():
    trainer = RetinaTrainer(n_trials=0, noise=0.1, seed=0)
    assert np.all(trainer.weights == 0) and trainer.bias == 0
    assert trainer.accuracy == pytest.approx((trainer.test_targets == -1).mean())
    assert set(trainer.answers(trainer.test_cards).tolist()) == {-1}


def test_training_learns_left_from_right():
    trainer = RetinaTrainer(n_trials=200, noise=0.0, seed=0)
    assert trainer.accuracy >= 0.95
    weights = trainer.weights
    assert weights[:, :10].sum() > 0 > weights[:, 10:].sum(), "left half should vote Q (+), right half O (-)"
    reached = trainer.trials_to_reach(0.9)
    assert reached is not None and 0 < reached <= 200


def test_the_update_rule_is_the_perceptron_rule():
    trainer = RetinaTrainer(n_trials=30, noise=0.05, seed=2)
    w = np.zeros(401)
    for card, t in zip(trainer.train_cards[:30], trainer.train_targets[:30]):
        x = np.concatenate([[1.0], card.ravel()])
        if (1 if w @ x > 0 else -1) != t:
            w = w + t * x
    np.testing.assert_allclose(trainer.weights.ravel(), w[1:])
    assert trainer.bias == pytest.approx(w[0])


def test_set_changes_state_and_validates():
    trainer = RetinaTrainer(n_trials=10, noise=0.1, seed=0)
    before = trainer.train_cards.copy()
    trainer.set(n_trials=120)
    assert trainer.n_trials == 120 and np.array_equal(trainer.train_cards, before)
    trainer.set(noise=0.0)
    assert not np.array_equal(trainer.train_cards, before)
    with pytest.raises(ValueError, match="n_trials"):
        trainer.set(n_trials=201)
    with pytest.raises(ValueError, match="noise"):
        RetinaTrainer(noise=0.9)
    with pytest.raises(ValueError, match="size"):
        make_retina_cards(3, size=7)


def test_widget_sliders_update_trainer_and_picture():
    w = retina_trainer_widget(n_trials=5, noise=0.1, seed=0)
    png_before = w.live.png
    assert png_before[:4] == b"\x89PNG"
    w.trials_slider.value = 150
    assert w.trainer.n_trials == 150
    png_after_trials = w.live.png
    assert png_after_trials != png_before
    w.noise_slider.value = 0.0
    assert w.trainer.noise == 0.0 and w.live.png != png_after_trials
    w.seed_slider.value = 4
    assert w.trainer.seed == 4
    bundle = mimebundle_with_picture(w.box, w.live.png)
    assert "image/png" in bundle
