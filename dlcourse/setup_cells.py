"""``dlcourse sync-setup``: make every lecture's and assignment source's setup cell the current one."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from course_utils import colab
from dlcourse.layout import SETUP_CELL_INDEX, course_notebooks


def sync_setup(root: Path) -> int:
    """Rewrite cell 3 of every hand-written notebook from :func:`course_utils.colab.setup_cell_source`."""
    source = colab.setup_cell_source()
    changed = 0
    for path in course_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[SETUP_CELL_INDEX] if len(nb.cells) > SETUP_CELL_INDEX else None
        if cell is None or cell.cell_type != "code":
            print(f"{path}: cell {SETUP_CELL_INDEX + 1} is not a code cell; fix it by hand", file=sys.stderr)
            continue
        if cell.source != source:
            cell.source = source
            nbformat.write(nb, str(path))
            changed += 1
            print(f"updated {path}")
    print(f"{changed} notebook(s) updated; run `dlcourse release` to refresh the student versions" if changed
          else "every setup cell is current")
    return 0
