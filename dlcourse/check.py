"""``dlcourse check``: execute notebooks top to bottom and print a table of times and status."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from dlcourse.execution import TARGET_SECONDS, RunResult, execute_notebook
from dlcourse.layout import find_notebooks, find_root


def _run_one(job: tuple[str, float]) -> RunResult:
    path, limit = job
    return execute_notebook(path, time_limit=limit)


def format_table(results: Sequence[RunResult], root: Path) -> str:
    """The table ``dlcourse check`` prints."""
    def rel(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            return str(path)

    names = [rel(r.path) for r in results]
    width = max([len("notebook"), *map(len, names)])
    lines = [f"{'notebook':<{width}}  {'seconds':>7}  status", "-" * (width + 30)]
    for name, result in zip(names, results):
        slow = "  (over the 60 s target)" if result.seconds > TARGET_SECONDS else ""
        lines.append(f"{name:<{width}}  {result.seconds:7.1f}  {result.status}{slow}")
        for problem in result.failures:
            lines.append(f"{'':<{width}}           {problem.describe()}")
        if result.crash:
            lines.append(f"{'':<{width}}           {result.crash}")
    total = sum(r.seconds for r in results)
    failed = sum(not r.ok for r in results)
    lines.append("-" * (width + 30))
    lines.append(f"{len(results)} notebook(s), {total:.1f} s in all, {failed} failed")
    return "\n".join(lines)


def check(paths: Sequence[str], time_limit: float, jobs: int) -> int:
    """Execute the notebooks under ``paths`` (default: the course's) and print a table; exit 1 if any failed."""
    root = find_root() if not paths else Path.cwd().resolve()
    folders = list(paths) or [root / "notebooks", root / "solutions", root / "assignments"]
    try:
        notebooks = find_notebooks(folders)
    except FileNotFoundError as error:
        print(f"dlcourse check: {error}", file=sys.stderr)
        return 2
    if not notebooks:
        print("dlcourse check: no notebooks found", file=sys.stderr)
        return 2
    work = [(str(nb), time_limit) for nb in notebooks]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_run_one, work))
    else:
        results = []
        for job in work:
            print(f"running {job[0]} ...", file=sys.stderr, flush=True)
            results.append(_run_one(job))
    print(format_table(results, root))
    return 0 if all(r.ok for r in results) else 1
