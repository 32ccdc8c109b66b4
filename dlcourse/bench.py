"""``dlcourse bench``: run ``benchmarks/run.py`` (course execution, training speed, grading, release)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from dlcourse.layout import find_root
from dlcourse.nbgrader_run import nbgrader_env


def bench(arguments: Sequence[str]) -> int:
    """Run the benchmarks with ``arguments``; they write their results into the README."""
    root = find_root()
    script = root / "benchmarks" / "run.py"
    if not script.is_file():
        print(f"dlcourse bench: {script} is missing", file=sys.stderr)
        return 2
    return subprocess.run([sys.executable, str(script), *arguments], cwd=root, env=nbgrader_env()).returncode
