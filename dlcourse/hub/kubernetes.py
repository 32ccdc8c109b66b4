"""The course on Kubernetes (Zero to JupyterHub): what must agree with the tested one-server hub, generated here.

The exchange's permission model (:mod:`dlcourse.hub.exchange`) rests on every user having their *own* uid, the
instructors sharing a group, and ``pwd.getpwnam(student)`` working where the instructor collects. Zero to JupyterHub
runs everyone as uid 1000 with no account database, so ``deploy/kubernetes`` adds, from the same class CSV as
``dlcourse hub up``:

* a uid per user, computed from the user name alone (so reordering or extending the CSV never changes anyone's uid),
  the user's own group with the same number, and the instructors' group as a supplemental gid for instructors;
* ``passwd`` and ``group`` files for nss_wrapper (``LD_PRELOAD``), so the pods resolve those uids to names;
* ``class.json``, read by the hub's ``extraConfig`` (``deploy/kubernetes/values.yaml``) to run each pod as its user;
* the roles' nbgrader and JupyterLab configuration, written by :func:`dlcourse.hub.server.write_user_config` itself.

Run it where the course is installed (``deploy/kubernetes/README.md``)::

    python -m dlcourse.hub.kubernetes configmap --users class.csv | kubectl apply -f -   # the class's ConfigMap
    python -m dlcourse.hub.kubernetes extrafiles          # values.yaml's singleuser.extraFiles
    python -m dlcourse.hub.kubernetes exchange            # in the layout Job, as root
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from dlcourse.hub.server import HubLayout, Member, prepare_exchange, read_class, write_user_config

EXCHANGE = Path("/srv/nbgrader/exchange")  # as the one-server default
CLASS_DIR = Path("/etc/dlcourse/class")  # the ConfigMap, in the hub's and every user's pod
LAYOUT = HubLayout(state=Path("/etc/dlcourse"), exchange=EXCHANGE)  # config_dir(role): /etc/dlcourse/jupyter-config/…
CONFIGMAP = "dlcourse-class"
UID_BASE = 1_000_000  # far above the image's and the nodes' own accounts (and 65534, nobody)
UID_SPAN = 1 << 24
GROUP_GIDS = {"instructor": 900_000, "student": 900_001}  # below UID_BASE: never a user's own group
NSS_WRAPPER = {"LD_PRELOAD": "libnss_wrapper.so", "NSS_WRAPPER_PASSWD": str(CLASS_DIR / "passwd"),
               "NSS_WRAPPER_GROUP": str(CLASS_DIR / "group")}
SYSTEM_PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
SYSTEM_GROUP = "root:x:0:\nnogroup:x:65534:\n"
# What KubeSpawner keeps unchanged in ``{username}`` (a safe slug): the home is mounted at /home/{username}.
POD_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@dataclass(frozen=True)
class PodAccount:
    """Who a user's pod runs as: ``uid``, its own group ``gid`` and the class group(s) ``supplemental_gids``."""

    username: str
    role: str
    uid: int
    gid: int
    supplemental_gids: tuple[int, ...]

    @property
    def home(self) -> str:
        return f"/home/{self.username}"


def hashed_uid(username: str) -> int:
    """The uid a user gets when the CSV gives none: a hash of the name, in ``[UID_BASE, UID_BASE + UID_SPAN)``.

    Example:
        >>> hashed_uid("dlc-alice") == hashed_uid("dlc-alice") and hashed_uid("dlc-alice") >= UID_BASE
        True
    """
    digest = hashlib.sha256(username.encode()).digest()
    return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN


def pod_accounts(members: list[Member], uids: dict[str, int] | None = None) -> list[PodAccount]:
    """Each member's account, in the CSV's order; ``uids`` overrides the hashed uid (the CSV's ``uid`` column).

    Raises ``ValueError`` for a name KubeSpawner would rewrite, a uid out of range, or two users with one uid.

    Example:
        >>> [a.supplemental_gids for a in pod_accounts([Member("ada", "instructor"), Member("bob", "student")])]
        [(900000,), (900001,)]
        >>> pod_accounts([Member("ada", "instructor"), Member("bob", "student")], {"bob": 0})
        Traceback (most recent call last):
        ...
        ValueError: bob: uid 0 is out of range: a user's uid must be in [1000, 2147483647) and not a class group's
    """
    uids = uids or {}
    accounts, owners = [], {}
    for member in members:
        if not POD_NAME.fullmatch(member.username) or len(member.username) > 32:
            raise ValueError(f"{member.username!r}: on Kubernetes a user name must be lowercase letters, digits and "
                             f"single hyphens, starting with a letter, at most 32 characters (KubeSpawner rewrites "
                             f"other names in pod and volume names)")
        uid = uids.get(member.username, hashed_uid(member.username))
        if not 1000 <= uid < 2**31 - 1 or uid in GROUP_GIDS.values():
            raise ValueError(f"{member.username}: uid {uid} is out of range: a user's uid must be in [1000, "
                             f"{2**31 - 1}) and not a class group's")
        if uid in owners:
            raise ValueError(f"{owners[uid]} and {member.username} would share uid {uid}: give one of them another "
                             f"in the CSV's optional uid column")
        owners[uid] = member.username
        accounts.append(PodAccount(member.username, member.role, uid, uid, (GROUP_GIDS[member.role],)))
    return accounts


def read_accounts(path: Path) -> list[PodAccount]:
    """The accounts of the class CSV at ``path`` (``username,role[,password][,uid]``; passwords are ignored)."""
    with open(path, newline="") as handle:
        uids = {row["username"].strip(): int(row["uid"]) for row in csv.DictReader(handle)
                if (row.get("uid") or "").strip()}
    return pod_accounts(read_class(path), uids)


def passwd_text(accounts: list[PodAccount]) -> str:
    """The ``passwd`` file nss_wrapper reads: root, nobody, then one line per user (home ``/home/<name>``).

    Example:
        >>> print(passwd_text([PodAccount("ada", "instructor", 1234, 1234, (900000,))]).splitlines()[-1])
        ada:x:1234:1234::/home/ada:/bin/bash
    """
    return SYSTEM_PASSWD + "".join(f"{a.username}:x:{a.uid}:{a.gid}::{a.home}:/bin/bash\n" for a in accounts)


def group_text(accounts: list[PodAccount], layout: HubLayout = LAYOUT) -> str:
    """The ``group`` file: each user's own group, then the instructors' and students' groups with their members.

    Example:
        >>> print(group_text([PodAccount("ada", "instructor", 1234, 1234, (900000,))]).splitlines()[-2])
        dlcourse-instructors:x:900000:ada
    """
    own = "".join(f"{a.username}:x:{a.gid}:\n" for a in accounts)
    shared = "".join(f"{name}:x:{GROUP_GIDS[role]}:{','.join(a.username for a in accounts if a.role == role)}\n"
                     for role, name in (("instructor", layout.instructors), ("student", layout.students)))
    return SYSTEM_GROUP + own + shared


def class_json(accounts: list[PodAccount]) -> str:
    """What the hub's ``extraConfig`` reads: every account in the CSV's order (the first instructor owns the course)."""
    return json.dumps([asdict(a) for a in accounts], indent=1) + "\n"


def configmap(accounts: list[PodAccount], layout: HubLayout = LAYOUT) -> dict:
    """The ConfigMap mounted at :data:`CLASS_DIR` in the hub, every user's pod and the exchange's layout Job."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "labels": {"app.kubernetes.io/part-of": "dlcourse"}},
            "data": {"class.json": class_json(accounts), "passwd": passwd_text(accounts),
                     "group": group_text(accounts, layout)}}


def role_config_files(layout: HubLayout = LAYOUT) -> dict[str, str]:
    """Each role's configuration files, as :func:`dlcourse.hub.server.write_user_config` writes them: path -> text.

    Example:
        >>> files = role_config_files()
        >>> len(files), "c.Exchange.root = '/srv/nbgrader/exchange'" in files[
        ...     "/etc/dlcourse/jupyter-config/student/nbgrader_config.py"]
        (6, True)
    """
    with tempfile.TemporaryDirectory() as folder:
        scratch = HubLayout(state=Path(folder), exchange=layout.exchange, course_id=layout.course_id,
                            instructors=layout.instructors, students=layout.students)
        write_user_config(scratch)
        root = Path(folder) / "jupyter-config"
        return {str(layout.state / "jupyter-config" / p.relative_to(root)): p.read_text()
                for p in sorted(root.rglob("*")) if p.is_file()}


def extra_files(layout: HubLayout = LAYOUT) -> dict[str, dict]:
    """``singleuser.extraFiles`` for Zero to JupyterHub: the role configuration files, read-only (``0644``, root's)."""
    files = {}
    for path, text in role_config_files(layout).items():
        relative = Path(path).relative_to(layout.state / "jupyter-config")
        key = "dlcourse-" + re.sub(r"[^a-z0-9]+", "-", str(relative).lower()).strip("-")
        files[key] = {"mountPath": path, "mode": 0o644, "stringData": text}
    return files


def lay_out_exchange(class_file: Path, exchange: Path) -> Path:
    """Lay the exchange out with :func:`dlcourse.hub.server.prepare_exchange`, owned by the class's first instructor.

    Run as root with :data:`NSS_WRAPPER` set (the layout Job): ``prepare_exchange`` looks the instructor and the
    instructors' group up by name, and the uid it finds must be the one ``class.json`` gives the instructor's pod.
    """
    import pwd

    accounts = [PodAccount(**{**a, "supplemental_gids": tuple(a["supplemental_gids"])})
                for a in json.loads(class_file.read_text())]
    instructor = next(a for a in accounts if a.role == "instructor")
    try:
        found = pwd.getpwnam(instructor.username).pw_uid
    except KeyError:
        found = None
    if found != instructor.uid:
        raise RuntimeError(f"{instructor.username} resolves to uid {found}, not {instructor.uid}: run with "
                           f"{' '.join(f'{k}={v}' for k, v in NSS_WRAPPER.items())} (nss_wrapper)")
    return prepare_exchange(HubLayout(state=LAYOUT.state, exchange=exchange), instructor.username)


def _yaml(document: dict) -> str:
    import yaml  # the hub extra (PyYAML); only the command line needs it

    class Literal(yaml.SafeDumper):
        pass

    def text(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Literal.add_representer(str, text)
    return yaml.dump(document, Dumper=Literal, sort_keys=False, width=120)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.hub.kubernetes", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("configmap", help="print the class's ConfigMap (uids, passwd, group) as YAML")
    p.add_argument("--users", type=Path, required=True, help="CSV: username,role[,password][,uid]")
    commands.add_parser("extrafiles", help="print values.yaml's singleuser.extraFiles (the roles' configuration)")
    p = commands.add_parser("exchange", help="lay the exchange out (as root, with nss_wrapper: the layout Job)")
    p.add_argument("--class-json", type=Path, default=CLASS_DIR / "class.json")
    p.add_argument("--exchange", type=Path, default=EXCHANGE)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "configmap":
        print(_yaml(configmap(read_accounts(args.users))), end="")
    elif args.command == "extrafiles":
        print(_yaml({"singleuser": {"extraFiles": extra_files()}}), end="")
    else:
        print(f"Laid out {lay_out_exchange(args.class_json, args.exchange)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
