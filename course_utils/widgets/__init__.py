"""Interactive widgets for the lectures, built from core ipywidgets only (they work in Colab).

Each widget lives in its own module and has one shape, :class:`LiveWidget`:
the logic behind it is a plain class that tests drive without a browser and
whose ``figure()`` draws its state; the widget holds that ``logic``, its live
picture ``live``, the control box ``box``, and ``show()``, which displays the
box together with a static picture for viewers that cannot run widgets. The
maths the widgets share (a stable ``sigmoid`` and friends) is in
:mod:`course_utils.widgets.maths`.

Example:
    >>> from course_utils.widgets.softmax import softmax_explorer
    >>> w = softmax_explorer(logits=(5.0, 4.0, 2.0))
    >>> isinstance(w, LiveWidget), w.live.image in w.box.children
    (True, True)
    >>> w.show()  # doctest: +SKIP
"""

from course_utils.widgets.core import (
    LiveFigure,
    LiveWidget,
    PictureSource,
    figure_to_png,
    float_slider,
    mimebundle_with_picture,
    show_widget,
)

__all__ = [
    "LiveFigure", "LiveWidget", "PictureSource", "figure_to_png", "float_slider", "mimebundle_with_picture",
    "show_widget",
]
