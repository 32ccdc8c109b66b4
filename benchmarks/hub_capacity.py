"""How many students one server holds: N users' JupyterLab servers on the hub, each user running lecture 08 at once.

Run as root by ``dlcourse bench --only hub`` (it creates a throw-away class of local accounts, starts the hub of
``deploy/`` on 127.0.0.1 and removes everything afterwards). For each number of students it starts that many user
servers through the hub's API, then executes ``notebooks/08_pytorch_mlp.ipynb`` as each of those users at the same
time (a kernel of that user's, from the users' environment), and records:

- every run's wall time and whether it finished;
- the machine's memory in use (total minus available) before and at its peak, sampled every 0.2 s;
- the user servers' start time and memory.

A level *holds* when every run finishes and the peak stays under :data:`MEMORY_CEILING` of the machine's memory.
Prints one JSON line at the end (what ``benchmarks/run.py`` reads).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlcourse.hub import server as hub  # noqa: E402  (the repository's, also when run from elsewhere)
from dlcourse.hub.host import (  # noqa: E402
    end_processes_of,
    free_privileged_ports,
    make_checkout_private,
    restore_modes,
)

LECTURE = ROOT / "notebooks" / "08_pytorch_mlp.ipynb"
LEVELS = (1, 4, 8, 16, 24)
MEMORY_CEILING = 0.9
RUN_TIMEOUT_S = 1800
START_TIMEOUT_S = 180


def _api(base: str, token: str, method: str, route: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base}/hub/api/{route}", method=method,
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as error:
        return error.code, {}
    except OSError:
        return 0, {}


class MemoryPeak:
    """The machine's memory in use (total − available), sampled in a thread until stopped: its peak in GiB."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            memory = psutil.virtual_memory()
            self.peak = max(self.peak, (memory.total - memory.available) / 2**30)
            self._stop.wait(0.2)

    def __enter__(self) -> MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _in_use_gib() -> float:
    memory = psutil.virtual_memory()
    return (memory.total - memory.available) / 2**30


def _run_lecture(user: str, bin_dir: Path, config: Path) -> tuple[float, bool, str]:
    home = Path(pwd.getpwnam(user).pw_dir)
    env = ["env", "-i", f"HOME={home}", f"USER={user}", f"PATH={bin_dir}:/usr/bin:/bin", "LANG=C.UTF-8",
           f"JUPYTER_CONFIG_PATH={config}", "OMP_NUM_THREADS=1"]
    command = [str(bin_dir / "jupyter"), "nbconvert", "--to", "notebook", "--execute", LECTURE.name,
               "--output", "executed.ipynb", f"--ExecutePreprocessor.timeout={RUN_TIMEOUT_S}"]
    started = time.monotonic()
    done = subprocess.run(["runuser", "-u", user, "--", *env, *command], cwd=home, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S + 60)
    return time.monotonic() - started, done.returncode == 0, done.stderr[-1500:]


def _start_servers(base: str, token: str, users: list[str]) -> list[float]:
    times = []
    for user in users:
        started = time.monotonic()
        if _api(base, token, "POST", f"users/{user}")[0] not in (201, 409):  # the hub knows a user after a login
            raise RuntimeError(f"the hub did not add the user {user}")
        status, _ = _api(base, token, "POST", f"users/{user}/server")
        if status not in (201, 202):
            raise RuntimeError(f"the hub did not start {user}'s server (HTTP {status})")
        while not _api(base, token, "GET", f"users/{user}")[1].get("servers", {}).get("", {}).get("ready"):
            if time.monotonic() - started > START_TIMEOUT_S:
                raise RuntimeError(f"{user}'s server did not start within {START_TIMEOUT_S} s")
            time.sleep(0.2)
        times.append(time.monotonic() - started)
    return times


def _users_rss_mib(users: list[str]) -> float:
    uids = {pwd.getpwnam(user).pw_uid for user in users}
    total = 0
    for proc in psutil.process_iter(["uids", "memory_info"]):
        if proc.info["uids"] and proc.info["uids"].real in uids and proc.info["memory_info"]:
            total += proc.info["memory_info"].rss
    return total / 2**20


def measure(levels: tuple[int, ...] = LEVELS) -> dict:
    prefix = "dlb" + secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix="dlhub-bench-"))
    os.chmod(tmp, 0o755)
    ports = free_privileged_ports(3)
    layout = hub.HubLayout(state=tmp / "state", exchange=tmp / "exchange", instructors=f"{prefix}-instr",
                           students=f"{prefix}-stud", port=ports[0], hub_port=ports[1], proxy_api_port=ports[2])
    students = [f"{prefix}s{index:02d}" for index in range(max(levels))]
    members = [hub.Member(f"{prefix}t", "instructor")] + [hub.Member(name, "student") for name in students]
    process = None
    base, token = f"http://127.0.0.1:{layout.port}", secrets.token_hex(32)
    result: dict = {"levels": [], "memory_total_gib": psutil.virtual_memory().total / 2**30,
                    "cores": os.cpu_count(), "lecture": str(LECTURE.relative_to(ROOT))}
    private = make_checkout_private(ROOT)  # set_up does it too; done here to put the modes back afterwards
    try:
        hub.set_up(members, layout)
        bin_dir = hub.user_prefix(layout.python) / "bin"
        for user in students:
            home = Path(pwd.getpwnam(user).pw_dir)
            shutil.copy(LECTURE, home / LECTURE.name)
            account = pwd.getpwnam(user)
            os.chown(home / LECTURE.name, account.pw_uid, account.pw_gid)
        command, env = hub.hub_command(layout)
        env.update(DLHUB_API_TOKEN=token)
        started = time.monotonic()
        with open(tmp / "hub.log", "w") as log:  # the hub keeps its own copy of the descriptor
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while _api(base, token, "GET", "")[0] != 200:
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT_S:
                raise RuntimeError("the hub did not start:\n" + (tmp / "hub.log").read_text()[-3000:])
            time.sleep(0.2)
        result["hub_start_s"] = time.monotonic() - started
        result["idle_gib"] = _in_use_gib()  # the machine with the hub and no user's server
        running: list[str] = []
        for level in levels:
            idle = _in_use_gib()
            result.setdefault("server_start_s", []).extend(_start_servers(base, token, students[len(running):level]))
            running = students[:level]
            servers_gib = _in_use_gib() - idle
            before = _in_use_gib()
            with MemoryPeak() as peak, ThreadPoolExecutor(level) as pool:
                runs = list(pool.map(lambda user: _run_lecture(user, bin_dir, layout.config_dir("student")),
                                     running))
            times = [seconds for seconds, _, _ in runs]
            failed = [error for _, ok, error in runs if not ok]
            entry = {"students": level, "finished": level - len(failed), "median_s": statistics.median(times),
                     "max_s": max(times), "memory_before_gib": before, "memory_peak_gib": peak.peak,
                     "servers_added_gib": servers_gib, "users_rss_after_mib": _users_rss_mib(running)}
            entry["holds"] = not failed and peak.peak < MEMORY_CEILING * result["memory_total_gib"]
            if failed:
                entry["first_error"] = failed[0]
            result["levels"].append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
            if not entry["holds"]:
                break
    finally:
        for user in students:
            _api(base, token, "DELETE", f"users/{user}/server")
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        end_processes_of(m.username for m in members)
        hub.remove_accounts([m.username for m in members], [layout.instructors, layout.students])
        shutil.rmtree(tmp, ignore_errors=True)
        restore_modes(private)
    largest = result["levels"][-1] if result["levels"] else None
    if largest and largest["holds"]:  # what one more student costs at the peak, and where memory would end
        per_student = (largest["memory_peak_gib"] - result["idle_gib"]) / largest["students"]
        result["per_student_gib"] = per_student
        result["memory_limit_students"] = int((MEMORY_CEILING * result["memory_total_gib"] - result["idle_gib"])
                                              / per_student)
    return result


def main() -> int:
    if os.geteuid() != 0:
        print(json.dumps({"skipped": "the hub benchmark creates local accounts: run it as root"}))
        return 0
    levels = tuple(int(n) for n in sys.argv[1].split(",")) if len(sys.argv) > 1 else LEVELS
    print(json.dumps(measure(levels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
