"""nbgrader's instructor interface in the course's JupyterLab, checked in Debian's Chromium.

nbgrader issue #1948 reported its JupyterLab extension flagged incompatible with JupyterLab >= 4.3
(an @jupyter/ydoc conflict in nbgrader 0.9.4). With the versions the course installs, this test opens
JupyterLab on a course folder (hw03 released into a gradebook) and checks that the extension's plugins
are activated, that the Nbgrader menu is there, that the Formgrader lists the assignment, that Create
Assignment shows the nbgrader cell toolbar on the source notebook, and that the student version gets
the Validate button. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.jupyter_browser import ARTIFACTS, headless_chromium, jupyter_lab, new_page, require_chromium

from .cases import ASSIGNMENT, NOTEBOOK
from .cases.harness import make_course

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

require_chromium()

PLUGINS = ["@jupyter/nbgrader:menu", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
           "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list",
           "@jupyter/nbgrader:validate-assignment"]
COMMANDS = ["nbgrader:open-formgrader", "nbgrader:open-create-assignment", "nbgrader:open-assignment-list",
            "nbgrader:open-course-list"]
JS_APP_READY = "() => !!(window.jupyterapp && window.jupyterapp.started && document.querySelector('.lm-MenuBar'))"
JS_NOTEBOOK_READY = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    return !!(w && w.content && w.content.widgets && w.content.widgets.length && w.context && w.context.isReady);
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a course folder whose gradebook knows hw03 (what an instructor opens)."""
    from dlcourse.nbgrader_run import nbgrader_env

    course = make_course(tmp_path_factory.mktemp("lab"))
    done = subprocess.run([sys.executable, "-m", "dlcourse", "release", ASSIGNMENT], cwd=course,
                          capture_output=True, text=True, env=nbgrader_env())
    assert done.returncode == 0, done.stdout + done.stderr
    with jupyter_lab(course) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    with new_page(browser) as page:
        yield page


def _open(page, lab, path: str = "") -> None:
    page.goto(lab.url("lab" + ("/tree/" + path if path else "")))
    page.wait_for_function(JS_APP_READY, timeout=90_000, polling=500)


def _run_command(page, command: str, selector: str) -> object:
    """Run a JupyterLab command once it is registered and wait for ``selector``; run it again if nothing shows (on a
    busy machine the app can report itself started before nbgrader's plugins have registered their commands)."""
    page.wait_for_function(f"() => window.jupyterapp.commands.hasCommand('{command}')", timeout=90_000, polling=500)
    for attempt in range(4):
        page.evaluate(f"() => window.jupyterapp.commands.execute('{command}')")
        try:
            return page.wait_for_selector(selector, timeout=30_000 * (attempt + 1))
        except PlaywrightError:  # not shown yet: run it again
            continue
    raise AssertionError(f"{command} never showed {selector}")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"nbgrader_{name}.png"))


def test_nbgrader_extension_loads_in_the_course_jupyterlab(lab, page):
    _open(page, lab)
    state = page.evaluate("(ids) => ids.map(id => [id, window.jupyterapp.hasPlugin(id), "
                          "window.jupyterapp.isPluginActivated(id)])", PLUGINS)
    assert all(has and active for _, has, active in state), f"nbgrader plugins (id, present, active): {state}"
    commands = page.evaluate("(ids) => ids.filter(id => !window.jupyterapp.commands.hasCommand(id))", COMMANDS)
    assert commands == [], f"missing nbgrader commands: {commands}"
    assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 1, "no Nbgrader menu"
    done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": "1"})
    listing = [line for line in (done.stdout + done.stderr).splitlines() if "@jupyter/nbgrader" in line]
    assert listing and "OK" in listing[0] and "X" not in listing[0].split("enabled")[-1], listing


def test_formgrader_lists_the_released_assignment(lab, page):
    _open(page, lab)
    iframe = _run_command(page, "nbgrader:open-formgrader", 'iframe[src*="formgrader"]')
    frame = iframe.content_frame()
    assert frame is not None, "the Formgrader tab holds no page"
    frame.locator("text=" + ASSIGNMENT).first.wait_for(timeout=120_000)  # the table is filled by a request
    _shot(page, "formgrader")


def test_create_assignment_shows_the_cell_toolbar_on_the_source(lab, page):
    _open(page, lab, f"solutions/{ASSIGNMENT}/{NOTEBOOK}")
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=500)
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-create-assignment')")
    page.locator(".nbgrader-CellWidget").first.wait_for(timeout=30_000)
    types = page.locator(".nbgrader-CellType select").evaluate_all("els => els.map(e => e.value)")
    assert "tests" in types and "solution" in types, f"cell types shown: {types}"
    _shot(page, "create_assignment")


def test_student_version_has_the_validate_button(lab, page):
    path = Path("assignments") / ASSIGNMENT / NOTEBOOK
    assert (lab.root / path).is_file()
    _open(page, lab, str(path))
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000, polling=500)
    page.get_by_role("button", name="Validate").first.wait_for(timeout=30_000)
    _shot(page, "validate")
