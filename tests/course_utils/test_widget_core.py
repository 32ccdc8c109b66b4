"""Displaying a widget with its static picture, on ipywidgets 7 and 8 alike."""

import base64

import matplotlib.pyplot as plt
import pytest

from course_utils.widgets import LiveFigure, figure_to_png, float_slider, mimebundle_with_picture, show_widget


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
