"""The ``dlcourse`` command (also ``python -m dlcourse``): parse the command line and dispatch.

    dlcourse doctor              can the course run here? versions, device, widgets, nbgrader, MNIST
    dlcourse check [PATHS]       execute notebooks top to bottom; a table of times and status
    dlcourse release [IDS]       generate the student versions in assignments/ from solutions/
    dlcourse sync-setup          rewrite every notebook's setup cell from course_utils.colab
    dlcourse grade [IDS]         grade a class: sandboxed autograding, feedback, grades.csv, a summary
    dlcourse bench [--only ...]  benchmarks: notebook times, training speed, grading, release; into the README
    dlcourse site [--out DIR]    the course website: executed lectures, student versions, glossary, search
    dlcourse hub up|down         the course on one JupyterHub server for a class (as root; deploy/README.md)

Each command lives in its own module and is imported only when it runs, so
``dlcourse doctor`` works where the grader's POSIX-only modules do not exist.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dlcourse.execution import DEFAULT_TIME_LIMIT


def _doctor(_: argparse.Namespace) -> int:
    from dlcourse.doctor import doctor

    return doctor()


def _check(args: argparse.Namespace) -> int:
    from dlcourse.check import check

    return check(args.paths, args.time_limit, args.jobs)


def _release(args: argparse.Namespace) -> int:
    from course_utils.doctor import installed_version
    from dlcourse.layout import find_root
    from dlcourse.release import release_assignments

    if installed_version("nbgrader") is None:
        print("dlcourse release: nbgrader is not installed; pip install -e ./dlcourse", file=sys.stderr)
        return 2
    for notebook in release_assignments(find_root(), args.ids, Path(args.output) if args.output else None):
        print(f"wrote {notebook}")
    return 0


def _sync_setup(_: argparse.Namespace) -> int:
    from dlcourse.layout import find_root
    from dlcourse.setup_cells import sync_setup

    return sync_setup(find_root())


def _grade(args: argparse.Namespace) -> int:
    from dlcourse.grading.runner import run_from_args

    return run_from_args(args)


def _site(args: argparse.Namespace) -> int:
    from dlcourse.layout import find_root
    from dlcourse.site.build import site_command

    return site_command(find_root(), args.out, args.work)


def build_parser() -> argparse.ArgumentParser:
    from dlcourse.grading.options import add_arguments as add_grade_arguments

    parser = argparse.ArgumentParser(prog="dlcourse", description="Tools for the deep-learning course.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check that the course can run here").set_defaults(func=_doctor)
    p = commands.add_parser("check", help="execute notebooks and print their times and status")
    p.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/ solutions/ assignments/)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help="seconds per notebook (default %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="notebooks run at once (default 1)")
    p.set_defaults(func=_check)
    p = commands.add_parser("release", help="generate student versions from solutions/ into assignments/")
    p.add_argument("ids", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--output", help="write the student versions here instead of assignments/")
    p.set_defaults(func=_release)
    commands.add_parser("sync-setup", help="rewrite every notebook's setup cell").set_defaults(func=_sync_setup)
    p = commands.add_parser("grade", help="grade a class: sandboxed autograding, feedback, grades.csv, a summary")
    add_grade_arguments(p)
    p.set_defaults(func=_grade)
    p = commands.add_parser("site", help="build the course website (executed lectures, assignments, glossary)")
    p.add_argument("--out", help="where the site goes (default _build/site/)")
    p.add_argument("--work", help="sources, Sphinx's state and the execution cache (default _build/site-work/)")
    p.set_defaults(func=_site)
    # `dlcourse bench ARGS` hands ARGS to benchmarks/run.py (see main); listed here for --help.
    commands.add_parser("bench", help="measure notebooks, training, grading and release; update the README")
    # `dlcourse hub ARGS` hands ARGS to dlcourse.hub.server (see main).
    commands.add_parser("hub", help="the course on one JupyterHub server: up (accounts, exchange, hub) or down")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from dlcourse.bench import bench

        return bench(argv[1:])
    if argv[:1] == ["hub"]:
        from dlcourse.hub.server import main as hub_main

        return hub_main(argv[1:])
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
