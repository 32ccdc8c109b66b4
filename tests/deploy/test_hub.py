"""A class on JupyterHub, end to end, with real local accounts (root only; CI runs it as root).

An instructor and three students get fresh accounts; the instructor releases hw03 to the hardened exchange
(:mod:`dlcourse.hub.exchange`); the hub starts on 127.0.0.1; each student logs in through PAM in headless
Chromium, fetches hw03 in the Assignments tab, answers (one correct, one partial, one blank), runs Validate and
submits. Every attack of nbgrader #978/#1097/#1225 is tried and must fail; the instructor
collects, ``dlcourse grade`` grades in the sandbox (scores as in tests/course/test_roundtrip.py), feedback
goes out and each student fetches their own. Every account, process and file is removed afterwards.
"""

from __future__ import annotations

import csv
import html
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from nbgrader.utils import parse_utc

from tests.conftest import ROOT

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("hub")]

if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("useradd") is None:
    pytest.skip("the hub test creates local accounts: Linux, as root", allow_module_level=True)

psutil = pytest.importorskip("psutil")
hub = pytest.importorskip("dlcourse.hub.server")
host = pytest.importorskip("dlcourse.hub.host")

ASSIGNMENT = "hw03_logic_gates"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
PARTIAL = json.loads((ROOT / "tests" / "course" / "partial_submissions" / f"{ASSIGNMENT}.json").read_text())
START_TIMEOUT_S = 120
MEASUREMENTS = ROOT / "artifacts" / "hub_measurements.json"
ARTIFACTS_DIR = ROOT / "artifacts" / "screenshots"


@dataclass
class HubClass:
    """The accounts, folders and the running hub of one test class."""

    prefix: str
    tmp: Path
    layout: object
    instructor: str
    students: dict[str, str]  # kind of answer -> user name
    passwords: dict[str, str]
    base: str = ""
    token: str = ""
    bin: Path = Path(sys.prefix) / "bin"  # the users' launchers (dlcourse.hub.env)
    process: subprocess.Popen | None = None
    measured: dict[str, float] = field(default_factory=dict)
    planted: list[str] = field(default_factory=list)  # inbound entries the collection must refuse
    started: float = field(default_factory=time.time)

    @property
    def course(self) -> Path:
        return Path(pwd.getpwnam(self.instructor).pw_dir) / "course"

    @property
    def inbound(self) -> Path:
        return self.layout.exchange / self.layout.course_id / "inbound"

    def server_url(self, user: str) -> tuple[str, str]:
        """A user's server: its address (on its own origin, ``<user>.localhost``) and its Host header."""
        host = f"{user}.localhost:{self.layout.port}"
        return f"http://{host}/user/{user}", host

    def role_of(self, user: str) -> str:
        return "instructor" if user == self.instructor else "student"


def as_user(hc: HubClass, user: str, *command: str, cwd: Path | None = None, check: bool = True):
    """Run ``command`` as ``user`` (``runuser``), in their home or ``cwd``, with their JupyterLab's environment."""
    home = pwd.getpwnam(user).pw_dir
    env = ["env", "-i", f"HOME={home}", f"USER={user}", f"PATH={hc.bin}:/usr/bin:/bin", "LANG=C.UTF-8",
           f"JUPYTER_CONFIG_PATH={hc.layout.config_dir(hc.role_of(user))}", "OMP_NUM_THREADS=1"]
    done = subprocess.run(["runuser", "-u", user, "--", *env, *command], cwd=cwd or home,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, (f"as {user}: {' '.join(command)} failed:\n"
                                      f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def refused(hc: HubClass, user: str, script: str) -> subprocess.CompletedProcess:
    """Run a shell ``script`` as ``user`` and assert that it fails."""
    done = as_user(hc, user, "sh", "-c", script, check=False)
    assert done.returncode != 0, f"{user} could run {script!r}: {done.stdout}"
    return done


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _get(url: str, token: str = "", host: str = "") -> tuple[int, bytes]:
    """GET ``url``; with ``host``, sent to 127.0.0.1 with that Host header (``<user>.localhost`` is no DNS name
    Python resolves; Chromium sends every ``*.localhost`` to loopback itself)."""
    headers = {"Authorization": f"token {token}"} if token else {}
    if host:
        headers["Host"] = host
        url = url.replace(f"//{host}", f"//127.0.0.1:{host.rsplit(':', 1)[1]}", 1)
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _api(hc: HubClass, method: str, route: str) -> int:
    request = urllib.request.Request(f"{hc.base}/hub/api/{route}", method=method,
                                     headers={"Authorization": f"token {hc.token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _answer_cells(nb, written: bool = False) -> dict[str, nbformat.NotebookNode]:
    """The code answer cells by grade id; with ``written``, the written (markdown) answers too."""
    return {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and (written or c.cell_type == "code")}


@pytest.fixture(scope="module")
def hc() -> HubClass:
    prefix = "dlt" + secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix="dlhub-"))
    os.chmod(tmp, 0o755)
    public, hub_port, proxy_api = host.free_privileged_ports(3)
    layout = hub.HubLayout(state=tmp / "state", exchange=tmp / "exchange", instructors=f"{prefix}-instr",
                           students=f"{prefix}-stud", port=public, hub_port=hub_port, proxy_api_port=proxy_api)
    students = {"correct": f"{prefix}a", "partial": f"{prefix}b", "blank": f"{prefix}c"}
    members = [hub.Member(f"{prefix}t", "instructor")] + [hub.Member(n, "student") for n in students.values()]
    hc = HubClass(prefix, tmp, layout, f"{prefix}t", students, {})
    private = host.make_checkout_private(ROOT)  # set_up does it too; done here to put the modes back afterwards
    try:
        hc.passwords = hub.set_up(members, layout)
        hc.bin = hub.user_prefix(layout.python) / "bin"
        _prepare_course(hc)
        _start_hub(hc)
        yield hc
    finally:
        if hc.process is not None:
            _stop(hc.process)
        host.end_processes_of(m.username for m in members)
        hub.remove_accounts([m.username for m in members], [layout.instructors, layout.students])
        shutil.rmtree(tmp, ignore_errors=True)
        host.restore_modes(private)
        if hc.measured:
            MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
            MEASUREMENTS.write_text(json.dumps(hc.measured, indent=1))


def _prepare_course(hc: HubClass) -> None:
    """The instructor's own copy of the course (home 0700): the source, the config; then release hw03."""
    course = hc.course
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    user = pwd.getpwnam(hc.instructor)
    for path in [course, *course.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    as_user(hc, hc.instructor, "nbgrader", "generate_assignment", ASSIGNMENT, cwd=course)
    as_user(hc, hc.instructor, "nbgrader", "release_assignment", ASSIGNMENT, cwd=course)


def _start_hub(hc: HubClass) -> None:
    hc.token = secrets.token_hex(32)
    command, env = hub.hub_command(hc.layout)
    env.update(DLHUB_API_TOKEN=hc.token)
    hc.base = hc.layout.url
    started = time.monotonic()
    with open(hc.tmp / "hub.log", "w") as log:  # the hub keeps its own copy of the descriptor
        hc.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    while _get(f"{hc.base}/hub/health")[0] != 200:
        assert hc.process.poll() is None, f"the hub stopped:\n{(hc.tmp / 'hub.log').read_text()[-4000:]}"
        assert time.monotonic() - started < START_TIMEOUT_S, "the hub did not answer within 120 s"
        time.sleep(0.2)
    hc.measured["hub_start_s"] = round(time.monotonic() - started, 2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a successful login answers 302; following it would start the user's server


def log_in(hc: HubClass, user: str, password: str) -> bool:
    """Log in on the hub's login form (PAM behind it); whether the hub set its login cookie."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    page = opener.open(f"{hc.base}/hub/login", timeout=10).read().decode()
    xsrf = page.split('name="_xsrf" value="', 1)[1].split('"', 1)[0]
    form = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": xsrf}).encode()
    try:
        opener.open(urllib.request.Request(f"{hc.base}/hub/login", data=form), timeout=60)
    except urllib.error.HTTPError as answer:
        assert answer.code in (302, 403), f"login of {user}: HTTP {answer.code}"
    return any(c.name.startswith("jupyterhub-hub-login") for c in jar)


def test_students_log_in_through_pam_and_their_servers_start(hc):
    for user in [hc.instructor, *hc.students.values()]:
        assert not log_in(hc, user, "wrong password"), f"{user} logged in with a wrong password"
        assert log_in(hc, user, hc.passwords[user]), f"{user} could not log in"
    assert not log_in(hc, "root", "root"), "an account outside the class logged in"

    user = hc.students["partial"]
    started = time.monotonic()
    assert _api(hc, "POST", f"users/{user}/server") in (201, 202)
    while True:
        status, body = _get(f"{hc.base}/hub/api/users/{user}", hc.token)
        if status == 200 and json.loads(body).get("servers", {}).get("", {}).get("ready"):
            break
        assert time.monotonic() - started < START_TIMEOUT_S, f"{user}'s server did not start:\n{body[-2000:]}"
        time.sleep(0.2)
    hc.measured["user_server_start_s"] = round(time.monotonic() - started, 2)
    uid = pwd.getpwnam(user).pw_uid
    procs = [p for p in psutil.process_iter(["uids", "cmdline"]) if p.info["uids"] and p.info["uids"].real == uid]
    assert any("jupyterhub-singleuser" in " ".join(p.info["cmdline"] or []) for p in procs), "no server of the user"
    hc.measured["user_server_rss_mib"] = round(sum(p.memory_info().rss for p in procs) / 2**20, 1)
    # The server runs as the student, with the student's nbgrader configuration (the hardened exchange).
    server = next(p for p in procs if "jupyterhub-singleuser" in " ".join(p.info["cmdline"] or []))
    assert server.environ().get("JUPYTER_CONFIG_PATH") == str(hc.layout.config_dir("student"))
    # Its nbgrader answers (Assignments tab, Validate) but has no Formgrader (that is the instructor's).
    server_url, host = hc.server_url(user)
    assert _get(f"{server_url}/nbgrader_version?version=0.9.6", hc.token, host)[0] == 200
    assert _get(f"{server_url}/formgrader", hc.token, host)[0] == 404
    assert _get(f"{hc.base}/user/{user}/nbgrader_version?version=0.9.6", hc.token)[0] != 200, \
        "a user's server answers on the hub's own origin"
    as_user(hc, user, "python", "-c", "import course_utils, torch, nbgrader")  # the course's packages
    assert _api(hc, "DELETE", f"users/{user}/server") in (202, 204)


def _write_answers(hc: HubClass, kind: str, user: str) -> None:
    """What the student types: every answer (correct), the partial answers of tests/course, or nothing (blank)."""
    path = Path(pwd.getpwnam(user).pw_dir) / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    cells = _answer_cells(nb, written=True)
    if kind == "correct":  # the code and the written answers
        source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
        for grade_id, cell in _answer_cells(source, written=True).items():
            cells[grade_id].source = cell.source
    elif kind == "partial":
        for grade_id, code in PARTIAL["answers"].items():
            cells[grade_id].source = code
    nbformat.write(nb, str(path))
    os.chown(path, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)


# What the Validate button must say for each kind of answer (nbgrader's validation dialog).
VALIDATION = {"correct": "Success! Your notebook passes all the tests.", "partial": "failed",
              "blank": "You did not provide a response."}


def _wait_for(condition, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def _student_in_chromium(hc: HubClass, page, kind: str, user: str) -> None:
    home = Path(pwd.getpwnam(user).pw_dir)
    page.goto(f"{hc.base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hc.passwords[user])
    started = time.monotonic()
    page.click("#login_submit")
    menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
    menu.wait_for(timeout=START_TIMEOUT_S * 1000)
    hc.measured[f"login_to_lab_s_{kind}"] = round(time.monotonic() - started, 2)
    menu.click()
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.get_by_role("button", name="Fetch").first.click(timeout=60_000)
    _wait_for(lambda: (home / ASSIGNMENT / NOTEBOOK).exists(), "Fetch in the Assignments tab fetched nothing")
    _write_answers(hc, kind, user)
    page.locator("a.assignment-notebooks-link", has_text=ASSIGNMENT).click()  # its notebooks, each with Validate
    page.get_by_role("button", name="Validate").first.click(timeout=60_000)
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog')?.innerText.includes('Validating')",
                           timeout=180_000)
    verdict = dialog.inner_text()
    assert VALIDATION[kind] in verdict, f"Validate for the {kind} answer said:\n{verdict[:1500]}"
    page.screenshot(path=str(ARTIFACTS_DIR / f"hub_validate_{kind}.png"))
    dialog.get_by_role("button").last.click()
    page.get_by_role("button", name="Submit").first.click()
    _wait_for(lambda: any(p.name.startswith(f"{user}+") for p in hc.inbound.iterdir()),
              "Submit in the Assignments tab submitted nothing")


def test_each_student_fetches_validates_and_submits_in_chromium(hc):
    """Each student's whole path in the browser: log in, Assignments tab, Fetch, (answer), Validate, Submit."""
    from tests.support.jupyter_browser import CHROMIUM, headless_chromium, new_page

    if not CHROMIUM.is_file():  # the class still submits, from the command line, for the tests after this one
        for kind, user in hc.students.items():
            as_user(hc, user, "nbgrader", "fetch_assignment", ASSIGNMENT)
            _write_answers(hc, kind, user)
            as_user(hc, user, "nbgrader", "submit", ASSIGNMENT)
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium): submitted with runuser instead")
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    with headless_chromium() as browser:
        for kind, user in hc.students.items():
            with new_page(browser) as page:
                try:
                    _student_in_chromium(hc, page, kind, user)
                finally:
                    page.screenshot(path=str(ARTIFACTS_DIR / f"hub_assignments_{kind}.png"))
            assert _api(hc, "DELETE", f"users/{user}/server") in (202, 204)


JS_ACROSS_ORIGINS = """async (targets) => {
    // what a script on a student's server tries in the instructor's browser (red team, round 3)
    const wait = ms => new Promise(done => setTimeout(done, ms));
    const result = {cookies: document.cookie};
    for (const [name, options] of [['read', {}], ['write', {method: 'PUT', headers: {'Content-Type':
            'application/json'}, body: JSON.stringify({type: 'file', format: 'text', content: 'pwned'})}]]) {
        try {
            const answer = await fetch(targets[name], {credentials: 'include', ...options});
            result[name] = answer.status;
        } catch (error) { result[name] = 'blocked'; }
    }
    for (const name of ['tree', 'home']) {
        const opened = window.open(targets[name]);
        result[name + '_opened'] = opened !== null;
        await wait(4000);
        try { result[name] = opened.document.cookie + '|' + (opened.jhdata ? opened.jhdata.xsrf_token : ''); }
        catch (error) { result[name] = 'blocked'; }
        if (opened) { opened.close(); }
    }
    return result;
}"""


def test_a_page_on_a_students_server_cannot_reach_the_instructors_server_or_the_hub(hc):
    """Red team, round 3: a student's server serves whatever the student makes it serve; with one origin for every
    server, one visit by the instructor to such a page let its script read the instructor's XSRF token from a window
    it opened, write files and open a terminal on the instructor's server, and make an admin token at the hub. Each
    server now has an origin of its own: the same script, run on the student's origin, reaches nothing."""
    from tests.support.jupyter_browser import CHROMIUM, headless_chromium, new_page

    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    student = hc.students["partial"]
    assert _api(hc, "POST", f"users/{student}/server") in (201, 202)
    _wait_for(lambda: json.loads(_get(f"{hc.base}/hub/api/users/{student}", hc.token)[1] or b"{}")
              .get("servers", {}).get("", {}).get("ready"), f"{student}'s server did not start", START_TIMEOUT_S)
    student_url, _ = hc.server_url(student)
    instructor_url, _ = hc.server_url(hc.instructor)
    planted = Path(pwd.getpwnam(hc.instructor).pw_dir) / "pwned.txt"
    with headless_chromium() as browser, new_page(browser) as page:
        page.goto(f"{hc.base}/hub/login")
        page.fill("#username_input", hc.instructor)
        page.fill("#password_input", hc.passwords[hc.instructor])
        page.click("#login_submit")
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for(timeout=START_TIMEOUT_S * 1000)
        page.goto(f"{student_url}/api")  # any page the student's server answers
        assert urlparse(page.url).hostname == f"{student}.localhost", page.url
        result = page.evaluate(JS_ACROSS_ORIGINS, {"read": f"{instructor_url}/api/contents/",
                                                   "write": f"{instructor_url}/api/contents/pwned.txt",
                                                   "tree": f"{instructor_url}/tree", "home": f"{hc.base}/hub/home"})
    assert result["tree_opened"] and result["home_opened"], f"the test's windows did not open: {result}"
    assert result["read"] == "blocked" and result["write"] == "blocked", f"a request reached across: {result}"
    assert result["tree"] == "blocked" and result["home"] == "blocked", f"a window was readable across: {result}"
    assert "jupyterhub" not in result["cookies"], f"the hub's cookies reach the student's origin: {result}"
    assert not planted.exists(), "the student's page wrote into the instructor's home"
    assert _api(hc, "DELETE", f"users/{student}/server") in (202, 204)
    assert _api(hc, "DELETE", f"users/{hc.instructor}/server") in (202, 204)


def test_every_submission_is_private(hc):
    subs = sorted(p.name.split("+")[0] for p in hc.inbound.iterdir())
    assert subs == sorted(hc.students.values())
    for sub in hc.inbound.iterdir():
        assert sub.stat().st_mode & 0o7777 == 0o750, f"{sub} is not private"
        assert all(f.stat().st_mode & 0o777 == 0o640 for f in sub.iterdir())


def _submission_of(hc: HubClass, user: str) -> Path:
    """The submission ``nbgrader submit`` made for ``user`` (not one planted by a test)."""
    return next(p for p in hc.inbound.iterdir() if p.name.startswith(f"{user}+") and p.name not in hc.planted
                and not p.is_symlink() and p.is_dir() and p.stat().st_uid == pwd.getpwnam(user).pw_uid)


def test_a_student_cannot_read_change_or_forge_anothers_submission(hc):
    victim, attacker = hc.students["correct"], hc.students["partial"]
    target = _submission_of(hc, victim)
    before = (target / NOTEBOOK).read_bytes()
    refused(hc, attacker, f"ls '{hc.inbound}'")  # no listing: the names stay unknown
    # Even with the name (leaked, guessed): no reading, writing, deleting, renaming.
    refused(hc, attacker, f"cat '{target}/{NOTEBOOK}'")
    refused(hc, attacker, f"ls '{target}'")
    refused(hc, attacker, f"echo '{{}}' > '{target}/{NOTEBOOK}'")
    refused(hc, attacker, f"rm -rf '{target}'")
    refused(hc, attacker, f"mv '{target}' '{hc.inbound}/{attacker}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC'")
    refused(hc, attacker, f"touch '{target}/extra.ipynb'")
    assert (target / NOTEBOOK).read_bytes() == before
    # nbgrader #1225: nobody but root changes the exchange root or a course folder.
    refused(hc, attacker, f"mkdir '{hc.layout.exchange}/othercourse'")
    refused(hc, attacker, f"mv '{hc.layout.exchange}/{hc.layout.course_id}' '{hc.layout.exchange}/moved'")
    refused(hc, attacker, f"mkdir '{hc.layout.exchange}/{hc.layout.course_id}/outbound/{ASSIGNMENT}/x'")
    # nbgrader #1097: a later submission in the victim's name (a blank one), and a malformed forged name.
    as_user(hc, attacker, "nbgrader", "submit", ASSIGNMENT, "--student", victim)
    as_user(hc, attacker, "mkdir", f"{hc.inbound}/{victim}+{ASSIGNMENT}+not-a-time")
    forged = [p for p in hc.inbound.iterdir() if p.name.startswith(f"{victim}+") and p != target]
    assert len(forged) == 2


def test_a_student_plants_links_fifos_and_malformed_entries_for_the_collection(hc):
    """The instructor's collect reads what students left in inbound: each trick must be refused when it runs."""
    attacker, victim, late = hc.students["partial"], hc.students["correct"], hc.students["blank"]
    own = _submission_of(hc, attacker)
    later = "2099-01-01 00:00:00.000000 UTC"  # a later time than any real submission: the one collect would pick
    solution = hc.course / "solutions" / ASSIGNMENT / NOTEBOOK
    collected = hc.course / "submitted" / victim / ASSIGNMENT

    def plant(script: str, name: str | None = None) -> None:
        tag = secrets.token_hex(4)
        entry = hc.inbound / (name or f"{attacker}+{ASSIGNMENT}+{later}+{tag}")
        as_user(hc, attacker, "sh", "-c", script.format(entry=f"'{entry}'", secret=f"'{own}/submission_secret.txt'"))
        hc.planted.append(entry.name)

    folder = "mkdir {entry} && cp {secret} {entry}/ && "
    # S1: links to the instructor's solution, course folder and gradebook, as the student's own files.
    plant(folder + f"ln -s '{solution}' {{entry}}/{NOTEBOOK}")
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/ && ln -s '{hc.course}' {{entry}}/course")
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/ && ln -s '{hc.course}/gradebook.db' {{entry}}/gradebook.db")
    plant(f"ln -s '{own}' {{entry}}")  # the submission itself a link
    # S2: the victim's collected notebook and secret (their feedback page is named by that secret).
    plant(f"mkdir {{entry}} && ln -s '{collected}/{NOTEBOOK}' {{entry}}/{NOTEBOOK} && "
          f"ln -s '{collected}/submission_secret.txt' {{entry}}/submission_secret.txt")
    # S3: entries that stopped nbgrader's collection: a file, a FIFO, a malformed time, a FIFO inside.
    plant("echo x > {entry}")
    plant("mkfifo {entry}")
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/", name=f"{attacker}+{ASSIGNMENT}+not-a-time+x")
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/ && mkfifo {{entry}}/pipe")
    # S4: filling the instructor's disk: /dev/zero, a sparse terabyte, thousands of files.
    plant(folder + f"ln -s /dev/zero {{entry}}/{NOTEBOOK}")
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/ && truncate -s 1T {{entry}}/data.bin")
    plant(folder + "cd {entry} && seq 1 1500 | xargs touch")
    # S5: a secret that is a path (it names the feedback file).
    plant(f"mkdir {{entry}} && cp '{own}/{NOTEBOOK}' {{entry}}/ && "
          "echo ../../../tmp/x > {entry}/submission_secret.txt")
    # S6: a name nbgrader splits into another student id than the owner's.
    plant(folder + f"cp '{own}/{NOTEBOOK}' {{entry}}/", name=f"{attacker}+{victim}+{ASSIGNMENT}+{later}+s6")
    # S5: a student dates their submission back (late work made to look early).
    mine = _submission_of(hc, late)
    as_user(hc, late, "sh", "-c", f"echo '2000-01-01 00:00:00.000000 UTC' > '{mine}/timestamp.txt'")
    assert len(hc.planted) == 14


def test_a_student_cannot_read_solutions_or_the_gradebook(hc):
    for user in hc.students.values():
        refused(hc, user, f"cat '{hc.course}/solutions/{ASSIGNMENT}/{NOTEBOOK}'")
        refused(hc, user, f"cat '{hc.course}/gradebook.db'")
        refused(hc, user, f"ls '{hc.course}'")
        refused(hc, user, f"cat '{hc.layout.state}/hub/jupyterhub.sqlite'")


def test_a_student_cannot_read_the_checkout_the_hub_runs_from(hc):
    """The users' Python imports the course from the checkout; its solutions, tests and history stay closed."""
    refused(hc, hc.students["partial"], f"cat '{ROOT}/solutions/{ASSIGNMENT}/{NOTEBOOK}'")
    refused(hc, hc.students["partial"], f"cat '{ROOT}/.git/HEAD'")
    refused(hc, hc.students["partial"], f"ls '{ROOT}/tests'")
    refused(hc, hc.students["partial"], f"git -C '{ROOT}' show HEAD:solutions/{ASSIGNMENT}/{NOTEBOOK}")
    as_user(hc, hc.students["partial"], "python", "-c", "import course_utils.checks, dlcourse")  # still importable


def test_a_student_cannot_take_the_hubs_ports_or_outlive_it(hc):
    """Only root listens below 1024, where the hub's three ports are; a student's leftover process is ended."""
    assert not host.unprivileged_ports([hc.layout.port, hc.layout.hub_port, hc.layout.proxy_api_port])
    free = host.free_privileged_ports(1)[0]
    listen = f"import socket; s = socket.socket(); s.bind(('127.0.0.1', {free})); s.listen()"
    done = as_user(hc, hc.students["blank"], "python", "-c", listen, check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr, done.stderr[-500:]
    with pytest.raises(ValueError, match="any account can listen"):
        hub.hub_command(hub.HubLayout(state=hc.tmp, exchange=hc.tmp, port=8000))
    # A process that keeps forking (its pid changes every few milliseconds), started in a session of its own.
    user = hc.students["blank"]
    beat = Path(pwd.getpwnam(user).pw_dir) / "heartbeat"
    runaway = (f"import os, time\nnull = os.open(os.devnull, os.O_RDWR)\nfor fd in (0, 1, 2): os.dup2(null, fd)\n"
               f"os.setsid()\nwhile True:\n    if os.fork(): os._exit(0)\n"
               f"    open({str(beat)!r}, 'w').write(str(time.time()))\n    time.sleep(0.002)\n")
    as_user(hc, user, "python", "-c", runaway, check=False)
    time.sleep(0.5)
    assert beat.exists(), "the runaway process did not start"
    host.end_processes_of([user])
    stopped = beat.read_text()
    time.sleep(1)
    assert beat.read_text() == stopped, "the student's forking process survived"
    assert host._running(pwd.getpwnam(user).pw_uid) == 0


def test_collect_grade_and_feedback(hc):
    started = time.monotonic()
    collected = as_user(hc, hc.instructor, "nbgrader", "collect", ASSIGNMENT, cwd=hc.course)
    hc.measured["collect_s"] = round(time.monotonic() - started, 2)
    log = collected.stdout + collected.stderr
    refusals = [line for line in log.splitlines() if "Refused" in line]
    for name in hc.planted + [p.name for p in hc.inbound.iterdir() if p.name.startswith(f"{hc.students['correct']}+")
                              and p.stat().st_uid != pwd.getpwnam(hc.students["correct"]).pw_uid]:
        assert any(name in line for line in refusals), f"collect did not refuse {name!r}:\n{log[-4000:]}"
    submitted = sorted(p.name for p in (hc.course / "submitted").iterdir())
    assert submitted == sorted(hc.students.values())
    assert not [p for p in (hc.course / "submitted").rglob("*") if p.is_symlink() or not (p.is_file() or p.is_dir())]
    for user in hc.students.values():  # each student's own submission, as they submitted it
        mine = _submission_of(hc, user)
        assert (hc.course / "submitted" / user / ASSIGNMENT / NOTEBOOK).read_bytes() == (mine / NOTEBOOK).read_bytes()
        stamp = (hc.course / "submitted" / user / ASSIGNMENT / "timestamp.txt").read_text()
        assert parse_utc(stamp).replace(tzinfo=timezone.utc).timestamp() >= hc.started - 1, \
            f"{user}'s collected time {stamp} is not when the submission last changed"
    solution = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    got = nbformat.read(hc.course / "submitted" / hc.students["correct"] / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert [c.source for c in _answer_cells(got).values()] == [c.source for c in _answer_cells(solution).values()], \
        "the forged later submission replaced the real one"

    # Grading runs as root, as on the separate grading server of docs/grading.md (a sandbox user per kernel).
    started = time.monotonic()
    graded = subprocess.run([sys.executable, "-m", "dlcourse", "grade", ASSIGNMENT, "--course", str(hc.course)],
                            cwd=hc.course, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    hc.measured["grade_3_students_s"] = round(time.monotonic() - started, 1)
    owner = pwd.getpwnam(hc.instructor)
    for path in [hc.course, *hc.course.rglob("*")]:
        os.lchown(path, owner.pw_uid, owner.pw_gid)
    with open(hc.course / "grades.csv") as handle:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    auto = sum(float(c.metadata.nbgrader["points"]) for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution"))
    expected = {hc.students["correct"]: auto, hc.students["partial"]: float(PARTIAL["expected_score"]),
                hc.students["blank"]: 0.0}
    assert scores == expected

    as_user(hc, hc.instructor, "nbgrader", "release_feedback", ASSIGNMENT, cwd=hc.course)
    refused(hc, hc.students["partial"], f"ls '{hc.layout.exchange}/{hc.layout.course_id}/feedback'")
    blank = (ROOT / "assignments" / ASSIGNMENT / NOTEBOOK).read_text()
    solution_lines = {line.strip() for c in _answer_cells(solution).values() for line in c.source.splitlines()}
    partial_code = "\n".join(PARTIAL["answers"].values())
    marks = {"partial": "-0.01", "correct": next(
        line for line in sorted(solution_lines) if len(line) > 25 and not set("\"'<>&") & set(line)
        and line not in blank and line not in partial_code)}
    for kind, user in hc.students.items():
        as_user(hc, user, "nbgrader", "fetch_feedback", ASSIGNMENT)
        pages = list((Path(pwd.getpwnam(user).pw_dir) / ASSIGNMENT / "feedback").rglob("*.html"))
        assert len(pages) == 1, f"{user} fetched {pages}"
        text = html.unescape(re.sub(r"<[^>]+>", "", pages[0].read_text()))  # code is highlighted span by span
        for owner, mark in marks.items():
            assert (mark in text) == (owner == kind), f"{user} ({kind}) got {owner}'s feedback ({mark!r})"
