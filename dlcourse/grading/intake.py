"""Bringing submissions into the course's ``submitted/`` folder, nbgrader's layout.

Three inputs are understood (``--layout auto`` tells them apart):

``nbgrader``
    ``<dir>/<student_id>/<assignment>/<assignment>.ipynb`` (plus any files and
    ``timestamp.txt``) -- what ``nbgrader collect`` and ``zip_collect`` produce.
    The course's own ``submitted/`` is used in place.
``folders``
    ``<dir>/<student_id>/<assignment>.ipynb`` -- one folder per student, one
    notebook per assignment, plus any data files (copied to every assignment).
``zip``
    an LMS export (``.zip``) whose file names carry the student id; nbgrader's
    ``zip_collect`` unpacks it with ``FileNameCollectorPlugin.named_regexp`` =
    ``--zip-pattern`` (default :data:`DEFAULT_ZIP_PATTERN`: ``<student_id>_<file>``).

Only regular files are copied: links and special files are skipped, so a
submission cannot pull a file of the grading machine into the sandbox.

Example:
    >>> is_valid_student_id("s001"), is_valid_student_id("../etc")
    (True, False)
"""

from __future__ import annotations

import filecmp
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse.files import is_regular_file, regular_files
from dlcourse.nbgrader_run import NbgraderFailed, run_nbgrader

DEFAULT_ZIP_PATTERN = r".*/(?P<student_id>[A-Za-z0-9.@+-]+)_(?P<file_id>[^/]+)$"
"""Matches ``<anything>/<student_id>_<file name>``, e.g. ``s001_hw03_logic_gates.ipynb`` (re.match on the path)."""

LAYOUTS = ("auto", "nbgrader", "folders", "zip")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def is_valid_student_id(name: str) -> bool:
    """A student id nbgrader and a file system can both use: letters, digits, ``._@+-``, not starting with a dot.

    Example:
        >>> is_valid_student_id("anna.k@uni")
        True
    """
    return bool(_STUDENT_ID.match(name))


@dataclass
class Intake:
    """What was brought in: the students per assignment, and what was skipped (with the reason)."""

    students: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    layout: str = ""


def detect_layout(source: Path, assignments: list[str]) -> str:
    """``"zip"``, ``"nbgrader"`` or ``"folders"`` for ``source``; a clear error when it is none of them.

    Example:
        >>> detect_layout(Path("export.zip"), ["hw03"])
        'zip'
    """
    if source.suffix.lower() == ".zip":
        return "zip"
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: expected a folder of submissions or a .zip export")
    for student in source.iterdir():
        if student.is_dir() and any((student / a).is_dir() for a in assignments):
            return "nbgrader"
    return "folders"


def _copy_file(source: Path, destination: Path) -> bool:
    """Copy unless identical; True when the destination changed."""
    if destination.exists() and filecmp.cmp(source, destination, shallow=False):
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return True


def _sync_folder(source: Path, destination: Path, skip: set[str] | None = None) -> None:
    """Make ``destination`` hold exactly the regular files of ``source`` (minus ``skip`` names at the top)."""
    wanted = {}
    for path in regular_files(source, hidden=False):
        relative = path.relative_to(source)
        if skip and len(relative.parts) == 1 and relative.name in skip:
            continue
        wanted[relative] = path
    if destination.exists():
        for path in regular_files(destination, hidden=False):
            if path.relative_to(destination) not in wanted:
                path.unlink()
    for relative, path in wanted.items():
        _copy_file(path, destination / relative)


def intake(course: Path, source: Path | None, assignments: list[str], layout: str = "auto",
           zip_pattern: str = DEFAULT_ZIP_PATTERN, env: dict[str, str] | None = None) -> Intake:
    """Bring the submissions in ``source`` into ``course/submitted/``; return who submitted what.

    ``source=None`` uses ``course/submitted`` as it is.

    Example:
        >>> intake(Path("/tmp/course"), Path("/tmp/class"), ["hw03_logic_gates"])  # doctest: +SKIP
        Intake(students={'hw03_logic_gates': ['s001', 's002']}, skipped=[], layout='folders')
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    submitted = course / "submitted"
    result = Intake()
    if source is not None:
        source = source.resolve()
        if layout == "auto":
            layout = detect_layout(source, assignments)
        result.layout = layout
        if layout == "zip":
            _intake_zip(course, source, assignments, zip_pattern, env, result)
        elif source != submitted.resolve():
            if not source.is_dir():
                raise FileNotFoundError(f"{source}: expected a folder of submissions ({layout} layout)")
            for student in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if not is_valid_student_id(student.name):
                    result.skipped.append(f"{student.name!r}: not a valid student id (letters, digits, ._@+- only)")
                    continue
                for assignment in assignments:
                    target = submitted / student.name / assignment
                    if layout == "nbgrader":
                        if (student / assignment).is_dir():
                            _sync_folder(student / assignment, target)
                    else:
                        _intake_student_folder(student, assignment, assignments, target)
    else:
        result.layout = "nbgrader"
    for assignment in assignments:
        students = []
        if submitted.is_dir():
            for folder in sorted(submitted.iterdir()):
                if (folder / assignment).is_dir():
                    if is_valid_student_id(folder.name):
                        students.append(folder.name)
                    elif f"{folder.name!r}" not in " ".join(result.skipped):
                        result.skipped.append(f"{folder.name!r}: not a valid student id (letters, digits, ._@+- only)")
        result.students[assignment] = students
    return result


def _intake_student_folder(student: Path, assignment: str, assignments: list[str], target: Path) -> None:
    """folders layout: <student>/<assignment>.ipynb (or a stray notebook) plus the data files."""
    notebook = student / f"{assignment}.ipynb"
    notebooks = [p for p in student.glob("*.ipynb") if is_regular_file(p)]
    known = {f"{a}.ipynb" for a in assignments}
    strays = [p for p in notebooks if p.name not in known]
    if not is_regular_file(notebook) and not strays:
        return  # nothing for this assignment
    skip = {p.name for p in notebooks} - ({notebook.name} if notebook.is_file() else {p.name for p in strays})
    _sync_folder(student, target, skip=skip)


def _intake_zip(course: Path, archive: Path, assignments: list[str], pattern: str, env: dict[str, str] | None,
                result: Intake) -> None:
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: the zip export does not exist")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--zip-pattern {pattern!r} is not a valid regular expression: {error}") from None
    if "(?P<student_id>" not in pattern or "(?P<file_id>" not in pattern:
        raise ValueError(f"--zip-pattern {pattern!r} must name the groups (?P<student_id>...) and (?P<file_id>...)")
    for assignment in assignments:
        folder = course / "downloaded" / assignment / "archive"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(archive, folder / archive.name)
        arguments = ["zip_collect", assignment, "--force", f"--FileNameCollectorPlugin.named_regexp={pattern}",
                     "--log-level=WARN"]
        if len(assignments) > 1:
            arguments.append("--strict")  # with several assignments, a notebook goes only where its name fits
        try:
            done = run_nbgrader(arguments, cwd=course, env=env)
        except NbgraderFailed as error:
            raise NbgraderFailed(f"collecting {assignment} from {archive.name}: {error}") from None
        extracted = course / "downloaded" / assignment / "extracted"
        for line in (done.stdout + done.stderr).splitlines():
            if "did not match anything in:" in line:
                path = line.split("did not match anything in:", 1)[1].strip()
                shown = path[len(str(extracted)) + 1:] if path.startswith(str(extracted)) else path
                result.skipped.append(f"{shown} in {archive.name}: its name does not match --zip-pattern")
            elif "Skipped notebook with invalid name" in line:
                result.skipped.append(f"{assignment}: {line.split(']', 1)[-1].strip()[:200]}")
