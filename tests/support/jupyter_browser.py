"""JupyterLab and Debian's Chromium for the browser tests: start them, hand them over, stop them.

:func:`jupyter_lab` serves a folder from 127.0.0.1 on a free port, behind a token, and waits until the server
answers; leaving it stops the server, which shuts its kernels down first. :func:`headless_chromium` launches
Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``) through Python Playwright; no browser is ever
downloaded. :func:`require_chromium` skips a test module where either is missing (and fails on CI).
Screenshots go to :data:`ARTIFACTS`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.network import free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
ARTIFACTS = ROOT / "artifacts" / "screenshots"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
# No "get notified about Jupyter news?" toast: it would cover what a screenshot shows.
NO_NEWS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}


@dataclass(frozen=True)
class JupyterLab:
    """A running Jupyter server: where it listens, its token, and the folder it serves."""

    base: str
    token: str
    root: Path

    def url(self, route: str) -> str:
        """The address of ``route`` on this server, token included: ``lab.url("lab/tree/a.ipynb")``."""
        return f"{self.base}/{route}?token={self.token}"


def require_chromium() -> ModuleType:
    """Playwright's sync API, once Debian's Chromium is there; otherwise skip the calling test module.

    Called at a test module's top level. On CI a missing Chromium is an error, not a silent skip
    (``scripts/test.sh`` installs it: ``apt-get install chromium``).
    """
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            raise RuntimeError(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def write_lab_settings(folder: Path, settings: Mapping[str, Mapping[str, Any]]) -> None:
    """Write user settings into ``folder`` (a ``JUPYTERLAB_SETTINGS_DIR``), one file per plugin.

    ``settings`` maps a plugin's settings path (``"@jupyterlab/notebook-extension/tracker"``) to its values.
    """
    for plugin, values in settings.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(values)))


@contextmanager
def jupyter_lab(root: Path, settings: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[JupyterLab]:
    """JupyterLab (and Notebook 7's pages) serving ``root``, until the ``with`` block ends.

    Its configuration, runtime files and settings live in ``root`` (``.jupyter``, ``.runtime``,
    ``.lab-settings``: nothing of the user's is read or written), its output in ``root/server.log``.
    ``settings`` adds JupyterLab user settings to :data:`NO_NEWS` (see :func:`write_lab_settings`).
    The app is exposed as ``window.jupyterapp``, for tests to drive it from JavaScript.
    """
    write_lab_settings(root / ".lab-settings", {**NO_NEWS, **(settings or {})})
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".lab-settings")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    port = free_port()
    lab = JupyterLab(base=f"http://127.0.0.1:{port}", token=secrets.token_hex(16), root=root)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={lab.token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--JupyterNotebookApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(root / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(lab, process)
            yield lab
        finally:
            _stop(process)


def _wait_until_up(lab: JupyterLab, process: subprocess.Popen) -> None:
    """Return once the server answers ``/api/status``; raise with its log if it exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(lab.url("api/status"), timeout=2) as answer:
                answer.read()
            return
        except OSError as error:
            if process.poll() is not None or time.monotonic() > deadline:
                log_tail = (lab.root / "server.log").read_text()[-3000:]
                raise RuntimeError("Jupyter server did not start:\n" + log_tail) from error
            time.sleep(0.5)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, on which the server shuts its kernels down and exits; SIGKILL if it has not within STOP_TIMEOUT_S."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, launched through Playwright (a ``playwright.sync_api.Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies or storage shared with other tests), :data:`VIEWPORT` wide."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
