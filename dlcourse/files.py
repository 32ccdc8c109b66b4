"""Regular files only: what the tools copy, hash or count from a folder a student filled.

A link or a special file (a FIFO, a device) in a submission is never followed:
it could point at the grader's own files or block a reader forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def is_regular_file(path: Path) -> bool:
    """A plain file, not a link to one (``Path.is_file`` alone follows links)."""
    return path.is_file() and not path.is_symlink()


def regular_files(folder: Path, *, recursive: bool = True, hidden: bool = True) -> Iterator[Path]:
    """The regular files below ``folder`` in a stable order; links are not followed, special files skipped.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     (Path(tmp) / "a.txt").write_text("x")
        ...     (Path(tmp) / "link").symlink_to(Path(tmp) / "a.txt")
        ...     [p.name for p in regular_files(Path(tmp))]
        1
        ['a.txt']
    """
    if not folder.is_dir() or folder.is_symlink():
        return
    for path in sorted(folder.iterdir()):
        if not hidden and path.name.startswith("."):
            continue
        if is_regular_file(path):
            yield path
        elif recursive and path.is_dir() and not path.is_symlink():
            yield from regular_files(path, recursive=True, hidden=hidden)
