"""The shape of the two packages: course_utils (students) never imports the instructor's tools, no import
cycle, no module over 400 lines, each wheel holds its own package only, nothing points outside the repository."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("course_utils", "dlcourse")
INSTRUCTOR_ONLY = ("dlcourse", "nbgrader", "nbconvert", "nbclient", "psycopg", "sqlalchemy")
POSIX_ONLY = ("fcntl", "resource", "pwd", "grp", "termios")
MAX_LINES = 400


def package_files(package: str) -> list[Path]:
    """The package's ``.py`` files (not build leftovers)."""
    return sorted(p for p in (ROOT / package).rglob("*.py")
                  if not {"build", "__pycache__"} & set(p.relative_to(ROOT).parts) and ".egg-info" not in str(p))


def _modules(package: str) -> list[str]:
    names = []
    for path in package_files(package):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _blocked_import_script(blocked: tuple[str, ...], body: str) -> str:
    """Python source that makes importing any of ``blocked`` fail (as on a system without them), then runs ``body``."""
    return (
        "import sys\n"
        f"BLOCKED = {blocked!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)', name=name)\n"
        "for name in list(sys.modules):\n"
        "    if name.split('.')[0] in BLOCKED: del sys.modules[name]\n"
        "sys.meta_path.insert(0, Block())\n" + body
    )


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_course_utils_imports_without_the_tools_or_posix_only_modules():
    modules = _modules("course_utils")
    assert len(modules) > 10
    body = ("import importlib\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print('imported', len(sys.modules))\n")
    done = _run(_blocked_import_script(INSTRUCTOR_ONLY + POSIX_ONLY, body))
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_blocker_really_blocks():
    done = _run(_blocked_import_script(("fcntl",), "import fcntl\n"))
    assert done.returncode != 0 and "blocked by the test" in done.stderr


def test_doctor_works_without_posix_only_modules():
    for command in ("from dlcourse.cli import main; sys.exit(main(['doctor']))",
                    "import runpy; runpy.run_module('course_utils', run_name='__main__')"):
        done = _run(_blocked_import_script(POSIX_ONLY, command + "\n"))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert "The course can run here." in done.stdout


def test_dlcourse_help_works_without_posix_only_modules():
    done = _run(_blocked_import_script(POSIX_ONLY, "from dlcourse.cli import main\nmain(['--help'])\n"))
    assert "grade" in done.stdout and "Traceback" not in done.stderr, done.stderr[-3000:]


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The project modules ``module`` imports anywhere in its file (functions included)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def _import_graph() -> dict[str, set[str]]:
    files = {}
    for package in PACKAGES:
        for path in package_files(package):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    known = set(files)
    graph = {module: _imports(path, module, known) for module, path in files.items()}
    # A package's __init__ is imported before any of its modules: an edge into the package itself is not a cycle.
    return {module: {t for t in targets if not module.startswith(t + ".")} for module, targets in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    graph = _import_graph()
    assert "dlcourse.cli" in graph and graph["dlcourse.cli"], "the import graph is empty: the test is broken"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_course_utils_never_imports_the_tools():
    graph = _import_graph()
    offenders = {m: sorted(t for t in targets if t.startswith("dlcourse"))
                 for m, targets in graph.items() if m.startswith("course_utils")}
    assert not {m: t for m, t in offenders.items() if t}


@pytest.mark.parametrize("path", [p for package in PACKAGES for p in package_files(package)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concept (limit {MAX_LINES})"


def _wheel(tmp_path: Path, sources: dict[str, Path]) -> list[str]:
    """A wheel built from a copy of ``sources`` (name in the copy -> path here): no build folder lands in the tree."""
    tree = tmp_path / "tree"
    for name, source in sources.items():
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        else:
            tree.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(tree)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    return [name for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name]


def test_course_utils_wheel_holds_only_course_utils(tmp_path):
    names = _wheel(tmp_path, {name: ROOT / name for name in ("pyproject.toml", "README.md", "course_utils")})
    assert "course_utils/checks.py" in names
    assert all(name.startswith("course_utils/") for name in names), sorted(n for n in names
                                                                          if not n.startswith("course_utils/"))


def test_dlcourse_wheel_holds_every_dlcourse_module_and_nothing_else(tmp_path):
    names = set(_wheel(tmp_path, {".": ROOT / "dlcourse"}))
    expected = {str(p.relative_to(ROOT)) for p in package_files("dlcourse")}
    missing = expected - names
    assert not missing, f"missing from the wheel (list the package in dlcourse/pyproject.toml): {missing}"
    assert all(name.startswith("dlcourse/") and name.endswith(".py") for name in names), names - expected


def test_nothing_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".sh", ".txt", ".cfg", ""}:
            continue
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for needle in ("../" + "shared", "/work/" + "shared", "/work/" + "main"):  # split: this file is scanned too
            if needle in text:
                outside.append(f"{name}: {needle}")
    assert not outside, outside
