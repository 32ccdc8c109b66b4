"""One Russian term per concept, course-wide: the lectures and assignments use the term list `docs/terms.json`.

- a glossary row whose English name is in the list shows the list's Russian term (outside parentheses);
- the text puts the list's Russian term, inflected as the sentence needs, in the parentheses after a bold English
  term (`**learning rate** (...)`);
- a variant (another Russian name for the same concept, e.g. «персептрон», «шаг обучения») appears nowhere but in
  the parentheses of a glossary row. Quotations of the source slides (text in double quotes) are exempt.
"""

import json
import re

import nbformat
import pytest

from tests.conftest import LECTURES, ROOT, SOLUTIONS, STUDENT_VERSIONS, rel

TERMS = json.loads((ROOT / "docs" / "terms.json").read_text(encoding="utf-8"))["terms"]
RUSSIAN = {name: term["ru"] for term in TERMS for name in term["en"]}
ALL = LECTURES + SOLUTIONS + STUDENT_VERSIONS

GLOSSARY_HEADING = re.compile(r"^#+ .*Glossary.*$", re.M)
NEXT_HEADING = re.compile(r"^#+ ", re.M)
PARENTHESES = re.compile(r"\([^()]*\)")
QUOTATION = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”")
BOLD_THEN_PARENTHESES = re.compile(r"\*\*([^*]+)\*\*\s*\(([^)]*)\)")
CYRILLIC = re.compile(r"[а-яё]", re.I)


def _inflected(term: str) -> re.Pattern:
    """A Russian term and its inflected forms: each word longer than five letters loses its ending (two letters)."""
    words = [word[:-2] if len(word) > 5 else word for word in term.lower().split()]
    return re.compile(r"\b" + r"\s+".join(re.escape(word) + r"\w*" for word in words), re.I)


VARIANTS = [(variant, term["ru"], _inflected(variant)) for term in TERMS for variant in term["variants"]]


def _markdown(path):
    return [(index, cell.source) for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
            if cell.cell_type == "markdown"]


def _split_glossary(text: str) -> tuple[str, str]:
    """(the text outside the glossary section, the glossary section) of one cell."""
    heading = GLOSSARY_HEADING.search(text)
    if not heading:
        return text, ""
    following = NEXT_HEADING.search(text, heading.end())
    end = following.start() if following else len(text)
    return text[:heading.start()] + "\n" + text[end:], text[heading.start():end]


def _glossary_rows(path):
    """(cell index, English cell, Russian cell) of every row of the notebook's glossary table."""
    for index, source in _markdown(path):
        for line in _split_glossary(source)[1].splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) != 2 or set(cells[1]) <= set("-: ") or cells[0] == "English":
                continue
            yield index, cells[0], cells[1]


def _english_names(cell: str) -> list[str]:
    """'learning rule / learning rate' -> ['learning rule', 'learning rate']; parentheses dropped."""
    plain = PARENTHESES.sub("", cell).lower()
    return [name.strip() for name in re.split(r" / |, ", plain) if name.strip()]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def test_term_list_is_well_formed():
    names = [name for term in TERMS for name in term["en"]]
    assert len(names) == len(set(names)), "an English name is listed under two Russian terms"
    assert all(name == name.lower() for name in names), "English names are listed in lower case"
    for term in TERMS:
        for variant in term["variants"]:
            assert not _inflected(variant).search(term["ru"]), f"{variant!r} would match the term {term['ru']!r}"


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_glossary_uses_the_course_terms(path):
    wrong = []
    for index, english, russian in _glossary_rows(path):
        outside = _normal(PARENTHESES.sub("", russian))
        for name in _english_names(english):
            if name in RUSSIAN and _normal(RUSSIAN[name]) not in outside:
                wrong.append(f"cell {index}: '{english} | {russian}' should say «{RUSSIAN[name]}» for {name!r}")
        for variant, term, pattern in VARIANTS:
            if pattern.search(outside):
                wrong.append(f"cell {index}: '{english} | {russian}' uses «{variant}»: the course term is «{term}» "
                             f"(a variant may stand only in parentheses)")
    assert not wrong, "glossary rows that differ from docs/terms.json:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_text_uses_no_variant(path):
    found = []
    for index, source in _markdown(path):
        text, glossary = _split_glossary(source)
        text = QUOTATION.sub("", text + "\n" + PARENTHESES.sub("", glossary))
        for _variant, term, pattern in VARIANTS:
            found += [f"cell {index}: «{match.group(0)}» (use «{term}»)" for match in pattern.finditer(text)]
    assert not found, "Russian variants outside a glossary's parentheses (docs/terms.json):\n" + "\n".join(found)


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_russian_in_parentheses_is_the_course_term(path):
    wrong = []
    for index, source in _markdown(path):
        for match in BOLD_THEN_PARENTHESES.finditer(source):
            name, note = _normal(match.group(1)), _normal(match.group(2))
            if name in RUSSIAN and CYRILLIC.search(note) and not _inflected(RUSSIAN[name]).search(note):
                wrong.append(f"cell {index}: **{match.group(1)}** ({match.group(2)}) should say «{RUSSIAN[name]}»")
    assert not wrong, "first mentions whose Russian term differs from docs/terms.json:\n" + "\n".join(wrong)
