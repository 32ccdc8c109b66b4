"""Displaying a widget together with a static picture of it.

Every widget also carries a static picture of its current state: it is
displayed as one output holding both the live widget and a PNG, so JupyterLab,
Notebook and Colab show the widget while GitHub and other viewers without a
widget frontend show the picture. The logic behind each widget is a plain
class that tests drive without a browser.

Works with ipywidgets 7.7 (Colab) and 8.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def figure_to_png(fig: Figure) -> bytes:
    """The PNG bytes of a Matplotlib figure (the figure is left open).

    Example:
        >>> fig = plt.figure(); png = figure_to_png(fig); plt.close(fig)
        >>> png[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def mimebundle_with_picture(widget, png: bytes) -> dict:
    """A display bundle holding the live widget view and a PNG fallback.

    Frontends that render widgets prefer the widget view; the others show the PNG.
    """
    model_id = getattr(widget, "model_id", None)
    if not model_id:
        raise ValueError(f"expected a live ipywidgets widget with a model_id, got {type(widget).__name__}")
    return {
        "text/plain": f"{type(widget).__name__}(...) - run the notebook to use the widget",
        "image/png": base64.b64encode(png).decode("ascii"),
        WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": model_id},
    }


def show_widget(widget, picture: bytes | Callable[[], Figure]) -> None:
    """Display ``widget`` with a static picture as its fallback, in one output.

    ``picture`` is PNG bytes (e.g. ``LiveFigure.png``) or a function returning
    a Matplotlib figure of the widget's current state (closed after use).
    """
    from IPython.display import display

    if callable(picture):
        fig = picture()
        try:
            picture = figure_to_png(fig)
        finally:
            plt.close(fig)
    if not isinstance(picture, bytes) or not picture.startswith(b"\x89PNG"):
        raise ValueError("picture must be PNG bytes or a function returning a Matplotlib figure")
    display(mimebundle_with_picture(widget, picture), raw=True)


class LiveFigure:
    """A Matplotlib picture inside a widget: an ``ipywidgets.Image`` redrawn by :meth:`refresh`.

    ``draw`` returns a new figure of the current state each time it is called;
    widgets call :meth:`refresh` from their control callbacks. Rendering to PNG
    works the same in JupyterLab, Notebook 6/7 and Colab, needs no interactive
    Matplotlib backend, and lets tests compare :attr:`png` before and after.

    Example:
        >>> live = LiveFigure(lambda: plt.figure(figsize=(2, 2)))
        >>> live.png[:4]
        b'\x89PNG'
    """

    def __init__(self, draw: Callable[[], Figure]):
        import ipywidgets as widgets

        self._draw = draw
        self.image = widgets.Image(format="png")
        self.refresh()

    @property
    def png(self) -> bytes:
        return bytes(self.image.value)

    def refresh(self) -> None:
        fig = self._draw()
        try:
            self.image.value = figure_to_png(fig)
        finally:
            plt.close(fig)


def float_slider(description: str, value: float, low: float, high: float, step: float = 0.1):
    import ipywidgets as widgets

    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=False, readout_format=".2f", style={"description_width": "initial"},
    )

