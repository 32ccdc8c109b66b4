"""Can the course run here? ``python -m course_utils`` prints the versions, the device, widgets and MNIST.

The first thing a student runs (the instructor's ``dlcourse doctor`` prints the
same and adds the grading tools). Works on Linux, macOS and Windows.

Example:
    >>> report = check_environment()
    >>> report.rows[0][0]
    'Python'
"""

from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass, field

REQUIRED = ("numpy", "matplotlib", "torch", "torchvision", "sklearn")


@dataclass
class Report:
    """Rows of (what, finding) and the problems that stop the course from running."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)

    def render(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        lines = [f"{name:<{width}}  {value}" for name, value in self.rows]
        if self.fatal:
            lines.append("\nThe course cannot run here:\n" + "\n".join(f"  - {line}" for line in self.fatal))
        else:
            lines.append("\nThe course can run here.")
        return "\n".join(lines)


def installed_version(module_name: str) -> str | None:
    """The module's ``__version__`` (``"installed"`` if it has none), or ``None`` if it cannot be imported."""
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return getattr(module, "__version__", "installed")


def check_environment() -> Report:
    """What the course will use here: Python, the libraries, the device, MNIST and widgets."""
    report = Report(rows=[("Python", f"{platform.python_version()} ({sys.executable})")])
    for name in REQUIRED:
        version = installed_version(name)
        report.rows.append((name, version or "MISSING"))
        if version is None:
            report.fatal.append(f"{name} is not installed: pip install -e .")
    if installed_version("torch") is not None:
        from course_utils.data import mnist_status
        from course_utils.device import choose_device, device_info

        try:
            device, why = choose_device()
            report.rows.append(("device", f"{device_info(device)} - {why}"))
        except ValueError as error:
            report.rows.append(("device", f"ERROR: {error}"))
            report.fatal.append(str(error))
        report.rows.append(("MNIST", {
            "present": "present on disk",
            "downloadable": "not on disk; will be downloaded on first use",
            "fallback": "not available offline: lecture 08 uses scikit-learn's bundled digits",
        }[mnist_status()]))
    widgets = installed_version("ipywidgets")
    report.rows.append(("ipywidgets", f"{widgets} (widgets will render)" if widgets
                        else "MISSING: widgets show static pictures only"))
    return report


def main() -> int:
    """Print the report; exit status 1 if the course cannot run here."""
    report = check_environment()
    print(report.render())
    return 1 if report.fatal else 0
