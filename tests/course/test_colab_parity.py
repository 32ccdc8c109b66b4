"""Run by ci/colab_env.sh inside the environment that copies Colab's packages.

Installing course_utils the way Colab does (the setup cell, from a wheel)
must leave every Colab package exactly as it was.
"""

import importlib.metadata as metadata
import json
import re
import sys
import sysconfig
from pathlib import Path

from tests.conftest import ROOT

ENV = Path(sys.prefix)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "ci" / "colab-packages.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:  # exact pins; a range (e.g. pyparsing<3.3) only constrains pip
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _freeze(name: str) -> dict[str, str]:
    versions = {}
    for line in (ENV / name).read_text().splitlines():
        for separator in ("==", " @ "):  # "name==1.0", or "name @ file:///...whl" for a local wheel
            if separator in line:
                package, version = line.split(separator, 1)
                versions[_norm(package)] = version
                break
    return versions


def test_environment_has_colab_versions():
    for name, version in _pins().items():
        installed = metadata.version(name)
        assert installed == version or installed.startswith(version + "+"), f"{name}: {installed}, Colab has {version}"


def test_installing_course_utils_changes_no_colab_package():
    before, after = _freeze("freeze-before.txt"), _freeze("freeze-after.txt")
    assert "course-utils" not in before and "course-utils" in after, "the setup cell did not install course_utils"
    changed = {name: (before[name], after.get(name)) for name in before if after.get(name) != before[name]}
    assert not changed, f"installing course_utils changed packages (before, after): {changed}"
    for name in _pins():
        assert name in before, f"{name} is missing from the Colab environment"


def test_setup_cell_enabled_the_widget_manager():
    marker = ENV / "widget-manager-enabled"
    assert marker.is_file(), "the setup cell did not call google.colab.output.enable_custom_widget_manager()"


def test_installed_from_the_wheel_with_every_subpackage():
    # Look in site-packages itself: the test run also sees the repository's source tree.
    site = sysconfig.get_paths()["purelib"]
    (dist,) = [d for d in metadata.distributions(path=[site]) if _norm(d.metadata["Name"]) == "course-utils"]
    direct = dist.read_text("direct_url.json")
    assert direct and json.loads(direct)["url"].endswith(".whl"), f"not installed from a wheel: {direct}"
    files = {str(f) for f in dist.files or []}
    source_modules = {str(p.relative_to(ROOT)) for p in (ROOT / "course_utils").rglob("*.py")}
    missing = source_modules - files
    assert not missing, f"the wheel lacks {sorted(missing)}: Colab would install a broken package"
