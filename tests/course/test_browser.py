"""The course in a real browser: JupyterLab (and Notebook 7 once) in headless Chromium.

For every lecture: open it, run all cells, wait for the kernel to go idle,
assert that no cell shows an error, then change a control of every widget and
assert that its picture changes. Screenshots go to ``artifacts/screenshots/``.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``) and the
Python ``playwright`` package (``scripts/test.sh`` installs both); no browser
is ever downloaded.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.conftest import LECTURES, ROOT
from tests.support.jupyter_browser import ARTIFACTS, headless_chromium, jupyter_lab, new_page, require_chromium

RUN_TIMEOUT_MS = 300_000
CHANGE_TIMEOUT_S = 60.0
READY_TIMEOUT_MS = 180_000

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

playwright_sync = require_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Jupyter server on 127.0.0.1 with a token, serving a copy of the lectures."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    # Render every cell (no virtual scrolling), so that every widget is in the page to find and scroll to.
    with jupyter_lab(root, {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    with new_page(browser) as page:
        yield page


# JavaScript run in the page, against the app that expose_app_in_browser puts on window.jupyterapp.
JS_NOTEBOOK_READY = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    return !!(w && w.content && w.context && w.context.isReady && w.content.widgets.length > 0
              && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
              && w.sessionContext.session.kernel.status === 'idle');
}"""
JS_STARTED = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const first = w.content.widgets.find(c => c.model.type === 'code');
    return w.sessionContext.session.kernel.status !== 'idle' || first.model.executionCount !== null;
}"""
JS_ALL_RUN = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const kernel = w.sessionContext.session.kernel;
    const cells = w.content.widgets.filter(c => c.model.type === 'code');
    return kernel.status === 'idle' && cells.every(c => c.model.executionCount !== null);
}"""


JS_PROGRESS = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    const cells = w.content.widgets.filter(c => c.model.type === 'code');
    const pending = cells.findIndex(c => c.model.executionCount === null);
    const source = pending >= 0 ? cells[pending].model.sharedModel.getSource().slice(0, 300) : '';
    return {kernel: w.sessionContext.session.kernel.status, cells: cells.length, firstNotRun: pending, source};
}"""


def run_all_cells(page, url: str, name: str) -> None:
    # `reset` starts from an empty workspace: JupyterLab would otherwise reopen the notebooks of earlier tests
    page.goto(url + "&reset")
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=READY_TIMEOUT_MS, polling=500)
    for attempt in range(3):  # a command sent while the page is still settling can be dropped: send it again
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(JS_STARTED, timeout=30_000, polling=250)
            break
        except playwright_sync.TimeoutError:
            if attempt == 2:
                raise
    try:
        page.wait_for_function(JS_ALL_RUN, timeout=RUN_TIMEOUT_MS, polling=1000)
    except playwright_sync.TimeoutError:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}_timeout.png"), full_page=True)
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        shown = errors.first.inner_text()[:1500] if errors.count() else "none"
        raise AssertionError(f"{name}: not every cell ran within {RUN_TIMEOUT_MS / 1000:.0f} s; "
                             f"progress {page.evaluate(JS_PROGRESS)}; first error shown: {shown}") from None


def shut_down_kernel(page) -> None:
    """Stop this notebook's kernel so that later tests do not share the CPU with it."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


def assert_no_errors(page, name: str) -> None:
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = [errors.nth(i).inner_text()[:500] for i in range(min(errors.count(), 3))]
    assert not texts, f"{name}: cells show errors or stderr output:\n" + "\n---\n".join(texts)


def _change_a_control(area) -> str:
    """Change one control of the widget in ``area``; say which."""
    for i in range(area.locator("button.jupyter-button").count()):
        button = area.locator("button.jupyter-button").nth(i)
        label = button.inner_text().strip()
        if button.is_enabled() and "reset" not in label.lower():
            button.click()
            return f"clicked button {label!r}"
    selects = area.locator("select")
    for i in range(selects.count()):
        select = selects.nth(i)
        options = select.locator("option")
        current = select.input_value()
        for j in range(options.count()):
            value = options.nth(j).get_attribute("value") or options.nth(j).inner_text()
            if value != current:
                select.select_option(value)
                return f"chose {value!r} in a dropdown"
    readouts = area.locator(".widget-readout")
    if readouts.count():
        readout = readouts.first
        old = readout.inner_text().strip()
        readout.click()
        readout.press("Control+a")
        readout.type(str(_nudge(old)))
        readout.press("Enter")
        return f"typed {_nudge(old)} into a slider (was {old})"
    raise AssertionError("the widget has no button, dropdown or slider to change")


def _nudge(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 1.0
    return round(value + 1.0, 3) if value < 1 else round(value / 2, 3)


def _wait_until_settled(image, quiet_s: float = 1.5) -> None:
    """Wait until the picture has stopped changing (a control may trigger several redraws)."""
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    src, since = image.get_attribute("src"), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.25)
        now = image.get_attribute("src")
        if now != src:
            src, since = now, time.monotonic()


def check_widgets(page, name: str) -> int:
    """Change a control of every widget that draws a picture; assert the picture changes."""
    areas = page.locator(".jp-OutputArea-output:has(img.widget-image)")
    count = areas.count()
    assert count >= 1, f"{name}: no widget with a picture was rendered"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        area = areas.nth(i)
        area.evaluate("element => element.scrollIntoView({block: 'center'})")
        image = area.locator("img.widget-image").first
        before_src, before = image.get_attribute("src"), image.screenshot()
        area.screenshot(path=str(ARTIFACTS / f"{name}_widget{i + 1}_before.png"))
        action = _change_a_control(area)
        deadline = time.monotonic() + CHANGE_TIMEOUT_S
        while image.get_attribute("src") == before_src and time.monotonic() < deadline:
            time.sleep(0.25)
        assert image.get_attribute("src") != before_src, \
            f"{name}, widget {i + 1}: the widget sent no new picture after I {action}"
        _wait_until_settled(image)
        after = image.screenshot()
        area.screenshot(path=str(ARTIFACTS / f"{name}_widget{i + 1}_after.png"))
        assert after != before, f"{name}, widget {i + 1}: the picture looks the same after I {action}"
    return count


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_lecture_in_jupyterlab(server, page, lecture):
    url = server.url(f"lab/tree/notebooks/{lecture.name}")
    run_all_cells(page, url, lecture.stem)
    try:
        assert_no_errors(page, lecture.stem)
        check_widgets(page, lecture.stem)
    finally:
        shut_down_kernel(page)


def test_notebook7_interface(server, page):
    lecture = ROOT / "notebooks" / "03_logic_gates.ipynb"
    url = server.url(f"notebooks/notebooks/{lecture.name}")
    run_all_cells(page, url, "nb7_" + lecture.stem)
    try:
        assert_no_errors(page, "nb7_" + lecture.stem)
        check_widgets(page, "nb7_" + lecture.stem)
    finally:
        shut_down_kernel(page)
