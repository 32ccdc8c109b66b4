"""The Sphinx sources of the course site, laid out in a folder of their own (never in the course's folders).

``stage_sources(root, src)`` writes into ``src``:

- ``conf.py`` (it imports :mod:`dlcourse.site.config`) and ``_static/`` (:mod:`dlcourse.site.assets`);
- ``notebooks/NN_topic.ipynb``: copies of the lectures (executed by MyST-NB when the site is built), with a link to
  the lecture's slides when it has slide metadata (:mod:`dlcourse.site.slides` writes the deck after Sphinx);
- ``assignments/hwNN_topic/hwNN_topic.ipynb``: copies of the student versions, shown as they are;
- ``_files/``: the untouched notebooks, behind each page's "Download .ipynb" link;
- ``index.md`` (the README's introduction and lecture table) and ``glossary.md``.

The copies differ from the notebooks in markdown only (execution caching hashes code cells): the Colab badge
shows a local picture, a download link follows it, and a note after each widget says how to run it live.
A file is rewritten only when its text changes, so a rebuild with no change re-reads nothing.
Nothing from ``solutions/`` is ever read.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from dlcourse.site.assets import COLAB_BADGE_URL, FILES
from dlcourse.site.glossary import Lecture, collect_entries, glossary_markdown
from dlcourse.site.slides import deck_path, has_slides

CONF_PY = """# Written by `dlcourse site`: the settings live in dlcourse/site/config.py.
from dlcourse.site.config import *  # noqa: F401,F403
from dlcourse.site.config import setup  # noqa: F401
"""

LOCAL_BADGE = "/_static/colab-badge.svg"
WIDGET_CALL = re.compile(r"^\s*(\w+)\.show\(\)\s*$", re.M)
WIDGET_NOTE = ("*A live widget in Jupyter or Colab: this is its static picture. Open the notebook (the badge at "
               "the top) and run it to move the controls.*")
TITLE = re.compile(r"^#\s+(.+)$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"\s*>")


def write_if_changed(path: Path, content: str | bytes) -> bool:
    """Write ``content`` to ``path`` unless it already holds exactly that; True when written.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> write_if_changed(target, "x"), write_if_changed(target, "x")
        (True, False)
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def lectures(root: Path) -> list[tuple[Lecture, Path]]:
    """Every lecture of ``root/notebooks``, with its number and title (from its ``# NN · Title`` heading)."""
    found = []
    for notebook in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = nbformat.read(notebook, as_version=4).cells[0].source
        heading = TITLE.search(first)
        title = heading.group(1).split("·", 1)[-1].strip() if heading else notebook.stem
        found.append((Lecture(notebook.name[:2], title, f"notebooks/{notebook.name}"), notebook))
    return found


def student_versions(root: Path) -> list[Path]:
    """Every generated student version, ``assignments/hwNN_topic/hwNN_topic.ipynb``."""
    return sorted(p for p in (root / "assignments").glob("hw*/hw*.ipynb") if p.stem == p.parent.name)


def site_notebook(notebook: nbformat.NotebookNode, download: str, execute: bool,
                  slides: str | None = None) -> nbformat.NotebookNode:
    """The page version of a notebook: local Colab badge, a download link in cell 0 (and a link to the lecture's
    slides, ``slides`` relative to the page, when it has a deck), a note after each widget; ``execute=False`` tells
    MyST-NB to show it as it is."""
    page = nbformat.from_dict(notebook)
    if not execute:
        page.metadata["mystnb"] = {"execution_mode": "off"}
    first = page.cells[0]
    first.source = first.source.replace(COLAB_BADGE_URL, LOCAL_BADGE)
    first.source += f"\n{{download}}`Download .ipynb <{download}>`"
    if slides:
        first.source += f' · <a href="{slides}" class="slides-link">Slides (reveal.js)</a>'
    anchors = {name for cell in page.cells if cell.cell_type == "markdown" for name in HTML_ANCHOR.findall(cell.source)}
    cells = []
    for cell in page.cells:
        if cell.cell_type == "markdown":
            cell.source = link_html_anchors(cell.source, anchors)
        cells.append(cell)
        calls = WIDGET_CALL.findall(cell.source) if cell.cell_type == "code" else []
        if any(name != "plt" for name in calls):
            cells.append(nbformat.v4.new_markdown_cell(WIDGET_NOTE, metadata={"tags": ["widget-note"]}))
    for cell in cells:
        cell.pop("id", None)
    page.cells = cells
    page.nbformat_minor = 4  # no cell ids: the inserted cells need none
    return page


def link_html_anchors(markdown: str, anchors: set[str]) -> str:
    """Write links to the notebook's own HTML anchors (``<a id="note-1"></a>``) as HTML links, which Sphinx keeps
    (it would look for a MyST target of that name and find none).

    Example:
        >>> link_html_anchors("see<sup>[1](#note-1)</sup>", {"note-1"})
        'see<sup><a href="#note-1">1</a></sup>'
    """
    for name in anchors:
        markdown = re.sub(r"\[([^\]]+)\]\(#" + re.escape(name) + r"\)", rf'<a href="#{name}">\1</a>', markdown)
    return markdown


def _stage_notebook(source: Path, relative: str, src: Path, execute: bool) -> None:
    original = source.read_bytes()
    write_if_changed(src / "_files" / relative, original)
    notebook = nbformat.reads(original.decode("utf-8"), as_version=4)
    slides = f"../{deck_path(source.name)}" if execute and has_slides(notebook) else None
    page = site_notebook(notebook, f"/_files/{relative}", execute, slides)
    write_if_changed(src / relative, nbformat.writes(page) + "\n")


def home_page(readme: str, lecture_pages: list[str], assignment_pages: list[str]) -> str:
    """``index.md``: the README's title and introduction, its lecture table, and the site's table of contents.

    Example:
        >>> text = "# Course\\n\\nIntro.\\n\\n## Quick start\\n\\nx\\n\\n## Lectures\\n\\n| # | L |\\n|---|---|\\n"
        >>> print(home_page(text, ["notebooks/01_a"], []))  # doctest: +ELLIPSIS
        # Course
        <BLANKLINE>
        Intro.
        ...
        | # | L |
        |---|---|
        ...
    """
    sections = re.split(r"^## ", readme, flags=re.M)
    intro = sections[0].strip().replace(COLAB_BADGE_URL, LOCAL_BADGE)
    table = next((s for s in sections if s.startswith("Lectures")), "")
    table_lines = [line for line in table.splitlines() if line.startswith("|")]
    table_text = "\n".join(table_lines).replace(COLAB_BADGE_URL, LOCAL_BADGE)
    parts = [intro, "",
             "This site shows every lecture executed, with its plots and checks (a widget shows its picture: run the "
             "notebook in Jupyter or Colab to use it live), and every assignment as students receive it. "
             "The [glossary](glossary.md) lists the course's English and Russian terms; search is at the top left.",
             "", "## Lectures", "", table_text, ""]
    for caption, pages in (("Lectures", lecture_pages), ("Assignments", assignment_pages),
                           ("Reference", ["glossary"])):
        parts += ["```{toctree}", ":hidden:", f":caption: {caption}", "", *pages, "```", ""]
    return "\n".join(parts)


def stage_sources(root: Path, src: Path) -> list[str]:
    """Write the site's Sphinx sources for the course at ``root`` into ``src``; return the pages' names.

    Files the course no longer has (a lecture renamed, say) are removed from ``src``.
    """
    found = lectures(root)
    students = student_versions(root)
    wanted: set[Path] = set()

    def put(relative: str, content: str | bytes) -> None:
        write_if_changed(src / relative, content)
        wanted.add(src / relative)

    put("conf.py", CONF_PY)
    for name, text in FILES.items():
        put(f"_static/{name}", text)
    for lecture, notebook in found:
        _stage_notebook(notebook, lecture.path, src, execute=True)
        wanted |= {src / lecture.path, src / "_files" / lecture.path}
    assignment_paths = []
    for notebook in students:
        relative = f"assignments/{notebook.parent.name}/{notebook.name}"
        _stage_notebook(notebook, relative, src, execute=False)
        wanted |= {src / relative, src / "_files" / relative}
        assignment_paths.append(relative)
    lecture_pages = [lecture.path.removesuffix(".ipynb") for lecture, _ in found]
    assignment_pages = [path.removesuffix(".ipynb") for path in assignment_paths]
    put("index.md", home_page((root / "README.md").read_text(encoding="utf-8"), lecture_pages, assignment_pages))
    put("glossary.md", glossary_markdown(collect_entries(root / "docs" / "terms.json", found)))
    for stale in [p for p in src.rglob("*") if p.is_file() and p not in wanted]:
        stale.unlink()
    return ["index", *lecture_pages, *assignment_pages, "glossary"]
