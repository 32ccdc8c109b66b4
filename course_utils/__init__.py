"""course_utils: the plumbing of the deep-learning course.

Devices, reproducibility, data, plotting, widgets, Colab setup and the checks
used by test cells. The ideas each lecture teaches live in the notebooks, not
here. Public names are imported lazily, so ``import course_utils`` is fast and
does not import torch until a torch-based helper is used.

Example:
    >>> from course_utils import assert_close, make_xor
    >>> X, y = make_xor(8, noise=0.0)
    >>> assert_close(X.mean(), 0.5, "mean of the XOR corners")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "course_utils.checks": ["CheckError", "assert_close", "assert_equal", "assert_finite", "assert_shape"],
    "course_utils.colab": ["colab_badge", "in_colab", "setup_notebook"],
    "course_utils.data": [
        "ImageData", "boolean_points", "data_dir", "load_digits_data", "load_mnist",
        "make_circles", "make_moons", "make_spirals", "make_xor",
    ],
    "course_utils.device": ["available_devices", "device_info", "get_device", "to_device"],
    "course_utils.plotting": [
        "plot_decision_boundary", "plot_function_and_derivative", "plot_training_curves",
        "plot_truth_table", "use_course_style",
    ],
    "course_utils.reproducibility": ["seed_everything"],
    "course_utils.widgets": ["show_widget"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
