"""The grading journal: one typed record per graded (assignment, student), written atomically, read back with care.

The worker writes ``.dlcourse-grade/journal/<assignment>/<student>.json`` last,
once a student is done; a later run reads it to skip the students whose
submission has not changed since (:func:`earlier_record`). The journal lives in
the course folder, so a file there may be truncated (a crash, a full disk) or
edited by hand: anything that is not a well-formed record of that very student
reads as "not graded yet" -- the student is regraded, the run never crashes.

Example:
    >>> record = GradingRecord(assignment="hw03", student="s001", status="graded", score=7.0, max_score=10.0)
    >>> GradingRecord.from_json(record.to_json()) == record
    True
    >>> record.score_text()
    '7/10'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dlcourse.files import regular_files

STATE_DIR = ".dlcourse-grade"
"""The runner's state inside the course: journal, originals of repaired files, logs, lock."""

Status = Literal["graded", "flagged", "failed"]
STATUSES: tuple[Status, ...] = ("graded", "flagged", "failed")
"""``graded``: scored, nothing to look at; ``flagged``: scored or refused, with reasons; ``failed``: no grade."""


class MalformedRecord(ValueError):
    """A journal entry (or a worker's answer) that is not a well-formed :class:`GradingRecord`."""


@dataclass(frozen=True)
class GradingRecord:
    """What grading one student's submission of one assignment came to.

    ``reasons`` say why a student is flagged or failed (for the instructor);
    ``notes`` are remarks that cost nothing. ``feedback`` is the feedback page,
    relative to the course folder. ``sha_in``/``sha_out`` are the
    :func:`folder_digest` of the submission before and after grading (a repair
    changes it). ``resumed`` is not stored: it marks a record this run kept from
    an earlier one.
    """

    assignment: str
    student: str
    status: Status
    score: float | None = None
    max_score: float | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    feedback: str | None = None
    sha_in: str | None = None
    sha_out: str | None = None
    seconds: float | None = None
    grader_peak_mib: float | None = None
    finished: str | None = None
    resumed: bool = False

    @classmethod
    def failed(cls, assignment: str, student: str, reason: str) -> GradingRecord:
        """The record of a student the grader could not grade (its worker died or ran out of time)."""
        return cls(assignment=assignment, student=student, status="failed", reasons=(reason,))

    @property
    def graded(self) -> bool:
        """Whether the gradebook holds a score for this submission."""
        return self.score is not None

    def score_text(self, missing: str = "not graded") -> str:
        """``"7/10"``, or ``missing`` when there is no score."""
        if self.score is None or self.max_score is None:
            return missing
        return f"{self.score:g}/{self.max_score:g}"

    def to_json(self) -> str:
        """The record as one line of JSON (the journal's format; ``resumed`` is left out)."""
        data: dict[str, Any] = {
            "assignment": self.assignment, "student": self.student, "status": self.status, "graded": self.graded,
            "score": self.score, "max_score": self.max_score, "reasons": list(self.reasons),
            "notes": list(self.notes), "feedback": self.feedback, "sha_in": self.sha_in, "sha_out": self.sha_out,
            "seconds": self.seconds, "grader_peak_mib": self.grader_peak_mib, "finished": self.finished}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> GradingRecord:
        """The record in ``text``; :class:`MalformedRecord` says what is wrong when it is not one.

        Example:
            >>> GradingRecord.from_json('{"assignment": "hw03", "student": "s1", "status": "done"}')
            Traceback (most recent call last):
            ...
            dlcourse.grading.journal.MalformedRecord: status: expected one of graded, flagged, failed, got 'done'
        """
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise MalformedRecord(f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise MalformedRecord(f"expected a JSON object, got {type(data).__name__}")
        status = data.get("status")
        if status not in STATUSES:
            raise MalformedRecord(f"status: expected one of {', '.join(STATUSES)}, got {status!r}"[:200])
        return cls(assignment=_text(data, "assignment"), student=_text(data, "student"), status=status,
                   score=_number(data, "score"), max_score=_number(data, "max_score"),
                   reasons=_texts(data, "reasons"), notes=_texts(data, "notes"),
                   feedback=_text(data, "feedback", optional=True), sha_in=_text(data, "sha_in", optional=True),
                   sha_out=_text(data, "sha_out", optional=True), seconds=_number(data, "seconds"),
                   grader_peak_mib=_number(data, "grader_peak_mib"), finished=_text(data, "finished", optional=True))

    def kept_from_earlier_run(self) -> GradingRecord:
        """This record, marked as kept from an earlier run."""
        return dataclasses.replace(self, resumed=True)


def _text(data: dict, key: str, optional: bool = False) -> Any:
    value = data.get(key)
    if isinstance(value, str) or (optional and value is None):
        return value
    raise MalformedRecord(f"{key}: expected {'text or null' if optional else 'text'}, got {type(value).__name__}")


def _number(data: dict, key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise MalformedRecord(f"{key}: expected a finite number or null, got {value!r}"[:200])


def _texts(data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise MalformedRecord(f"{key}: expected a list of texts")


# ---------------------------------------------------------------- files
def journal_path(course: Path, assignment: str, student: str) -> Path:
    """Where the journal entry of one graded student lives.

    Example:
        >>> str(journal_path(Path("/c"), "hw03_logic_gates", "s001"))
        '/c/.dlcourse-grade/journal/hw03_logic_gates/s001.json'
    """
    return course / STATE_DIR / "journal" / assignment / f"{student}.json"


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old or the new content, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that ``path`` holds either the old or the new content, even after a crash.

    Example:
        >>> write_json_atomically(Path("/tmp/dlcourse-example/record.json"), {"status": "graded"})
        >>> json.loads(Path("/tmp/dlcourse-example/record.json").read_text())
        {'status': 'graded'}
    """
    write_text_atomically(path, json.dumps(data, indent=1))


def write_record(course: Path, record: GradingRecord) -> None:
    """Write ``record`` as the journal entry of its student (atomically)."""
    write_text_atomically(journal_path(course, record.assignment, record.student), record.to_json())


def read_record(course: Path, assignment: str, student: str) -> GradingRecord | None:
    """The journal entry of this student, or ``None`` when there is none or it is not a record of this student.

    Example:
        >>> read_record(Path("/nonexistent"), "hw03", "s001") is None
        True
    """
    try:
        record = GradingRecord.from_json(journal_path(course, assignment, student).read_bytes())
    except (OSError, MalformedRecord):
        return None
    return record if (record.assignment, record.student) == (assignment, student) else None


def folder_digest(folder: Path) -> str | None:
    """SHA-256 over the names and contents of the regular files in ``folder`` (``None`` if it does not exist).

    Example:
        >>> folder_digest(Path("/nonexistent")) is None
        True
    """
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in regular_files(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def earlier_record(course: Path, assignment: str, student: str) -> GradingRecord | None:
    """The record of a student graded by an earlier run, if it still matches the submission and its feedback.

    A failed student, a changed submission or a missing feedback page means: grade again.
    """
    record = read_record(course, assignment, student)
    if record is None or record.status not in ("graded", "flagged"):
        return None
    digest = folder_digest(course / "submitted" / student / assignment)
    if digest is None or digest not in (record.sha_in, record.sha_out):
        return None
    if record.feedback and not (course / record.feedback).is_file():
        return None
    return record
