"""The lecture slides: a reveal.js deck per lecture, ``slides/NN_topic.html``, from the same executed notebook.

A lecture gets a deck when its cells carry Jupyter's slideshow metadata (``metadata.slideshow.slide_type``:
``slide``, ``subslide``, ``fragment``, ``-`` (continue), ``skip``, ``notes``), which the author chooses cell by cell.
The deck shows the outputs of the site's own execution: the lecture's code cells are matched in MyST-NB's
jupyter-cache (keyed by the code), so making the slides executes nothing. nbconvert's ``SlidesExporter`` writes the
deck, with a template of its own that loads everything from the site itself:

- reveal.js from the npm registry, pinned by ``site/package.json`` and ``site/package-lock.json`` and installed by
  ``npm ci --prefix site`` (run here when ``site/node_modules`` is missing); its ``dist/`` and notes plugin are copied
  into the site's ``_static/reveal.js/``;
- MathJax 3 from the site's ``_static/mathjax/`` (the copy the pages use), never a CDN; no jQuery, RequireJS, Mermaid
  or widget script (nbconvert's reveal template loads those from CDNs).

On a slide, a code cell that draws a plot or is longer than :data:`MAX_CODE_LINES` shows its output only (the code is
in the notebook and on the lecture page); shorter code is shown with its output. A widget shows its static picture.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dlcourse.site.assets import COLAB_BADGE_URL

SLIDE_TYPES = frozenset({"slide", "subslide", "fragment", "-", "skip", "notes"})
"""The values of ``metadata.slideshow.slide_type`` that Jupyter and nbconvert know."""

MAX_CODE_LINES = 16
"""A code cell longer than this shows only its output on a slide."""

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
REVEAL_PACKAGE = Path("site")
"""The folder, relative to the repository, whose ``package.json`` pins reveal.js."""
REVEAL_STATIC = "_static/reveal.js"
"""Where reveal.js goes in the site."""
REVEAL_FILES = ["dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme", "plugin/notes/notes.js",
                "LICENSE"]
"""What the decks use of the npm package (no source maps, no ES modules, no plugin that loads from a CDN)."""


class SlidesError(RuntimeError):
    """The slides could not be made: reveal.js is not installed, or a lecture has no executed copy in the cache."""


@dataclass(frozen=True)
class Deck:
    """A written deck: its lecture, its path in the site and its number of slides (horizontal and vertical)."""

    lecture: str
    path: str
    slides: int


def slide_type(cell: nbformat.NotebookNode) -> str | None:
    """A cell's ``slideshow.slide_type``, or None when it has none.

    Example:
        >>> slide_type(nbformat.v4.new_markdown_cell("# A", metadata={"slideshow": {"slide_type": "slide"}}))
        'slide'
    """
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def has_slides(notebook: nbformat.NotebookNode) -> bool:
    """True when the notebook's author chose slides for it (at least one cell starts a slide or sub-slide).

    Example:
        >>> has_slides(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A")]))
        False
    """
    return any(slide_type(cell) in ("slide", "subslide") for cell in notebook.cells)


def deck_path(lecture_name: str) -> str:
    """Where a lecture's deck goes in the site.

    Example:
        >>> deck_path("06_backprop.ipynb")
        'slides/06_backprop.html'
    """
    return f"slides/{Path(lecture_name).stem}.html"


def count_slides(notebook: nbformat.NotebookNode) -> int:
    """The number of slides a deck of this notebook has: every ``slide`` and ``subslide`` cell starts one
    (a first cell that is neither still opens the first slide).

    Example:
        >>> cells = [nbformat.v4.new_markdown_cell(s, metadata={"slideshow": {"slide_type": t}})
        ...          for s, t in (("# A", "slide"), ("b", "subslide"), ("c", "fragment"), ("d", "slide"))]
        >>> count_slides(nbformat.v4.new_notebook(cells=cells))
        3
    """
    starts = [cell for cell in notebook.cells if slide_type(cell) in ("slide", "subslide")]
    shown = [cell for cell in notebook.cells if slide_type(cell) not in ("skip", "notes")]
    opens_with_a_start = bool(shown) and slide_type(shown[0]) in ("slide", "subslide")
    return len(starts) + (0 if opens_with_a_start or not shown else 1)


def install_reveal(root: Path) -> Path:
    """The installed reveal.js package of ``root/site``; runs ``npm ci --prefix site`` when it is missing."""
    package = root / REVEAL_PACKAGE
    installed = package / "node_modules" / "reveal.js"
    if not (installed / "dist" / "reveal.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SlidesError("the slides need reveal.js from npm, and npm is missing: apt-get install npm, "
                              f"then npm ci --prefix {REVEAL_PACKAGE}")
        done = subprocess.run([npm, "ci", "--prefix", str(package), "--no-audit", "--no-fund"],
                              capture_output=True, text=True)
        if done.returncode != 0 or not (installed / "dist" / "reveal.js").is_file():
            raise SlidesError(f"npm ci --prefix {REVEAL_PACKAGE} failed (exit {done.returncode}):\n"
                              f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return installed


def _copy_if_changed(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if target.is_file() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def copy_reveal(installed: Path, out: Path) -> None:
    """Copy what the decks use of reveal.js into ``out/_static/reveal.js`` (unchanged files are left alone)."""
    for name in REVEAL_FILES:
        source = installed / name
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for file in files:
            if not file.name.endswith(".map"):
                _copy_if_changed(file, out / REVEAL_STATIC / file.relative_to(installed))


def executed_lecture(notebook: nbformat.NotebookNode, cache_path: Path, name: str) -> nbformat.NotebookNode:
    """The lecture with the outputs of its cached execution (the site's build made it; nothing runs here)."""
    from jupyter_cache import get_cache

    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(notebook)
    except KeyError as error:
        raise SlidesError(f"{name}: no executed copy in the execution cache {cache_path} "
                          "(the site's build executes the lectures first)") from error
    return merged


NOTEBOOK_LINK = re.compile(r"\]\((?![a-z]+:|#|/)([^)#\s]+)\.ipynb(?:#[^)\s]*)?\)")


def link_pages(markdown: str) -> str:
    """Point a lecture's links to other notebooks at their pages on the site, from the deck's folder ``slides/``
    (the pages' heading anchors differ from the notebook's, so the link opens the page at its top).

    Example:
        >>> link_pages("see [the playground](08_pytorch_mlp.ipynb#11.-Explore) and [hw](../assignments/a/a.ipynb)")
        'see [the playground](../notebooks/08_pytorch_mlp.html) and [hw](../assignments/a/a.html)'
    """
    return NOTEBOOK_LINK.sub(lambda m: f"]({m.group(1) if '/' in m.group(1) else '../notebooks/' + m.group(1)}.html)",
                             markdown)


def slide_notebook(notebook: nbformat.NotebookNode, lecture_page: str) -> nbformat.NotebookNode:
    """The notebook as the deck shows it: long or plotting code cells show their output only, widgets their picture,
    the Colab badge a local picture with a link back to the lecture page, links to notebooks lead to their pages;
    the widgets' saved state is dropped."""
    deck = nbformat.from_dict(notebook)
    deck.metadata.pop("widgets", None)
    for cell in deck.cells:
        if cell.cell_type == "markdown":
            cell.source = link_pages(cell.source)
        if cell.cell_type == "markdown" and COLAB_BADGE_URL in cell.source:
            cell.source = cell.source.replace(COLAB_BADGE_URL, "../_static/colab-badge.svg")
            cell.source += f'\n\n<a href="../{lecture_page}">The lecture, with all its code</a>'
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
        draws = any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
        if draws or len(cell.source.splitlines()) > MAX_CODE_LINES:
            cell.metadata.setdefault("transient", {})["remove_source"] = True
    return deck


TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true},
  startup: {
    pageReady: function () {  // typeset every slide, then let reveal.js measure them again
      return MathJax.startup.defaultPageReady().then(function () {
        if (window.Reveal && Reveal.isReady()) { Reveal.layout(); }
      });
    }
  }
};
</script>
<script src="{{ resources.mathjax_url }}" defer></script>
<style type="text/css">
:root { --jp-ui-font-size1: 18px; --jp-content-font-size1: 18px; --jp-code-font-size: 15px; }
.reveal .slides > section, .reveal .slides > section > section { height: 100%; overflow-y: auto; }
.reveal .slides section .jp-OutputArea-output img { max-height: 520px; width: auto; }
.reveal table { font-size: 0.8em; }
/* the theme's capitals would change the math ($p - y$ drawn as P − Y); its stylesheet comes after this one */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3, .reveal .slides h4 { text-transform: none !important; }
</style>
{%- endblock html_head_js_mathjax -%}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true, progress: true, history: true, center: false, slideNumber: "c/t",
  transition: "{{ resources.reveal.transition | default('slide', true) }}",
  width: 1100, height: 760, plugins: [RevealNotes]
});
</script>
{% endblock footer_js %}
"""


def export_deck(notebook: nbformat.NotebookNode) -> str:
    """The deck's HTML: nbconvert's reveal template, with reveal.js and MathJax served by the site itself."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(extra_loaders=[DictLoader({"dlcourse_slides.html.j2": TEMPLATE})],
                              template_file="dlcourse_slides.html.j2", reveal_url_prefix=f"../{REVEAL_STATIC}",
                              reveal_theme="white", reveal_transition="none",
                              exclude_input_prompt=True, exclude_output_prompt=True,
                              mathjax_url="../_static/mathjax/tex-chtml.js")
    html, _ = exporter.from_notebook_node(notebook)
    return html


def build_slides(root: Path, lectures: list[Path], out: Path, cache_path: Path) -> list[Deck]:
    """Write a deck for every lecture with slide metadata into ``out/slides/``; copy reveal.js when there is one.

    A deck is rewritten only when its HTML changes; decks of lectures that lost their metadata are removed.
    """
    decks = []
    for path in lectures:
        notebook = nbformat.read(path, as_version=4)
        if not has_slides(notebook):
            continue
        executed = executed_lecture(notebook, cache_path, path.name)
        html = export_deck(slide_notebook(executed, f"notebooks/{path.stem}.html"))
        target = out / deck_path(path.name)
        data = html.encode("utf-8")
        if not (target.is_file() and target.read_bytes() == data):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        decks.append(Deck(f"notebooks/{path.name}", deck_path(path.name), count_slides(notebook)))
    if decks:
        copy_reveal(install_reveal(root), out)
    wanted = {out / deck.path for deck in decks}
    for stale in (out / "slides").glob("*.html") if (out / "slides").is_dir() else []:
        if stale not in wanted:
            stale.unlink()
    return decks
