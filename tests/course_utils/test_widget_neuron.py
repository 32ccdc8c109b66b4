"""The threshold-neuron widget: its truth tables, its perceptron step, and the live widget driven without a browser."""

from __future__ import annotations

import pytest

from course_utils.widgets.neuron import GATES, INPUTS, ThresholdNeuron, threshold_neuron_widget

# The seeds' weights (w1, w2, w0) and the gates they compute; NAND and NOR negate AND and OR.
SEED_WEIGHTS = {
    "AND": (1.0, 1.0, 1.5),
    "OR": (1.0, 1.0, 0.5),
    "NAND": (-1.0, -1.0, -1.5),
    "NOR": (-1.0, -1.0, -0.5),
}


@pytest.mark.parametrize("gate", sorted(SEED_WEIGHTS))
def test_seed_weights_compute_their_gate(gate):
    neuron = ThresholdNeuron(*SEED_WEIGHTS[gate], gate=gate)
    table = neuron.truth_table()
    assert table.shape == (4, 4)
    assert table[:, :2].tolist() == INPUTS.astype(int).tolist()
    assert table[:, 2].tolist() == list(GATES[gate])
    assert table[:, 3].tolist() == list(GATES[gate])
    assert neuron.is_solved() and neuron.errors() == 0


def test_gate_columns_are_the_logical_operators():
    x1, x2 = INPUTS[:, 0].astype(bool), INPUTS[:, 1].astype(bool)
    assert list(GATES["AND"]) == (x1 & x2).astype(int).tolist()
    assert list(GATES["OR"]) == (x1 | x2).astype(int).tolist()
    assert list(GATES["NAND"]) == (~(x1 & x2)).astype(int).tolist()
    assert list(GATES["NOR"]) == (~(x1 | x2)).astype(int).tolist()
    assert list(GATES["XOR"]) == (x1 ^ x2).astype(int).tolist()


def test_output_is_strict_heaviside():
    neuron = ThresholdNeuron(1.0, 0.0, 1.0)  # the score is exactly 0 at x1 = 1
    assert neuron.scores().tolist() == [-1.0, -1.0, 0.0, 0.0]
    assert neuron.outputs().tolist() == [0, 0, 0, 0]


def test_one_step_is_the_perceptron_rule():
    neuron = ThresholdNeuron(0.0, 0.0, 0.0, gate="OR", learning_rate=0.5)
    result = neuron.perceptron_step()
    # Row (0, 1) is the first wrong one: target 1, output 0, so w += 0.5 * (0, 1) and w0 -= 0.5.
    assert result.updated and result.row == 1 and result.x == (0.0, 1.0)
    assert (result.target, result.output) == (1, 0)
    assert result.before == (0.0, 0.0, 0.0)
    assert result.after == neuron.weights == (0.0, 0.5, -0.5)
    assert neuron.n_updates == 1
    assert "Update 1" in result.message


def test_a_false_one_lowers_the_score():
    neuron = ThresholdNeuron(1.0, 1.0, -1.0, gate="AND")  # outputs 1 everywhere
    result = neuron.perceptron_step()
    assert result.row == 0 and (result.target, result.output) == (0, 1)
    assert result.after == (1.0, 1.0, 0.0)  # x = (0, 0): only the threshold moves


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_perceptron_learns_separable_gates_within_the_novikoff_bound(gate):
    neuron = ThresholdNeuron(gate=gate)
    for _ in range(51):  # (R / gamma)^2 = 3 * 17 = 51 for AND and NAND, 27 for OR and NOR
        if not neuron.perceptron_step().updated:
            break
    assert neuron.is_solved(), f"{gate} not learned after {neuron.n_updates} updates"
    assert neuron.n_updates <= 51
    final = neuron.perceptron_step()
    assert not final.updated and final.row is None and final.after == final.before


def test_perceptron_never_settles_on_xor():
    neuron = ThresholdNeuron(gate="XOR")
    for _ in range(200):
        assert neuron.perceptron_step().updated
        assert not neuron.is_solved()
    assert neuron.n_updates == 200
    assert max(abs(w) for w in neuron.weights) < 10  # it cycles: the weights stay bounded


def test_reset_and_gate_change():
    neuron = ThresholdNeuron(0.5, -0.5, 0.2, gate="AND")
    neuron.perceptron_step()
    neuron.set_gate("NOR")
    assert neuron.gate == "NOR" and neuron.targets().tolist() == [1, 0, 0, 0]
    neuron.reset()
    assert neuron.weights == (0.5, -0.5, 0.2) and neuron.n_updates == 0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ThresholdNeuron(gate="XNOR"), "unknown gate"),
    (lambda: ThresholdNeuron(gate="AND").set_gate("and"), "expected one of"),
    (lambda: ThresholdNeuron(w1=float("nan")), "finite"),
    (lambda: ThresholdNeuron(w0="one"), "w0 must be a number"),
    (lambda: ThresholdNeuron(learning_rate=0.0), "positive"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.5), (0.0, 0.0, 0.0), (2.0, -1.0, 0.5)])
def test_figure_has_titles_and_labels(weights):
    import matplotlib.pyplot as plt

    fig = ThresholdNeuron(*weights, gate="XOR").figure()
    try:
        plane, table = fig.axes
        assert "XOR" in plane.get_title() and plane.get_xlabel() and plane.get_ylabel()
        assert table.get_title() and table.tables
    finally:
        plt.close(fig)


def test_widget_sliders_move_the_neuron_and_the_picture():
    w = threshold_neuron_widget(gate="AND")
    neuron, live, sliders = w.neuron, w.live, w.weight_sliders
    first = live.png
    assert first.startswith(b"\x89PNG")
    sliders["w1"].value = 1.0
    sliders["w2"].value = 1.0
    sliders["w0"].value = 1.5
    assert neuron.weights == (1.0, 1.0, 1.5)
    assert neuron.is_solved()
    assert live.png != first
    assert "0 of 4" in w.status.value


def test_widget_dropdown_changes_the_target():
    w = threshold_neuron_widget(1.0, 1.0, 1.5, gate="AND")
    before = w.live.png
    w.gate_dropdown.value = "OR"
    assert w.neuron.gate == "OR" and w.neuron.errors() == 2
    assert w.live.png != before


def test_widget_step_and_reset_buttons():
    w = threshold_neuron_widget(gate="OR")
    neuron, live, sliders = w.neuron, w.live, w.weight_sliders
    start = live.png
    w.step_button.click()
    assert neuron.weights == (0.0, 1.0, -1.0)
    assert [sliders[k].value for k in ("w1", "w2", "w0")] == [0.0, 1.0, -1.0]  # the sliders follow
    assert neuron.n_updates == 1  # moving the sliders from code did not count as a user's move
    assert "Update 1" in w.status.value
    after_step = live.png
    assert after_step != start
    for _ in range(27):  # the Novikoff bound for OR from zero weights
        if neuron.is_solved():
            break
        w.step_button.click()
    assert neuron.is_solved()
    w.step_button.click()
    assert "Nothing to update" in w.status.value
    w.reset_button.click()
    assert neuron.weights == (0.0, 0.0, 0.0) and neuron.n_updates == 0
    assert [sliders[k].value for k in ("w1", "w2", "w0")] == [0.0, 0.0, 0.0]
    assert live.png == start


def test_widget_sliders_stretch_to_fit_learned_weights():
    w = threshold_neuron_widget(-3.0, -3.0, -3.0, gate="NAND")
    w.step_button.click()  # row (0, 1) is a missed 1: w2 -> -2 and w0 -> -4, below the slider's -3
    assert w.neuron.weights == (-3.0, -2.0, -4.0)
    for name, value in zip(("w1", "w2", "w0"), w.neuron.weights):
        slider = w.weight_sliders[name]
        assert slider.value == value and slider.min <= value <= slider.max
