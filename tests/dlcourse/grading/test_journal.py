"""The grading journal: a record survives the round trip, and a broken journal file means "regrade", never a crash."""

from __future__ import annotations

import dataclasses
import doctest
import json
from pathlib import Path

import pytest

from dlcourse.grading import journal, summary
from dlcourse.grading.journal import (
    GradingRecord,
    MalformedRecord,
    earlier_record,
    folder_digest,
    journal_path,
    read_record,
    write_record,
)
from dlcourse.grading.summary import Summary, write_summary_csv

FULL = GradingRecord(assignment="hw03", student="s001", status="flagged", score=7.5, max_score=10.0,
                     reasons=("expected hw03.ipynb, got homework.ipynb",), notes=("a note",),
                     feedback="feedback/s001/hw03/hw03.html", sha_in="a" * 64, sha_out="b" * 64, seconds=12.34,
                     grader_peak_mib=210.5, finished="2024-05-01T10:00:00")


def test_docstring_examples():
    for module in (journal, summary):
        assert doctest.testmod(module).failed == 0, module.__name__


@pytest.mark.parametrize("record", [FULL, GradingRecord.failed("hw03", "s002", "the grader failed: boom")],
                         ids=["flagged", "failed"])
def test_a_record_survives_the_round_trip(record, tmp_path):
    assert GradingRecord.from_json(record.to_json()) == record
    write_record(tmp_path, record)
    assert read_record(tmp_path, record.assignment, record.student) == record


def test_the_journal_keeps_its_json_format(tmp_path):
    write_record(tmp_path, FULL)
    data = json.loads(journal_path(tmp_path, "hw03", "s001").read_text())
    assert data == {"assignment": "hw03", "student": "s001", "status": "flagged", "graded": True, "score": 7.5,
                    "max_score": 10.0, "reasons": ["expected hw03.ipynb, got homework.ipynb"], "notes": ["a note"],
                    "feedback": "feedback/s001/hw03/hw03.html", "sha_in": "a" * 64, "sha_out": "b" * 64,
                    "seconds": 12.34, "grader_peak_mib": 210.5, "finished": "2024-05-01T10:00:00"}
    assert "\n" not in FULL.to_json(), "a record is one line on the worker's stdout"
    assert "resumed" not in data and GradingRecord.from_json(FULL.kept_from_earlier_run().to_json()) == FULL


@pytest.mark.parametrize("text", [
    "", "{", FULL.to_json()[:-20], "[]", "null", '"graded"', "\0\0\0", "[" * 100_000,
    '{"assignment": "hw03", "student": "s001"}',
    FULL.to_json().replace('"flagged"', '"excellent"'),
    FULL.to_json().replace('"score": 7.5', '"score": "7.5"'),
    FULL.to_json().replace('"score": 7.5', '"score": true'),
    FULL.to_json().replace('"score": 7.5', '"score": NaN'),
    FULL.to_json().replace('"score": 7.5', '"score": Infinity'),
    FULL.to_json().replace('["a note"]', '"a note"'),
    FULL.to_json().replace('["a note"]', '[1]'),
    FULL.to_json().replace('"student": "s001"', '"student": 1'),
    FULL.to_json().replace('"feedback/s001/hw03/hw03.html"', '{"x": 1}'),
], ids=lambda text: repr(text[:30]))
def test_a_malformed_or_truncated_journal_file_reads_as_not_graded(text, tmp_path):
    with pytest.raises(MalformedRecord):
        GradingRecord.from_json(text)
    path = journal_path(tmp_path, "hw03", "s001")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert read_record(tmp_path, "hw03", "s001") is None
    assert earlier_record(tmp_path, "hw03", "s001") is None


def test_unreadable_journal_entries_read_as_not_graded(tmp_path):
    path = journal_path(tmp_path, "hw03", "s001")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe not utf-8")
    assert read_record(tmp_path, "hw03", "s001") is None
    path.unlink()
    path.mkdir()  # a folder where the file should be
    assert read_record(tmp_path, "hw03", "s001") is None
    assert read_record(tmp_path, "hw03", "nobody") is None


def test_an_entry_of_another_student_is_not_this_students(tmp_path):
    path = journal_path(tmp_path, "hw03", "s002")
    path.parent.mkdir(parents=True)
    path.write_text(FULL.to_json())  # s001's record, copied to s002's place
    assert read_record(tmp_path, "hw03", "s002") is None


def _submission(course: Path, text: str = "{}") -> Path:
    folder = course / "submitted" / "s001" / "hw03"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hw03.ipynb").write_text(text)
    return folder


def test_an_earlier_record_is_kept_only_while_it_matches_the_submission(tmp_path):
    folder = _submission(tmp_path)
    page = tmp_path / FULL.feedback
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    record = dataclasses.replace(FULL, sha_in=folder_digest(folder))
    write_record(tmp_path, record)
    assert earlier_record(tmp_path, "hw03", "s001") == record
    page.unlink()  # feedback gone: grade again
    assert earlier_record(tmp_path, "hw03", "s001") is None
    page.write_text("<html></html>")
    _submission(tmp_path, '{"changed": 1}')  # a new submission: grade again
    assert earlier_record(tmp_path, "hw03", "s001") is None
    failed = GradingRecord.failed("hw03", "s001", "the worker died")
    write_record(tmp_path, dataclasses.replace(failed, sha_in=folder_digest(folder)))
    assert earlier_record(tmp_path, "hw03", "s001") is None  # a failed student is always graded again


def test_folder_digest_covers_names_and_contents_of_regular_files_only(tmp_path):
    folder = _submission(tmp_path)
    before = folder_digest(folder)
    (folder / "link").symlink_to(folder / "hw03.ipynb")
    assert folder_digest(folder) == before
    (folder / "data.csv").write_text("1,2")
    assert folder_digest(folder) != before


def test_the_summary_reads_records(tmp_path):
    kept = FULL.kept_from_earlier_run()
    failed = GradingRecord.failed("hw03", "s002", "the grader failed: grading this student took longer than 540 s")
    result = Summary([kept, failed], ["'../x': not a valid student id"], tmp_path / "grades.csv",
                     tmp_path / "summary.csv", 3.0, 2)
    table = result.table()
    assert "hw03: 2 student(s): 0 graded, 1 flagged, 1 failed (1 kept from an earlier run)" in table
    assert table.index("s002") < table.index("s001"), "failed students come first"
    assert "7.5/10" in table and "not graded" in table and result.exit_code == 1
    write_summary_csv(result.summary_csv, result.records)
    rows = result.summary_csv.read_text().splitlines()
    assert rows[0] == "assignment,student,status,score,max_score,reasons,notes,feedback,seconds,from_earlier_run"
    assert rows[1].startswith("hw03,s001,flagged,7.5,10.0,") and rows[1].endswith(",12.34,True")
    assert rows[2] == "hw03,s002,failed,,,the grader failed: grading this student took longer than 540 s,,,,False"
