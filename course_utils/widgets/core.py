"""The one shape of every widget, and displaying a widget together with a static picture of it.

Every widget of the course is a :class:`LiveWidget`: a plain logic object
(tests drive it without a browser) whose ``figure()`` draws its current state,
the live picture of it (a :class:`LiveFigure`), the control box around that
picture, and ``show()``. ``show()`` displays one output holding both the live
widget and a PNG of it, so JupyterLab, Notebook and Colab show the widget
while GitHub and other viewers without a widget frontend show the picture.

Works with ipywidgets 7.7 (Colab) and 8.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = [
    "LiveFigure", "LiveWidget", "PictureSource", "figure_to_png", "float_slider", "mimebundle_with_picture",
    "show_widget",
]

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
    a Matplotlib figure of the widget's current state (closed after use). For a
    :class:`LiveWidget` ``w``, ``show_widget(w.box, w.live.png)`` is what ``w.show()`` does.

    Example:
        >>> show_widget(float_slider("w", 0.0, -1.0, 1.0), lambda: plt.figure(figsize=(1, 1)))  # doctest: +SKIP
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

    ``figure`` returns a new figure of the current state each time it is called
    (a logic object's ``figure`` method); widgets call :meth:`refresh` from
    their control callbacks. Rendering to PNG
    works the same in JupyterLab, Notebook 6/7 and Colab, needs no interactive
    Matplotlib backend, and lets tests compare :attr:`png` before and after.

    Example:
        >>> live = LiveFigure(lambda: plt.figure(figsize=(2, 2)))
        >>> live.png[:4]
        b'\x89PNG'
    """

    def __init__(self, figure: Callable[[], Figure]):
        import ipywidgets as widgets

        if not callable(figure):
            raise TypeError(f"expected a function returning a Matplotlib figure, got {type(figure).__name__}")
        self._figure = figure
        self.image = widgets.Image(format="png")
        self.refresh()

    @property
    def png(self) -> bytes:
        return bytes(self.image.value)

    def refresh(self) -> None:
        fig = self._figure()
        try:
            self.image.value = figure_to_png(fig)
        finally:
            plt.close(fig)


def float_slider(description: str, value: float, low: float, high: float, step: float = 0.1):
    """A ``FloatSlider`` that reports only when released, with two decimals and a readable description.

    Example:
        >>> float_slider("w", 0.5, -1.0, 1.0).value
        0.5
    """
    import ipywidgets as widgets

    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=False, readout_format=".2f", style={"description_width": "initial"},
    )


class PictureSource(Protocol):
    """The logic object behind a widget: ``figure()`` returns a new Matplotlib figure of its current state."""

    def figure(self) -> Figure: ...


class LiveWidget:
    """The one shape of every widget: a logic object, its live picture, the control box and :meth:`show`.

    Attributes:
        logic: the plain object behind the widget, which tests drive without a
            browser; its ``figure()`` returns a new Matplotlib figure of its
            current state (each widget also names it: ``trainer``, ``explorer``...).
        live: a :class:`LiveFigure` of ``logic.figure()``, redrawn by :meth:`refresh`.
        box: the ``ipywidgets.VBox`` to display: the controls and ``live.image``.

    A widget class calls ``super().__init__(logic)`` (which makes ``live``),
    builds its controls and finishes with ``self._arrange(rows)``; its control
    callbacks change ``logic`` and call :meth:`refresh`. A widget with a status
    line overrides :meth:`_update_status`.

    Example:
        >>> class Line:                       # the logic: plain Python, no widgets
        ...     slope = 1.0
        ...     def figure(self):
        ...         fig, ax = plt.subplots(figsize=(2, 2))
        ...         ax.plot([0, 1], [0, self.slope])
        ...         return fig
        >>> class LineWidget(LiveWidget):
        ...     def __init__(self):
        ...         super().__init__(Line())
        ...         self.slope_slider = float_slider("slope", 1.0, -2.0, 2.0)
        ...         self.slope_slider.observe(self._on_slope, names="value")
        ...         self._arrange([self.slope_slider, self.live.image])
        ...     def _on_slope(self, change):
        ...         self.logic.slope = change["new"]
        ...         self.refresh()
        >>> w = LineWidget()
        >>> before = w.live.png
        >>> w.slope_slider.value = -1.0       # what moving the slider does
        >>> w.live.png != before
        True
        >>> w.show()                          # doctest: +SKIP
    """

    logic: PictureSource
    live: LiveFigure
    box: Any  # an ipywidgets.VBox, made by _arrange

    def __init__(self, logic: PictureSource):
        if not callable(getattr(logic, "figure", None)):
            raise TypeError(f"expected a logic object with a figure() method, got {type(logic).__name__}")
        self.logic = logic
        self.live = LiveFigure(logic.figure)

    def _arrange(self, rows: Sequence[Any]) -> None:
        """Make :attr:`box`: ``rows`` from top to bottom, the live picture ``self.live.image`` among them."""
        import ipywidgets as widgets

        rows = list(rows)
        if not any(row is self.live.image for row in rows):
            raise ValueError("the rows of a widget's box must include its live picture, self.live.image")
        self.box = widgets.VBox(rows)

    def _update_status(self) -> None:
        """Rewrite the widget's text from ``logic``; widgets with a status line override this."""

    def refresh(self) -> None:
        """Bring the status line and the live picture up to date with ``logic``."""
        self._update_status()
        self.live.refresh()

    def show(self) -> None:
        """Display the widget, with a static picture of its current state for viewers that cannot run widgets."""
        show_widget(self.box, self.live.png)
