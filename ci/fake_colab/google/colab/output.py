"""Stand-in for ``google.colab.output``: records that the widget manager was enabled."""

import os
from pathlib import Path


def enable_custom_widget_manager():
    marker = os.environ.get("FAKE_COLAB_MARKER")
    if marker:
        Path(marker).write_text("enable_custom_widget_manager called\n")
