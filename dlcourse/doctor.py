"""``dlcourse doctor``: the student's check (:mod:`course_utils.doctor`) plus the instructor's tools."""

from __future__ import annotations

import shutil

from course_utils.doctor import Report, check_environment, installed_version


def check_instructor_tools() -> Report:
    """The course's report with nbgrader and the grading sandbox added (neither is needed to run the course)."""
    report = check_environment()
    nbgrader = installed_version("nbgrader")
    report.rows.append(("nbgrader", f"{nbgrader} (release and grading usable)" if nbgrader
                        else "not installed: pip install -e ./dlcourse"))
    bwrap = shutil.which("bwrap")
    report.rows.append(("bubblewrap", f"{bwrap} (the grading sandbox)" if bwrap
                        else "not installed: `dlcourse grade` needs it (apt-get install bubblewrap)"))
    return report


def doctor() -> int:
    """Print the report; exit status 1 if the course cannot run here."""
    report = check_instructor_tools()
    print(report.render())
    return 1 if report.fatal else 0
