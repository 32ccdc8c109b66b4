import html
import re
from html.parser import HTMLParser
from unittest import mock
from urllib.parse import unquote

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.filters.strings import strip_files_prefix

from dlcourse.grading import SanitizeSubmission, StderrIsNotFailure, preprocessors
from dlcourse.grading.preprocessors import neutralise_links


def test_stderr_is_relabelled_and_kept():
    cell = nbformat.v4.new_code_cell("import warnings; warnings.warn('x')")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: x\nsecond line\n"),
        nbformat.v4.new_output("stream", name="stdout", text="fine\n"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]),
    ]
    cell, _ = StderrIsNotFailure().preprocess_cell(cell, {}, 0)
    assert [o.get("name") for o in cell.outputs] == ["stdout", "stdout", None]
    assert cell.outputs[0]["text"] == "[stderr] UserWarning: x\n[stderr] second line\n"
    assert cell.outputs[2]["output_type"] == "error"  # real errors still cost points


# ---------------------------------------------------------------- links and pictures (GRADING_THREATS #54)
# Each attack is a markdown answer; after SanitizeSubmission, the page nbconvert's HTMLExporter renders from it
# (the feedback's and the Formgrader's renderer) may hold no URL attribute with a scheme outside the allow-list.
ATTACKS = {
    "inline link": "[Figure 1](javascript:fetch%28'/api/contents/solutions'%29)",
    "mixed case": "[Figure 1](JaVaScRiPt:alert(1))",
    "vbscript": "[x](vbscript:msgbox(1))",
    "data html": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "file": "[x](file:///etc/passwd)",
    "other scheme": "[x](ms-settings:privacy)",
    "decimal entity": "[x](&#106;avascript:alert(1))",
    "hex entity": "[x](&#x6A;&#x61;vascript:alert(1))",
    "named entity colon": "[x](javascript&colon;alert(1))",
    "entity tab in scheme": "[x](java&Tab;script:alert(1))",
    "entity newline in scheme": "[x](java&#10;script:alert(1))",
    "percent-encoded scheme": "[x](%6Aavascript:alert(1))",
    "tab in angle brackets": "[x](<java\tscript:alert(1)>)",
    "control character": "[x](\x01javascript:alert(1))",
    "backslash-escaped colon": "[x](javascript\\:alert(1))",
    "leading spaces": "[x](   javascript:alert(1))",
    "destination on next line": "[x](\n  javascript:alert(1))",
    "with a title": '[x](javascript:alert(1) "Figure")',
    "files prefix": "[x](files/javascript:alert(1))",
    "slash files prefix": "[x](/files/javascript:alert(1))",
    "image": "![plot](javascript:alert(1))",
    "image data svg": "![plot](data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+)",
    "reference definition": "See [Figure 1][fig].\n\n[fig]: javascript:alert(1)",
    "reference in angle brackets": "See [fig].\n\n[fig]: <JavaScript:alert(1)> 'title'",
    "reference in a quote": "> See [fig][].\n>\n> [fig]:\n>   javascript:alert(1)",
    "reference image": "![p][img]\n\n[img]: data:text/html,x",
    "autolink": "<javascript:alert(1)>",
    "autolink upper case": "<JAVASCRIPT:alert(1)>",
    "html a": '<a href="javascript:alert(1)">x</a>',
    "html a entity tab": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "html a files prefix": '<a href="files/javascript:alert(1)">x</a>',
    "html img": '<img src="javascript:alert(1)">',
    "in a list beside math": "- $x^2$ and `code`\n- [step](javascript:alert(1))",
}
SAFE_SCHEMES = {"http", "https", "mailto"}


def _unsafe_urls(page: str) -> list[str]:
    """URL attributes of ``page`` whose value, entity-decoded and stripped of spaces and controls, has a scheme
    outside http/https/mailto (written apart from the sanitizer, to check it)."""
    found = []
    attribute = r"""\b(?:href|src|srcset|action|formaction|poster|xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)"""
    for raw in re.findall(attribute, page, flags=re.IGNORECASE):
        value = html.unescape(raw.strip("\"'"))
        for candidate in (value, unquote(value)):
            candidate = re.sub(r"[\x00-\x20\x7f]", "", candidate)
            scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", candidate)
            if scheme and scheme.group(1).lower() not in SAFE_SCHEMES:
                found.append(value)
                break
    return found


@pytest.fixture(scope="module")
def exporter():
    return HTMLExporter()


def _sanitized(cell):
    notebook, _ = SanitizeSubmission()(nbformat.v4.new_notebook(cells=[cell]), {})
    return notebook


def test_the_check_sees_the_hole(exporter):
    cell = nbformat.v4.new_markdown_cell(ATTACKS["inline link"])
    page, _ = exporter.from_notebook_node(nbformat.v4.new_notebook(cells=[cell]))
    assert _unsafe_urls(page), "without the sanitizer the link renders as javascript: (the check would be blind)"


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
@pytest.mark.parametrize("cell_type", ["markdown", "raw"])
def test_no_unsafe_link_survives(exporter, source, cell_type):
    if cell_type == "markdown":
        cell = nbformat.v4.new_markdown_cell(source)
    else:
        cell = nbformat.v4.new_raw_cell(source, metadata={"raw_mimetype": "text/html"})
    notebook = _sanitized(cell)
    page, _ = exporter.from_notebook_node(notebook)
    assert _unsafe_urls(page) == [], f"{source!r} became {notebook.cells[0].source!r}"
    # what the Formgrader and the feedback template render: the markdown filter, then strip_files_prefix
    fragment = strip_files_prefix(markdown2html_mistune(notebook.cells[0].source))
    assert _unsafe_urls(fragment) == [], f"{source!r} became {notebook.cells[0].source!r}"
    assert _sanitized(notebook.cells[0]).cells[0].source == notebook.cells[0].source  # a second pass changes nothing


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_links_are_neutralised_without_bleach(source):
    """The rewrite alone holds (bleach's escaping of ``<`` happens to defuse autolinks; it is not relied on)."""
    rewritten = neutralise_links(source)
    for view in (rewritten, markdown2html_mistune(rewritten)):
        assert _unsafe_urls(strip_files_prefix(view)) == [], f"{source!r} became {rewritten!r}"
    assert not rewritten.startswith("<pre>"), "the link was rewritten in place, not the cell turned to text"


def test_what_the_rewrite_misses_is_shown_as_text():
    source = "[x](javascript:alert(1))"
    with mock.patch.object(preprocessors, "_DESTINATION", re.compile(r"(?!)")):  # a rewrite that finds nothing
        rewritten = neutralise_links(source)
    assert rewritten == "<pre>[x](javascript:alert(1))</pre>"
    assert _unsafe_urls(markdown2html_mistune(rewritten)) == []


def test_a_neutralised_link_keeps_its_text_and_the_cell_its_math(exporter):
    source = "Energy $E = mc^2$, code `x[i](y)`, and [Figure 1](javascript:alert(1)).\n\n$$\\sum_i x_i$$"
    page, _ = exporter.from_notebook_node(_sanitized(nbformat.v4.new_markdown_cell(source)))
    assert "Figure 1</a>" in page
    assert "$E = mc^2$" in page and "$$\\sum_i x_i$$" in page and "<code>x[i](y)</code>" in page


@pytest.mark.parametrize("mime", ["text/markdown", "text/html"])
def test_links_in_outputs_are_neutralised(exporter, mime):
    cell = nbformat.v4.new_code_cell("display(...)")
    link = "[x](javascript:alert(1))" if mime == "text/markdown" else '<a href="files/javascript:alert(1)">x</a>'
    cell.outputs = [nbformat.v4.new_output("display_data", data={mime: link})]
    page, _ = exporter.from_notebook_node(_sanitized(cell))
    assert _unsafe_urls(page) == []


SAFE = ("[site](https://example.org/a?b=1&c=2) [notes](notes/lecture.html) [mail](mailto:ta@example.org) "
        "[up](#section-2) ![fig](attachment:fig.png) ![plot](images/plot.png)\n\n"
        "- $x^2$ and $a<b$\n- `code` and `[x](y)`\n\n$$\\frac{1}{n}\\sum_i x_i$$")


def test_safe_links_math_and_code_are_untouched(exporter):
    cell = nbformat.v4.new_markdown_cell(SAFE, attachments={"fig.png": {"image/png": "iVBORw0KGgo="}})
    notebook = _sanitized(cell)
    assert notebook.cells[0].source == SAFE.replace("&c", "&amp;c").replace("$a<b$", "$a&lt;b$")  # bleach's escaping
    page, _ = exporter.from_notebook_node(notebook)
    for expected in ('href="https://example.org/a?b=1&amp;c=2"', 'href="notes/lecture.html"',
                     'href="mailto:ta@example.org"', 'href="#section-2"', 'src="data:image/png;base64,iVBORw0KGgo="',
                     'src="images/plot.png"', "$x^2$", "<code>code</code>", "$$\\frac{1}{n}\\sum_i x_i$$"):
        assert expected in page
    assert _unsafe_urls(page) == ["data:image/png;base64,iVBORw0KGgo="]  # the attachment, embedded by nbconvert


# Markdown can split a tag that bleach saw whole: an attribute value left open across a blank line ends the HTML
# block, and the quotes mistune writes around a link's address close it, so the link's "address" becomes an
# attribute of the tag (red team, 2026-12-05: an onerror that ran on page load).
SPLIT_TAGS = {
    "img alt across a blank line": '<div><img src="x" alt="\n\n[x](onerror=alert(document.domain)//)"></div>',
    "td align across a blank line": '<table><tr><td align="\n\n[x](onmouseover=alert(1)//)">y</td></tr></table>',
    "title across a blank line": '<div title="\n\n[x](onfocus=alert(1)//)" tabindex="1">y</div>',
}
class _Handlers(HTMLParser):
    """Event-handler and style attributes and live tags, as a browser's parser (and Python's) reads them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [f"{tag} {name}" for name, _ in attrs if name.startswith("on") or name == "style"]
        if tag in ("script", "iframe", "object", "embed", "svg", "math"):
            self.found.append(tag)


def _live(rendered: str) -> list[str]:
    parser = _Handlers()
    parser.feed(rendered)
    parser.close()
    return parser.found


@pytest.mark.parametrize("source", SPLIT_TAGS.values(), ids=SPLIT_TAGS.keys())
def test_no_tag_split_by_markdown_comes_alive(exporter, source):
    assert _live(strip_files_prefix(markdown2html_mistune(source))), "the payload is live without the sanitizer"
    notebook = _sanitized(nbformat.v4.new_markdown_cell(source))
    fragment = strip_files_prefix(markdown2html_mistune(notebook.cells[0].source))
    assert _live(fragment) == [], f"{source!r} became {notebook.cells[0].source!r}"
    page, _ = exporter.from_notebook_node(notebook)
    cells = page.split('<main>', 1)[-1]  # the lab template's head has its own scripts and styles
    assert [found for found in _live(cells) if " on" in found] == [], f"{source!r} is live in the feedback page"
