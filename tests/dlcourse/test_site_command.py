"""``dlcourse site`` without the packages of its extra says how to get them, and builds nothing."""

import importlib.util

from dlcourse.site.build import site_command
from tests.conftest import ROOT


def test_site_without_its_extra_says_how_to_install(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    without_myst_nb = lambda name, *args: None if name == "myst_nb" else real(name, *args)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", without_myst_nb)
    assert site_command(ROOT, str(tmp_path / "out"), str(tmp_path / "work")) == 2
    err = capsys.readouterr().err
    assert "myst_nb not installed" in err and 'pip install -e "./dlcourse[site]"' in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()
