"""The small preprocessors the course plugs into nbgrader.

Execution is in :mod:`~dlcourse.grading.split_execute`, hiding the hidden tests from the feedback in
:mod:`~dlcourse.grading.feedback`.

- :class:`StderrIsNotFailure` (autograde): a warning on stderr never costs points (GRADING_THREATS #20).
- :class:`SanitizeSubmission` (autograde and feedback): no HTML a submission wrote -- in a markdown cell, a
  raw cell or an output -- can run script where an instructor or a student opens the notebook or its page,
  and no link or picture it wrote points anywhere but http, https, mailto, an attachment or a relative address
  (:func:`neutralise_links`, GRADING_THREATS #54).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote

from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.filters.strings import strip_files_prefix
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


# ---------------------------------------------------------------- autograde: stderr
class StderrIsNotFailure(NbGraderPreprocessor):
    """Turn stderr output into stdout output, marked as such, so that warnings never cost points.

    nbgrader 0.9 gives a test cell zero points when it wrote anything to
    stderr, so a correct answer that merely triggers a library warning
    (PyTorch emits several) would score 0. The text stays visible in the
    feedback, prefixed with ``[stderr]``; only real errors cost points.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("x")
        >>> cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="careful\\n")]
        >>> StderrIsNotFailure().preprocess_cell(cell, {}, 0)[0].outputs[0]["text"]
        '[stderr] careful\\n'
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(f"[stderr] {line}" for line in output["text"].splitlines(True))
        return cell, resources


# ---------------------------------------------------------------- autograde and feedback: a submission's HTML
SAFE_TAGS = ("a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1",
             "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
             "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul")
"""HTML tags a markdown cell may use (no script, style, iframe, form, svg, object, ...)."""

SAFE_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"], "abbr": ["title"],
                   "td": ["align"], "th": ["align"]}
"""Attributes those tags may keep (no event handlers, no style); links only to http, https and mailto."""


SAFE_SCHEMES = frozenset({"http", "https", "mailto", "attachment"})
"""URL schemes a submission's links and pictures may use; relative addresses and ``#anchors`` have none."""

_URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "action", "formaction", "poster", "background", "cite",
                             "data", "xlink:href"})
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*(?=:)", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")  # what a browser strips from a URL or skips in it, and spaces
_FILES_PREFIX = re.compile(r"/?files/")  # nbconvert's ``strip_files_prefix`` removes it after rendering
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_DESTINATION = re.compile(r"""(?:\]\(|\]:|<|\b(?:href|src)[ \t]*=)[ \t]*(?:\r?\n[ \t>]*)?["'<]?""", re.IGNORECASE)
"""Where a URL can begin in markdown or HTML: an inline link or picture, a definition, an autolink, an attribute."""


def _is_unsafe_url(url: str) -> bool:
    """Whether ``url`` -- as written, or decoded as any renderer or browser might -- starts with a scheme
    outside :data:`SAFE_SCHEMES` (``files/`` prefixes skipped, as nbconvert drops them)."""
    stages, text = [url], url
    for _ in range(4):  # backslash escapes, HTML entities and percent-encoding, to a fixed point
        text = unquote(html.unescape(_BACKSLASH_ESCAPE.sub(r"\1", text)))
        if text == stages[-1]:
            break
        stages.append(text)
    for stage in stages:
        stage = _INVISIBLE.sub("", stage)
        while prefix := _FILES_PREFIX.match(stage):
            stage = stage[prefix.end():]
        scheme = _SCHEME.match(stage)
        if scheme and scheme.group().lower() not in SAFE_SCHEMES:
            return True
    return False


_LIVE_TAGS = frozenset({"script", "iframe", "frame", "frameset", "object", "embed", "svg", "math", "style", "link",
                        "meta", "base", "form", "input", "button", "textarea", "select", "template", "applet"})
"""Tags that may run script or take over the page; a rendering with one is not shown as markdown."""


class _UrlCollector(HTMLParser):
    """Collects every URL-valued attribute of an HTML text (values entity-decoded, as a browser reads them), and
    notes a tag of :data:`_LIVE_TAGS` or an event handler or ``style`` attribute anywhere (``live``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.live = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name.lower() in _URL_ATTRIBUTES]
        names = [name.lower() for name, _ in attrs]
        if tag.lower() in _LIVE_TAGS or any(name.startswith("on") or name == "style" for name in names):
            self.live = True

    handle_startendtag = handle_starttag


class _UnembeddedRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, leaving ``attachment:`` pictures as written (no attachments needed)."""

    def _embed_image_or_attachment(self, src: str) -> str:
        return src


def _renders_unsafe_url(text: str) -> bool:
    """Whether ``text``, read as HTML or rendered as markdown the way nbconvert's HTML exporter and nbgrader's
    feedback and Formgrader pages render it (mistune, then ``strip_files_prefix``), has an unsafe URL, an event
    handler or a live tag: bleach cleans the source, but markdown can split a tag the source kept whole (an
    attribute value open across a blank line, closed by the quotes mistune writes around a link)."""
    try:
        views = [text, MarkdownWithMath(renderer=_UnembeddedRenderer(escape=False)).render(text)]
    except Exception:  # noqa: BLE001 -- what cannot be checked is not shown as markdown
        return True
    for view in views:
        collector = _UrlCollector()
        collector.feed(strip_files_prefix(view))
        collector.close()
        if collector.live or any(_is_unsafe_url(url) for url in collector.urls):
            return True
    return False


def neutralise_links(text: str) -> str:
    """``text`` (markdown or HTML) with every link and picture to an unsafe scheme made a ``#`` anchor.

    A text whose rendering has no unsafe URL comes back unchanged. Otherwise every URL that could begin one
    (``](``, ``]:``, ``<``, ``href=``, ``src=``) and whose start decodes to a scheme outside
    :data:`SAFE_SCHEMES` gets a ``#`` in front: the link keeps its text and goes nowhere. If the rendering
    still has an unsafe URL, or has an event handler or a live tag (a parse this rewrite did not foresee), the
    whole text is shown as plain text.

    Example:
        >>> neutralise_links("[Figure 1](JaVaScRiPt:fetch(1)) and [notes](notes.html)")
        '[Figure 1](#JaVaScRiPt:fetch(1)) and [notes](notes.html)'
        >>> neutralise_links("$x^2$ and [a](https://example.org)")
        '$x^2$ and [a](https://example.org)'
    """
    if not _renders_unsafe_url(text):
        return text

    def defuse(match: re.Match[str]) -> str:
        unsafe = _is_unsafe_url(text[match.end():match.end() + 200])
        return match.group() + "#" if unsafe else match.group()

    rewritten = _DESTINATION.sub(defuse, text)
    if not _renders_unsafe_url(rewritten):
        return rewritten
    plain = f"<pre>{html.escape(text)}</pre>"
    return plain if not _renders_unsafe_url(plain) else "<p>(removed: a link that could not be made safe)</p>"


class SanitizeSubmission(SanitizeHTML):
    """Escape unsafe HTML in markdown and raw cells, drop unsafe outputs (nbconvert's ``SanitizeHTML``).

    A submission's markdown is the student's: a ``<script>`` or an ``onerror``
    attribute in it would run in the browser of whoever opens the autograded
    notebook (the Formgrader, served by the instructor's Jupyter) or the
    feedback page. Tags outside :data:`SAFE_TAGS` are shown as text; outputs
    keep text, pictures, LaTeX and JSON (the grader keeps only text and
    pictures already). Links and pictures -- markdown or HTML, in cells and in
    HTML or markdown outputs -- keep only safe schemes (:func:`neutralise_links`).

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_markdown_cell('Fine <sup>1</sup><script>alert(1)</script>')
        >>> nb, _ = SanitizeSubmission()(nbformat.v4.new_notebook(cells=[cell]), {})
        >>> nb.cells[0].source
        'Fine <sup>1</sup>&lt;script&gt;alert(1)&lt;/script&gt;'
        >>> cell = nbformat.v4.new_markdown_cell('[Figure 1](javascript:fetch(1))')
        >>> SanitizeSubmission()(nbformat.v4.new_notebook(cells=[cell]), {})[0].cells[0].source
        '[Figure 1](#javascript:fetch(1))'
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("tags", list(SAFE_TAGS))
        kwargs.setdefault("attributes", {tag: list(names) for tag, names in SAFE_ATTRIBUTES.items()})
        kwargs.setdefault("enabled", True)  # nbconvert's preprocessors are off unless enabled
        super().__init__(**kwargs)

    def sanitize_html_tags(self, html_str: str) -> str:
        """Bleach's cleaning (tags, attributes, http/https/mailto in HTML), then :func:`neutralise_links`."""
        return neutralise_links(super().sanitize_html_tags(html_str))
