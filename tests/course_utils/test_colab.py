"""The Colab setup cell, run for real with google.colab simulated."""

import subprocess
import sys
import types

import pytest

from course_utils import colab


@pytest.fixture
def fake_colab(monkeypatch):
    calls = {"widget_manager": 0, "pip": []}
    google = types.ModuleType("google")
    colab_module = types.ModuleType("google.colab")
    output = types.ModuleType("google.colab.output")

    def enable_custom_widget_manager():
        calls["widget_manager"] += 1

    output.enable_custom_widget_manager = enable_custom_widget_manager
    colab_module.output = output
    google.colab = colab_module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)

    def fake_run(command, check=False, **kwargs):
        calls["pip"].append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    return calls


def test_setup_cell_on_colab_installs_pinned_ref_and_enables_widgets(fake_colab, monkeypatch):
    monkeypatch.delenv(colab.SOURCE_ENV, raising=False)
    exec(colab.setup_cell_source(), {})
    (command,) = fake_colab["pip"]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[-1] == f"course_utils @ git+https://github.com/{colab.COURSE_REPO}@{colab.COURSE_REF}"
    assert fake_colab["widget_manager"] == 1


def test_setup_cell_source_override(fake_colab, monkeypatch, tmp_path):
    wheel = tmp_path / "course_utils-0.1.0-py3-none-any.whl"
    monkeypatch.setenv(colab.SOURCE_ENV, str(wheel))
    exec(colab.setup_cell_source(), {})
    assert fake_colab["pip"][0][-1] == str(wheel)


def test_setup_cell_elsewhere_installs_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("must not pip install outside Colab"))
    exec(colab.setup_cell_source(), {})
    assert not colab.in_colab()


def test_setup_cell_pins_one_ref():
    source = colab.setup_cell_source()
    assert f'_ref = "{colab.COURSE_REF}"' in source
    assert source.count(colab.COURSE_REF) == 1 or colab.COURSE_REF in colab.COURSE_REPO


def test_badge_points_at_the_notebook():
    badge = colab.colab_badge("assignments/hw03_logic_gates/hw03_logic_gates.ipynb")
    assert badge.startswith("[![Open In Colab]")
    assert badge.endswith(f"/{colab.COURSE_REF}/assignments/hw03_logic_gates/hw03_logic_gates.ipynb)")
    with pytest.raises(ValueError, match=".ipynb"):
        colab.colab_url("notebooks/")
