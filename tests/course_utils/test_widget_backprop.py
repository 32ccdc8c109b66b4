"""The backprop stepper widget (course_utils.widgets.backprop), driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math

import pytest

from course_utils.widgets.backprop import (
    BackpropStepper,
    GraphNode,
    SmallGraph,
    backprop_stepper,
    draw_graph,
    sigmoid_neuron_graph,
    sum_times_graph,
)


def run_to_end(stepper: BackpropStepper) -> int:
    steps = 0
    while stepper.next_step():
        steps += 1
    return steps


def test_sum_times_graph_matches_the_seed_numbers():
    stepper = BackpropStepper()
    assert stepper.inputs == {"x": 1.0, "y": -2.0, "z": 3.0}
    assert run_to_end(stepper) == 10  # 5 forward steps, 5 backward steps
    assert stepper.values_shown == {"x": 1.0, "y": -2.0, "z": 3.0, "q": -1.0, "f": -3.0}
    assert stepper.grads_shown == {"f": 1.0, "q": 3.0, "z": -1.0, "x": 3.0, "y": 3.0}
    assert stepper.phase == "done"
    assert stepper.next_step() is False


def test_forward_steps_come_before_backward_steps_and_reveal_one_number_each():
    stepper = BackpropStepper()
    assert stepper.phase == "start" and stepper.values_shown == {} and stepper.grads_shown == {}
    for i in range(1, 6):
        stepper.next_step()
        assert stepper.phase == "forward" and len(stepper.values_shown) == i and stepper.grads_shown == {}
    stepper.next_step()
    assert stepper.phase == "backward" and stepper.grads_shown == {"f": 1.0}
    assert stepper.caption.startswith("backward: df/df = 1")
    stepper.next_step()
    assert stepper.current_node == "q" and "1 · 3 = 3" in stepper.caption
    stepper.reset()
    assert stepper.position == 0 and stepper.values_shown == {}


def test_reused_input_gets_the_sum_of_both_paths():
    graph = SmallGraph([GraphNode("a"), GraphNode("b"), GraphNode("p", "mul", ("a", "b")),
                        GraphNode("f", "add", ("p", "a"))])
    stepper = BackpropStepper(graph, {"a": 2.0, "b": -3.0})
    run_to_end(stepper)
    assert stepper.grads_shown["a"] == pytest.approx(-3.0 + 1.0)  # df/da = b + 1
    assert "+" in stepper.caption or stepper.current_node != "a"


def test_neuron_graph_gradients_match_the_formula():
    inputs = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "b": -3.0}
    stepper = BackpropStepper(sigmoid_neuron_graph(), inputs)
    run_to_end(stepper)
    s = 1.0 / (1.0 + math.exp(-(2.0 * -1.0 + -3.0 * -2.0 - 3.0)))
    assert stepper.values_shown["f"] == pytest.approx(s)
    assert stepper.grads_shown["w0"] == pytest.approx(s * (1 - s) * -1.0)
    assert stepper.grads_shown["x1"] == pytest.approx(s * (1 - s) * -3.0)


def test_bad_graphs_and_inputs_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="unknown op"):
        SmallGraph([GraphNode("a"), GraphNode("f", "relu6", ("a",))])
    with pytest.raises(ValueError, match="topological order"):
        SmallGraph([GraphNode("f", "exp", ("a",)), GraphNode("a")])
    with pytest.raises(ValueError, match="takes 2 input"):
        SmallGraph([GraphNode("a"), GraphNode("f", "add", ("a",))])
    stepper = BackpropStepper()
    with pytest.raises(ValueError, match="unknown input"):
        stepper.set_input("w", 1.0)
    with pytest.raises(ValueError, match="finite"):
        stepper.set_input("x", float("nan"))
    with pytest.raises(ValueError, match="unknown node"):
        draw_graph(sum_times_graph(), values={"nope": 1.0})


def test_widget_buttons_and_inputs_change_state_and_picture():
    widget = backprop_stepper()
    start_png = widget.live.png
    assert start_png.startswith(b"\x89PNG")
    widget.next_button.click()
    assert widget.stepper.position == 1
    after_one = widget.live.png
    assert after_one != start_png
    for _ in range(20):
        widget.next_button.click()
    assert widget.stepper.done and widget.next_button.disabled
    assert widget.stepper.grads_shown["x"] == 3.0
    done_png = widget.live.png

    widget.input_fields["z"].value = 5.0  # typing a new input recomputes every number, keeps the position
    assert widget.stepper.values_shown["f"] == pytest.approx(-5.0)
    assert widget.stepper.grads_shown["x"] == pytest.approx(5.0)
    assert widget.stepper.grads_shown["z"] == pytest.approx(-1.0)
    assert widget.live.png != done_png
    assert "df/dx" in widget.status.value

    widget.reset_button.click()
    assert widget.stepper.position == 0 and not widget.next_button.disabled
    assert "start" in widget.status.value


def test_steps_argument_and_validation():
    widget = backprop_stepper(steps=5)
    assert widget.stepper.phase == "forward" and widget.stepper.values_shown["f"] == -3.0
    with pytest.raises(ValueError, match="non-negative"):
        backprop_stepper(steps=-1)
