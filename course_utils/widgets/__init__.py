"""Interactive widgets for the lectures, built from core ipywidgets only (they work in Colab).

Each widget lives in its own module; the logic behind it is a plain class that
tests drive without a browser, and :func:`show_widget` displays it together
with a static picture for viewers that cannot run widgets.
"""

from course_utils.widgets.core import LiveFigure, figure_to_png, float_slider, mimebundle_with_picture, show_widget

__all__ = ["LiveFigure", "figure_to_png", "float_slider", "mimebundle_with_picture", "show_widget"]
