"""The lectures' slide metadata stays valid without building anything (the hygiene of the slides).

A lecture with slide metadata (any cell marked ``slide`` or ``sub-slide``) is a deck that a lecturer presents: every
``slide_type`` is one Jupyter knows, the title cell opens the first slide, the deck has 15 to 40 slides, the setup
cell never shows, and a slide never begins with a code cell whose code the deck hides and that draws nothing.
The pinned reveal.js is declared with its lock file.
"""

import json

import nbformat
import pytest

from dlcourse.layout import SETUP_CELL_INDEX
from dlcourse.site.slides import MAX_CODE_LINES, SLIDE_TYPES, count_slides, has_slides, slide_type
from tests.conftest import LECTURES, ROOT, rel

MIN_SLIDES, MAX_SLIDES = 15, 40


@pytest.mark.parametrize("path", LECTURES, ids=rel)
def test_slide_metadata_is_valid(path):
    nb = nbformat.read(path, as_version=4)
    unknown = {index: slide_type(cell) for index, cell in enumerate(nb.cells)
               if "slideshow" in cell.metadata and slide_type(cell) not in SLIDE_TYPES}
    assert not unknown, f"unknown slide_type (cell: value), expected one of {sorted(SLIDE_TYPES)}: {unknown}"
    for index, cell in enumerate(nb.cells):
        assert "transient" not in cell.metadata, f"cell {index}: transient metadata is the exporter's, not stored"
    if not has_slides(nb):
        return
    assert slide_type(nb.cells[0]) == "slide", "the title cell opens the deck: mark it 'slide'"
    assert slide_type(nb.cells[SETUP_CELL_INDEX]) == "skip", "the setup cell is no slide: mark it 'skip'"
    slides = count_slides(nb)
    assert MIN_SLIDES <= slides <= MAX_SLIDES, f"{slides} slides: a lecture's deck has {MIN_SLIDES} to {MAX_SLIDES}"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and slide_type(cell) in ("slide", "subslide"):
            assert len(cell.source.splitlines()) <= MAX_CODE_LINES or "plt" in cell.source or "fig" in cell.source, \
                f"cell {index} starts a slide with code the deck hides (over {MAX_CODE_LINES} lines)"


def test_reveal_js_is_pinned_with_a_lock_file():
    package = json.loads((ROOT / "site" / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "site" / "package-lock.json").read_text(encoding="utf-8"))
    version = package["dependencies"]["reveal.js"]
    assert version[0].isdigit(), f"reveal.js is pinned to one version, not a range: {version}"
    assert lock["packages"]["node_modules/reveal.js"]["version"] == version
