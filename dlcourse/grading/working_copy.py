"""A kernel's working copy: the regular files of a folder, copied; their size; made readable to the kernel's user.

A link or a special file in a submission is never copied nor counted (:mod:`dlcourse.files`). The grader
measures and copies the submission before a kernel starts (:mod:`~dlcourse.grading.split_execute`); inside
the sandbox the files are copied again, into the kernel's tmpfs (:mod:`~dlcourse.grading.confinement`).

Example:
    >>> copy_files("/nonexistent", "/tmp"), files_size("/nonexistent")
    (0, 0)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dlcourse.files import regular_files


def copy_files(source: str, destination: str) -> int:
    """Copy the regular files below ``source`` into ``destination`` (no links or special files); return the bytes.

    Example:
        >>> copy_files("/nonexistent", "/tmp")
        0
    """
    total = 0
    for base, dirs, files in os.walk(source, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(base, d)) and d != ".ipynb_checkpoints")
        target = os.path.join(destination, os.path.relpath(base, source))
        os.makedirs(target, exist_ok=True)
        for name in sorted(files):
            path = os.path.join(base, name)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copyfile(path, os.path.join(target, name))
                total += os.path.getsize(path)
    return total


def files_size(folder: str) -> int:
    """Bytes of the regular files below ``folder`` (links and special files are never copied, nor counted)."""
    return sum(path.stat().st_size for path in regular_files(Path(folder)))


def make_readable(folder: str) -> None:
    """Let the sandbox's user read the working copy's files (they are copied into its tmpfs)."""
    for base, _dirs, files in os.walk(folder):
        os.chmod(base, 0o755)
        for name in files:
            os.chmod(os.path.join(base, name), 0o644)
