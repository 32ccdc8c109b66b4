"""The playground widget: its logic class driven without a browser, and its controls changed programmatically."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils.widgets.core import figure_to_png  # noqa: E402
from course_utils.widgets.mlp_training import (  # noqa: E402
    ACTIVATIONS,
    DATASETS,
    MAX_EPOCHS_PER_CALL,
    N_POINTS,
    Playground,
    parse_hidden,
)
from course_utils.widgets.playground import playground_widget  # noqa: E402


def _png(pg: Playground) -> bytes:
    import matplotlib.pyplot as plt

    fig = pg.figure()
    try:
        return figure_to_png(fig)
    finally:
        plt.close(fig)


def test_parse_hidden_reads_text_and_lists():
    assert parse_hidden("8,8") == (8, 8)
    assert parse_hidden(" 16 , 4,2 ") == (16, 4, 2)
    assert parse_hidden("") == ()
    assert parse_hidden([3, 5]) == (3, 5)


@pytest.mark.parametrize("text, message", [
    ("8,x", "not a whole number"),
    ("8,,8", "not a whole number"),
    ("8.5", "not a whole number"),
    ("-3", "not a whole number"),
    ("0", "1 to 64 units"),
    ("65", "1 to 64 units"),
    ("1,1,1,1,1,1,1", "at most 6 layers"),
    ([2.5], "list of ints"),
    (7, "expected text"),
])
def test_parse_hidden_rejects_bad_text_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_hidden(text)


def test_network_matches_the_settings():
    pg = Playground(dataset="moons", hidden="5,3", activation="relu")
    layers = list(pg.model)
    assert [type(m) for m in layers] == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Linear, torch.nn.ReLU,
                                         torch.nn.Linear]
    assert pg.architecture == "2 → 5 → 3 → 1"
    assert pg.n_parameters == (2 * 5 + 5) + (5 * 3 + 3) + (3 * 1 + 1)
    assert pg.X_train.shape == (N_POINTS, 2) and pg.X_test.shape == (N_POINTS, 2)
    assert not np.allclose(pg.X_train, pg.X_test), "the test points are drawn with another seed"
    # The recorded loss is the mean BCE of the logits, computed by hand.
    X = (pg.X_train - pg.X_train.mean(0)) / pg.X_train.std(0)
    with torch.no_grad():
        z = pg.model(torch.as_tensor(X, dtype=torch.float32)).squeeze(1).double().numpy()
    y = pg.y_train
    manual = np.mean(np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y))
    assert pg.loss_history[0] == pytest.approx(manual, rel=1e-5)


def test_step_lowers_the_loss_and_changes_the_picture():
    pg = Playground(dataset="xor", hidden="4", activation="tanh", lr=0.3, batch_size=10)
    png0, loss0 = _png(pg), pg.loss_history[0]
    pg.step(40)
    assert pg.epoch == 40
    assert len(pg.loss_history) == len(pg.test_loss_history) == 41
    assert pg.loss_history[-1] < 0.5 * loss0, f"loss went from {loss0:.3f} to {pg.loss_history[-1]:.3f}"
    assert pg.accuracy("test") > 0.9
    assert _png(pg) != png0


def test_reset_restores_the_initial_state_exactly():
    pg = Playground(dataset="circles", hidden="8,8", activation="tanh", seed=3)
    weights0 = [p.detach().clone() for p in pg.model.parameters()]
    png0, history0 = _png(pg), list(pg.loss_history)
    pg.step(5)
    assert pg.loss_history[-1] != history0[0]
    pg.reset()
    assert pg.epoch == 0 and pg.loss_history == history0
    for p, p0 in zip(pg.model.parameters(), weights0):
        assert torch.equal(p, p0)
    assert _png(pg) == png0
    pg.step(5)                                   # the shuffling restarts too: the same 5 epochs again
    again = Playground(dataset="circles", hidden="8,8", activation="tanh", seed=3)
    again.step(5)
    assert pg.loss_history == again.loss_history


def test_seeded_weights_do_not_touch_the_global_generator():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Playground(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_settings_reset_or_keep_the_weights():
    pg = Playground(dataset="circles", hidden="4", activation="tanh")
    pg.step(3)
    pg.lr = 0.3
    pg.batch_size = 32
    assert pg.epoch == 3 and pg.optimizer.param_groups[0]["lr"] == 0.3   # kept the weights
    pg.hidden = "6,2"
    assert pg.epoch == 0 and pg.hidden == (6, 2)
    pg.step(1)
    pg.activation = "sigmoid"
    assert pg.epoch == 0 and isinstance(pg.model[1], torch.nn.Sigmoid)
    pg.dataset = "spirals"
    assert pg.epoch == 0 and pg.dataset == "spirals"


def test_no_hidden_layer_cannot_learn_xor():
    pg = Playground(dataset="xor", hidden="", activation="relu", lr=0.3, batch_size=10)
    pg.step(30)
    assert pg.architecture == "2 → 1"
    assert pg.accuracy("train") < 0.75, "a linear model cannot separate XOR"


def test_bad_settings_raise_and_change_nothing():
    pg = Playground(hidden="8,8")
    pg.step(2)
    with pytest.raises(ValueError, match="not a whole number"):
        pg.hidden = "8,eight"
    assert pg.hidden == (8, 8) and pg.epoch == 2
    with pytest.raises(ValueError, match="dataset"):
        pg.dataset = "mnist"
    with pytest.raises(ValueError, match="activation"):
        pg.activation = "gelu"
    with pytest.raises(ValueError, match="lr"):
        pg.lr = 0.0
    with pytest.raises(ValueError, match="batch_size"):
        pg.batch_size = 0
    with pytest.raises(ValueError, match="epochs"):
        pg.step(MAX_EPOCHS_PER_CALL + 1)
    with pytest.raises(ValueError, match="epochs"):
        pg.step(0)
    with pytest.raises(ValueError, match="shape"):
        pg.predict_proba(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="seed"):
        Playground(seed=-1)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_combination_draws(dataset, activation):
    pg = Playground(dataset=dataset, hidden="3", activation=activation)
    pg.step(1)
    assert _png(pg).startswith(b"\x89PNG")
    p = pg.predict_proba(pg.X_test)
    assert p.shape == (N_POINTS,) and np.all((p >= 0) & (p <= 1))


def test_widget_controls_change_state_and_picture():
    ui = playground_widget(dataset="xor", hidden="4", activation="tanh", lr=0.3, batch_size=10, epochs_per_step=10)
    png0 = ui.live.png
    assert png0.startswith(b"\x89PNG")

    ui.step_button.click()
    assert ui.playground.epoch == 10
    assert "epoch 10" in ui.status.value
    png1 = ui.live.png
    assert png1 != png0

    ui.play.value = 1                       # one tick of "start"
    ui.play.value = 2
    assert ui.playground.epoch == 30
    ui.play.value = 0                       # the stop button jumps back: no training
    assert ui.playground.epoch == 30

    ui.epochs_per_step.value = 5
    ui.step_button.click()
    assert ui.playground.epoch == 35

    ui.lr.value = 1.0
    ui.batch_size.value = 32
    assert ui.playground.lr == 1.0 and ui.playground.batch_size == 32 and ui.playground.epoch == 35

    ui.lr.value = 0.3
    ui.batch_size.value = 10
    ui.reset_button.click()
    assert ui.playground.epoch == 0
    assert ui.live.png == png0              # same settings and seed: the first picture again

    ui.hidden.value = "4,x"                 # a typo: an error message, the network stays
    assert ui.playground.hidden == (4,)
    assert "not a whole number" in ui.status.value
    ui.hidden.value = "6,3"
    assert ui.playground.hidden == (6, 3) and "not a whole number" not in ui.status.value

    ui.dataset.value = "moons"
    assert ui.playground.dataset == "moons" and ui.playground.epoch == 0
    ui.activation.value = "relu"
    assert isinstance(ui.playground.model[1], torch.nn.ReLU)
    assert ui.live.png != png0


def test_widget_rejects_options_it_does_not_offer():
    with pytest.raises(ValueError, match="lr"):
        playground_widget(lr=0.05)
    with pytest.raises(ValueError, match="batch_size"):
        playground_widget(batch_size=7)
    with pytest.raises(ValueError, match="epochs_per_step"):
        playground_widget(epochs_per_step=3)
