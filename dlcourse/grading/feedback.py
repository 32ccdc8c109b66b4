"""What a feedback page may show of the tests: hidden tests stay hidden, and a scan checks that they did.

nbgrader puts the hidden tests back before autograding and leaves them, and the
tracebacks of their failures, in the feedback (issues #917, #1363).
:class:`HideHiddenTests` (a feedback preprocessor) removes them; then the
worker checks the result: :func:`secret_lines` are the lines of the source's
hidden tests, and :func:`leaked_lines` those of them that the feedback's test
cells -- the only part of the page the grader writes -- would still show
(:func:`feedback_view`). A page that shows one is withheld.

Example:
    >>> strip_hidden_region("x = 1\\n### BEGIN HIDDEN TESTS\\nassert f(3) == 27\\n### END HIDDEN TESTS")[0]
    'x = 1\\n# (hidden tests: not shown in the feedback)\\n'
"""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

from dlcourse.cells import is_test_cell

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests: not shown in the feedback)"


# ---------------------------------------------------------------- the feedback preprocessor
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
        if not is_test_cell(cell):
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


# ---------------------------------------------------------------- the leak scan
class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(page: str) -> str:
    """The visible text of an HTML page (code included), with entities decoded.

    Example:
        >>> html_text('<p>a &lt; b</p><style>x{}</style>')
        'a < b'
    """
    parser = _TextOfHtml()
    parser.feed(page)
    return html.unescape("".join(parser.parts))


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_PREFIX = re.compile(r"^\s*(-*>\s*)?\d+\s")


def _normal(line: str) -> str:
    """A line as compared by the leak scan: no colour codes, no traceback line number, spaces collapsed."""
    line = _TRACEBACK_PREFIX.sub("", _ANSI.sub("", line))
    return re.sub(r"\s+", " ", line).strip()


def secret_lines(source_nb: Any) -> set[str]:
    """Lines of the source's hidden tests that appear nowhere else in the source (normalised, 16+ characters).

    A feedback page that contains one of them shows a hidden test.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\\nassert f(3) == 27\\n### END HIDDEN TESTS")
        >>> secret_lines(nbformat.v4.new_notebook(cells=[cell]))
        {'assert f(3) == 27'}
    """
    hidden, visible = set(), set()
    for cell in source_nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if HIDDEN_BEGIN in line:
                inside = True
            elif HIDDEN_END in line:
                inside = False
            elif inside:
                hidden.add(_normal(line))
        visible.update(_normal(line) for line in strip_hidden_region(cell.source)[0].splitlines())
    return {line for line in hidden - visible if len(line) >= 16}


def leaked_lines(feedback: Any, secrets: set[str]) -> list[str]:
    """The secret lines the feedback would show in its test cells (the part of the page the grader writes).

    ``feedback`` is the autograded notebook after :class:`HideHiddenTests`.
    The student's own cells are not scanned: a line of their code that happens
    to equal a line of a hidden test is their code, not a leak.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("assert f(3) == 27, 'cube'")
        >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
        >>> leaked_lines(nbformat.v4.new_notebook(cells=[cell]), {"assert f(3) == 27, 'cube'"})
        ["assert f(3) == 27, 'cube'"]
    """
    text: set[str] = set()
    for cell in feedback.cells:
        if not is_test_cell(cell):
            continue
        parts = [cell.source]
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            parts += [value for value in output.get("data", {}).values() if isinstance(value, str)]
        for part in parts:
            text.update(_normal(line) for line in html.unescape(str(part)).splitlines())
    return sorted(secrets & text)


def feedback_view(autograded: Any) -> Any:
    """The autograded notebook as the feedback shows it: test cells without their hidden tests."""
    nb = copy.deepcopy(autograded)
    hide = HideHiddenTests()
    for index, cell in enumerate(nb.cells):
        hide.preprocess_cell(cell, {}, index)
    return nb
