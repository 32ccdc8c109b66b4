"""The softmax explorer: its numbers, its validation, and the live widget driven without a browser."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.widgets.softmax import SoftmaxExplorer, softmax_explorer


def reference_softmax(z):
    exps = [math.exp(v - max(z)) for v in z]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize(("logits", "rounded"), [
    ((5, 4, 2), [0.71, 0.26, 0.04]),
    ((4, 2, 8), [0.02, 0.00, 0.98]),
    ((4, 4, 1), [0.49, 0.49, 0.02]),
])
def test_seed_examples(logits, rounded):
    explorer = SoftmaxExplorer(logits)
    p = explorer.probabilities()
    assert np.allclose(p, reference_softmax(logits), rtol=1e-12)
    assert p.round(2).tolist() == rounded
    for c in range(3):
        explorer.set_true_class(c)
        assert explorer.loss() == pytest.approx(-math.log(reference_softmax(logits)[c]), rel=1e-12)


def test_temperature_limits_and_entropy():
    explorer = SoftmaxExplorer((5, 4, 2))
    explorer.set_temperature(0.1)
    assert explorer.probabilities()[0] > 0.9999
    assert explorer.entropy() < 0.01
    explorer.set_temperature(10.0)
    p = explorer.probabilities()
    assert np.allclose(p, reference_softmax([0.5, 0.4, 0.2]))
    assert explorer.entropy() == pytest.approx(-sum(q * math.log2(q) for q in p))
    assert explorer.entropy() < math.log2(3)


def test_loss_stays_finite_for_extreme_logits():
    explorer = SoftmaxExplorer((10, -10, -10), temperature=0.1, true_class=1)
    assert explorer.loss() == pytest.approx(200.0 + math.log(1 + 2 * math.exp(-200.0)))
    explorer = SoftmaxExplorer((500, -500, -500), true_class=1)
    assert explorer.probabilities()[1] == 0.0  # e^-1000 underflows ...
    assert explorer.loss() == pytest.approx(1000.0)  # ... but the loss comes from the log-softmax


def test_number_of_classes_moves_the_true_class():
    explorer = SoftmaxExplorer((1, 2, 3, 4, 5), true_class=4)
    explorer.set_num_classes(3)
    assert explorer.true_class == 2
    assert explorer.logits.tolist() == [1, 2, 3]
    explorer.set_num_classes(5)
    assert explorer.logits.tolist() == [1, 2, 3, 4, 5]  # hidden logits are kept


@pytest.mark.parametrize(("call", "message"), [
    (lambda: SoftmaxExplorer((1, 2)), "3 to 5"),
    (lambda: SoftmaxExplorer((1, 2, 3), temperature=0.0), "temperature"),
    (lambda: SoftmaxExplorer((1, 2, 3), true_class=3), "true_class"),
    (lambda: SoftmaxExplorer((1, 2, float("nan"))), "finite"),
    (lambda: SoftmaxExplorer((1, 2, 3)).set_num_classes(6), "number of classes"),
    (lambda: SoftmaxExplorer((1, 2, 3)).set_logit(5, 0.0), "index"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_figure_has_titles_and_labels():
    import matplotlib.pyplot as plt

    fig = SoftmaxExplorer((5, 4, 2), temperature=2.0).figure()
    try:
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    finally:
        plt.close(fig)


def test_widget_controls_update_state_and_picture():
    ui = softmax_explorer(logits=(5.0, 4.0, 2.0))
    assert ui.live.png.startswith(b"\x89PNG")
    assert "loss" in ui.status.value

    before = ui.live.png
    ui.logit_sliders[2].value = 6.0
    assert ui.explorer.logits.tolist() == [5.0, 4.0, 6.0]
    assert ui.live.png != before

    before = ui.live.png
    ui.true_class_dropdown.value = 2
    assert ui.explorer.true_class == 2
    assert ui.explorer.loss() == pytest.approx(-math.log(reference_softmax([5, 4, 6])[2]))
    assert f"{ui.explorer.loss():.3f}" in ui.status.value
    assert ui.live.png != before

    before = ui.live.png
    ui.temperature_slider.value = 5.0
    assert ui.explorer.temperature == pytest.approx(5.0)
    assert ui.live.png != before


def test_widget_number_of_classes_shows_sliders_and_clamps_true_class():
    ui = softmax_explorer(logits=(1.0, 2.0, 3.0, 4.0, 5.0), true_class=4)
    ui.num_classes_dropdown.value = 3
    assert ui.explorer.num_classes == 3
    assert list(ui.true_class_dropdown.options) == [0, 1, 2]
    assert ui.true_class_dropdown.value == 2 and ui.explorer.true_class == 2
    assert [s.layout.display for s in ui.logit_sliders] == [None, None, None, "none", "none"]
    ui.num_classes_dropdown.value = 4
    assert ui.explorer.logits.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ui.logit_sliders[3].layout.display is None
