"""nbgrader's file-system exchange, hardened for a class of students on one JupyterHub.

nbgrader's own exchange trusts the name of a submission and leaves submissions writable by everyone:

* it wants the exchange root writable by everyone and makes it so (nbgrader #1225), so a student could
  rename or pre-create a course folder;
* a submission is named ``<student>+<assignment>+<timestamp>+<random>`` and ``nbgrader collect`` only
  *warns* when its owner is someone else, so a student can submit under another's name (#1097);
* a submission folder is made ``0777`` with its files ``0644`` (#978, #1104): anyone who learns its name
  reads or rewrites it.

These classes close the three holes; :mod:`dlcourse.hub.server` lays the exchange out for them:

=================================  =========================  ==========================================
folder                             owner, mode                what it allows
=================================  =========================  ==========================================
``<root>``                         root, ``0755``             nobody but root creates a course there
``<root>/<course>``                instructor, ``0755``
``<root>/<course>/outbound``       instructor, ``0755``       students read the released assignments
``<root>/<course>/inbound``        instructor:instructors,    students create, cannot list (``-wx``),
                                   ``3733``                   cannot rename or delete another's entry
                                                              (sticky); what they create gets the
                                                              instructors' group (set-gid)
``inbound/<submission>``           student:instructors,       the student and the instructors read it,
                                   ``0750`` (files ``0640``)  nobody else (:class:`PrivateSubmit`)
``<root>/<course>/feedback``       instructor, ``0711``       a student opens only a file whose name
                                                              they can compute (a hash of their own
                                                              submission's secret)
=================================  =========================  ==========================================

:class:`OwnerCheckedCollect` collects a submission only from the account it names, and only what ``nbgrader
submit`` makes: regular files and folders owned by that student, within the size limits, never following a link
(:mod:`dlcourse.hub.inbound`). Anything else is refused and logged, never stops the collection of the others, and
never replaces the real student's work. The time a submission counts with is its newest ``ctime``, not the name or
``timestamp.txt`` the student wrote.

Set them with ``ExchangeFactory`` (``dlcourse.hub.server`` writes the configuration)::

    c.ExchangeFactory.submit = "dlcourse.hub.exchange.PrivateSubmit"
    c.ExchangeFactory.collect = "dlcourse.hub.exchange.OwnerCheckedCollect"
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import stat
from datetime import datetime, timezone

from nbgrader.exchange.default import (
    ExchangeCollect,
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeList,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
    ExchangeSubmit,
)
from nbgrader.utils import ignore_patterns, parse_utc

from dlcourse.hub.inbound import TIMESTAMP_FILE, Limits, Refused, newest_per_owner, read_submission

NEWEST_READ = 20  # entries of one account that collect reads (its resubmissions: the latest valid one counts)
REFUSED = "+refused"  # never a user name: nbgrader refuses "+" in a student id
_EPOCH = parse_utc("1970-01-01 00:00:00 UTC")
SUBMISSION_DIR_MODE = 0o750
SUBMISSION_FILE_MODE = 0o640
# The classes ExchangeFactory loads, by the factory's trait names.
FACTORY = {
    "fetch_assignment": "SafeFetchAssignment",
    "fetch_feedback": "SafeFetchFeedback",
    "list": "SafeList",
    "submit": "PrivateSubmit",
    "release_assignment": "SafeReleaseAssignment",
    "release_feedback": "SafeReleaseFeedback",
    "collect": "OwnerCheckedCollect",
}


class SafeRoot:
    """Accept the exchange root only as the administrator made it: owned by root, writable by root alone.

    nbgrader's ``ensure_root`` wants (and, for an instructor, makes) the root writable by everyone.
    """

    def ensure_root(self) -> None:
        problem = root_problem(self.root)
        if problem:
            self.fail(f"{problem}; ask the administrator to run `dlcourse hub up` (see deploy/README.md)")


def root_problem(root: str) -> str | None:
    """Why ``root`` is no safe exchange root, or ``None``.

    Example:
        >>> root_problem("/nonexistent/exchange")
        'the exchange folder /nonexistent/exchange does not exist'
    """
    try:
        info = os.stat(root)
    except FileNotFoundError:
        return f"the exchange folder {root} does not exist"
    if not stat.S_ISDIR(info.st_mode):
        return f"the exchange folder {root} is not a folder"
    if info.st_uid != 0 or info.st_mode & 0o022:
        return f"the exchange folder {root} must belong to root and be writable by root alone (mode 0755)"
    return None


class SafeFetchAssignment(SafeRoot, ExchangeFetchAssignment):
    """``nbgrader fetch_assignment`` with :class:`SafeRoot`."""


class SafeFetchFeedback(SafeRoot, ExchangeFetchFeedback):
    """``nbgrader fetch_feedback`` with :class:`SafeRoot`."""


class SafeList(SafeRoot, ExchangeList):
    """``nbgrader list`` with :class:`SafeRoot`."""


class SafeReleaseAssignment(SafeRoot, ExchangeReleaseAssignment):
    """``nbgrader release_assignment`` with :class:`SafeRoot` (it never makes the root world-writable)."""


class SafeReleaseFeedback(SafeRoot, ExchangeReleaseFeedback):
    """``nbgrader release_feedback`` with :class:`SafeRoot`."""


class PrivateSubmit(SafeRoot, ExchangeSubmit):
    """``nbgrader submit`` that leaves the submission readable by its student and the instructors only.

    nbgrader makes the folder ``0777`` and its files ``0644``; the set-gid inbound folder gives them the
    instructors' group, so ``0750``/``0640`` is all the instructor's ``collect`` needs.
    """

    def do_copy(self, src: str, dest: str, log=None) -> None:
        """Copy as nbgrader does, but make ``dest`` itself with ``mkdir``.

        ``shutil.copytree`` ends by copying the source folder's mode onto ``dest``, which drops the set-gid
        bit it inherited from the inbound folder; ``timestamp.txt`` and ``submission_secret.txt``, written
        next, would then get the student's own group and the instructor could not collect them.
        """
        size = self.get_size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is "
                               f"{1000 * self.coursedir.max_dir_size}")
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)
        os.mkdir(dest)
        names = os.listdir(src)
        skipped = ignore(src, names)
        for name in names:
            if name in skipped:
                continue
            source, target = os.path.join(src, name), os.path.join(dest, name)
            if os.path.isdir(source):
                shutil.copytree(source, target, ignore=ignore)
            else:
                shutil.copy2(source, target)

    def copy_files(self) -> None:
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, _, files in os.walk(dest, topdown=False):
            for name in files:
                os.chmod(os.path.join(folder, name), SUBMISSION_FILE_MODE)
            os.chmod(folder, SUBMISSION_DIR_MODE)


class OwnerCheckedCollect(SafeRoot, ExchangeCollect):
    """``nbgrader collect`` that trusts nothing in ``inbound`` but data (:mod:`dlcourse.hub.inbound`).

    Each entry is checked before nbgrader picks a student's latest, so a refused entry never hides a good one:
    its name must be ``<student>+<assignment>+<time>+<random>`` split as nbgrader splits it, it must be a folder
    owned by the account it names, and its content must pass :func:`~dlcourse.hub.inbound.read_submission`. A
    refused entry is logged and skipped; it never stops the collection of the others. The submission's time is the
    newest ``ctime`` inside it (a student cannot set it back), and the collected ``timestamp.txt`` says so.
    """

    def _limits(self) -> Limits:
        return Limits.from_kilobytes(self.coursedir.max_dir_size, self.coursedir.max_file_size)

    _newest: set[str] | None = None

    def _newest_entries(self) -> set[str]:
        """The entries this collection reads (:func:`~dlcourse.hub.inbound.newest_per_owner`)."""
        if self._newest is None:
            student = self.coursedir.student_id or "*"
            paths = glob.glob(os.path.join(self.inbound_path, f"{student}+{self.coursedir.assignment_id}+*"))
            self._newest = newest_per_owner(paths, NEWEST_READ)
        return self._newest

    def _path_to_record(self, path: str) -> dict:
        try:
            if path not in self._newest_entries():
                raise Refused(f"its account made more than {NEWEST_READ} entries here; only the newest are read")
            username, uid = self._claimed_account(path)
            changed = read_submission(path, uid, self._limits()).changed
        except (Refused, OSError) as why:  # OSError: gone meanwhile, or a folder the student closed to us
            self.log.error("Refused %s: %s", path, why)
            return {"username": REFUSED, "filename": os.path.basename(path), "timestamp": _EPOCH}
        return {"username": username, "uid": uid, "filename": os.path.basename(path),
                "timestamp": datetime.fromtimestamp(changed, timezone.utc).replace(tzinfo=None)}

    def _claimed_account(self, path: str) -> tuple[str, int]:
        """The student a submission's name claims, checked against the folder's owner: (name, uid)."""
        parts = os.path.basename(path).rsplit("+", 3)  # as nbgrader's own collect splits it
        if len(parts) != 4 or parts[1] != self.coursedir.assignment_id or "+" in parts[0]:
            raise Refused(f"its name is not <student>+{self.coursedir.assignment_id}+<time>+<random>")
        claimed = parts[0]
        try:
            parse_utc(parts[2])
        except (ValueError, OverflowError):
            raise Refused(f"its time {parts[2]!r} is malformed") from None
        try:
            account = pwd.getpwnam(claimed)
        except KeyError:
            raise Refused(f"there is no account {claimed!r}") from None
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise Refused("it is not a folder")
        if info.st_uid != account.pw_uid:
            raise Refused(f"it claims to be {claimed}'s submission but belongs to {_owner(info.st_uid)}")
        return claimed, account.pw_uid

    def init_src(self) -> None:
        super().init_src()
        self.src_records = [record for record in self.src_records if record["username"] != REFUSED]

    def copy_files(self) -> None:
        """nbgrader's collection (``--update``, ``--before-duedate``), one submission at a time, safely."""
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect",
                             self.coursedir.assignment_id, self.coursedir.course_id)
        for record in self.src_records:
            source = os.path.join(self.inbound_path, record["filename"])
            try:
                self._collect(record, source)
            except Refused as why:
                self.log.error("Refused %s: %s", source, why)
            except OSError as error:
                self.log.error("Could not collect %s: %s", source, error)

    def _collect(self, record: dict, source: str) -> None:
        student = record["username"]
        dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, self.coursedir.assignment_id)
        if os.path.isdir(dest):
            existing = self.coursedir.get_existing_timestamp(dest)
            newer = existing is None or record["timestamp"] > existing
            if not ((self.update and newer) or (self.before_duedate and existing != record["timestamp"])):
                self.log.info("No newer submission to collect: %s %s" if self.update else
                              "Submission already exists, use --update to update: %s %s",
                              student, self.coursedir.assignment_id)
                return
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        partial = f"{dest}.collecting"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            inspected = read_submission(source, record["uid"], self._limits(), copy_to=partial)
            changed = datetime.fromtimestamp(inspected.changed, timezone.utc)
            with open(os.path.join(partial, TIMESTAMP_FILE), "w") as handle:
                handle.write(changed.strftime(self.timestamp_format))
            if os.path.isdir(dest):
                self.log.info("Updating submission: %s %s", student, self.coursedir.assignment_id)
                shutil.rmtree(dest)
            else:
                self.log.info("Collecting submission: %s %s", student, self.coursedir.assignment_id)
            os.rename(partial, dest)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
