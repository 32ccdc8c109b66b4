"""A seccomp filter for the grading kernels: no new namespaces, mounts, tracing or other kernel attack surface.

Inside bubblewrap a kernel already has no network, its own process list, and
a filesystem of read-only folders. What it could still reach is the host's
Linux kernel itself: create a user namespace (``unshare -Ur``) and, with the
capabilities it grants there, call into parts of the kernel no notebook
needs. :func:`install` makes those system calls fail with ``EPERM`` for the
calling process and everything it starts: ``unshare``, ``setns``, ``clone``
with a namespace flag, the mount family, ``ptrace``, ``process_vm_*``,
``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``, keyrings, kernel
modules, ``kexec``, ``reboot``, swap, ``chroot``, ``open_by_handle_at`` and a
few more. ``clone3`` fails with ``ENOSYS`` (its flags cannot be inspected), so
that the C library falls back to ``clone``. System calls of another ABI
(32-bit on a 64-bit machine) end the process.

Supported on x86-64 and arm64 Linux; elsewhere :func:`install` raises
:class:`OSError` and the sandbox goes on without the filter (it says so).

Example:
    >>> program = filter_program("x86_64")
    >>> len(program) > 40
    True
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

BLOCKED = {
    "x86_64": {"ptrace": 101, "syslog": 103, "uselib": 134, "vhangup": 153, "pivot_root": 155, "chroot": 161,
               "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
               "reboot": 169, "iopl": 172, "ioperm": 173, "create_module": 174, "init_module": 175,
               "delete_module": 176, "quotactl": 179, "nfsservctl": 180, "lookup_dcookie": 212,
               "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
               "unshare": 272, "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
               "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
               "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
               "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
               "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
               "mount_setattr": 442},
    "aarch64": {"lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "vhangup": 58,
                "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105,
                "delete_module": 106, "syslog": 116, "ptrace": 117, "reboot": 142, "add_key": 217,
                "request_key": 218, "keyctl": 219, "swapon": 224, "swapoff": 225, "perf_event_open": 241,
                "fanotify_init": 262, "name_to_handle_at": 264, "open_by_handle_at": 265, "setns": 268,
                "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
                "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294, "io_uring_setup": 425,
                "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
                "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442},
}
"""System calls that fail with EPERM, by machine (numbers from the kernel's unistd tables)."""

CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435
NAMESPACE_FLAGS = 0x7E020080
"""CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME: ``clone`` with any is refused."""

X32_BIT = 0x40000000

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_ARCH_OFFSET, _NR_OFFSET, _ARG0_OFFSET = 4, 0, 16


def filter_program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The BPF program as ``(code, jump_if_true, jump_if_false, k)`` instructions, for ``machine``.

    Raises :class:`OSError` for a machine without a table.
    """
    machine = machine or platform.machine()
    if machine not in AUDIT_ARCH:
        raise OSError(f"no seccomp table for the machine {machine!r} (x86_64 and aarch64 have one)")
    deny = _ERRNO | errno.EPERM
    program: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, _ARCH_OFFSET),
        (_JEQ, 1, 0, AUDIT_ARCH[machine]),
        (_RET, 0, 0, _KILL_PROCESS),          # another ABI's numbers mean other calls: stop
        (_LD_W_ABS, 0, 0, _NR_OFFSET),
    ]
    if machine == "x86_64":
        program += [(_JGE, 0, 1, X32_BIT), (_RET, 0, 0, _KILL_PROCESS)]
    for number in sorted(BLOCKED[machine].values()):
        program += [(_JEQ, 0, 1, number), (_RET, 0, 0, deny)]
    program += [(_JEQ, 0, 1, CLONE3), (_RET, 0, 0, _ERRNO | errno.ENOSYS),
                (_JEQ, 0, 3, CLONE[machine]),
                (_LD_W_ABS, 0, 0, _ARG0_OFFSET),       # clone's flags (their low 32 bits)
                (_JSET, 0, 1, NAMESPACE_FLAGS),
                (_RET, 0, 0, deny),
                (_RET, 0, 0, _ALLOW)]
    return program


class _Filter(ctypes.Structure):
    _fields_ = [("length", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> str:
    """Install the filter for this process and its children (after ``PR_SET_NO_NEW_PRIVS``); describe it.

    Raises :class:`OSError` when the machine has no table or the kernel refuses the filter.
    """
    program = filter_program()
    packed = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(packed, len(packed))
    fprog = _Filter(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_seccomp, seccomp_mode_filter = 22, 2
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"the kernel refused the seccomp filter: {errno.errorcode.get(code, code)}")
    return f"seccomp: {len(BLOCKED[platform.machine()])} system calls and namespace clones refused"
