import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import (
    plot_decision_boundary,
    plot_function_and_derivative,
    plot_training_curves,
    plot_truth_table,
    use_course_style,
)
from course_utils.data import boolean_points, make_moons
from course_utils.plotting import _class_tint


def _labelled(ax):
    return bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_decision_boundary_numpy_labels():
    X = boolean_points()
    ax = plot_decision_boundary(lambda P: (P.sum(axis=1) > 1.5).astype(int), X, [0, 0, 0, 1], title="AND")
    assert _labelled(ax) and ax.get_title() == "AND"
    assert len(ax.collections) >= 3  # regions, boundary, points


def test_decision_boundary_torch_module_and_probabilities():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())
    model.train()
    X, y = make_moons(50)
    ax = plot_decision_boundary(model, torch.tensor(X), torch.tensor(y))
    assert _labelled(ax)
    assert model.training  # the mode is restored


def test_decision_boundary_torch_function_and_scores():
    weights = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    ax = plot_decision_boundary(lambda P: P @ weights, np.random.default_rng(0).normal(size=(20, 2)))
    assert _labelled(ax)


@pytest.mark.parametrize("X", [np.zeros((4, 3)), np.zeros(4), np.zeros((2, 2, 2))])
def test_decision_boundary_bad_points(X):
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_decision_boundary(lambda P: P[:, 0], X)


def test_decision_boundary_bad_predict_output_and_labels():
    X = boolean_points()
    with pytest.raises(ValueError, match="one per point"):
        plot_decision_boundary(lambda P: P[:10, 0], X)
    with pytest.raises(ValueError, match="3 labels for 4 points"):
        plot_decision_boundary(lambda P: P[:, 0] > 0.5, X, [0, 1, 1])


def test_function_and_derivative():
    left, right = plot_function_and_derivative(np.tanh, lambda x: 1 - np.tanh(x) ** 2, name="tanh")
    assert _labelled(left) and _labelled(right)
    (line,) = right.get_lines()[:1]
    assert np.isclose(line.get_ydata().max(), 1.0, atol=1e-3)
    _, estimated = plot_function_and_derivative(np.tanh, name="tanh")
    assert np.allclose(estimated.get_lines()[0].get_ydata(), line.get_ydata(), atol=1e-6)
    with pytest.raises(ValueError, match="low < high"):
        plot_function_and_derivative(np.tanh, x_range=(1, -1))


def test_training_curves():
    axes = plot_training_curves({"train loss": [1.0, 0.5, 0.3], "test accuracy": [0.5, 0.8, 0.9]})
    assert len(axes) == 2 and all(_labelled(ax) for ax in axes)
    assert len(plot_training_curves({"loss": [1, 2]})) == 1
    with pytest.raises(ValueError, match="history is empty"):
        plot_training_curves({})


def test_truth_table():
    ax = plot_truth_table(boolean_points(), [0, 0, 0, 1], title="AND")
    assert ax.get_title() == "AND" and len(ax.tables) == 1
    with pytest.raises(ValueError, match="one per row"):
        plot_truth_table(boolean_points(), [0, 1])
    with pytest.raises(ValueError, match="input_names"):
        plot_truth_table(boolean_points(), [0, 0, 0, 1], input_names=("a",))


def test_truth_table_colours_match_the_decision_plot():
    """Output 0 is tinted like class 0 (blue) and output 1 like class 1 (orange) of plot_decision_boundary."""
    ax = plot_truth_table(boolean_points(), [0, 0, 0, 1])
    cells = ax.tables[0].get_celld()
    output_col = 2
    for row, label in zip(range(1, 5), [0, 0, 0, 1]):
        assert np.allclose(cells[row, output_col].get_facecolor()[:3], _class_tint(label))
    blue, orange = _class_tint(0), _class_tint(1)
    assert blue[2] > blue[0] and orange[0] > orange[2], "class 0 is bluish, class 1 orange"
    with pytest.raises(ValueError, match="class index"):
        _class_tint(-1)


def test_style_applies():
    use_course_style()
    assert plt.rcParams["axes.grid"] is True
