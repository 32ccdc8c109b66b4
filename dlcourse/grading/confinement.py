"""Inside the sandbox, before the kernel: its limits, its user, its working copy; then the kernel itself.

The inner stage of ``python -I -m dlcourse.grading.sandbox --inner`` (:mod:`~dlcourse.grading.sandbox`
runs it inside bubblewrap), in this order:

1. the per-process limits of :class:`~dlcourse.grading.limits.Limits` (``RLIMIT_CPU``, ``RLIMIT_DATA``,
   ``RLIMIT_AS``, ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE``, no core files), never above a
   hard limit already set;
2. when started as root, the unprivileged user of the kernel (its groups dropped, then its group and user
   ids, real, effective and saved), owner of the working copy;
3. ``PR_SET_NO_NEW_PRIVS`` and the seccomp filter of :mod:`~dlcourse.grading.seccomp` (without it, on
   another machine or an old kernel, the sandbox still holds, and says so);
4. the working copy: the regular files of :data:`FILES_DIR` copied into the tmpfs at :data:`WORK_DIR`
   (exit status :data:`FILES_DO_NOT_FIT` when they do not fit, before the kernel starts);
5. ``exec`` of the kernel, in its working copy.

Example:
    >>> FILES_DIR, WORK_DIR
    ('/home/student/files', '/home/student/work')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from dlcourse.grading import seccomp
from dlcourse.grading.limits import Limits
from dlcourse.grading.working_copy import copy_files

WORK_DIR = "/home/student/work"
"""Where the working copy appears inside the sandbox (the kernel's current directory)."""

FILES_DIR = "/home/student/files"
"""Where the files of the working copy are mounted read-only, to be copied into it."""

FILES_DO_NOT_FIT = 75
"""Exit status of the sandbox when the working copy's files do not fit its tmpfs (before the kernel starts)."""

HOME = "/tmp/home"
"""The kernel's home folder inside the sandbox (in the private, size-limited /tmp)."""


def run_kernel(limits: Limits, uid: int, kernel: Sequence[str]) -> None:
    """Inside the sandbox: limits, then the unprivileged user, then the working copy, then exec ``kernel``.

    ``uid`` is the user to become when started as root (-1: stay who we are).
    """
    set_rlimits(limits)
    if os.geteuid() == 0 and uid >= 0:
        become_user(uid)
    no_new_privileges()
    _install_seccomp()
    os.makedirs(HOME, exist_ok=True)
    _make_working_copy(limits)
    os.chdir(WORK_DIR)
    os.execv(kernel[0], list(kernel))


def set_rlimits(limits: Limits) -> None:
    """Set the per-process limits of ``limits`` (never above a hard limit already set)."""
    import resource  # POSIX only: imported where it is used

    mib = 1024 * 1024
    for name, soft, hard in (
        ("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 5),
        ("RLIMIT_DATA", limits.memory_mb * mib, limits.memory_mb * mib),
        ("RLIMIT_AS", limits.address_space_mb * mib, limits.address_space_mb * mib),
        ("RLIMIT_NPROC", limits.processes, limits.processes),
        ("RLIMIT_FSIZE", limits.file_mb * mib, limits.file_mb * mib),
        ("RLIMIT_NOFILE", limits.open_files, limits.open_files),
        ("RLIMIT_CORE", 0, 0),
    ):
        which = getattr(resource, name)
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def no_new_privileges() -> None:
    """``PR_SET_NO_NEW_PRIVS``: nothing this process execs can gain privileges (set-user-ID, capabilities)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs = 38
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def become_user(uid: int) -> None:
    """Give the working copy to ``uid`` and become it, with no supplementary groups (the caller is root)."""
    os.chown(WORK_DIR, uid, uid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _install_seccomp() -> None:
    try:
        seccomp.install()
    except OSError as error:  # another machine, an old kernel: the sandbox still holds without it
        print(f"sandbox: no seccomp filter ({error})", file=sys.stderr, flush=True)


def _make_working_copy(limits: Limits) -> None:
    """Copy the files into the working copy's tmpfs; exit with :data:`FILES_DO_NOT_FIT` when they do not fit."""
    try:
        copy_files(FILES_DIR, WORK_DIR)
    except OSError as error:
        print(f"sandbox: the files of the working copy do not fit its {limits.work_mb} MiB "
              f"({error.strerror or error})", file=sys.stderr, flush=True)
        os._exit(FILES_DO_NOT_FIT)
