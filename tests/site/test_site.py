"""The course website (`dlcourse site`), built once for the module and read in headless Chromium.

Every page loads with no broken link or image, no console error and no request beyond the local server; math is
typeset by the site's own MathJax; every lecture with slide metadata has a reveal.js deck, linked from its page, that
opens offline and advances through its 15-40 slides with the keyboard, showing math and a plot; every lecture shows
its plots and its run time; every assignment page offers its student version in Colab and as a download; search
finds an English and a Russian term; no line of a solution, hidden test or model answer is anywhere in the site; a
rebuild with no change executes nothing.

Needs Debian's ``chromium`` and Python ``playwright`` (like tests/course/test_browser.py); the build executes every
lecture (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from dlcourse.site.build import build_site, cached_runtimes
from tests.conftest import ROOT
from tests.site.leak_scan import SiteText, leaks, normal, page_text, public_lines, secret_lines, site_texts
from tests.support.jupyter_browser import headless_chromium, new_page, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site")]

playwright_sync = require_chromium()

LOAD_TIMEOUT_MS = 60_000
IDLE_TIMEOUT_MS = 15_000
MATH_TIMEOUT_MS = 30_000
SEARCH_TIMEOUT_MS = 30_000


COURSE_FILES = ["README.md", "nbgrader_config.py", "docs/terms.json", "notebooks", "assignments", "solutions",
                "site"]  # site/: the pinned reveal.js of the slides (with node_modules when installed)


class Course:
    """A snapshot of the course (what the site reads, and the solutions the leak scan reads) in a folder of its own,
    so that the build, the scan and the rebuild see the same files, and a test may change a lecture."""

    def __init__(self, root: Path):
        self.root = root
        self.lectures = sorted((root / "notebooks").glob("*.ipynb"))
        self.student_versions = sorted((root / "assignments").glob("hw*/hw*.ipynb"))
        self.solutions = sorted((root / "solutions").glob("hw*/hw*.ipynb"))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    root = tmp_path_factory.mktemp("course")
    for name in COURSE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    return Course(root)


@pytest.fixture(scope="module")
def site(course, tmp_path_factory):
    """The site, built from scratch into a temporary folder (its work folder beside it)."""
    folder = tmp_path_factory.mktemp("site")
    built = build_site(course.root, folder / "out", folder / "work")
    print(f"\nclean site build: {built.seconds:.1f} s")
    return built


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


SUBPATH = "dl-intro"
"""The site is served under a sub-path, as GitHub Pages serves a project's site: a link that starts with "/" breaks."""


@pytest.fixture(scope="module")
def server(site, tmp_path_factory):
    """The built site served over HTTP on 127.0.0.1 (a free port) under ``/dl-intro/``; yields its base address."""
    served = tmp_path_factory.mktemp("pages")
    (served / SUBPATH).symlink_to(site.out, target_is_directory=True)
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{SUBPATH}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


class PageVisit:
    """A browser page on the site that records console errors, page errors, failed and outside requests."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.problems: list[str] = []
        host = urlparse(base).netloc
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: urlparse(r.url).netloc == host
                and self.problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

        def route(request_route):
            url = urlparse(request_route.request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.netloc != host:
                self.problems.append(f"request outside the site: {request_route.request.url}")
                return request_route.abort()
            return request_route.continue_()

        page.route("**/*", route)

    def open(self, path: str) -> None:
        """Go to ``path`` and wait for its load event (every image), then, on a busy machine for a while only,
        for the requests that follow it (MathJax's fonts, the search index) to finish."""
        self.page.goto(f"{self.base}/{path}", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        try:
            self.page.wait_for_load_state("networkidle", timeout=IDLE_TIMEOUT_MS)
        except playwright_sync.TimeoutError:
            pass  # a request still open then shows as failed or erroneous, which the handlers record


@pytest.fixture
def visit(browser, server):
    with new_page(browser) as page:
        yield PageVisit(page, server)


def _pages(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html") if not p.relative_to(out).parts[0]
                  .startswith("_"))


JS_IMAGES = """() => [...document.images].map(
    i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}))"""
JS_LINKS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""


def _local_file(out: Path, base: str, url: str) -> Path | None:
    """The file in the site that a link to ``url`` asks for; None for a link outside the site."""
    parsed = urlparse(url)
    site_path = urlparse(base).path + "/"
    if parsed.scheme not in ("http", "https") or parsed.netloc != urlparse(base).netloc:
        return None
    assert parsed.path.startswith(site_path), f"a link leaves the site's folder {site_path}: {url}"
    path = out / unquote(parsed.path[len(site_path):])
    return path / "index.html" if path.is_dir() or parsed.path.endswith("/") else path


def test_the_site_has_every_lecture_and_assignment(course, site):
    pages = _pages(site.out)
    assert "index.html" in pages and "glossary.html" in pages and "search.html" in pages
    for lecture in course.lectures:
        assert f"notebooks/{lecture.stem}.html" in pages
    for notebook in course.student_versions:
        assert f"assignments/{notebook.parent.name}/{notebook.stem}.html" in pages
    assert sorted(site.runtimes) == [f"notebooks/{lecture.name}" for lecture in course.lectures], site.runtimes


def test_every_page_loads_with_no_broken_link_image_error_or_outside_request(site, visit):
    problems = []
    for name in _pages(site.out):
        visit.problems.clear()
        visit.open(name)
        for image in visit.page.evaluate(JS_IMAGES):
            if not image["ok"]:
                problems.append(f"{name}: broken image {image['src']}")
        for url in visit.page.evaluate(JS_LINKS):
            target = _local_file(site.out, visit.base, url)
            if target is not None and not target.is_file():
                problems.append(f"{name}: broken link {url}")
        problems += [f"{name}: {problem}" for problem in visit.problems]
    assert not problems, "\n".join(problems)


def test_math_is_typeset_by_the_sites_own_mathjax(site, visit):
    visit.open("notebooks/06_backprop.html")
    visit.page.wait_for_selector("mjx-container", timeout=MATH_TIMEOUT_MS)
    assert visit.page.locator("mjx-container").count() > 10
    assert visit.page.locator("script[src*='_static/mathjax/']").count() == 1
    assert not visit.problems, visit.problems


def test_every_lecture_shows_its_plots_its_widget_picture_and_its_run_time(course, site, visit):
    missing = []
    for lecture in course.lectures:
        visit.open(f"notebooks/{lecture.stem}.html")
        pngs = [i for i in visit.page.evaluate(JS_IMAGES) if i["src"].endswith(".png") and i["ok"]]
        if len(pngs) < 1:
            missing.append(f"{lecture.name}: no plot")
        if visit.page.locator("text=A live widget in Jupyter or Colab").count() < 1:
            missing.append(f"{lecture.name}: no widget note")
        runtime = visit.page.locator(".nb-runtime")
        if runtime.count() != 1 or "Executed top to bottom in" not in runtime.inner_text():
            missing.append(f"{lecture.name}: no run time")
    assert not missing, "\n".join(missing)


def test_every_assignment_page_offers_colab_and_its_student_version(course, site, visit):
    for notebook in course.student_versions:
        relative = f"assignments/{notebook.parent.name}/{notebook.name}"
        visit.open(relative.removesuffix(".ipynb") + ".html")
        colab = visit.page.locator(f"a[href='https://colab.research.google.com/github/dl-intro-course/dl-intro/"
                                   f"blob/main/{relative}']")
        assert colab.count() == 1 and colab.locator("img").count() == 1, f"{relative}: no Colab badge"
        download = visit.page.locator("a", has_text="Download .ipynb")
        assert download.count() == 1, f"{relative}: no download link"
        target = _local_file(site.out, visit.base, download.evaluate("a => a.href"))
        assert target is not None and target.read_bytes() == notebook.read_bytes(), f"{relative}: download differs"
        assert "YOUR CODE HERE" in visit.page.inner_text("article")


def _search(visit, query: str) -> list[str]:
    visit.open(f"search.html?q={query}")
    visit.page.wait_for_selector("#search-results ul.search li", timeout=SEARCH_TIMEOUT_MS)
    return visit.page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")


def test_search_finds_backpropagation(visit):
    found = _search(visit, "backpropagation")
    assert any("notebooks/06_backprop.html" in url for url in found), found


def test_search_finds_a_russian_glossary_term(visit):
    found = _search(visit, "перцептрон")
    assert any("glossary.html" in url for url in found), found
    assert any("notebooks/" in url for url in found), found


def test_the_glossary_lists_every_course_term(site):
    import json

    text = normal(page_text((site.out / "glossary.html").read_text(encoding="utf-8")))
    terms = json.loads((ROOT / "docs" / "terms.json").read_text(encoding="utf-8"))["terms"]
    missing = [term["ru"] for term in terms if normal(term["ru"]) not in text]
    assert not missing, missing
    assert "обратное распространение ошибки" in text and "06 · Backpropagation by hand" in text


def test_the_leak_scan_finds_a_planted_line():
    secret = 'assert bool(converged), "the perceptron should converge"'
    highlighted = ('<pre><span class="k">assert</span> <span class="nb">bool</span><span class="p">(</span>'
                   '<span class="n">converged</span><span class="p">),</span> <span class="s2">&quot;the perceptron '
                   'should converge&quot;</span>\n</pre>')
    text = page_text(highlighted)
    assert leaks({"page.html": SiteText(normal(text), {normal(line) for line in text.splitlines()})}, {secret})


def test_no_solution_hidden_test_or_model_answer_is_in_the_site(course, site):
    secrets = secret_lines(course.solutions, public_lines(course.lectures + course.student_versions))
    assert len(secrets) > 100 * len(course.solutions), f"only {len(secrets)} secret lines: is the scan broken?"
    texts = site_texts(site.out)
    assert len(texts) > len(course.lectures) + len(course.student_versions)
    found = leaks(texts, secrets)
    assert not found, "solution lines in the site:\n" + "\n".join(found[:50])


def _lectures_with_slides(course) -> list[Path]:
    import nbformat

    from dlcourse.site.slides import has_slides

    return [path for path in course.lectures if has_slides(nbformat.read(path, as_version=4))]


def test_every_lecture_with_slide_metadata_has_a_deck_linked_from_its_page(course, site):
    from dlcourse.site.slides import deck_path

    with_slides = _lectures_with_slides(course)
    assert with_slides, "no lecture has slide metadata (notebooks/06_backprop.ipynb should)"
    expected = sorted(deck_path(path.name) for path in with_slides)
    assert sorted(deck.path for deck in site.decks) == expected
    assert sorted(p.relative_to(site.out).as_posix() for p in (site.out / "slides").glob("*.html")) == expected
    for lecture in course.lectures:
        page = (site.out / "notebooks" / f"{lecture.stem}.html").read_text(encoding="utf-8")
        link = f'href="../{deck_path(lecture.name)}"'
        assert (link in page) == (lecture in with_slides), f"{lecture.name}: the link to its slides, {link}"


JS_DECK = """() => ({indices: Reveal.getIndices(), last: Reveal.isLastSlide(), below: Reveal.availableRoutes().down,
    fragment: Reveal.availableFragments().next,
    overflows: (s => s.scrollHeight > s.clientHeight + 2 || s.scrollWidth > s.clientWidth + 2)(
        Reveal.getCurrentSlide()),
    capitals: [...Reveal.getCurrentSlide().querySelectorAll('h1, h2, h3, h4')].some(
        h => getComputedStyle(h).textTransform !== 'none'),
    plots: [...Reveal.getCurrentSlide().querySelectorAll('img')].filter(
        i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0).length})"""


def test_every_deck_opens_offline_and_advances_through_its_slides_with_the_keyboard(site, visit):
    """Space steps through fragments and down a column of sub-slides, ArrowRight to the next column; every slide is
    shown once, with no console error and no request beyond the site; the deck shows math and a plot; no slide is
    larger than the screen with all its fragments shown, and no heading is drawn in capitals."""
    assert site.decks
    for deck in site.decks:
        visit.problems.clear()
        visit.open(deck.path)
        visit.page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=LOAD_TIMEOUT_MS)
        total = visit.page.evaluate("() => Reveal.getTotalSlides()")
        assert 15 <= total <= 40, f"{deck.path}: {total} slides (a lecture's deck has 15 to 40)"
        assert total == deck.slides, f"{deck.path}: reveal.js counts {total} slides, the build {deck.slides}"
        visit.page.wait_for_selector(".reveal mjx-container", state="attached", timeout=MATH_TIMEOUT_MS)
        assert visit.page.locator(".reveal mjx-container").count() > 10, f"{deck.path}: math not typeset"
        seen, plots, overflowing = set(), 0, set()
        for _ in range(6 * total):
            state = visit.page.evaluate(JS_DECK)
            where = (state["indices"]["h"], state["indices"]["v"])
            seen.add(where)
            plots += state["plots"]
            assert not state["capitals"], f"{deck.path}: slide {where} draws its heading in capitals (math changes)"
            if state["overflows"] and not state["fragment"]:  # with every fragment shown
                overflowing.add(where)
            if state["last"] and not state["fragment"]:
                break
            visit.page.keyboard.press("Space" if state["below"] or state["fragment"] else "ArrowRight")
        assert state["last"] and not state["fragment"], f"{deck.path}: the keyboard never reached the end"
        assert len(seen) == total, f"{deck.path}: the keyboard showed {len(seen)} of {total} slides"
        assert plots >= 1, f"{deck.path}: no plot on any slide"
        assert not overflowing, f"{deck.path}: slides (across, down) larger than the screen: {sorted(overflowing)}"
        assert not visit.problems, f"{deck.path}: " + "\n".join(visit.problems)


JS_FIRST_NOTES = """() => {
    // the first notes of a whole slide (notes inside a fragment show only with that fragment), and a few plain
    // words of them (the speaker view shows the notes' TeX untypeset)
    const aside = [...document.querySelectorAll('.reveal .slides section aside.notes')].find(
        a => !a.closest('.fragment') && /[A-Za-z][A-Za-z ,]{15,}/.test(a.textContent));
    if (!aside) { return null; }
    const where = Reveal.getIndices(aside.closest('section'));
    return {h: where.h, v: where.v || 0, text: aside.textContent.match(/[A-Za-z][A-Za-z ,]{15,}/)[0].slice(0, 15)};
}"""


def test_the_speaker_view_shows_a_slides_notes(site, visit):
    """`S` opens reveal.js's speaker view (the notes plugin, from the site) with the current slide's notes."""
    with_notes = 0
    for deck in site.decks:
        visit.open(deck.path)
        visit.page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=LOAD_TIMEOUT_MS)
        notes = visit.page.evaluate(JS_FIRST_NOTES)
        if notes is None:
            continue
        with_notes += 1
        visit.page.evaluate(f"() => Reveal.slide({notes['h']}, {notes['v']})")
        with visit.page.expect_popup() as opened:
            visit.page.keyboard.press("s")
        speaker = opened.value
        speaker.wait_for_load_state("load")
        assert "Speaker View" in speaker.title()
        speaker.wait_for_function("text => document.body.innerText.includes(text)", arg=notes["text"],
                                  timeout=LOAD_TIMEOUT_MS)
        speaker.close()
    assert with_notes >= 1, "no deck has speaker notes"
    assert not visit.problems, "\n".join(visit.problems)


def test_a_rebuild_executes_only_what_changed(course, site):
    """Runs last: it rebuilds the site, once with no change, once after a code cell of one lecture changed."""
    import nbformat

    work = site.out.parent / "work"
    pages = {p: p.stat().st_mtime_ns for p in (site.out / "notebooks").glob("*.html")}
    runtimes = cached_runtimes(work)
    start = time.perf_counter()
    again = build_site(course.root, site.out, work)
    print(f"\nno-change rebuild: {time.perf_counter() - start:.1f} s (clean build {site.seconds:.1f} s)")
    assert again.runtimes == runtimes, "a rebuild with no change executed a notebook"
    assert {p: p.stat().st_mtime_ns for p in pages} == pages, "a rebuild with no change rewrote lecture pages"

    changed = min(course.lectures, key=lambda path: runtimes[f"notebooks/{path.name}"])
    notebook = nbformat.read(changed, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    code.source += "\nsite_test_marker = 1"
    nbformat.write(notebook, changed)
    start = time.perf_counter()
    third = build_site(course.root, site.out, work)
    print(f"rebuild after {changed.name} changed: {time.perf_counter() - start:.1f} s")
    executed = {name for name, seconds in third.runtimes.items() if seconds != runtimes[name]}
    assert executed == {f"notebooks/{changed.name}"}, f"executed again: {sorted(executed)}"
    rewritten = {p.name for p in pages if p.stat().st_mtime_ns != pages[p]}
    assert f"{changed.stem}.html" in rewritten
