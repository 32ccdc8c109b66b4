"""Every ``>>>`` example in ``course_utils`` and ``dlcourse`` runs, and shows what its docstring says.

One test per module, found by walking the two package folders at collection time (modules come and go);
``__main__`` modules are left out, since importing one runs the command line. The examples run as
``python -m pytest --doctest-modules`` runs them (``ELLIPSIS`` on), in an empty working folder.
A failure shows doctest's own report.

Runs in the main environment only: the Colab-parity environment has neither ``dlcourse`` nor its tools.
"""

from __future__ import annotations

import doctest
import importlib
import io

import pytest

from tests.conftest import ROOT

PACKAGES = ["course_utils", "dlcourse"]


def package_modules(package: str) -> list[str]:
    """The dotted names of ``package``'s modules, ``__main__`` ones left out, in the folder's order."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        folders = [ROOT.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if parts[-1] == "__main__" or not all((folder / "__init__.py").is_file() for folder in folders):
            continue  # a __main__ module runs the CLI when imported; a folder without __init__ is no package
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = [name for package in PACKAGES for name in package_modules(package)]


@pytest.mark.parametrize("name", MODULES, ids=MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)  # an example that writes a file leaves nothing in the repository
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)  # then clears the example's globals (figures, tensors go with them)
    assert runner.failures == 0, f"{name}: {runner.failures} of {runner.tries} examples failed\n{report.getvalue()}"
