"""What the server itself must guarantee before the hub starts, against the class's own accounts.

The exchange keeps students out of each other's submissions; these close what a student's shell on the same
machine could otherwise reach (found by a red-team review, 2026-12-05):

* **the course's checkout**: the users' Python imports ``course_utils`` and ``dlcourse`` from it (an editable
  install), so it must stay readable — but ``solutions/``, ``tests/``, ``.git`` (every solution in its history), a
  gradebook or collected work must not. :func:`make_checkout_private` leaves others only the folders the users'
  Python needs (:data:`USERS_NEED`) and takes every permission of "others" from everything else at the top level;
* **the hub's ports**: a student who listens first on the proxy's public port serves the login page (and collects
  the class's passwords); on the proxy's API port they receive the proxy's secret token; on the hub's port, the
  users' servers' tokens. Ports below ``net.ipv4.ip_unprivileged_port_start`` can be bound by root only
  (:func:`unprivileged_ports`);
* **leftover processes**: a student's process that outlived the last hub could still hold a port or a file open;
  :func:`end_processes_of` ends every process of the class's accounts before the hub starts.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
from collections.abc import Iterable
from pathlib import Path

USERS_NEED = frozenset({".venv", "course_utils", "dlcourse"})
"""What the users' Python reads in the checkout (the environment and the two packages installed from it)."""
UNPRIVILEGED_PORT_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")


def is_course_checkout(root: Path) -> bool:
    """True for the course's source folder (solutions beside the packages), not an installed copy.

    Example:
        >>> is_course_checkout(Path("/nonexistent"))
        False
    """
    return all((root / name).is_dir() for name in ("solutions", "course_utils", "dlcourse"))


def make_checkout_private(root: Path) -> list[tuple[Path, int]]:
    """Take the permissions of "others" from every top-level entry of the checkout ``root`` but :data:`USERS_NEED`.

    Returns what changed, ``(path, mode before)``, so that a test can put it back; an installed copy (no
    ``solutions/`` beside the packages) is left alone.
    """
    if not is_course_checkout(root):
        return []
    changed = []
    for path in sorted(root.iterdir()):
        if path.name in USERS_NEED or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            os.chmod(path, mode & ~0o007)
            changed.append((path, mode))
    return changed


def restore_modes(changed: Iterable[tuple[Path, int]]) -> None:
    """Undo :func:`make_checkout_private` (tests)."""
    for path, mode in changed:
        os.chmod(path, mode)


def unprivileged_ports(ports: Iterable[int]) -> list[int]:
    """The ports among ``ports`` that any account may bind (so a student could take them before the hub).

    Example:
        >>> unprivileged_ports([80, 65000]) == ([65000] if UNPRIVILEGED_PORT_START.exists() else [80, 65000])
        True
    """
    try:
        start = int(UNPRIVILEGED_PORT_START.read_text())
    except (OSError, ValueError):
        start = 0  # unknown: treat every port as one anybody may bind
    return [port for port in ports if port >= start]


def end_processes_of(usernames: Iterable[str], rounds: int = 10) -> None:
    """End every process of these accounts. Needs root.

    A process that keeps forking changes its pid faster than a scan of ``/proc`` can see it alive (the scan finds
    only the parents it left behind), so no scan decides whom to kill: a child takes each account's uid and sends
    ``kill(-1, SIGKILL)``, which the kernel delivers to every process of that uid at once; repeated until a scan
    finds none alive (at most ``rounds`` times).
    """
    for name in usernames:
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        for _ in range(rounds):
            child = os.fork()
            if child == 0:  # pragma: no cover - the child only drops to the account and signals
                try:
                    os.setgroups([])
                    os.setgid(account.pw_gid)
                    os.setuid(account.pw_uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(child, 0)
            if not _running(account.pw_uid):
                break


def _running(uid: int) -> int:
    """How many live (not zombie) processes have ``uid`` as their real or effective uid."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()[:2]
        if str(uid) in uids and not fields.get("State", "").strip().startswith("Z"):
            count += 1
    return count


def free_privileged_ports(count: int, first: int = 600) -> list[int]:
    """``count`` ports below 1024 that nothing listens on now (as root; a test class or a benchmark's hub)."""
    import socket

    found = []
    for port in range(first, 1024):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"fewer than {count} free ports in {first}..1023")
