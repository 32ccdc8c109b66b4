"""JupyterHub for the course on one server (JupyterHub 5; see deploy/README.md).

Started by ``dlcourse hub up``, which sets the ``DLHUB_*`` variables read here, as root:

* users log in with their local account (PAM); members of the instructors' group are the hub's admins;
* each user's server answers on a host of its own (``subdomain_host``: a wildcard DNS name, ``*.localhost`` on one
  machine);
* each user's JupyterLab runs as that user (LocalProcessSpawner), from this Python environment (the
  course's packages and nbgrader), in their home folder, with the course's nbgrader configuration
  (``$DLHUB_STATE/jupyter-config/<role>``: the hardened exchange of ``dlcourse.hub.exchange``; students
  get the Assignments tab and Validate, not the Formgrader);
* the proxy is configurable-http-proxy from ``deploy/node_modules`` (``npm ci --prefix deploy``).
"""

import grp
import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

STATE = Path(os.environ["DLHUB_STATE"])
PREFIX = Path(os.environ["DLHUB_PREFIX"])
INSTRUCTORS = os.environ["DLHUB_INSTRUCTORS"]
STUDENTS = os.environ["DLHUB_STUDENTS"]
HUB_STATE = STATE / "hub"  # the hub's database, cookie secret and proxy token: root only
HUB_STATE.mkdir(parents=True, exist_ok=True)
HUB_STATE.chmod(0o700)

# Three ports below 1024 (dlcourse hub refuses others): only root can listen there, so no student's process can take
# one first and serve the login page, or receive the proxy's token or the users' servers' tokens.
c.JupyterHub.bind_url = f"http://{os.environ['DLHUB_IP']}:{os.environ['DLHUB_PORT']}"
# Every user's server on an origin of its own, <user>.<host of the public URL>: a page that a student's server serves
# (it serves whatever the student makes it serve) then can neither read nor act on the instructor's server or the hub
# in the instructor's browser. With one origin for all, one visit to such a page took the instructor's account.
c.JupyterHub.subdomain_host = os.environ["DLHUB_PUBLIC_URL"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["DLHUB_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['DLHUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [os.environ["DLHUB_PROXY"]]
c.ConfigurableHTTPProxy.pid_file = str(HUB_STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{HUB_STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB_STATE / "cookie_secret")
c.JupyterHub.pid_file = str(HUB_STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# Local accounts through PAM; only the class's two groups may log in.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {INSTRUCTORS, STUDENTS}
c.PAMAuthenticator.admin_groups = {INSTRUCTORS}
c.PAMAuthenticator.open_sessions = False

# Each user's JupyterLab, as that user, from this environment.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(PREFIX / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.mem_limit = os.environ.get("DLHUB_MEM_LIMIT", "3G")  # advertised to the user (no cgroup here)
c.Spawner.environment = {"PATH": f"{PREFIX / 'bin'}:/usr/local/bin:/usr/bin:/bin"}


def _role(username):
    groups = {g.gr_name for g in grp.getgrall() if username in g.gr_mem}
    groups.add(grp.getgrgid(pwd.getpwnam(username).pw_gid).gr_name)
    return "instructor" if INSTRUCTORS in groups else "student"


def _pre_spawn(spawner):
    """The role's nbgrader and JupyterLab configuration (read-only to the user) first on the path."""
    config = STATE / "jupyter-config" / _role(spawner.user.name)
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": str(config)}


c.Spawner.pre_spawn_hook = _pre_spawn

# A service token for measurements and tests (optional): it may start and stop users' servers.
if os.environ.get("DLHUB_API_TOKEN"):
    c.JupyterHub.services = [{"name": "dlcourse-admin", "api_token": os.environ["DLHUB_API_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "dlcourse-admin", "services": ["dlcourse-admin"],
                                "scopes": ["admin:users", "admin:servers", "read:users", "access:servers"]}]
