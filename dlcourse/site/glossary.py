"""The course-wide glossary page: every term of ``docs/terms.json`` and of every lecture's glossary table.

A lecture's glossary is the table under its ``## Glossary`` heading (``| English | Russian |``). A row whose
English name is in ``docs/terms.json`` joins that term (the list's Russian term is the course's one); any other
row becomes an entry of its own. Each entry says in which lectures' glossaries it stands.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

GLOSSARY_HEADING = re.compile(r"^#+ .*Glossary.*$", re.M)
NEXT_HEADING = re.compile(r"^#+ ", re.M)
PARENTHESES = re.compile(r"\([^()]*\)")


@dataclass
class Lecture:
    """A lecture as the site links it: its number (``"06"``), title and path in the site's sources."""

    number: str
    title: str
    path: str  # e.g. "notebooks/06_backprop.ipynb"


@dataclass
class Entry:
    """One glossary entry: the English name(s), the Russian term, other Russian names, the lectures citing it."""

    english: str
    russian: str
    variants: list[str] = field(default_factory=list)
    lectures: list[Lecture] = field(default_factory=list)


def glossary_rows(markdown: str) -> list[tuple[str, str]]:
    """(English, Russian) of every row of the glossary table in one markdown cell.

    Example:
        >>> glossary_rows("## Glossary\\n\\n| English | Russian |\\n|---|---|\\n| bias | смещение |\\n## Next")
        [('bias', 'смещение')]
    """
    heading = GLOSSARY_HEADING.search(markdown)
    if not heading:
        return []
    following = NEXT_HEADING.search(markdown, heading.end())
    section = markdown[heading.end():following.start() if following else len(markdown)]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or set(cells[1]) <= set("-: ") or cells[0] == "English":
            continue
        rows.append((cells[0], cells[1]))
    return rows


def _names(english: str) -> list[str]:
    """'forward pass / backward pass' -> ['forward pass', 'backward pass'] (lower case, parentheses dropped)."""
    plain = PARENTHESES.sub("", english).lower()
    return [" ".join(name.split()) for name in re.split(r" / |, ", plain) if name.strip()]


def collect_entries(terms_json: Path, lectures: list[tuple[Lecture, Path]]) -> list[Entry]:
    """The glossary's entries, sorted by English name: the term list's, then the lectures' other rows.

    ``lectures`` pairs each lecture with its notebook file.
    """
    terms = json.loads(terms_json.read_text(encoding="utf-8"))["terms"]
    entries = [Entry(" / ".join(term["en"]), term["ru"], list(term["variants"])) for term in terms]
    by_name = {name.lower(): entry for term, entry in zip(terms, entries) for name in term["en"]}
    for lecture, notebook in lectures:
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for english, russian in glossary_rows(cell.source):
                names = _names(english)
                known = [by_name[name] for name in names if name in by_name]
                if not known:
                    key = " ".join(PARENTHESES.sub("", english).lower().split())
                    entry = by_name.get(key)
                    if entry is None:
                        entry = by_name[key] = Entry(english, russian)
                        entries.append(entry)
                    known = [entry]
                for entry in known:
                    if lecture not in entry.lectures:
                        entry.lectures.append(lecture)
    return sorted(entries, key=lambda entry: entry.english.lower())


def glossary_markdown(entries: list[Entry]) -> str:
    """The glossary page in MyST markdown: one Sphinx ``glossary`` term per entry (searchable, linkable).

    Example:
        >>> print(glossary_markdown([Entry("bias", "смещение")]))  # doctest: +ELLIPSIS
        # Glossary · Глоссарий
        ...
        bias
          **смещение**
        ...
    """
    lines = ["# Glossary · Глоссарий", "",
             "Every key term of the course with its Russian name: the terms of `docs/terms.json` (one Russian term "
             "per concept, used throughout the course) and every row of the lectures' glossary tables. "
             "*Also in books* lists other Russian names a student will meet elsewhere.", "",
             "```{glossary}"]
    seen: set[str] = set()
    for entry in entries:
        term = _unique(entry.english, seen)
        definition = f"**{entry.russian}**"
        if entry.variants:
            definition += f" (also in books: {', '.join(entry.variants)})"
        if entry.lectures:
            links = ", ".join(f"[{lecture.number} · {lecture.title}]({lecture.path})" for lecture in entry.lectures)
            definition += f". Lectures: {links}"
        lines += [term, f"  {definition}", ""]
    lines += ["```", ""]
    return "\n".join(lines)


def _unique(term: str, seen: set[str]) -> str:
    """``term``, or ``term`` with a number when a term of the same name (any case) is already there."""
    candidate, n = term, 2
    while candidate.lower() in seen:
        candidate, n = f"{term} ({n})", n + 1
    seen.add(candidate.lower())
    return candidate
