"""The ``dlcourse`` command (also ``python -m course_utils``).

    dlcourse doctor              can the course run here? versions, device, widgets, nbgrader, MNIST
    dlcourse check [PATHS]       execute notebooks top to bottom; a table of times and status
    dlcourse release [IDS]       generate the student versions in assignments/ from solutions/
    dlcourse sync-setup          rewrite every notebook's setup cell from course_utils.colab
    dlcourse grade [IDS]         grade a class: sandboxed autograding, feedback, grades.csv, a summary
    dlcourse bench [--only ...]  benchmarks: notebook times, training speed, grading, release; into the README
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import colab

if TYPE_CHECKING:
    from course_utils.notebooks import RunResult

DEFAULT_TIME_LIMIT = 120.0
"""Seconds a whole notebook may take before ``dlcourse check`` counts it as failed (a guard against hangs)."""

TARGET_SECONDS = 60.0
"""The time every notebook should stay under on a 2-core CPU (reported, see the benchmarks)."""

SETUP_CELL_INDEX = 2
"""Position of the setup cell: after the title and the "what you will learn" cells."""


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder upwards holding ``nbgrader_config.py`` and ``solutions/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "solutions").is_dir():
            return folder
    raise SystemExit(f"dlcourse: no course found at or above {here} (expected nbgrader_config.py and solutions/)")


# ---------------------------------------------------------------- doctor
def _version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    return getattr(module, "__version__", "installed")


def doctor(_: argparse.Namespace) -> int:
    """Print what the course will use here; exit 1 if something it needs is missing."""
    rows: list[tuple[str, str]] = [("Python", f"{platform.python_version()} ({sys.executable})")]
    fatal = []
    for name in ("numpy", "matplotlib", "torch", "torchvision", "sklearn"):
        version = _version(name)
        rows.append((name, version or "MISSING"))
        if version is None:
            fatal.append(f"{name} is not installed: pip install -e .")
    if "torch" not in [f.split()[0] for f in fatal]:
        from course_utils.data import mnist_status
        from course_utils.device import choose_device, device_info

        try:
            device, why = choose_device()
            rows.append(("device", f"{device_info(device)} - {why}"))
        except ValueError as error:
            rows.append(("device", f"ERROR: {error}"))
            fatal.append(str(error))
        status = mnist_status()
        rows.append(("MNIST", {
            "present": "present on disk",
            "downloadable": "not on disk; will be downloaded on first use",
            "fallback": "not available offline: lecture 08 uses scikit-learn's bundled digits",
        }[status]))
    widgets = _version("ipywidgets")
    rows.append(("ipywidgets", f"{widgets} (widgets will render)" if widgets
                 else "MISSING: widgets show static pictures only"))
    nbgrader = _version("nbgrader")
    rows.append(("nbgrader", f"{nbgrader} (instructor tools usable)" if nbgrader
                 else "not installed (only instructors need it: pip install -e '.[grading]')"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if fatal:
        print("\nThe course cannot run here:\n" + "\n".join(f"  - {line}" for line in fatal))
        return 1
    print("\nThe course can run here.")
    return 0


# ---------------------------------------------------------------- check
def _run_one(args: tuple[str, float]) -> RunResult:
    from course_utils.notebooks import execute_notebook

    path, limit = args
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


def check(args: argparse.Namespace) -> int:
    """Execute notebooks and print a table; exit 1 if any failed."""
    from course_utils.notebooks import find_notebooks

    root = find_root() if not args.paths else Path.cwd().resolve()
    paths = args.paths or [root / "notebooks", root / "solutions", root / "assignments"]
    try:
        notebooks = find_notebooks(paths)
    except FileNotFoundError as error:
        print(f"dlcourse check: {error}", file=sys.stderr)
        return 2
    if not notebooks:
        print("dlcourse check: no notebooks found", file=sys.stderr)
        return 2
    jobs = [(str(nb), args.time_limit) for nb in notebooks]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_run_one, jobs))
    else:
        results = []
        for job in jobs:
            print(f"running {job[0]} ...", file=sys.stderr, flush=True)
            results.append(_run_one(job))
    print(format_table(results, root))
    return 0 if all(r.ok for r in results) else 1


# ---------------------------------------------------------------- release
def assignment_ids(root: Path) -> list[str]:
    """The assignments in ``solutions/``: folders ``hwNN_topic`` holding ``hwNN_topic.ipynb``."""
    return sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").is_file())


def release_assignments(root: Path, ids: Sequence[str] | None = None, output: Path | None = None,
                        db_url: str | None = None) -> list[Path]:
    """Generate the student versions with nbgrader; return the written notebooks.

    By default they go to ``assignments/`` and are recorded in the course
    gradebook (autograding needs that). With ``output`` they go there instead,
    recorded in a throw-away gradebook unless ``db_url`` is given.
    """
    known = assignment_ids(root)
    ids = list(ids) if ids else known
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise SystemExit(f"dlcourse release: unknown assignment(s) {', '.join(unknown)}; "
                         f"solutions/ holds {', '.join(known) or 'none'}")
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        extra = []
        if output is not None:
            extra.append(f"--CourseDirectory.release_directory={Path(output).resolve()}")
            extra.append(f"--CourseDirectory.db_url={db_url or 'sqlite:///' + str(Path(scratch) / 'gradebook.db')}")
        elif db_url:
            extra.append(f"--CourseDirectory.db_url={db_url}")
        release_dir = Path(output).resolve() if output is not None else root / "assignments"
        for assignment in ids:
            command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                       "--log-level=WARN", *extra]
            done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=nbgrader_env())
            if done.returncode != 0:
                raise SystemExit(f"dlcourse release: nbgrader failed on {assignment}:\n{done.stdout}{done.stderr}")
            for notebook in sorted((release_dir / assignment).glob("*.ipynb")):
                _check_badge(notebook, f"assignments/{assignment}/{notebook.name}")
                written.append(notebook)
    return written


def nbgrader_env() -> dict[str, str]:
    """The environment to run nbgrader in: it calls ``alembic`` by name, so this Python's scripts come first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _check_badge(notebook: Path, published_path: str) -> None:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    badge = colab.colab_badge(published_path)
    if not nb.cells or badge not in nb.cells[0].source:
        raise SystemExit(f"dlcourse release: {notebook} must start with the Colab badge of the student version:\n"
                         f"  {badge}\n(its source in solutions/ carries it)")


def release(args: argparse.Namespace) -> int:
    root = find_root()
    if not shutil.which("nbgrader") and _version("nbgrader") is None:
        print("dlcourse release: nbgrader is not installed; pip install -e '.[grading]'", file=sys.stderr)
        return 2
    for notebook in release_assignments(root, args.ids, Path(args.output) if args.output else None):
        print(f"wrote {notebook}")
    return 0


# ---------------------------------------------------------------- sync-setup
def course_notebooks(root: Path) -> list[Path]:
    """The hand-written notebooks: lectures and assignment sources (not the generated student versions)."""
    from course_utils.notebooks import find_notebooks

    return find_notebooks([root / "notebooks", root / "solutions"])


def sync_setup(args: argparse.Namespace) -> int:
    """Make cell 3 of every lecture and assignment source the current setup cell."""
    import nbformat

    root = find_root()
    source = colab.setup_cell_source()
    changed = 0
    for path in course_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[SETUP_CELL_INDEX] if len(nb.cells) > SETUP_CELL_INDEX else None
        if cell is None or cell.cell_type != "code":
            print(f"{path}: cell {SETUP_CELL_INDEX + 1} is not a code cell; fix it by hand", file=sys.stderr)
            continue
        if cell.source != source:
            cell.source = source
            nbformat.write(nb, str(path))
            changed += 1
            print(f"updated {path}")
    print(f"{changed} notebook(s) updated; run `dlcourse release` to refresh the student versions" if changed
          else "every setup cell is current")
    return 0


# ---------------------------------------------------------------- bench
def bench(bench_args: Sequence[str]) -> int:
    """Run benchmarks/run.py (course execution, training speed, grading, release; see the README)."""
    root = find_root()
    script = root / "benchmarks" / "run.py"
    if not script.is_file():
        print(f"dlcourse bench: {script} is missing", file=sys.stderr)
        return 2
    return subprocess.run([sys.executable, str(script), *bench_args], cwd=root, env=nbgrader_env()).returncode


# ---------------------------------------------------------------- grade
def grade(args: argparse.Namespace) -> int:
    """Grade a class: intake, sandboxed autograding, feedback, grades.csv and a summary (course_utils.grading)."""
    from course_utils.grading.runner import run_from_args

    return run_from_args(args)


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlcourse", description="Tools for the deep-learning course.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check that the course can run here").set_defaults(func=doctor)
    p = commands.add_parser("check", help="execute notebooks and print their times and status")
    p.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/ solutions/ assignments/)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help="seconds per notebook (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="notebooks run at once (default 1)")
    p.set_defaults(func=check)
    p = commands.add_parser("release", help="generate student versions from solutions/ into assignments/")
    p.add_argument("ids", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--output", help="write the student versions here instead of assignments/")
    p.set_defaults(func=release)
    commands.add_parser("sync-setup", help="rewrite every notebook's setup cell").set_defaults(func=sync_setup)
    from course_utils.grading.runner import add_arguments as add_grade_arguments

    p = commands.add_parser("grade", help="grade a class: sandboxed autograding, feedback, grades.csv, a summary")
    add_grade_arguments(p)
    p.set_defaults(func=grade)
    # `dlcourse bench ARGS` hands ARGS to benchmarks/run.py (see main); listed here for --help.
    commands.add_parser("bench", help="measure notebooks, training, grading and release; update the README")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return bench(argv[1:])
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
