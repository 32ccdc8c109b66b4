"""The Sphinx configuration of the course site (the ``conf.py`` that ``dlcourse site`` writes imports it).

- MyST-NB reads the notebooks and executes the lectures with ``nb_execution_mode = "cache"``: jupyter-cache keeps
  each executed notebook under the build folder, keyed by its code cells, so a rebuild re-executes only a lecture
  whose code changed. The student versions are shown as released, not executed (their copies say so in their metadata).
- Furo, a theme that loads no font or script from the internet; MathJax 3 served from the site itself (the copy
  the ``sphinx-mathjax-offline`` package bundles), never from a CDN.
- A widget's output holds the live widget and its static picture: the site renders the picture (the widget view
  is dropped for HTML, and neither the widgets' saved state nor an ipywidgets script goes into the page).
- Each lecture page says how long its execution took (MyST-NB's execution data); each assignment page says it is
  the student version.

The build passes ``nb_execution_cache_path`` on the command line (``-D``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = [  # what conf.py takes: the settings, not the helpers
    "project",
    "author",
    "copyright",
    "language",
    "extensions",
    "exclude_patterns",
    "master_doc",
    "html_theme",
    "html_title",
    "html_static_path",
    "html_css_files",
    "html_copy_source",
    "html_show_sourcelink",
    "html_last_updated_fmt",
    "mathjax_path",
    "myst_enable_extensions",
    "myst_heading_anchors",
    "myst_heading_slug_func",
    "nb_execution_mode",
    "nb_execution_timeout",
    "nb_execution_raise_on_error",
    "nb_output_stderr",
    "nb_merge_streams",
    "nb_ipywidgets_js",
    "nb_mime_priority_overrides",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def mathjax_static_folder() -> str:
    """The folder holding ``mathjax/`` in the ``sphinx-mathjax-offline`` package (added to the static path)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the site needs MathJax from sphinx-mathjax-offline: "
                                  "pip install -e './dlcourse[site]'")
    return str(Path(spec.origin).parent / "static")


project = "Deep learning from the neuron up"
author = "The course's authors"
copyright = "the course's authors, MIT license"
language = "en"
extensions = ["myst_nb"]
exclude_patterns = ["_files/**", "**/.ipynb_checkpoints"]
master_doc = "index"

html_theme = "furo"
html_title = project
html_static_path = ["_static", mathjax_static_folder()]
html_css_files = ["site.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
mathjax_path = "mathjax/tex-chtml.js"

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_heading_slug_func = "dlcourse.site.config.jupyter_slug"

nb_execution_mode = "cache"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_output_stderr = "warn"
nb_merge_streams = True
nb_ipywidgets_js: dict = {}
nb_mime_priority_overrides = [("html", WIDGET_VIEW, None), ("dirhtml", WIDGET_VIEW, None)]


def jupyter_slug(heading: str) -> str:
    """A heading's anchor as Jupyter makes it, which the lectures' links use: spaces become hyphens.

    Example:
        >>> jupyter_slug("11. Explore: a playground")
        '11.-Explore:-a-playground'
    """
    return "-".join(heading.split(" "))


def runtime_note(app, doctree, docname: str) -> None:
    """Put a line under a page's title: how long its notebook ran, or that it is a student version."""
    from docutils import nodes
    from myst_nb.sphinx_ import NbMetadataCollector

    if docname.startswith("assignments/"):
        text = ("The student version, as released (not executed here): open it in Colab or download it, "
                "then fill in the cells marked YOUR CODE HERE.")
    else:
        try:
            data = NbMetadataCollector.get_exec_data(app.env, docname)
        except KeyError:
            data = None
        if not data or data.get("runtime") is None:
            return
        text = f"Executed top to bottom in {data['runtime']:.1f} s; the outputs below come from that run."
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    note = nodes.paragraph(text=text, classes=["nb-runtime"])
    position = 1 if section.children and isinstance(section.children[0], nodes.title) else 0
    section.insert(position, note)


def drop_widget_state(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Leave the executed widgets' saved state out of the page: no script here renders it (the page shows each
    widget's picture), and it can weigh more than the page. Runs before MyST-NB adds it to the page."""
    from myst_nb.sphinx_ import NbMetadataCollector

    try:
        NbMetadataCollector.get_js_files(app.env, pagename).pop("ipywidgets_state", None)
    except KeyError:
        pass  # not a notebook page


def setup(app) -> dict:
    """Sphinx's hook: add the run-time line to every notebook page, leave the widgets' state out."""
    app.connect("doctree-resolved", runtime_note)
    app.connect("html-page-context", drop_widget_state, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
