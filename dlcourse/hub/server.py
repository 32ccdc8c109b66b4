"""The course on one JupyterHub server: accounts, the hardened exchange, the users' configuration, the hub.

Run as root on the server (see ``deploy/README.md``)::

    dlcourse hub up --users deploy/test_class.csv     # accounts, exchange, then the hub on :8000
    dlcourse hub down --users deploy/test_class.csv   # remove the class's accounts and homes

``up`` creates the class's local accounts (PAM logs them in) in two groups, instructors and students,
lays the exchange out as :mod:`dlcourse.hub.exchange` describes, writes the nbgrader configuration every
user's JupyterLab reads, installs the proxy (``npm ci --prefix deploy``) when it is missing and runs
JupyterHub with ``deploy/jupyterhub_config.py`` in the foreground.
"""

from __future__ import annotations

import argparse
import csv
import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dlcourse.hub.env import user_prefix
from dlcourse.hub.exchange import FACTORY
from dlcourse.hub.host import UNPRIVILEGED_PORT_START, end_processes_of, make_checkout_private, unprivileged_ports

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HUB_CONFIG = DEPLOY / "jupyterhub_config.py"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
ROLES = ("instructor", "student")
MAX_FILE_KB = 10_000  # nbgrader's kB: 10 MB a file (an assignment notebook with its plots is 1-2 MB)
MAX_SUBMISSION_KB = 20_000
# What a student's JupyterLab leaves out of nbgrader: the instructor's panels (the Formgrader would open
# the student's home as a course; Create Assignment edits cell metadata).
STUDENT_DISABLED_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list")
# What nobody's JupyterLab on the hub runs: the news pop-up, which asks to fetch news from jupyter.org.
DISABLED_LAB = ("@jupyterlab/apputils-extension:announcements",)


@dataclass(frozen=True)
class Member:
    """One account of the class: ``Member("alice", "student")``."""

    username: str
    role: str
    password: str = ""


@dataclass(frozen=True)
class HubLayout:
    """Where one hub keeps its state and exchange, the course's id and the class's two groups."""

    state: Path
    exchange: Path
    course_id: str = "dlcourse"
    instructors: str = "dlcourse-instructors"
    students: str = "dlcourse-students"
    ip: str = "127.0.0.1"
    port: int = 80  # the proxy's public port; this one and the next two below 1024: root's only (dlcourse.hub.host)
    hub_port: int = 881  # the hub's own API, for the users' servers
    proxy_api_port: int = 882  # the proxy's API, for the hub
    public_url: str = ""  # where students open the hub; every user's server at <user>.<its host> (wildcard DNS)

    @property
    def url(self) -> str:
        """The hub's public address: ``public_url``, or ``http://localhost:<port>`` (``*.localhost`` is loopback)."""
        return self.public_url.rstrip("/") or f"http://localhost:{self.port}"

    def config_dir(self, role: str) -> Path:
        """The folder put on ``JUPYTER_CONFIG_PATH`` for a user of ``role``."""
        return self.state / "jupyter-config" / role

    @property
    def python(self) -> Path:
        """Where :func:`dlcourse.hub.env.user_prefix` builds the users' Python when the hub's is private."""
        return self.state / "python"

    def environment(self) -> dict[str, str]:
        """What ``deploy/jupyterhub_config.py`` reads."""
        return {"DLHUB_PREFIX": str(user_prefix(self.python)), "DLHUB_STATE": str(self.state),
                "DLHUB_IP": self.ip, "DLHUB_PORT": str(self.port), "DLHUB_HUB_PORT": str(self.hub_port),
                "DLHUB_PROXY_API_PORT": str(self.proxy_api_port), "DLHUB_PUBLIC_URL": self.url,
                "DLHUB_INSTRUCTORS": self.instructors, "DLHUB_STUDENTS": self.students,
                "DLHUB_PROXY": str(PROXY)}


def read_class(path: Path) -> list[Member]:
    """The members a CSV lists (columns ``username,role[,password]``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "c.csv").write_text("username,role\\nada,instructor\\nbob,student\\n")
        ...     [m.role for m in read_class(Path(folder) / "c.csv")]
        ['instructor', 'student']
    """
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    members = []
    for number, row in enumerate(rows, start=2):
        name, role = (row.get("username") or "").strip(), (row.get("role") or "").strip()
        if not name or role not in ROLES or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"{path}, line {number}: expected a user name (letters, digits, - or _) and a role "
                             f"in {ROLES}, got {name!r}, {role!r}")
        members.append(Member(name, role, (row.get("password") or "").strip()))
    if not any(m.role == "instructor" for m in members):
        raise ValueError(f"{path}: the class needs at least one instructor")
    return members


def _run(*command: str, stdin: str | None = None) -> None:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")


def _exists(lookup, name: str) -> bool:
    """Whether ``lookup`` (``grp.getgrnam``, ``pwd.getpwnam``) knows ``name``."""
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def create_accounts(members: Iterable[Member], layout: HubLayout) -> dict[str, str]:
    """Create the two groups and each member's account (home ``0700``); return the passwords set.

    A member whose account exists keeps it (and its password); a member without a password gets a
    random one. Needs root.
    """
    for group in (layout.instructors, layout.students):
        if not _exists(grp.getgrnam, group):
            _run("groupadd", group)
    passwords = {}
    for member in members:
        group = layout.instructors if member.role == "instructor" else layout.students
        if _exists(pwd.getpwnam, member.username):
            _run("usermod", "-a", "-G", group, member.username)
            continue
        _run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, member.username)
        os.chmod(pwd.getpwnam(member.username).pw_dir, 0o700)
        passwords[member.username] = member.password or secrets.token_urlsafe(12)
        _run("chpasswd", stdin=f"{member.username}:{passwords[member.username]}\n")
    return passwords


def remove_accounts(usernames: Iterable[str], groups: Iterable[str]) -> None:
    """Remove the accounts (with their homes and mail) and then the groups; missing ones are skipped."""
    for name in usernames:
        if _exists(pwd.getpwnam, name):
            subprocess.run(["userdel", "--remove", name], capture_output=True)
    for group in groups:
        if _exists(grp.getgrnam, group):
            subprocess.run(["groupdel", group], capture_output=True)


def prepare_exchange(layout: HubLayout, instructor: str) -> Path:
    """Lay out the exchange for ``instructor``'s course (see :mod:`dlcourse.hub.exchange`); return its folder."""
    owner = pwd.getpwnam(instructor).pw_uid
    group = grp.getgrnam(layout.instructors).gr_gid
    layout.exchange.mkdir(parents=True, exist_ok=True)
    os.chown(layout.exchange, 0, 0)
    os.chmod(layout.exchange, 0o755)
    course = layout.exchange / layout.course_id
    for path, mode, gid in ((course, 0o755, group), (course / "outbound", 0o755, group),
                            (course / "inbound", 0o3733, group), (course / "feedback", 0o711, group)):
        path.mkdir(exist_ok=True)
        os.chown(path, owner, gid)
        os.chmod(path, mode)
    return course


def nbgrader_user_config(layout: HubLayout) -> str:
    """The ``nbgrader_config.py`` every user's nbgrader reads: the exchange, the course, the safe classes."""
    lines = ["c = get_config()  # noqa: F821 - written by dlcourse.hub.server", "",
             f"c.Exchange.root = {str(layout.exchange)!r}",
             f"c.CourseDirectory.course_id = {layout.course_id!r}",
             "# A submission is a notebook or two (nbgrader's defaults allow 100 MB a file and a folder).",
             f"c.CourseDirectory.max_file_size = {MAX_FILE_KB}",
             f"c.CourseDirectory.max_dir_size = {MAX_SUBMISSION_KB}"]
    lines += [f"c.ExchangeFactory.{trait} = 'dlcourse.hub.exchange.{name}'" for trait, name in FACTORY.items()]
    return "\n".join(lines) + "\n"


def write_user_config(layout: HubLayout) -> None:
    """Write the configuration folders of both roles (readable by all, writable by root)."""
    for role in ROLES:
        folder = layout.config_dir(role)
        (folder / "labconfig").mkdir(parents=True, exist_ok=True)
        (folder / "nbgrader_config.py").write_text(nbgrader_user_config(layout))
        disabled = DISABLED_LAB + (STUDENT_DISABLED_LAB if role == "student" else ())
        (folder / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in disabled}}, indent=1))
        server = {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False}}}
        (folder / "jupyter_server_config.json").write_text(json.dumps(server if role == "student" else {}))
    os.chmod(layout.state, 0o755)
    for path in [layout.state / "jupyter-config", *(layout.state / "jupyter-config").rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def install_proxy() -> Path:
    """configurable-http-proxy from ``deploy/package-lock.json`` into ``deploy/node_modules`` (once)."""
    if not PROXY.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is missing: apt-get install npm (JupyterHub's proxy is a Node.js program)")
        _run(npm, "ci", "--prefix", str(DEPLOY), "--no-audit", "--no-fund")
    return PROXY


def hub_command(layout: HubLayout) -> tuple[list[str], dict[str, str]]:
    """The command line that runs the hub, and its environment; refuses ports that a student could bind first."""
    open_to_all = unprivileged_ports([layout.port, layout.hub_port, layout.proxy_api_port])
    if open_to_all:
        raise ValueError(f"ports {open_to_all}: any account can listen on them, so a student could take one before "
                         f"the hub and receive the class's passwords or the proxy's token; use ports below "
                         f"{UNPRIVILEGED_PORT_START.read_text().strip()} (only root binds those)")
    jupyterhub = Path(sys.prefix) / "bin" / "jupyterhub"
    env = {**os.environ, **layout.environment()}
    return [str(jupyterhub), "-f", str(HUB_CONFIG)], env


def set_up(members: list[Member], layout: HubLayout) -> dict[str, str]:
    """Everything before the hub starts: accounts, exchange, configuration, proxy. Needs root."""
    if os.geteuid() != 0:
        raise PermissionError("dlcourse hub sets up accounts and the exchange: run it as root")
    private = make_checkout_private(ROOT)
    if private:
        print("Made private to the class (others lose every permission): "
              + ", ".join(path.name for path, _ in private))
    end_processes_of(m.username for m in members)  # nothing of a student's may outlive the last hub
    passwords = create_accounts(members, layout)
    instructor = next(m.username for m in members if m.role == "instructor")
    layout.state.mkdir(parents=True, exist_ok=True)
    prepare_exchange(layout, instructor)
    write_user_config(layout)
    user_prefix(layout.python)
    install_proxy()
    return passwords


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlcourse hub", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("up", "create the class and run the hub"), ("down", "remove the class's accounts")):
        p = commands.add_parser(name, help=text)
        p.add_argument("--users", type=Path, required=True, help="CSV: username,role[,password]")
        p.add_argument("--state", type=Path, default=Path("/srv/dlcourse-hub"), help="the hub's state folder")
        p.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"))
        p.add_argument("--ip", default="127.0.0.1")
        p.add_argument("--port", type=int, default=80, help="the public port (below 1024: only root binds it)")
        p.add_argument("--hub-port", type=int, default=881, help="the hub's API port (below 1024)")
        p.add_argument("--proxy-api-port", type=int, default=882, help="the proxy's API port (below 1024)")
        p.add_argument("--public-url", default="", help="where students open the hub, e.g. https://hub.example.edu "
                       "(every user's server gets <user>.hub.example.edu: needs wildcard DNS and certificate); "
                       "default http://localhost:PORT, this machine only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    members = read_class(args.users)
    layout = HubLayout(state=args.state, exchange=args.exchange, ip=args.ip, port=args.port, hub_port=args.hub_port,
                       proxy_api_port=args.proxy_api_port, public_url=args.public_url)
    if args.command == "down":
        remove_accounts([m.username for m in members], [layout.instructors, layout.students])
        return 0
    passwords = set_up(members, layout)
    if passwords:
        secret = layout.state / "passwords.csv"
        secret.write_text("username,password\n" + "".join(f"{u},{p}\n" for u, p in passwords.items()))
        os.chmod(secret, 0o600)
        print(f"New accounts' passwords: {secret} (readable by root only)")
    command, env = hub_command(layout)
    print(f"JupyterHub on {layout.url} (listening on {layout.ip}:{layout.port}; Ctrl-C stops it)", flush=True)
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
