"""The small preprocessors the course plugs into nbgrader (execution is in :mod:`~dlcourse.grading.split_execute`).

- :class:`StderrIsNotFailure` (autograde): a warning on stderr never costs points (GRADING_THREATS #20).
- :class:`HideHiddenTests` (feedback): the feedback shows neither the hidden tests nor their tracebacks
  (nbgrader issues #917, #1363).
- :class:`SanitizeSubmission` (autograde and feedback): no HTML a submission wrote -- in a markdown cell, a
  raw cell or an output -- can run script where an instructor or a student opens the notebook or its page.
"""

from __future__ import annotations

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests: not shown in the feedback)"


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


# ---------------------------------------------------------------- feedback: hidden tests
def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def strip_hidden_region(source: str) -> tuple[str, bool]:
    """``source`` with every ``### BEGIN/END HIDDEN TESTS`` region replaced by one comment; and whether it had one.

    An unterminated region hides everything to the end of the cell.

    Example:
        >>> strip_hidden_region("a = 1\\n### BEGIN HIDDEN TESTS\\nassert f(3) == 9\\n### END HIDDEN TESTS\\n")
        ('a = 1\\n# (hidden tests: not shown in the feedback)\\n', True)
    """
    kept: list[str] = []
    hiding = found = False
    for line in source.splitlines(True):
        if HIDDEN_BEGIN in line:
            if not hiding:
                kept.append(HIDDEN_NOTE + "\n")
            hiding = found = True
        elif HIDDEN_END in line:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "".join(kept), found


class HideHiddenTests(NbGraderPreprocessor):
    """In the feedback, remove hidden tests from test cells and the tracebacks that would quote them.

    nbgrader restores the hidden tests before autograding and leaves them, and
    the tracebacks of their failures, in the feedback (issues #917, #1363). For
    a cell with hidden tests this keeps the visible part of its source and, of
    its output, only the error name and message -- the message the course's
    checks write for students. ``show_messages = False`` hides those too.

    Every test cell's traceback is cut to its last line, the error name and
    message: a traceback quotes the code of each frame, and a visible test can
    run code of a hidden one (a helper it defined, a callback it handed out).

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\\nassert f(2) == 4, 'f(2)'\\n### END HIDDEN TESTS")
        >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
        >>> cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="f(2)",
        ...                                        traceback=["  assert f(2) == 4", "AssertionError: f(2)"])]
        >>> cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
        >>> cell.source, cell.outputs[0]["traceback"]
        ('# (hidden tests: not shown in the feedback)\\n', ['AssertionError: f(2)'])
    """

    show_messages = Bool(True, help="show the error message of a failed hidden test (not its code)").tag(
        config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if not _is_test_cell(cell):
            return cell, resources
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        source, hidden = strip_hidden_region(cell.source)
        if not hidden:
            return cell, resources
        cell.source = source
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue  # what a hidden test prints may quote its inputs and expected values
            message = output.get("evalue", "") if self.show_messages else "a hidden test failed"
            output["evalue"] = message
            output["traceback"] = [f"{output.get('ename', 'Error')}: {message}"]
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources


# ---------------------------------------------------------------- autograde and feedback: a submission's HTML
SAFE_TAGS = ["a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1",
             "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
             "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul"]
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
        kwargs.setdefault("tags", SAFE_TAGS)
        kwargs.setdefault("attributes", SAFE_ATTRIBUTES)
        kwargs.setdefault("enabled", True)  # nbconvert's preprocessors are off unless enabled
        super().__init__(**kwargs)
