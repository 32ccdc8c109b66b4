"""The pre-flight check of one student's submission folder, before nbgrader sees it: :func:`preflight`.

nbgrader trusts the submitted file: a damaged notebook, a pasted test cell or
an edited ``schema_version`` makes it fail that student -- or abort the whole
run (GRADING_THREATS #7-10, #17-19). :func:`preflight` reads the submission
first and says, in a sentence for the instructor, what is wrong:

- **fatal** issues (the file is empty, not JSON, not a notebook, missing;
  nested too deep, holding numbers no float can hold, repeated keys or text
  that is not Unicode: :mod:`~dlcourse.grading.notebook_file`): the student is
  flagged and not graded. No file makes :func:`preflight` raise: an exception
  no check foresaw becomes the fatal issue "unreadable";
- **repaired** issues (nbgrader metadata changed, a duplicated or invented
  grade cell, test cells out of order: :mod:`~dlcourse.grading.metadata`; a
  wrong file name, an unreadable timestamp): the student is flagged and graded
  from a repaired copy, built from the assignment's source so that no change
  earns a point;
- **flagged** files (:mod:`~dlcourse.grading.module_names`): a file or package
  named like a module the grader or the kernel imports (``course_utils.py``,
  ``numpy.py``), or a ``.pth`` file: graded as usual, the instructor is asked
  to look.

Changes nbgrader itself undoes (an edited test cell, raised points, a changed
cell type or kernel, GRADING_THREATS #2-5, #16) are left to it and not flagged.

Example:
    >>> import nbformat
    >>> result = preflight(Path("/nonexistent"), "hw03_logic_gates", nbformat.v4.new_notebook())
    >>> result.fatal, [issue.code for issue in result.issues]
    (True, ['no-notebook'])
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.notebooknode import NotebookNode

from dlcourse.grading.issues import Issue, first_line
from dlcourse.grading.limits import SUBMISSION_MB
from dlcourse.grading.metadata import check_metadata
from dlcourse.grading.module_names import find_module_files
from dlcourse.grading.notebook_file import read_submission

TIMESTAMP_BYTES = 4096
"""How much of ``timestamp.txt`` is read: a date is a few dozen characters."""


@dataclass
class Preflight:
    """What :func:`preflight` found, and the notebook to grade (``None`` when a fatal issue stops it)."""

    issues: list[Issue] = field(default_factory=list)
    notebook: NotebookNode | None = None
    repaired: bool = False  # the notebook differs from the file: write it back before grading
    found_name: str | None = None  # the file graded, when it is not <assignment>.ipynb
    drop_timestamp: bool = False

    @property
    def fatal(self) -> bool:
        return any(issue.fatal for issue in self.issues)


def preflight(folder: Path, assignment: str, source: NotebookNode, max_mb: int = SUBMISSION_MB) -> Preflight:
    """Check one student's submission folder before nbgrader sees it.

    It never raises: whatever the folder holds, a problem ends up as an :class:`Issue`. An exception no
    check foresaw is the fatal issue "unreadable", which names it, so that one strange file flags its
    student instead of failing the grader.

    Example:
        >>> import nbformat
        >>> result = preflight(Path("/nonexistent"), "hw03_logic_gates", nbformat.v4.new_notebook())
        >>> result.fatal, result.issues[0].message
        (True, 'no notebook submitted (expected hw03_logic_gates.ipynb)')
    """
    result = Preflight()
    try:
        _check_notebook(folder, assignment, source, max_mb, result)
    except Exception as error:  # the last line of defence: a flag, never a failure of the run
        result.notebook, result.repaired = None, False
        result.issues.append(_unforeseen(error, "checking the notebook"))
    try:
        result.issues += find_module_files(folder)
    except Exception as error:
        result.notebook, result.repaired = None, False
        result.issues.append(_unforeseen(error, "looking for files named like modules"))
    for issue in result.issues:  # a name that is not UTF-8 must not break whoever prints the reasons
        issue.message = issue.message.encode("utf-8", "backslashreplace").decode("utf-8")
    return result


def _check_notebook(folder: Path, assignment: str, source: NotebookNode, max_mb: int, result: Preflight) -> None:
    """The notebook part of :func:`preflight`: find it, read it, check its metadata and the timestamp."""
    path, issue = find_notebook(folder, assignment)
    if issue:
        result.issues.append(issue)
    if path is None:
        return
    if path.name != f"{assignment}.ipynb":
        result.found_name = path.name
    nb, issue = read_submission(path, max_mb)
    if issue:
        result.issues.append(issue)
        return
    repaired, issues = check_metadata(nb, source)
    result.issues += issues
    if any(i.fatal for i in issues):
        return
    result.notebook = repaired
    result.repaired = bool(issues)
    timestamp = check_timestamp(folder)
    if timestamp:
        result.issues.append(timestamp)
        result.drop_timestamp = True


def _unforeseen(error: BaseException, step: str) -> Issue:
    """The fatal issue for an exception no check foresaw, named with the function it came from."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" in {frames[-1].name}" if frames else ""
    return Issue("unreadable", f"the pre-flight check failed while {step} ({type(error).__name__}{where}: "
                               f"{first_line(error)}): not graded; look at the submission by hand", fatal=True)


def find_notebook(folder: Path, assignment: str) -> tuple[Path | None, Issue | None]:
    """The notebook to grade in a student's folder: ``<assignment>.ipynb``, or the single other notebook there.

    A notebook with another name is graded and flagged (GRADING_THREATS #18);
    none, or several other ones, is fatal.

    Example:
        >>> find_notebook(Path("/nonexistent"), "hw03_logic_gates")[1].message
        'no notebook submitted (expected hw03_logic_gates.ipynb)'
    """
    expected = f"{assignment}.ipynb"
    if (folder / expected).is_file():
        return folder / expected, None
    others = sorted(p.name for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []
    if not others:
        return None, Issue("no-notebook", f"no notebook submitted (expected {expected})", fatal=True)
    if len(others) > 1:
        return None, Issue("wrong-name", f"expected {expected}, got {', '.join(others)}: cannot tell which to "
                                         "grade", fatal=True)
    return folder / others[0], Issue("wrong-name", f"expected {expected}, got {others[0]}: graded it as "
                                                   f"{expected}; check it is the right assignment")


def check_timestamp(folder: Path) -> Issue | None:
    """An issue when ``timestamp.txt`` exists but cannot be read as a date (GRADING_THREATS #19).

    Example:
        >>> check_timestamp(Path("/nonexistent")) is None
        True
    """
    path = folder / "timestamp.txt"
    if not path.is_file():
        return None
    try:
        with path.open("rb") as file:
            text = file.read(TIMESTAMP_BYTES).decode("utf-8", errors="replace").strip()
    except OSError as error:
        return Issue("timestamp", f"timestamp.txt is unreadable ({error.strerror or type(error).__name__}): graded "
                                  "as if on time; check the submission time by hand")
    try:
        from nbgrader.utils import parse_utc

        parse_utc(text)
    except Exception:
        return Issue("timestamp", f"timestamp.txt is unreadable ({text[:60]!r}): graded as if on time; check the "
                                  "submission time by hand")
    return None
