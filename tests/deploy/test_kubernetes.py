"""The Kubernetes variant (deploy/kubernetes) agrees with the tested one-server hub, in what can be checked here.

No cluster, docker or kubectl: the files are parsed and compared with what ``dlcourse.hub.server`` and
``dlcourse.hub.kubernetes`` generate. The hub's ``extraConfig`` runs against a fake spawner; the passwd/group files
are read back by nss_wrapper and the exchange is laid out through them (root and ``libnss-wrapper``, which
scripts/install.sh installs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from dlcourse.hub import kubernetes, server
from dlcourse.hub.kubernetes import LAYOUT, NSS_WRAPPER
from dlcourse.hub.server import Member
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "kubernetes"
VALUES = yaml.safe_load((K8S / "values.yaml").read_text())
MANIFESTS = {doc["kind"]: doc for doc in yaml.safe_load_all((K8S / "exchange.yaml").read_text())}
CLASS_CSV = ROOT / "deploy" / "test_class.csv"
NSS_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so")


def _write(tmp_path: Path, rows: list[str], name: str = "class.csv") -> Path:
    path = tmp_path / name
    path.write_text("username,role\n" + "".join(row + "\n" for row in rows))
    return path


def _class_dir(tmp_path: Path, csv: Path = CLASS_CSV) -> Path:
    """The ConfigMap's files, as the pods see them under /etc/dlcourse/class."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name, text in kubernetes.configmap(kubernetes.read_accounts(csv))["data"].items():
        (folder / name).write_text(text)
    return folder


# --- values.yaml: the roles' configuration ------------------------------------------------------------------------


def test_values_carry_each_roles_configuration_as_write_user_config_writes_it(tmp_path):
    layout = server.HubLayout(state=tmp_path / "state", exchange=kubernetes.EXCHANGE)
    server.write_user_config(layout)  # what the one-server hub writes, read back file by file
    written = {str(LAYOUT.state / p.relative_to(layout.state)): p.read_text()
               for p in (layout.state / "jupyter-config").rglob("*") if p.is_file()}
    carried = {f["mountPath"]: f["stringData"] for f in VALUES["singleuser"]["extraFiles"].values()}
    assert carried == written, ("values.yaml's singleuser.extraFiles differ from what write_user_config writes: "
                                "regenerate them with `python -m dlcourse.hub.kubernetes extrafiles`")
    assert VALUES["singleuser"]["extraFiles"] == kubernetes.extra_files()
    assert all(f["mode"] == 0o644 for f in VALUES["singleuser"]["extraFiles"].values())


def test_students_get_the_hardened_exchange_and_no_formgrader():
    files = {f["mountPath"]: f["stringData"] for f in VALUES["singleuser"]["extraFiles"].values()}
    student = LAYOUT.config_dir("student")
    config = files[str(student / "nbgrader_config.py")]
    for trait, name in server.FACTORY.items():
        assert f"c.ExchangeFactory.{trait} = 'dlcourse.hub.exchange.{name}'" in config
    assert f"c.Exchange.root = '{kubernetes.EXCHANGE}'" in config
    settings = json.loads(files[str(student / "jupyter_server_config.json")])
    assert settings["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    disabled = json.loads(files[str(student / "labconfig" / "page_config.json")])["disabledExtensions"]
    assert all(disabled.get(name) for name in server.STUDENT_DISABLED_LAB)


# --- the hub's extraConfig, with a fake spawner -------------------------------------------------------------------


@pytest.fixture
def hub_config(tmp_path, monkeypatch) -> Config:
    """values.yaml's hub.extraConfig run as the chart runs it (``c`` given), on the test class's ConfigMap."""
    monkeypatch.setenv("DLCOURSE_CLASS", str(_class_dir(tmp_path) / "class.json"))
    c = Config()
    for code in VALUES["hub"]["extraConfig"].values():
        exec(compile(code, "values.yaml:hub.extraConfig", "exec"), {"c": c})
    return c


def _spawner(name: str) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(name=name), environment={"LD_PRELOAD": "libnss_wrapper.so"})


def test_each_pod_runs_as_its_own_user_with_its_roles_configuration(hub_config):
    accounts = {a.username: a for a in kubernetes.read_accounts(CLASS_CSV)}
    spawner_config = hub_config.KubeSpawner
    for name, account in accounts.items():
        spawner = _spawner(name)
        assert spawner_config.uid(spawner) == account.uid and spawner_config.gid(spawner) == account.gid
        assert spawner_config.fs_gid(spawner) == account.gid
        assert spawner_config.supplemental_gids(spawner) == list(account.supplemental_gids)
        spawner_config.pre_spawn_hook(spawner)
        assert spawner.environment["JUPYTER_CONFIG_PATH"] == str(LAYOUT.config_dir(account.role))
        assert spawner.environment["HOME"] == account.home and spawner.environment["LD_PRELOAD"]
    instructor = accounts["dlc-teacher"]
    assert instructor.supplemental_gids == (kubernetes.GROUP_GIDS["instructor"],)
    with pytest.raises(ValueError, match="not in the class"):
        spawner_config.uid(_spawner("mallory"))


def test_only_the_class_logs_in_and_the_instructors_are_admins(hub_config):
    members = server.read_class(CLASS_CSV)
    assert hub_config.Authenticator.allowed_users == {m.username for m in members}
    assert hub_config.Authenticator.admin_users == {m.username for m in members if m.role == "instructor"}
    assert VALUES["hub"]["config"]["Authenticator"]["allow_all"] is False
    assert VALUES["hub"]["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"


def test_pods_mount_the_class_the_exchange_and_nss_wrapper_where_the_code_expects_them():
    single = VALUES["singleuser"]
    assert single["extraEnv"] == NSS_WRAPPER
    mounts = {m["name"]: m for m in single["storage"]["extraVolumeMounts"]}
    assert mounts["dlcourse-class"]["mountPath"] == str(kubernetes.CLASS_DIR) and mounts["dlcourse-class"]["readOnly"]
    assert mounts["dlcourse-exchange"]["mountPath"] == str(kubernetes.EXCHANGE)
    volumes = {v["name"]: v for v in single["storage"]["extraVolumes"]}
    assert volumes["dlcourse-class"]["configMap"]["name"] == kubernetes.CONFIGMAP
    claim = volumes["dlcourse-exchange"]["persistentVolumeClaim"]["claimName"]
    assert MANIFESTS["PersistentVolumeClaim"]["metadata"]["name"] == claim
    assert MANIFESTS["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert single["storage"]["homeMountPath"] == "/home/{username}"  # the passwd file's homes
    hub_mounts = {m["name"]: m["mountPath"] for m in VALUES["hub"]["extraVolumeMounts"]}
    assert hub_mounts["dlcourse-class"] == str(kubernetes.CLASS_DIR)


# --- uids ---------------------------------------------------------------------------------------------------------


def test_uids_are_distinct_never_system_ones_and_stable_when_the_class_changes(tmp_path):
    rows = ["dlc-teacher,instructor"] + [f"student-{i},student" for i in range(300)]
    first = {a.username: a.uid for a in kubernetes.read_accounts(_write(tmp_path, rows))}
    assert len(set(first.values())) == len(first)
    assert all(uid >= 1000 and uid not in (0, 65534) for uid in first.values())
    assert all(uid not in kubernetes.GROUP_GIDS.values() for uid in first.values())
    reordered = rows[:1] + rows[:0:-1] + ["late-joiner,student", "second-teacher,instructor"]
    again = {a.username: a.uid for a in kubernetes.read_accounts(_write(tmp_path, reordered, "again.csv"))}
    assert {name: again[name] for name in first} == first


def test_a_collision_or_a_bad_uid_is_refused_and_the_csv_can_set_one(tmp_path):
    ada, bob = Member("ada", "instructor"), Member("bob", "student")
    with pytest.raises(ValueError, match="share uid"):
        kubernetes.pod_accounts([ada, bob], {"ada": 5000, "bob": 5000})
    for bad in (0, 999, 900_000, 2**31):
        with pytest.raises(ValueError, match="out of range"):
            kubernetes.pod_accounts([ada, bob], {"bob": bad})
    csv = tmp_path / "uids.csv"
    csv.write_text("username,role,password,uid\nada,instructor,,\nbob,student,secret,4242\n")
    accounts = kubernetes.read_accounts(csv)
    assert [a.uid for a in accounts] == [kubernetes.hashed_uid("ada"), 4242]
    assert "secret" not in json.dumps(kubernetes.configmap(accounts))  # passwords never reach the cluster


@pytest.mark.parametrize("name", ["Alice", "dlc_alice", "9lives", "double--dash", "trailing-"])
def test_names_kubespawner_would_rewrite_are_refused(name):
    with pytest.raises(ValueError, match="lowercase letters"):
        kubernetes.pod_accounts([Member(name, "instructor")])


# --- passwd and group ---------------------------------------------------------------------------------------------


def _entries(text: str, fields: int) -> dict[str, list[str]]:
    entries = {}
    for line in text.splitlines():
        parts = line.split(":")
        assert len(parts) == fields, f"malformed line {line!r}"
        assert parts[0] not in entries, f"{parts[0]} twice"
        entries[parts[0]] = parts
    return entries


def test_passwd_and_group_name_every_member_with_their_uids_and_groups():
    accounts = kubernetes.read_accounts(CLASS_CSV)
    data = kubernetes.configmap(accounts)["data"]
    passwd, group = _entries(data["passwd"], 7), _entries(data["group"], 4)
    assert passwd["root"][2] == "0"
    for account in accounts:
        name, _, uid, gid, _, home, _ = passwd[account.username]
        assert (int(uid), int(gid), home) == (account.uid, account.gid, account.home)
        assert int(group[account.username][2]) == account.gid
        shared = LAYOUT.instructors if account.role == "instructor" else LAYOUT.students
        assert account.username in group[shared][3].split(",")
        assert int(group[shared][2]) in account.supplemental_gids
    assert len({int(g[2]) for g in group.values()}) == len(group)
    assert json.loads(data["class.json"])[0]["username"] == "dlc-teacher"


def test_configmap_cli_prints_what_kubectl_applies(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dlcourse.hub.kubernetes", "configmap", "--users", str(CLASS_CSV)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout) == kubernetes.configmap(kubernetes.read_accounts(CLASS_CSV))


# --- the exchange's layout Job ------------------------------------------------------------------------------------


def test_the_job_lays_the_exchange_out_with_prepare_exchange(tmp_path, monkeypatch):
    job = MANIFESTS["Job"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert job["securityContext"]["runAsUser"] == 0
    assert container["image"] == "{name}:{tag}".format(**VALUES["singleuser"]["image"])  # the users' image
    assert {e["name"]: e["value"] for e in container["env"]} == NSS_WRAPPER
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"dlcourse-class": str(kubernetes.CLASS_DIR), "dlcourse-exchange": str(kubernetes.EXCHANGE)}
    assert container["command"][:4] == ["python", "-m", "dlcourse.hub.kubernetes", "exchange"]
    # The command runs dlcourse.hub.server.prepare_exchange, for the first instructor, on the Job's exchange path.
    calls = []
    monkeypatch.setattr(kubernetes, "prepare_exchange", lambda layout, who: calls.append((layout, who)) or Path("/x"))
    monkeypatch.setattr("pwd.getpwnam", lambda name: SimpleNamespace(pw_uid=kubernetes.hashed_uid(name)))
    class_json = _class_dir(tmp_path) / "class.json"
    args = container["command"][3:]
    args[args.index("--class-json") + 1] = str(class_json)
    assert kubernetes.main(args) == 0
    ((layout, instructor),) = calls
    assert instructor == "dlc-teacher" and layout.exchange == kubernetes.EXCHANGE
    assert (layout.instructors, layout.course_id) == (server.HubLayout(Path("/"), Path("/")).instructors, "dlcourse")


def test_the_job_refuses_to_run_without_nss_wrapper(tmp_path):
    with pytest.raises(RuntimeError, match="nss_wrapper"):
        kubernetes.lay_out_exchange(_class_dir(tmp_path) / "class.json", tmp_path / "exchange")


@pytest.mark.skipif(not NSS_LIBRARY.is_file() or os.geteuid() != 0,
                    reason="needs root and nss_wrapper (apt-get install libnss-wrapper)")
def test_nss_wrapper_reads_the_files_and_the_job_lays_out_the_exchange_through_them(tmp_path):
    """The Job's own command, as root under nss_wrapper: the modes and owners of the one-server exchange."""
    folder = _class_dir(tmp_path)
    accounts = {a.username: a for a in kubernetes.read_accounts(CLASS_CSV)}
    env = {**os.environ, "LD_PRELOAD": str(NSS_LIBRARY), "NSS_WRAPPER_PASSWD": str(folder / "passwd"),
           "NSS_WRAPPER_GROUP": str(folder / "group")}
    probe = ("import grp, pwd, sys\n"
             "print(*(pwd.getpwnam(n).pw_uid for n in sys.argv[1:]))\n"
             f"print(','.join(grp.getgrnam({LAYOUT.instructors!r}).gr_mem))\n")
    done = subprocess.run([sys.executable, "-c", probe, *accounts], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    uids, instructors = done.stdout.splitlines()
    assert [int(u) for u in uids.split()] == [a.uid for a in accounts.values()]
    assert instructors == "dlc-teacher"

    exchange = tmp_path / "exchange"
    done = subprocess.run([sys.executable, "-m", "dlcourse.hub.kubernetes", "exchange", "--class-json",
                           str(folder / "class.json"), "--exchange", str(exchange)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    teacher, group = accounts["dlc-teacher"].uid, kubernetes.GROUP_GIDS["instructor"]
    expected = {"": (0, 0, 0o755), "dlcourse": (teacher, group, 0o755), "dlcourse/outbound": (teacher, group, 0o755),
                "dlcourse/inbound": (teacher, group, 0o3733), "dlcourse/feedback": (teacher, group, 0o711)}
    for relative, (uid, gid, mode) in expected.items():
        info = (exchange / relative).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode), relative
    shutil.rmtree(exchange)


# --- the image ----------------------------------------------------------------------------------------------------


def _dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path, or a folder above it, decides; ``!`` re-includes."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = re.escape(body).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_the_image_gets_the_packages_and_never_the_solutions_or_tests():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    never = ["solutions/hw03_logic_gates/hw03_logic_gates.ipynb", "tests/course/partial_submissions/x.json",
             "_build/site/index.html", "gradebook.db", "submitted/a/hw03/hw03.ipynb", "autograded/x", "feedback/x",
             ".venv/bin/python", ".git/config", "artifacts/hub_measurements.json", "dlcourse/__pycache__/hub.pyc",
             "dlcourse/dlcourse.egg-info/PKG-INFO", "course_utils/__pycache__/x.pyc", "nbgrader_config.py"]
    for path in never:
        assert _dockerignore_excludes(patterns, path), f".dockerignore lets {path} into the image"
    dockerfile = (K8S / "Dockerfile").read_text()
    copied = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    for sources in copied:
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"
            assert not _dockerignore_excludes(patterns, source), f".dockerignore leaves {source} out"
            assert source.split("/")[0] not in ("solutions", "tests", "_build")
    for module in ("dlcourse/hub/exchange.py", "dlcourse/hub/kubernetes.py", "course_utils/checks.py"):
        assert not _dockerignore_excludes(patterns, module)
    assert "FROM python:3.11-slim-bookworm" in dockerfile and "libnss-wrapper" in dockerfile
    assert '"./dlcourse[hub]"' in dockerfile and '".[lab]"' in dockerfile
    assert "download.pytorch.org/whl/cpu" in dockerfile


def test_the_chart_version_is_pinned_in_values_and_readme():
    pins = set(re.findall(r"jupyterhub (\d+\.\d+\.\d+)", (K8S / "values.yaml").read_text()))
    readme = (K8S / "README.md").read_text()
    assert len(pins) == 1 and f"--version {pins.pop()}" in readme


def test_every_users_server_has_an_origin_of_its_own_as_on_one_server():
    """deploy/jupyterhub_config.py sets subdomain_host (a page on a student's server must not share the instructor's
    origin); so must the chart's values, with the ingress and certificate covering every user's host."""
    assert "c.JupyterHub.subdomain_host" in (ROOT / "deploy" / "jupyterhub_config.py").read_text()
    public = VALUES["hub"]["config"]["JupyterHub"]["subdomain_host"]
    host = public.split("://", 1)[1].rstrip("/")
    assert public.startswith("https://")
    assert f"*.{host}" in VALUES["ingress"]["hosts"] and host in VALUES["ingress"]["hosts"]
    assert any(f"*.{host}" in entry["hosts"] for entry in VALUES["ingress"]["tls"])
    callback = VALUES["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"]
    assert callback.startswith(f"https://{host}/"), "the login returns to the hub's own host"
