"""A Python every user of the hub can run, seeing the packages of the environment that runs the hub.

Each user's JupyterLab runs as that user, so the interpreter, the course's packages and nbgrader must be
readable by everyone. When the hub's own environment is not (a pyenv Python under ``/root``, say),
:func:`user_prefix` builds a small virtual environment from the system's Python of the same version whose
``site-packages`` point at the hub's (one ``.pth`` line), with the hub's launchers (``nbgrader``,
``jupyter``, ``jupyterhub-singleuser``, ...) rewritten to start it and links to its ``etc/jupyter`` and
``share/jupyter`` (the server extensions, JupyterLab and its extensions).
"""

from __future__ import annotations

import os
import platform
import site
import stat
import subprocess
import sys
from pathlib import Path

PTH_NAME = "dlcourse_hub_env.pth"


def usable_by_everyone(path: Path) -> bool:
    """Whether any user can reach and run (or read) ``path``: every folder above it is ``o+x``.

    Example:
        >>> usable_by_everyone(Path("/usr/bin/env"))
        True
    """
    path = Path(os.path.realpath(path))
    for folder in path.parents:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
    mode = os.stat(path).st_mode
    return bool(mode & (stat.S_IXOTH if stat.S_ISDIR(mode) or os.access(path, os.X_OK) else stat.S_IROTH))


def _system_python() -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / version
        if candidate.exists() and usable_by_everyone(candidate):
            return candidate
    raise RuntimeError(f"{sys.executable} is not readable by the hub's users and there is no {version} in "
                       f"/usr/bin or /usr/local/bin to build one from: install the course's environment "
                       f"somewhere everyone can read (e.g. /opt/dlcourse) or apt-get install {version}")


def _warn_if_another_release(python: Path) -> None:
    """Say so when the users' Python is another release than the one the packages were installed for."""
    done = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True)
    theirs, ours = done.stdout.strip(), platform.python_version()
    if theirs != ours:
        print(f"dlcourse hub: the users' Python is {theirs} ({python}), the course's packages were installed for "
              f"{ours}: most things work, some do not (soupsieve's CSS selectors fail on 3.11.2, so the Formgrader's "
              f"submission page does). Install the course into an environment made from a Python every user can "
              f"run, e.g. {python} -m venv /opt/dlcourse (deploy/README.md).", file=sys.stderr)


def user_prefix(target: Path) -> Path:
    """The prefix of a Python every user can run with this environment's packages (built at ``target``)."""
    if usable_by_everyone(Path(sys.executable)) and all(usable_by_everyone(Path(p)) for p in site.getsitepackages()):
        return Path(sys.prefix)
    python = target / "bin" / "python"
    if not python.exists():
        system = _system_python()
        _warn_if_another_release(system)
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(target)], check=True)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
        (target / "lib" / version / "site-packages" / PTH_NAME).write_text(lines)
        _rewrite_launchers(Path(sys.prefix) / "bin", target / "bin")
        for shared in ("etc/jupyter", "share/jupyter"):  # server extensions, JupyterLab, its extensions, kernels
            if (Path(sys.prefix) / shared).is_dir():
                (target / shared).parent.mkdir(parents=True, exist_ok=True)
                (target / shared).symlink_to(Path(sys.prefix) / shared)
    for path in [target, *target.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return target


def _rewrite_launchers(source: Path, target: Path) -> None:
    """Copy each launcher of ``source`` that starts this environment's Python, started by ``target``'s."""
    shebangs = {f"#!{Path(sys.prefix) / 'bin' / name}" for name in ("python", "python3", Path(sys.executable).name)}
    for script in source.iterdir():
        if not script.is_file() or (target / script.name).exists():
            continue
        with open(script, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
        if first in shebangs:
            body = script.read_text().split("\n", 1)[1]
            (target / script.name).write_text(f"#!{target / 'python'}\n{body}")
            os.chmod(target / script.name, 0o755)

