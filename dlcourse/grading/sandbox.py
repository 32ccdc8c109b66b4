"""The sandbox a student's notebook runs in: bubblewrap, resource limits and an unprivileged user.

``dlcourse grade`` starts both kernels that grade a notebook -- the student's and
the grader's test kernel -- through :class:`~dlcourse.grading.kernels.SandboxedKernelManager`.
Its command line is this module, run isolated (``python -I``, from a private
folder: nothing of the submission can be imported here), which wraps the usual
``python -m ipykernel_launcher -f kernel.json`` in Debian's ``bwrap``
(bubblewrap; no daemon)::

    python -I -m dlcourse.grading.sandbox --files F --conn-dir D --rpc-dir R --limits JSON -- <kernel argv>
      -> (join the resource group) bwrap <namespaces, mounts> --
           python -I -m dlcourse.grading.sandbox --inner ... -- <kernel argv>
             -> (inside) resource limits, drop to the sandbox user, copy F into the working copy, exec the kernel
                (:mod:`~dlcourse.grading.confinement`)

Inside, the kernel sees a filesystem made of read-only system folders (``/usr``,
the Python installation, the virtual environment, ``course_utils`` and ``dlcourse``), a
private ``/tmp``, and its working copy at ``/home/student/work``: a size-limited
tmpfs holding a copy of the regular files of ``--files`` (the submission folder,
or for the test kernel the assignment's source folder), the only place it can
write. The course (``solutions/``, the gradebook, other students' work) is not
there at all. It has no network (a new, empty network namespace), its own
process namespace (it sees no other process and everything it starts dies with
it), the per-process limits of :class:`~dlcourse.grading.limits.Limits`
(CPU time, memory, processes, file size, open files), and, through the resource
group the launcher joins before it becomes bwrap, limits for all its processes
together. The kernel talks to the grader over Unix sockets in a private folder
(``--conn-dir``); the two kernels share only the folder of their exchange socket
(``--rpc-dir``, at :data:`RPC_DIR`).

When the grader runs as root, the kernel runs as an unprivileged user of its
own (:func:`sandbox_uid`: one per course, worker slot and role, so that kernels
graded at the same time never share a process limit and the student's kernel
cannot signal the test kernel); otherwise bubblewrap maps the grader's own user
into a new user namespace.

Example:
    >>> problem = sandbox_problem()  # doctest: +SKIP
    >>> problem is None  # None: bubblewrap works here  # doctest: +SKIP
    True
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

from dlcourse.grading.confinement import FILES_DIR, HOME, WORK_DIR, run_kernel
from dlcourse.grading.limits import Limits

SANDBOX_UID = 62000
"""First user id the kernels run as when the grader is root (see :func:`sandbox_uid`)."""

MAX_SLOTS = 64
"""Worker slots per course: ``--jobs`` can be at most this."""

ROLES = ("student", "tests")
"""The two kernels of a graded notebook: the student's, and the grader's test kernel."""
RPC_DIR = "/grading/rpc"
"""Where the folder shared by the two kernels of a notebook (the exchange socket) appears in both sandboxes."""

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
"""Host folders the sandbox sees read-only (besides Python, the virtual environment and the course's two packages)."""

ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts")
"""Files of the host's /etc the sandbox sees read-only; passwd, group, hosts and nsswitch.conf are made up."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
"""One thread per kernel: fair when grading several students at once, and well under the process limit."""


class SandboxError(RuntimeError):
    """The sandbox cannot be set up on this machine; the message says why and what to install."""


def find_bwrap() -> str | None:
    """The path of ``bwrap``, or ``None`` when bubblewrap is not installed.

    Example:
        >>> find_bwrap()  # doctest: +SKIP
        '/usr/bin/bwrap'
    """
    return os.environ.get("DLCOURSE_BWRAP") or shutil.which("bwrap")


def sandbox_problem() -> str | None:
    """Why the sandbox cannot run here, or ``None`` when it can (it starts a trivial sandbox to find out).

    Example:
        >>> sandbox_problem()  # doctest: +SKIP
    """
    bwrap = find_bwrap()
    if bwrap is None:
        return ("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (Debian/Ubuntu) or "
                "`dnf install bubblewrap`; or grade trusted work without isolation: --sandbox none")
    command = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--dev", "/dev", "--proc", "/proc"]
    if os.geteuid() != 0:
        command.append("--unshare-user")
    try:
        done = subprocess.run([*command, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}"
    if done.returncode != 0:
        return (f"bubblewrap cannot create namespaces here: {done.stderr.strip()}. Unprivileged user namespaces "
                "must be allowed (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 the bwrap AppArmor "
                "profile), or run the grader as root")
    return None


def sandbox_uid(slot: int = 0, course: str | None = None, role: str = "student") -> int:
    """The user id the ``role`` kernel of worker ``slot`` runs as when the grader is root.

    Each course gets its own block of ``2 * MAX_SLOTS`` ids (from a hash of its
    path), so that two courses graded at once on one machine never share the
    per-user process limit; within it the student's kernels and the test
    kernels get separate ids.

    Example:
        >>> sandbox_uid(2), sandbox_uid(2, role="tests")
        (62002, 62066)
        >>> 62000 <= sandbox_uid(0, "/srv/course") < 62000 + 1000 * 2 * MAX_SLOTS
        True
    """
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"slot: expected 0 to {MAX_SLOTS - 1}, got {slot}")
    if role not in ROLES:
        raise ValueError(f"role: expected one of {ROLES}, got {role!r}")
    block = zlib.crc32(course.encode()) % 1000 if course else 0
    return SANDBOX_UID + block * 2 * MAX_SLOTS + ROLES.index(role) * MAX_SLOTS + slot


# ---------------------------------------------------------------- the command line
def _readonly_paths() -> list[str]:
    """Host folders the kernel needs, read-only: system, Python, the virtual environment, the two packages.

    The student's kernel imports ``course_utils`` (as the notebook does) and the
    serving side of the exchange (:mod:`dlcourse.grading.subject`); the test
    kernel imports the harness. Installed from a clone, neither package is
    inside the virtual environment, so each is bound where it is.
    """
    import course_utils
    import dlcourse

    packages = [str(Path(module.__file__).parent) for module in (course_utils, dlcourse)]
    candidates = [*SYSTEM_PATHS, sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)), *packages]
    paths: list[str] = []
    for candidate in candidates:
        if not os.path.exists(candidate):
            continue
        real = candidate if os.path.islink(candidate) and candidate in SYSTEM_PATHS else os.path.realpath(candidate)
        if real not in paths:
            paths.append(real)
    return paths


def _write_etc(folder: Path, uid: int, gid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                   f"student:x:{uid}:{gid}:student:{HOME}:/usr/sbin/nologin\n")
    (folder / "group").write_text(f"root:x:0:\nstudent:x:{gid}:\n")
    (folder / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    (folder / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files\n")


def _parent_folders(mounts: Sequence[str], tmpfs: Sequence[str] = ()) -> list[str]:
    """The folders above the mount points that no mount provides, shallowest first.

    A folder inside a ``tmpfs`` (an empty private /tmp) exists only when it is made, so it is listed too
    (a virtual environment under /tmp, say); the tmpfs mount points themselves are not.

    Example:
        >>> _parent_folders(["/usr", "/tmp/ci/.venv", "/home/student/work"], tmpfs=["/tmp"])
        ['/home', '/home/student', '/tmp/ci']
    """
    def inside_a_mount(folder: str) -> bool:
        return any(folder == m or folder.startswith(m.rstrip("/") + "/") for m in mounts)

    parents = set()
    for mount in mounts:
        for parent in Path(mount).parents:
            if str(parent) != "/" and str(parent) not in tmpfs and not inside_a_mount(str(parent)):
                parents.add(str(parent))
    return sorted(parents, key=lambda p: (p.count("/"), p))


def bwrap_command(files: str, conn_dir: str, rpc_dir: str, limits: Limits, uid: int, kernel: Sequence[str],
                  bwrap: str | None = None) -> list[str]:
    """The full ``bwrap`` command line that runs ``kernel`` in the sandbox.

    ``files`` is the folder whose regular files become the working copy
    (mounted read-only at :data:`FILES_DIR`, copied by the inner stage into
    the tmpfs at :data:`WORK_DIR`; empty: none), ``conn_dir`` the folder of
    the kernel's connection file and sockets, ``rpc_dir`` the folder shared
    with the other kernel of the notebook. ``uid`` is used when the grader is root.

    Example:
        >>> cmd = bwrap_command("/tmp/w", "/tmp/c", "/tmp/r", Limits(), 62000, ["python", "-V"], bwrap="bwrap")
        >>> cmd[0], "--unshare-net" in cmd, cmd[-2:]
        ('bwrap', True, ['python', '-V'])
    """
    bwrap = bwrap or find_bwrap()
    if bwrap is None:
        raise SandboxError(sandbox_problem() or "bubblewrap is not installed")
    root = os.geteuid() == 0
    command = [bwrap, *_namespace_options(root)]
    command += _filesystem_options(_binds(files, conn_dir, rpc_dir), limits, root)
    command += _environment_options()
    inner = [sys.executable, "-I", "-m", "dlcourse.grading.sandbox", "--inner",
             "--limits", json.dumps(limits.to_dict()), "--uid", str(uid if root else -1)]
    return [*command, "--", *inner, "--", *kernel]


def _namespace_options(root: bool) -> list[str]:
    """New namespaces for everything (no network, its own processes), a clean environment, death with its parent."""
    options = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
               "--hostname", "sandbox", "--die-with-parent", "--clearenv"]
    if not root:
        options += ["--unshare-user", "--disable-userns"]
    return options


def _binds(files: str, conn_dir: str, rpc_dir: str) -> list[tuple[str, str, str]]:
    """``(option, source, destination)`` of every host path the sandbox sees: read-only but for its two folders."""
    etc = Path(conn_dir) / "etc"
    binds: list[tuple[str, str, str]] = [("--ro-bind", path, path) for path in _readonly_paths()]
    binds += [("--ro-bind-try", f"/etc/{name}", f"/etc/{name}") for name in ETC_FILES]
    binds += [("--ro-bind", str(etc / name), f"/etc/{name}") for name in ("passwd", "group", "hosts", "nsswitch.conf")]
    if files:
        binds.append(("--ro-bind", files, FILES_DIR))
    if rpc_dir:
        binds.append(("--bind", rpc_dir, RPC_DIR))
    binds.append(("--bind", conn_dir, conn_dir))
    return binds


def _filesystem_options(binds: list[tuple[str, str, str]], limits: Limits, root: bool) -> list[str]:
    """/proc, /dev, the private tmpfs folders, the folders above the mount points, the working copy, the binds."""
    mounts = [dest for _, _, dest in binds] + ["/proc", "/dev", WORK_DIR]
    # The private /tmp comes first, so that what is bound below it (a course cloned into /tmp, its
    # virtual environment) is mounted on top of it rather than hidden by it.
    size = str(limits.tmp_mb * 1024 * 1024)
    options = ["--proc", "/proc", "--dev", "/dev",
               "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
               "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    # bwrap creates missing parent folders with mode 0700; the unprivileged kernel must be able to pass them.
    for folder in _parent_folders(mounts, tmpfs=["/tmp", "/dev/shm"]):
        options += ["--perms", "0755", "--dir", folder]
    # The working copy: a tmpfs of its own size, so that no number of files can fill the grading machine's disk.
    options += ["--perms", "0700" if root else "0755", "--size", str(limits.work_mb * 1024 * 1024),
                "--tmpfs", WORK_DIR]
    for option, source, dest in binds:
        options += [option, source, dest]
    return [*options, "--chdir", "/"]


def _environment_options() -> list[str]:
    """The kernel's whole environment (bwrap clears the grader's): home in /tmp, offline, one thread."""
    environment = {
        "HOME": HOME, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "IPYTHONDIR": f"{HOME}/.ipython", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
        "XDG_CACHE_HOME": f"{HOME}/.cache", "XDG_CONFIG_HOME": f"{HOME}/.config",
        "COURSE_OFFLINE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "DLCOURSE_SANDBOX": "1",
        **{name: "1" for name in THREAD_VARIABLES},
    }
    options = []
    for name, value in environment.items():
        options += ["--setenv", name, value]
    return options


def describe_exit(code: int, limits: Limits) -> str:
    """A sentence for the exit status of the sandbox (bubblewrap reports death by signal N as 128 + N).

    Example:
        >>> describe_exit(152, Limits(cpu_seconds=10))
        'the kernel used up its CPU time (10 s) and was stopped (SIGXCPU)'
    """
    signals = {
        int(signal.SIGXCPU): f"the kernel used up its CPU time ({limits.cpu_seconds} s) and was stopped (SIGXCPU)",
        int(signal.SIGKILL): "the kernel was killed (SIGKILL): out of memory, or past the hard CPU limit",
        int(signal.SIGSEGV): "the kernel crashed (segmentation fault)",
        int(signal.SIGABRT): "the kernel aborted (SIGABRT), e.g. a failed memory allocation in compiled code",
        int(signal.SIGBUS): "the kernel crashed (bus error)",
        int(signal.SIGXFSZ): f"the kernel wrote a file over the {limits.file_mb} MiB limit (SIGXFSZ)",
    }
    if code > 128 and code - 128 in signals:
        return signals[code - 128]
    if code > 128:
        return f"the kernel was stopped by signal {code - 128} ({signal.Signals(code - 128).name})" \
            if code - 128 in {s.value for s in signal.Signals} else f"the kernel exited with status {code}"
    if code < 0:
        return describe_exit(128 - code, limits)
    return f"the kernel exited with status {code} (os._exit() or a crash)"


# ---------------------------------------------------------------- the two stages of the command
def die_with_parent(parent: int = 0) -> None:
    """Have Linux kill this process (SIGKILL) when its parent dies; exit now if ``parent`` is already gone.

    The setting survives ``exec`` (bwrap is not set-user-ID), so a kernel started just as the grader is
    killed cannot outlive it.

    Example:
        >>> die_with_parent(os.getppid())  # doctest: +SKIP
    """
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the runner's own clean-up has to do
        return
    if parent and os.getppid() != parent:
        os._exit(3)


def _launch(args: argparse.Namespace, kernel: list[str]) -> None:
    """Outside the sandbox (run isolated, from the kernel's private folder): prepare, join the group, become bwrap."""
    die_with_parent(args.parent)
    _join_resource_group(json.loads(args.join or "[]"))
    limits = Limits(**json.loads(args.limits))
    uid = args.uid
    _write_etc(Path(args.conn_dir) / "etc", uid if os.geteuid() == 0 else os.getuid(),
               uid if os.geteuid() == 0 else os.getgid())
    if os.geteuid() == 0:
        _hand_over_connection_folder(args.conn_dir, uid)
    command = bwrap_command(args.files or "", args.conn_dir, args.rpc_dir or "", limits, uid, kernel)
    # jupyter_client interrupts the kernel by sending SIGINT to this process group: bwrap must ignore it
    # (ipykernel installs its own handler while it runs a cell).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.execv(command[0], command)


def _join_resource_group(paths: list[str]) -> None:
    """Write this process's pid into each ``cgroup.procs`` file: everything started from here is in the group."""
    for path in paths:
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))


def _hand_over_connection_folder(conn_dir: str, uid: int) -> None:
    """As root: the folder and all in it root's, the connection file readable by ``uid`` only.

    The kernel runs as ``uid``. It may create its sockets in the folder (write and search, no listing)
    while it starts; the grader then takes the write permission away (kernels.lock_connection_folder).
    The folder stays root's, so the kernel cannot give it back to itself.
    """
    for base, dirs, files in os.walk(conn_dir):
        for name in dirs + files:
            os.chown(os.path.join(base, name), 0, 0, follow_symlinks=False)
    os.chown(conn_dir, 0, 0)
    os.chmod(conn_dir, 0o733)
    connection = os.path.join(conn_dir, "kernel.json")
    if os.path.exists(connection):  # the kernel reads its key from it
        os.chown(connection, uid, uid)
        os.chmod(connection, 0o400)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -I -m dlcourse.grading.sandbox`` (the command line of a sandboxed kernel)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise SystemExit("usage: python -I -m dlcourse.grading.sandbox [--inner] OPTIONS -- KERNEL COMMAND")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -I -m dlcourse.grading.sandbox")
    parser.add_argument("--inner", action="store_true", help="(inside bwrap) set limits, drop privileges, exec")
    parser.add_argument("--files", help="the folder whose regular files become the working copy")
    parser.add_argument("--conn-dir", help="the kernel's connection-file folder")
    parser.add_argument("--rpc-dir", help="the folder shared with the notebook's other kernel")
    parser.add_argument("--limits", required=True, help="Limits as JSON")
    parser.add_argument("--uid", type=int, default=-1, help="user id to run as when started as root")
    parser.add_argument("--parent", type=int, default=0, help="the grading worker's pid: exit if it is gone")
    parser.add_argument("--join", help="JSON list of cgroup.procs files to write this process's pid into")
    args = parser.parse_args(argv[:split])
    kernel = argv[split + 1:]
    if not kernel:
        raise SystemExit("sandbox: no kernel command after --")
    if args.inner:
        run_kernel(Limits(**json.loads(args.limits)), args.uid, kernel)
    else:
        if not args.conn_dir:
            raise SystemExit("sandbox: --conn-dir is required")
        _launch(args, kernel)


if __name__ == "__main__":
    main()
