"""What must never reach the website: the lines of the assignments' solutions, hidden tests and model answers.

:func:`secret_lines` reads ``solutions/``; :func:`site_texts` reads a built site as text (an HTML page as the
text a reader sees, so that highlighted code reads as its source); :func:`leaks` finds the one in the other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat

REGIONS = [("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
TEXT_SUFFIXES = {".html", ".js", ".json", ".txt", ".ipynb", ".md", ".css", ".xml"}
TRAILING_COMMENT = re.compile(r"""\s+#[^"']*$""")
LONG = 40
VENDORED = ("_static/mathjax/", "_static/reveal.js/")  # sphinx-mathjax-offline and npm reveal.js: no course text


def normal(text: str) -> str:
    """Whitespace collapsed to single spaces, ends stripped."""
    return " ".join(text.split())


def _region_lines(source: str) -> list[str]:
    lines, inside = [], None
    for line in source.splitlines():
        marker = line.strip()
        if inside is None:
            inside = next((end for begin, end in REGIONS if marker == begin), None)
        elif marker == inside:
            inside = None
        else:
            lines.append(line)
    return lines


def secret_lines(solutions: list[Path], public: set[str]) -> set[str]:
    """Every non-trivial line of a solution region, hidden-test region or free-text model answer.

    Trivial: blank, one token (``pass``, ``else:``, ``)``), or a line that is one of ``public`` (the lectures
    and student versions, which the site shows by design).
    """
    found = set()
    for path in solutions:
        for cell in nbformat.read(path, as_version=4).cells:
            grading = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and grading.get("solution"):
                lines = cell.source.splitlines()  # a model answer, replaced by YOUR ANSWER HERE on release
            else:
                lines = _region_lines(cell.source)
            for line in lines:
                text = normal(line.lstrip("#*- "))
                if len(text.split()) > 1 and text not in public:
                    found.add(text)
    return found


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def page_text(html: str) -> str:
    """The text of an HTML page (scripts included), tags dropped and entities decoded."""
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


@dataclass
class SiteText:
    """A built file's text: whitespace-normalised as a whole, and as a set of normalised lines."""

    text: str
    lines: set[str]


def site_texts(out: Path) -> dict[str, SiteText]:
    """Every text file of a built site, by path: HTML as its text, a notebook as its cells and outputs, else raw."""
    texts = {}
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or name.startswith(VENDORED):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            raw = page_text(raw) + "\n" + raw
        elif path.suffix == ".ipynb":
            raw += "\n" + "\n".join(cell.get("source", "") if isinstance(cell.get("source"), str)
                                    else "".join(cell.get("source", [])) for cell in json.loads(raw)["cells"])
        texts[name] = SiteText(normal(raw), {normal(line) for line in raw.splitlines()})
    return texts


def leaks(texts: dict[str, SiteText], secrets: set[str]) -> list[str]:
    """``"file: line"`` for every secret line found in a file: a long one (at least :data:`LONG` characters)
    anywhere in its text, a shorter one as a whole line (``return w`` is no leak of ``return w + lr * t * x``)."""
    found = []
    for name, text in texts.items():
        found += [f"{name}: {secret}" for secret in secrets
                  if secret in text.lines or (len(secret) >= LONG and secret in text.text)]
    return found


def public_lines(notebooks: list[Path]) -> set[str]:
    """The lines the site publishes on purpose (lectures, student versions), normalised like the secrets, each
    also without its trailing comment (``x = 1  # why`` publishes ``x = 1``)."""
    lines = {line for path in notebooks
             for cell in nbformat.read(path, as_version=4).cells for line in cell.source.splitlines()}
    return {normal(text.lstrip("#*- ")) for line in lines for text in (line, TRAILING_COMMENT.sub("", line))}


