"""The collection reads a submission without trusting it (dlcourse.hub.inbound): every way a student can make their
own submission folder point at something else, or stop or fill the collection, is refused. The whole class on a hub,
with real accounts, is tests/deploy/test_hub.py; here the submission belongs to the account running the test."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from dlcourse.hub.inbound import SECRET_FILE, TIMESTAMP_FILE, Limits, Refused, newest_per_owner, read_submission

LIMITS = Limits(max_bytes=100_000, max_file_bytes=50_000, max_entries=20, max_depth=2)
UID = os.getuid()


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    """What ``nbgrader submit`` makes: the notebook, a data folder, the time and the secret."""
    folder = tmp_path / "student+hw03+2026-12-05 09:00:00.000000 UTC+abc"
    (folder / "data").mkdir(parents=True)
    (folder / "hw03.ipynb").write_text('{"cells": []}')
    (folder / "data" / "points.csv").write_text("1,2\n")
    (folder / TIMESTAMP_FILE).write_text("2026-12-05 09:00:00.000000 UTC")
    (folder / SECRET_FILE).write_text(secrets.token_hex(64))
    return folder


def _refused(folder: Path, *words: str, limits: Limits = LIMITS) -> str:
    with pytest.raises(Refused) as refusal:
        read_submission(folder, UID, limits)
    for word in words:
        assert word in str(refusal.value), f"{word!r} not in {refusal.value!r}"
    return str(refusal.value)


def test_a_submission_is_copied_without_the_students_timestamp(submission, tmp_path):
    copy = tmp_path / "collected"
    inspected = read_submission(submission, UID, LIMITS, copy_to=copy)
    assert inspected.secret == (submission / SECRET_FILE).read_text()
    assert (copy / "hw03.ipynb").read_text() == '{"cells": []}'
    assert (copy / "data" / "points.csv").read_text() == "1,2\n"
    assert not (copy / TIMESTAMP_FILE).exists(), "the student's own timestamp.txt was copied"
    assert {p.stat().st_mode & 0o777 for p in copy.rglob("*") if p.is_file()} == {0o640}
    assert {p.stat().st_mode & 0o777 for p in [copy, copy / "data"]} == {0o750}


def test_the_time_is_the_newest_change_not_what_the_student_wrote(submission):
    before = read_submission(submission, UID, LIMITS).changed
    old = time.time() - 10 * 365 * 86400
    notebook = submission / "hw03.ipynb"
    time.sleep(0.05)
    notebook.write_text('{"cells": [1]}')  # edited after the deadline ...
    os.utime(notebook, (old, old))  # ... and dated back ten years, with the folder
    os.utime(submission, (old, old))
    (submission / TIMESTAMP_FILE).write_text("2000-01-01 00:00:00.000000 UTC")
    after = read_submission(submission, UID, LIMITS).changed
    assert after > before and after >= notebook.stat().st_ctime > old + 86400


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero", "elsewhere"])
def test_a_link_to_a_file_is_refused(submission, tmp_path, target):
    if target == "elsewhere":
        target = tmp_path / "solutions.ipynb"
        target.write_text("the instructor's solution")
    (submission / "hw03.ipynb").unlink()
    (submission / "hw03.ipynb").symlink_to(target)
    _refused(submission, "hw03.ipynb", "symbolic link")


def test_a_link_to_a_folder_or_a_linked_secret_is_refused(submission, tmp_path):
    (tmp_path / "gradebook").mkdir()
    (submission / "data" / "more").symlink_to(tmp_path / "gradebook")
    _refused(submission, "more", "symbolic link")
    (submission / "data" / "more").unlink()
    other = tmp_path / "other_secret.txt"
    other.write_text(secrets.token_hex(64))
    (submission / SECRET_FILE).unlink()
    (submission / SECRET_FILE).symlink_to(other)
    _refused(submission, SECRET_FILE, "symbolic link")


def test_the_submission_itself_must_be_a_real_folder(submission, tmp_path):
    link = tmp_path / "student+hw03+2099-01-01 00:00:00.000000 UTC+x"
    link.symlink_to(submission)
    _refused(link, "not a folder", "symbolic link")
    plain = tmp_path / "plain_file"
    plain.write_text("x")
    _refused(plain, "not a folder")


def test_a_fifo_neither_hangs_nor_is_copied(submission):
    os.mkfifo(submission / "hw03.ipynb.fifo")
    started = time.monotonic()
    _refused(submission, "hw03.ipynb.fifo", "FIFO")
    assert time.monotonic() - started < 5


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another account needs root (CI runs as root)")
def test_a_file_of_another_account_is_refused(submission):
    os.chown(submission / "data" / "points.csv", 65534, 65534)
    _refused(submission, "points.csv", "another account")
    os.chown(submission / "data" / "points.csv", UID, -1)
    os.chown(submission, 65534, -1)
    _refused(submission, "another account")


def test_too_large_too_many_or_too_deep_is_refused(submission):
    big = submission / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(1 << 40)  # a sparse terabyte: its size is read, never trusted
    _refused(submission, "big.bin", "larger than 50000 bytes")
    big.unlink()
    for index in range(3):
        (submission / f"part{index}.bin").write_bytes(b"x" * 40_000)
    _refused(submission, "larger than 100000 bytes in all")
    for index in range(3):
        (submission / f"part{index}.bin").unlink()
    for index in range(20):
        (submission / f"empty{index}").touch()
    _refused(submission, "more than 20 files and folders")
    for index in range(20):
        (submission / f"empty{index}").unlink()
    (submission / "a" / "b" / "c").mkdir(parents=True)
    _refused(submission, "more than 2 folders deep")


@pytest.mark.parametrize("secret", ["", "../../feedback/x", "ab" * 200, "0" * 31, "XYZ" * 40])
def test_a_missing_or_malformed_secret_is_refused(submission, secret):
    (submission / SECRET_FILE).write_text(secret)
    _refused(submission, SECRET_FILE)


def test_without_a_secret_there_is_no_submission(submission):
    (submission / SECRET_FILE).unlink()
    _refused(submission, "no submission_secret.txt")


def test_a_refused_copy_stops_where_it_was_refused(submission, tmp_path):
    (submission / "zz_link").symlink_to("/etc/passwd")
    copy = tmp_path / "collected"
    with pytest.raises(Refused, match="zz_link"):
        read_submission(submission, UID, LIMITS, copy_to=copy)
    assert not (copy / "zz_link").exists()


def test_only_each_accounts_newest_entries_are_read(tmp_path):
    """A flood of entries costs the collection one lstat each: only each account's newest few are read."""
    paths = []
    for index in range(30):
        path = tmp_path / f"student+hw03+t+{index:02d}"
        path.mkdir()
        paths.append(str(path))
        time.sleep(0.002)  # ctime in nanoseconds: each a little later
    others = []
    if os.geteuid() == 0:  # another account's entry competes with its own entries only
        other = tmp_path / "other+hw03+t+x"
        other.mkdir()
        os.chown(other, 65534, 65534)
        others.append(str(other))
    kept = newest_per_owner([*paths, *others, str(tmp_path / "vanished")], keep=5)
    assert kept == set(paths[-5:]) | set(others)
