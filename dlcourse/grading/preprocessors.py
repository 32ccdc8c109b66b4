"""The small preprocessors the course plugs into nbgrader.

Execution is in :mod:`~dlcourse.grading.split_execute`, hiding the hidden tests from the feedback in
:mod:`~dlcourse.grading.feedback`.

- :class:`StderrIsNotFailure` (autograde): a warning on stderr never costs points (GRADING_THREATS #20).
- :class:`SanitizeSubmission` (autograde and feedback): no HTML a submission wrote -- in a markdown cell, a
  raw cell or an output -- can run script where an instructor or a student opens the notebook or its page.
"""

from __future__ import annotations

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


class SanitizeSubmission(SanitizeHTML):
    """Escape unsafe HTML in markdown and raw cells, drop unsafe outputs (nbconvert's ``SanitizeHTML``).

    A submission's markdown is the student's: a ``<script>`` or an ``onerror``
    attribute in it would run in the browser of whoever opens the autograded
    notebook (the Formgrader, served by the instructor's Jupyter) or the
    feedback page. Tags outside :data:`SAFE_TAGS` are shown as text; outputs
    keep text, pictures, LaTeX and JSON (the grader keeps only text and
    pictures already).

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_markdown_cell('Fine <sup>1</sup><script>alert(1)</script>')
        >>> nb, _ = SanitizeSubmission()(nbformat.v4.new_notebook(cells=[cell]), {})
        >>> nb.cells[0].source
        'Fine <sup>1</sup>&lt;script&gt;alert(1)&lt;/script&gt;'
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("tags", list(SAFE_TAGS))
        kwargs.setdefault("attributes", {tag: list(names) for tag, names in SAFE_ATTRIBUTES.items()})
        kwargs.setdefault("enabled", True)  # nbconvert's preprocessors are off unless enabled
        super().__init__(**kwargs)
