"""Running nbgrader's command line: the one way the tools start it.

nbgrader calls ``alembic`` by name, so this Python's scripts come first on
``PATH``; ``-I`` keeps the working directory (a course folder, or a folder of
submissions) off ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class NbgraderFailed(RuntimeError):
    """nbgrader exited with an error; the message holds its output."""


def nbgrader_env() -> dict[str, str]:
    """The environment to run nbgrader in: this Python's scripts first on ``PATH``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(arguments: Sequence[str], *, cwd: Path, timeout: float | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGUMENTS`` in ``cwd``; raise :class:`NbgraderFailed` with its output when it fails.

    Example:
        >>> run_nbgrader(["--version"], cwd=Path.cwd()).returncode
        0
    """
    command = [sys.executable, "-I", "-m", "nbgrader", *arguments]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else nbgrader_env())
    if done.returncode != 0:
        raise NbgraderFailed(f"nbgrader {' '.join(arguments[:1])} failed (exit {done.returncode}):\n"
                             f"{done.stdout}{done.stderr}".rstrip())
    return done
