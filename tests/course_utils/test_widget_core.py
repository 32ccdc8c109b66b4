"""Displaying a widget with its static picture, on ipywidgets 7 and 8 alike, and the one shape every widget has."""

import ast
import base64
import importlib
import inspect
import pkgutil

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

import course_utils.widgets
from course_utils.widgets import (
    LiveFigure,
    LiveWidget,
    figure_to_png,
    float_slider,
    mimebundle_with_picture,
    show_widget,
)


def _draw(value):
    def draw():
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, value])
        ax.set(title="line", xlabel="x", ylabel="y")
        return fig
    return draw


def test_live_figure_redraws_on_refresh():
    state = {"slope": 1.0}
    live = LiveFigure(lambda: _draw(state["slope"])())
    before = live.png
    assert before.startswith(b"\x89PNG")
    state["slope"] = -1.0
    live.refresh()
    assert live.png != before
    assert not plt.get_fignums(), "figures must be closed after rendering"


def test_bundle_holds_widget_view_and_picture():
    slider = float_slider("w", 0.5, -1, 1)
    png = figure_to_png(plt.figure(figsize=(1, 1)))
    bundle = mimebundle_with_picture(slider, png)
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == slider.model_id
    assert base64.b64decode(bundle["image/png"]) == png
    assert "text/plain" in bundle


def test_show_widget_displays_one_output(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    slider = float_slider("w", 0.0, -1, 1)
    show_widget(slider, _draw(1.0))
    (bundle, raw), = shown
    assert raw and set(bundle) == {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    assert not plt.get_fignums()


def test_show_widget_rejects_non_png():
    with pytest.raises(ValueError, match="PNG bytes"):
        show_widget(float_slider("w", 0.0, -1, 1), b"GIF89a")


def test_mimebundle_needs_a_live_widget():
    with pytest.raises(ValueError, match="model_id"):
        mimebundle_with_picture(object(), b"\x89PNG")


# ---------------------------------------------------------------- the one widget contract

def _widget_modules():
    return [importlib.import_module(f"course_utils.widgets.{info.name}")
            for info in pkgutil.iter_modules(course_utils.widgets.__path__)]


def _classes_defined_in(module):
    return [obj for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == module.__name__]


WIDGET_CLASSES = sorted(
    {cls for module in _widget_modules() for cls in _classes_defined_in(module)
     if issubclass(cls, LiveWidget) and cls is not LiveWidget},
    key=lambda cls: cls.__qualname__,
)


def test_every_lecture_widget_is_found():
    assert len(WIDGET_CLASSES) >= 8, f"expected a LiveWidget class per lecture, found {WIDGET_CLASSES}"


@pytest.mark.parametrize("module", _widget_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_controls_are_built_only_inside_live_widgets(module):
    """Controls built with ipywidgets live in a LiveWidget class, never in a loose VBox or a *UI record."""
    classes = _classes_defined_in(module)
    for cls in classes:
        if cls.__name__.endswith(("Widget", "UI")) and cls is not LiveWidget:
            assert issubclass(cls, LiveWidget), f"{module.__name__}.{cls.__name__} must subclass LiveWidget"
    if module.__name__ != "course_utils.widgets.core" and "ipywidgets" in inspect.getsource(module):
        assert any(issubclass(cls, LiveWidget) for cls in classes), \
            f"{module.__name__} builds ipywidgets controls but defines no LiveWidget class"


@pytest.mark.parametrize("module", _widget_modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_picture_method_is_called_figure_everywhere(module):
    for cls in _classes_defined_in(module):
        assert not hasattr(cls, "draw"), f"{module.__name__}.{cls.__name__}.draw: the picture method is figure()"


def test_shared_maths_is_defined_once():
    shared = {"sigmoid", "sigmoid_derivative", "tanh_derivative", "log_softmax", "softmax"}
    for module in _widget_modules():
        if module.__name__ == "course_utils.widgets.maths":
            continue
        defined = {node.name for node in ast.walk(ast.parse(inspect.getsource(module)))
                   if isinstance(node, ast.FunctionDef)}
        again = {name for name in defined if name.lstrip("_") in shared}
        assert not again, f"{module.__name__} defines {sorted(again)} again: import it from course_utils.widgets.maths"


@pytest.mark.parametrize("cls", WIDGET_CLASSES, ids=lambda cls: cls.__name__)
def test_widget_follows_the_contract(cls, monkeypatch):
    import ipywidgets

    widget = cls()  # every widget can be built with its defaults
    assert isinstance(widget.box, ipywidgets.VBox)
    assert isinstance(widget.live, LiveFigure) and widget.live.png.startswith(b"\x89PNG")
    assert any(child is widget.live.image for child in widget.box.children), "the box must hold the live picture"

    figures = [widget.logic.figure(), widget.logic.figure()]
    try:
        assert all(isinstance(fig, Figure) for fig in figures) and figures[0] is not figures[1], \
            "logic.figure() returns a new Matplotlib figure on every call"
        plots = [ax for ax in figures[0].axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        assert plots and all(ax.get_title() for ax in plots), "every plot in the picture has a title"
    finally:
        for fig in figures:
            plt.close(fig)

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    widget.show()
    (bundle,) = shown
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.box.model_id
    assert base64.b64decode(bundle["image/png"]) == widget.live.png
    assert not plt.get_fignums(), "figures must be closed after rendering"


def test_live_widget_needs_a_picture_and_a_box_holding_it():
    with pytest.raises(TypeError, match="figure"):
        LiveWidget(object())

    class Line:
        def figure(self):
            return _draw(1.0)()

    widget = LiveWidget(Line())
    with pytest.raises(ValueError, match="live picture"):
        widget._arrange([float_slider("w", 0.0, -1, 1)])
    widget._arrange([widget.live.image])
    assert widget.box.children == (widget.live.image,)
