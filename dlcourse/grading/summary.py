"""The outcome of a grading run, for the instructor: the table ``dlcourse grade`` prints and ``grading_summary.csv``.

Every text a submission can influence (a file name, a reason quoting it) is
shown through :func:`printable`, so it cannot send control sequences to the
instructor's terminal.

Example:
    >>> from dlcourse.grading.journal import GradingRecord
    >>> record = GradingRecord(assignment="hw03", student="s1", status="flagged", score=3.0, max_score=10.0,
    ...                        reasons=("expected hw03.ipynb, got homework.ipynb",))
    >>> progress_line(record, 1, 2)
    '[1/2] hw03 s1: flagged 3/10: expected hw03.ipynb, got homework.ipynb'
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlcourse.grading.journal import STATUSES, GradingRecord

SUMMARY_COLUMNS = ("assignment", "student", "status", "score", "max_score", "reasons", "notes", "feedback",
                   "seconds", "from_earlier_run")
"""The columns of ``grading_summary.csv``."""


def printable(text: str) -> str:
    """``text`` with control characters (a submission's file name, say) shown as escapes, not sent to the terminal.

    Example:
        >>> print(printable("a\\x1b]0;title\\x07b"))
        a\\x1b]0;title\\x07b
    """
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def progress_line(record: GradingRecord, done: int, total: int) -> str:
    """The line printed as each student is done: who, the status, the score, the first reason."""
    why = f": {printable(record.reasons[0])}" if record.reasons else ""
    return f"[{done}/{total}] {record.assignment} {record.student}: {record.status} {record.score_text('-')}{why[:160]}"


def sorted_records(records: Sequence[GradingRecord]) -> list[GradingRecord]:
    """``records`` sorted by assignment, then student (the order of the summary)."""
    return sorted(records, key=lambda r: (r.assignment, r.student))


@dataclass
class Summary:
    """The outcome of a run: one record per (assignment, student), and what intake skipped."""

    records: list[GradingRecord]
    skipped: list[str]
    grades_csv: Path
    summary_csv: Path
    seconds: float
    jobs: int

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def exit_code(self) -> int:
        """0 when every student was graded cleanly; 1 when anyone was flagged or failed."""
        return 1 if (self.count("flagged") or self.count("failed")) else 0

    def table(self) -> str:
        """The summary table ``dlcourse grade`` prints.

        Example:
            >>> record = GradingRecord(assignment="hw03", student="s1", status="graded", score=10.0, max_score=10.0)
            >>> print(Summary([record], [], Path("grades.csv"), Path("s.csv"), 2.0, 1).table())
            hw03: 1 student(s): 1 graded, 0 flagged, 0 failed
              student  status         score  reason
              s1       graded         10/10
            1 submission(s) in 2 s with 1 job(s): 1 graded, 0 flagged, 0 failed. Grades: grades.csv; this table: s.csv
        """
        lines = []
        width = max([len("student"), *(len(r.student) for r in self.records)])
        for assignment in sorted({r.assignment for r in self.records}):
            lines += self._assignment_table(assignment, width)
        for skipped in self.skipped:
            lines.append(f"skipped: {printable(skipped)}")
        lines.append(f"{len(self.records)} submission(s) in {self.seconds:.0f} s with {self.jobs} job(s): "
                     f"{self.count('graded')} graded, {self.count('flagged')} flagged, {self.count('failed')} failed. "
                     f"Grades: {self.grades_csv}; this table: {self.summary_csv}")
        return "\n".join(lines)

    def _assignment_table(self, assignment: str, width: int) -> list[str]:
        rows = [r for r in self.records if r.assignment == assignment]
        resumed = sum(r.resumed for r in rows)
        counts = ", ".join(f"{sum(r.status == s for r in rows)} {s}" for s in STATUSES)
        lines = [f"{assignment}: {len(rows)} student(s): {counts}"
                 + (f" ({resumed} kept from an earlier run)" if resumed else ""),
                 f"  {'student':<{width}}  {'status':<7}  {'score':>11}  reason"]
        worst_first = {"failed": 0, "flagged": 1, "graded": 2}
        for r in sorted(rows, key=lambda r: (worst_first[r.status], r.student)):
            reasons = r.reasons or ("",)
            lines.append(f"  {r.student:<{width}}  {r.status:<7}  {r.score_text():>11}  "
                         f"{printable(reasons[0])}".rstrip())
            for reason in reasons[1:]:
                lines.append(f"  {'':<{width}}  {'':<7}  {'':>11}  {printable(reason)}")
        return lines


def write_summary_csv(path: Path, records: Sequence[GradingRecord]) -> None:
    """Write ``grading_summary.csv``: one row per record (:data:`SUMMARY_COLUMNS`), sorted by assignment and student."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_COLUMNS)
        for r in sorted_records(records):
            writer.writerow([r.assignment, r.student, r.status, r.score, r.max_score, " | ".join(r.reasons),
                             " | ".join(r.notes), r.feedback or "", "" if r.seconds is None else r.seconds,
                             r.resumed])

