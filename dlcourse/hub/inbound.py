"""Reading a student's submission out of the exchange's inbound folder without trusting any of it.

``nbgrader collect`` runs as the instructor, who can read the solutions and the gradebook; a submission folder in
``inbound`` belongs to the student, who may change it at any time after ``nbgrader submit``. nbgrader's collect copies
it with ``shutil.copytree``, which follows links: a student's ``notebook.ipynb -> ~instructor/course/solutions/…``
would come back as the student's work, a link to another student's collected ``submission_secret.txt`` would send the
attacker's feedback to the victim's page, a link to ``/dev/zero`` would fill the disk, and a FIFO would hang the
collection of the whole class.

:func:`read_submission` walks a submission by file descriptors (``O_NOFOLLOW`` at every step, so no entry can be
swapped for a link between a check and its use) and takes only what ``nbgrader submit`` itself makes:

- folders and regular files, each owned by the student (a link, FIFO, socket or device, or anything owned by another
  account, refuses the submission: the student did not make it with ``nbgrader submit``);
- at most :attr:`Limits.max_bytes` in all, :attr:`Limits.max_file_bytes` a file, :attr:`Limits.max_entries` entries,
  :attr:`Limits.max_depth` folders deep. A check (no ``copy_to``) reads no file but the secret and counts the sizes
  the file system reports; a copy counts the bytes it actually reads (a file may grow in between);
- a ``submission_secret.txt`` of hexadecimal digits (it names the student's feedback page, so it goes into a path);
- the student's own ``timestamp.txt`` is never copied: the time that counts is :attr:`Inspected.changed`, the newest
  status change (``ctime``) of the folder and everything in it, which a student cannot set back. A submission edited
  after the deadline is late, whatever its name or its ``timestamp.txt`` say.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SECRET_FILE = "submission_secret.txt"
TIMESTAMP_FILE = "timestamp.txt"
SECRET = re.compile(r"[0-9a-f]{32,256}")
"""What ``nbgrader submit`` writes as a submission's secret (``secrets.token_hex(64)``: 128 hex digits)."""
MAX_SECRET_BYTES = 1024
COPY_CHUNK = 1 << 16
FILE_MODE = 0o640
FOLDER_MODE = 0o750
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ENTRY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO opens without waiting
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(Exception):
    """A submission the collection does not take; the message says why, in terms the instructor can check."""


@dataclass(frozen=True)
class Limits:
    """How much one submission may hold (nbgrader's ``max_dir_size`` and ``max_file_size`` are in kB)."""

    max_bytes: int
    max_file_bytes: int
    max_entries: int = 1000
    max_depth: int = 8

    @classmethod
    def from_kilobytes(cls, max_dir_size: int, max_file_size: int) -> Limits:
        """The limits of nbgrader's ``CourseDirectory.max_dir_size`` and ``max_file_size``.

        Example:
            >>> Limits.from_kilobytes(100, 10)
            Limits(max_bytes=100000, max_file_bytes=10000, max_entries=1000, max_depth=8)
        """
        return cls(1000 * max_dir_size, 1000 * max_file_size)


@dataclass(frozen=True)
class Inspected:
    """What the collection learns from a submission: its secret and when it last changed (seconds since 1970, UTC)."""

    secret: str
    changed: float


def read_submission(path: str | Path, uid: int, limits: Limits, copy_to: str | Path | None = None) -> Inspected:
    """Check the submission folder ``path`` of the account ``uid`` and, with ``copy_to``, copy it there.

    ``copy_to`` must not exist; it is made ``0750`` with files ``0640`` and gets every entry but ``timestamp.txt``.
    Raises :class:`Refused` for anything ``nbgrader submit`` does not make (see the module's docstring); a copy
    refused half-way leaves ``copy_to`` for the caller to remove.
    """
    walk = _Walk(uid, limits, Path(copy_to) if copy_to is not None else None)
    try:
        top = os.open(path, _FOLDER_FLAGS)
    except OSError as error:
        link = os.path.islink(path)  # O_DIRECTORY with O_NOFOLLOW answers a link with ENOTDIR
        raise Refused(f"it is not a folder ({'a symbolic link' if link else _entry_problem(error)})") from None
    try:
        walk.folder(top, Path("."), depth=0)
    finally:
        os.close(top)
    if walk.secret is None:
        raise Refused(f"it has no {SECRET_FILE} (nbgrader submit writes one; without it no feedback can be released)")
    return Inspected(walk.secret, walk.changed)


def newest_per_owner(paths: Iterable[str], keep: int) -> set[str]:
    """The ``keep`` newest (by ``ctime``) of each account's entries among ``paths``; vanished ones are left out.

    A student can create entries in ``inbound`` without end: looking at each costs the collection one ``lstat``,
    reading each would cost far more, so only these are read (the others are the student's own older ones).
    """
    owners: dict[int, list[tuple[float, str]]] = {}
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        owners.setdefault(info.st_uid, []).append((info.st_ctime_ns, path))
    return {path for entries in owners.values() for _, path in sorted(entries)[-keep:]}


def _entry_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link"
    if error.errno == errno.ENXIO:
        return "a socket"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "the instructor may not read it"
    if error.errno == errno.ENOTDIR:
        return "a file"
    return os.strerror(error.errno or 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Walk:
    """One walk over a submission: counts, the newest ctime and the secret, and the copy when asked."""

    def __init__(self, uid: int, limits: Limits, copy_to: Path | None) -> None:
        self.uid, self.limits, self.copy_to = uid, limits, copy_to
        self.entries = 0
        self.bytes = 0
        self.changed = 0.0
        self.secret: str | None = None

    def _check_owner(self, info: os.stat_result, relative: Path) -> None:
        if info.st_uid != self.uid:
            raise Refused(f"{relative} belongs to another account (uid {info.st_uid}), not the student")
        self.changed = max(self.changed, info.st_ctime)

    def folder(self, fd: int, relative: Path, depth: int) -> None:
        self._check_owner(os.fstat(fd), relative)
        if depth > self.limits.max_depth:
            raise Refused(f"{relative} lies more than {self.limits.max_depth} folders deep")
        if self.copy_to is not None:
            os.mkdir(self.copy_to / relative, FOLDER_MODE)
        for name in sorted(os.listdir(fd)):
            self.entries += 1
            if self.entries > self.limits.max_entries:
                raise Refused(f"it holds more than {self.limits.max_entries} files and folders")
            self.entry(fd, name, relative / name, depth)

    def entry(self, parent: int, name: str, relative: Path, depth: int) -> None:
        try:
            fd = os.open(name, _ENTRY_FLAGS, dir_fd=parent)
        except OSError as error:
            raise Refused(f"{relative} is {_entry_problem(error)}") from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                self.folder(fd, relative, depth + 1)
            elif stat.S_ISREG(info.st_mode):
                self.file(fd, info, relative)
            else:
                raise Refused(f"{relative} is neither a file nor a folder (a FIFO, socket or device)")
        finally:
            os.close(fd)

    def _count(self, more: int, relative: Path, file_size: int | None = None) -> None:
        """Add ``more`` bytes of ``relative`` (whose size so far is ``file_size``) and enforce the limits."""
        self.bytes += more
        if (more if file_size is None else file_size) > self.limits.max_file_bytes:
            raise Refused(f"{relative} is larger than {self.limits.max_file_bytes} bytes")
        if self.bytes > self.limits.max_bytes:
            raise Refused(f"it is larger than {self.limits.max_bytes} bytes in all")

    def file(self, fd: int, info: os.stat_result, relative: Path) -> None:
        self._check_owner(info, relative)
        top_level = relative.parent == Path(".")
        if top_level and relative.name == TIMESTAMP_FILE:
            return  # the student's claim; the collection writes the time it trusts
        kept = bytearray() if top_level and relative.name == SECRET_FILE else None
        if self.copy_to is None and kept is None:  # a check only: sizes as the file system reports them
            self._count(info.st_size, relative)
            return
        target = None
        if self.copy_to is not None:
            target = os.open(self.copy_to / relative, _NEW_FILE_FLAGS, FILE_MODE)
        size = 0
        try:
            while chunk := os.read(fd, COPY_CHUNK):
                size += len(chunk)
                self._count(len(chunk), relative, size)
                if kept is not None:
                    kept += chunk
                    if len(kept) > MAX_SECRET_BYTES:
                        raise Refused(f"its {SECRET_FILE} is longer than {MAX_SECRET_BYTES} bytes")
                if target is not None:
                    _write_all(target, chunk)
        finally:
            if target is not None:
                os.close(target)
        self.changed = max(self.changed, os.fstat(fd).st_ctime)  # changed while it was read: later still
        if kept is not None:
            secret = kept.decode("ascii", "replace")
            if not SECRET.fullmatch(secret):
                raise Refused(f"its {SECRET_FILE} is not {SECRET.pattern} (nbgrader submit writes 128 hex digits)")
            self.secret = secret
