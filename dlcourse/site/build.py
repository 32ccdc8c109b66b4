"""``dlcourse site``: stage the sources, run Sphinx, report what ran and how long it took.

The work folder (default ``_build/site-work/``) keeps the Sphinx sources (``src/``), Sphinx's saved environment
(``doctrees/``) and jupyter-cache's executed notebooks (``jupyter_cache/``) between builds: a rebuild with no
change executes nothing and rewrites nothing, and one after a lecture changed executes that lecture only.
The site goes to ``--out`` (default ``_build/site/``); open its ``index.html`` or serve the folder. After Sphinx,
every lecture with slide metadata becomes a reveal.js deck, ``slides/NN_topic.html`` (:mod:`dlcourse.site.slides`),
from the outputs Sphinx's execution left in the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse.site.slides import Deck, SlidesError, build_slides
from dlcourse.site.sources import lectures, stage_sources

DEFAULT_OUT = Path("_build") / "site"
DEFAULT_WORK = Path("_build") / "site-work"


class SiteBuildError(RuntimeError):
    """Sphinx failed, or warned (warnings are errors: a broken link, a cell writing to stderr, a failed cell)."""


@dataclass
class SiteBuild:
    """A finished build: where the site is, its pages, the seconds it took, each lecture's execution time and the
    lectures' slide decks."""

    out: Path
    pages: list[str]
    seconds: float
    runtimes: dict[str, float] = field(default_factory=dict)  # lecture path -> seconds of its cached execution
    decks: list[Deck] = field(default_factory=list)


def sphinx_command(src: Path, out: Path, work: Path) -> list[str]:
    """The ``sphinx-build`` command line of a build: HTML, warnings as errors, the execution cache in ``work``.

    Example:
        >>> sphinx_command(Path("s"), Path("o"), Path("w"))[:4]  # doctest: +ELLIPSIS
        ['...', '-m', 'sphinx', '-b']
    """
    return [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
            "-d", str(work / "doctrees"), "-D", f"nb_execution_cache_path={work / 'jupyter_cache'}",
            str(src), str(out)]


def cached_runtimes(work: Path) -> dict[str, float]:
    """Seconds each notebook took when jupyter-cache last executed it, by path relative to the sources."""
    from jupyter_cache import get_cache

    cache_path = work / "jupyter_cache"
    if not cache_path.is_dir():
        return {}
    src = (work / "src").resolve()
    runtimes = {}
    cache = get_cache(cache_path)
    for record in cache.list_project_records():
        try:
            cached = cache.get_cached_project_nb(record.uri)
        except KeyError:
            cached = None
        if cached is None:
            continue
        seconds = (cached.data or {}).get("execution_seconds")
        path = Path(record.uri)
        name = str(path.relative_to(src)) if path.is_relative_to(src) else str(path)
        if seconds is not None:
            runtimes[name] = float(seconds)
    return runtimes


def build_site(root: Path, out: Path | None = None, work: Path | None = None) -> SiteBuild:
    """Build the course site of ``root`` into ``out``; raise :class:`SiteBuildError` when Sphinx fails or warns."""
    out = (out or root / DEFAULT_OUT).resolve()
    work = (work or root / DEFAULT_WORK).resolve()
    start = time.perf_counter()
    pages = stage_sources(root, work / "src")
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    done = subprocess.run(sphinx_command(work / "src", out, work), cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SiteBuildError(f"sphinx-build failed (exit {done.returncode}):\n"
                             f"{done.stdout[-5000:]}{done.stderr[-10000:]}")
    try:
        decks = build_slides(root, [notebook for _, notebook in lectures(root)], out, work / "jupyter_cache")
    except SlidesError as error:
        raise SiteBuildError(f"slides: {error}") from error
    seconds = time.perf_counter() - start
    return SiteBuild(out=out, pages=pages, seconds=seconds, runtimes=cached_runtimes(work), decks=decks)


def site_command(root: Path, out: str | None, work: str | None) -> int:
    """What ``dlcourse site`` does: build, then print each lecture's execution time and where the site is."""
    import importlib.util

    missing = [name for name in ("sphinx", "myst_nb", "furo", "sphinx-mathjax-offline", "jupyter_cache")
               if importlib.util.find_spec(name) is None]
    if missing:
        print(f"dlcourse site: {', '.join(missing)} not installed; the site needs the `site` extra: "
              'pip install -e "./dlcourse[site]"', file=sys.stderr)
        return 2
    try:
        built = build_site(root, Path(out) if out else None, Path(work) if work else None)
    except SiteBuildError as error:
        print(f"dlcourse site: {error}", file=sys.stderr)
        return 1
    for name, seconds in sorted(built.runtimes.items()):
        print(f"{seconds:7.1f} s  {name}")
    for deck in built.decks:
        print(f"{deck.slides:4d} slides  {deck.path}")
    print(f"built {len(built.pages)} pages and {len(built.decks)} slide decks in {built.seconds:.1f} s: "
          f"{built.out / 'index.html'}")
    return 0
