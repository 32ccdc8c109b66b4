"""Files in a submission folder named like a module the grader or the kernel imports.

A student's ``course_utils.py`` or ``numpy.py`` beside the notebook would replace the real module in any
program started in that folder, and a ``.pth`` file runs code when Python starts if it lies in
site-packages. The sandbox is built so that only the student's own kernel sees such a file; the
pre-flight check still flags each one (:func:`find_module_files`, a "module-file"
:class:`~dlcourse.grading.issues.Issue`, not fatal), so that the instructor looks at why it was submitted.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "numpy.py").write_text("")
    ...     _ = (Path(folder) / "my_utils.py").write_text("")
    ...     [issue.message[:41] for issue in find_module_files(Path(folder))]
    ["numpy.py is named like the module 'numpy'"]
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import sys
from pathlib import Path

from dlcourse.grading.issues import Issue

GRADER_MODULES = frozenset({"course_utils", "dlcourse", "nbgrader", "sitecustomize", "usercustomize"})
"""Module names a submitted file must not take besides the standard library's and the installed packages'."""

MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
"""Files Python imports as a module (``.pth`` files are flagged whatever their name)."""


@functools.lru_cache(maxsize=1)
def shadowed_module_names() -> frozenset[str]:
    """Top-level module names the grader or the kernel may import: the standard library, every installed
    distribution's top-level names, and :data:`GRADER_MODULES`. Computed once per process.

    Example:
        >>> {"json", "nbformat", "course_utils"} <= shadowed_module_names()
        True
        >>> "my_utils" in shadowed_module_names()
        False
    """
    names = set(sys.stdlib_module_names) | GRADER_MODULES
    try:
        names.update(importlib.metadata.packages_distributions())
    except Exception:  # a damaged distribution's metadata: the other names still count
        pass
    return frozenset(name for name in names if name.isidentifier())


def find_module_files(folder: Path) -> list[Issue]:
    """A "module-file" issue (not fatal) for each file or package under ``folder`` that Python could import
    under the name of a module the grader or the kernel imports (:func:`shadowed_module_names`), and for
    every ``.pth`` file. Symbolic links are skipped, as intake skips them.

    A student's ``course_utils.py`` beside the notebook would replace the real ``course_utils`` in any
    program started in that folder; the sandbox is built so that only the student's own kernel sees such a
    file, and the flag asks the instructor to look at why it was submitted.

    Example:
        >>> find_module_files(Path("/nonexistent"))
        []
    """
    names = shadowed_module_names()
    found: list[tuple[str, Issue]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                shown = Path(entry.path).relative_to(folder).as_posix()
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                    if entry.name in names and _is_package(Path(entry.path)):
                        found.append((shown, _module_issue(f"{shown}/ is a package", entry.name)))
                elif entry.is_file(follow_symlinks=False):
                    module = _module_name(entry.name)
                    if entry.name.endswith(".pth"):
                        found.append((shown, Issue("module-file", f"{shown} is a .pth file, which Python runs at "
                                                                  "start-up when it lies in site-packages: "
                                                                  f"{_MODULE_FILE_TAIL}")))
                    elif module in names:
                        found.append((shown, _module_issue(f"{shown} is", module)))
            except OSError:
                continue
    return [issue for _, issue in sorted(found, key=lambda pair: pair[0])]


_MODULE_FILE_TAIL = ("it is never imported outside the sandbox, and inside it shadows the real module in this "
                     "student's kernel only; check why it was submitted")


def _module_issue(what: str, module: str) -> Issue:
    return Issue("module-file", f"{what} named like the module {module!r} that the grader and the kernel "
                                f"import: {_MODULE_FILE_TAIL}")


def _module_name(file_name: str) -> str | None:
    """The module ``import`` would find in a file of this name: ``numpy.py`` and
    ``numpy.cpython-311-x86_64-linux-gnu.so`` are ``numpy``; ``notes.txt`` is none."""
    if file_name.endswith(".py"):
        return file_name[:-3]
    if file_name.endswith(MODULE_SUFFIXES):
        return file_name.split(".", 1)[0]
    return None


def _is_package(folder: Path) -> bool:
    return any((folder / name).is_file() and not (folder / name).is_symlink()
               for name in ("__init__.py", "__init__.pyc"))
