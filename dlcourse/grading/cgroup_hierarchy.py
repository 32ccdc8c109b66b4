"""Where this process's cgroups are: the mounted hierarchies, its own group in each, and the files in them.

:mod:`~dlcourse.grading.cgroups` makes its groups under this process's own cgroup (so that it works inside a
container), found from ``/proc/self/mountinfo`` and ``/proc/self/cgroup``; a path that leads outside this
process's cgroup namespace is never used. The readers raise
:class:`~dlcourse.grading.resource_budget.ResourceGroupError` with the file and the reason.

Example:
    >>> mount = parse_mounts("35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory")[0]
    >>> mount.version, sorted(mount.controllers), directory_in(mount, "/docker/abc/kernel")
    (1, ['memory'], PosixPath('/sys/fs/cgroup/memory/kernel'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dlcourse.grading.resource_budget import MechanismUnavailable, ResourceGroupError

V1_CONTROLLERS = ("memory", "pids", "cpuacct")
"""The cgroup v1 hierarchies a ``cgroup1`` group needs (one directory in each)."""

V2_CONTROLLERS = ("memory", "pids")
"""The controllers a ``cgroup2`` group needs (CPU time comes from ``cpu.stat``, always there)."""

_MOUNT_OPTIONS = frozenset({"rw", "ro", "none", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                            "favordynmods"})  # cgroup v1 mount options that name no controller


def read_text(path: Path) -> str:
    """The text of a cgroup (or ``/proc``) file; :class:`ResourceGroupError` when it cannot be read."""
    try:
        return path.read_text()
    except OSError as error:
        raise ResourceGroupError(f"cannot read {path}: {error.strerror or error}") from error


def read_int(path: Path) -> int:
    text = read_text(path).strip()
    try:
        return int(text)
    except ValueError:
        raise ResourceGroupError(f"{path}: expected a whole number, found {text[:40]!r}") from None


def read_keyed(path: Path) -> dict[str, int]:
    """The ``key value`` lines of a cgroup file (``memory.events``, ``cpu.stat``, ``pids.events``)."""
    values = {}
    for line in read_text(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def write_text(path: Path, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def listing(names: Iterable[str]) -> str:
    names = sorted(names)
    if len(names) < 2:
        return names[0] if names else "no controller"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _unescape(field: str) -> str:
    """A path field of ``/proc/self/mountinfo`` with its octal escapes (``\\040`` is a space) undone."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


@dataclass(frozen=True)
class Mount:
    """A mounted cgroup hierarchy: ``point`` shows the hierarchy's ``root``; v1 names its controllers."""

    point: Path
    root: str
    version: int
    controllers: frozenset[str]


@dataclass(frozen=True)
class Membership:
    """This process's cgroups: one path per v1 hierarchy (by its controllers) and its v2 path."""

    v1: tuple[tuple[frozenset[str], str], ...]
    v2: str | None


def cgroup_mounts() -> list[Mount]:
    """The cgroup hierarchies mounted here (none when ``/proc`` cannot be read)."""
    try:
        return parse_mounts(Path("/proc/self/mountinfo").read_text())
    except OSError:
        return []


def parse_mounts(text: str) -> list[Mount]:
    """The cgroup hierarchies among the lines of ``/proc/self/mountinfo``."""
    mounts = []
    for line in text.splitlines():
        left, separator, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not separator or len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        options = frozenset(o for o in tail[2].split(",") if o not in _MOUNT_OPTIONS and "=" not in o)
        version = 2 if tail[0] == "cgroup2" else 1
        mounts.append(Mount(Path(_unescape(fields[4])), _unescape(fields[3]), version,
                             options if version == 1 else frozenset()))
    return mounts


def own_membership() -> Membership:
    """This process's cgroups (none when ``/proc`` cannot be read)."""
    try:
        return parse_membership(Path("/proc/self/cgroup").read_text())
    except OSError:
        return Membership((), None)


def parse_membership(text: str) -> Membership:
    """The lines ``id:controllers:path`` of ``/proc/self/cgroup``."""
    v1, v2 = [], None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        else:
            v1.append((frozenset(c for c in parts[1].split(",") if "=" not in c), parts[2]))
    return Membership(tuple(v1), v2)


def directory_in(mount: Mount, path: str) -> Path | None:
    """Where cgroup ``path`` (as ``/proc/self/cgroup`` names it) appears under ``mount``, if it does."""
    root = mount.root.rstrip("/")
    if (path != root and not path.startswith(root + "/")) or "/.." in path:  # ``/..``: outside our namespace
        return None
    return mount.point / path[len(root):].lstrip("/")


def v1_bases() -> dict[str, Path]:
    """This process's own cgroup directory in each hierarchy of :data:`V1_CONTROLLERS`."""
    mounts, membership = [m for m in cgroup_mounts() if m.version == 1], own_membership()
    bases, missing = {}, []
    for controller in V1_CONTROLLERS:
        paths = [path for controllers, path in membership.v1 if controller in controllers]
        found = [directory_in(m, paths[0]) for m in mounts if controller in m.controllers] if paths else []
        found = [d for d in found if d is not None and d.is_dir()]
        if found:
            bases[controller] = found[0]
        else:
            missing.append(controller)
    if missing:
        raise MechanismUnavailable(f"no v1 hierarchy for {listing(missing)} is mounted where this process's "
                                   "cgroup shows")
    return bases


def v2_own() -> Path:
    """This process's own directory in the unified hierarchy (raises :class:`MechanismUnavailable` without one)."""
    path = own_membership().v2
    for mount in cgroup_mounts():
        if mount.version == 2 and path is not None:
            directory = directory_in(mount, path)
            if directory is not None and (directory / "cgroup.controllers").is_file():
                return directory
    raise MechanismUnavailable("no unified (v2) hierarchy is mounted where this process's cgroup shows")


def v2_is_mount_point(directory: Path) -> bool:
    return any(m.version == 2 and m.point == directory for m in cgroup_mounts())


def group_parents() -> list[Path]:
    """Every directory :meth:`~dlcourse.grading.resources.ResourceGroup.create` may put a group in, here."""
    parents: list[Path] = []
    try:
        parents.extend(v1_bases().values())
    except MechanismUnavailable:
        pass
    try:
        own = v2_own()
    except MechanismUnavailable:
        own = None
    if own is not None:
        parents.append(own)
        if not v2_is_mount_point(own):
            parents.append(own.parent)
    return list(dict.fromkeys(parents))
