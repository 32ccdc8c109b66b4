"""Grading a class with nbgrader: ``dlcourse grade`` and the pieces ``nbgrader_config.py`` plugs in.

One concept per module, in the order a run meets them:

- the run: :mod:`~dlcourse.grading.options` (the command line), :mod:`~dlcourse.grading.runner`
  (``grade_class`` in named steps), :mod:`~dlcourse.grading.pool` (``--jobs`` worker processes and their
  watchdog), :mod:`~dlcourse.grading.worker` (one student at a time), :mod:`~dlcourse.grading.journal`
  (the typed record of each graded student, for resuming), :mod:`~dlcourse.grading.summary` (the table and
  ``grading_summary.csv``);
- intake and pre-flight: :mod:`~dlcourse.grading.intake` (folders, nbgrader's ``submitted/``, LMS zips),
  :mod:`~dlcourse.grading.preflight_check` (one submission, before nbgrader sees it), reading an untrusted
  file (:mod:`~dlcourse.grading.notebook_file`), its cell metadata against the source
  (:mod:`~dlcourse.grading.metadata`), module-named files (:mod:`~dlcourse.grading.module_names`), the
  words of a finding (:mod:`~dlcourse.grading.issues`); the test-cell lint (:mod:`~dlcourse.grading.lint`);
- autograding in two kernels: :mod:`~dlcourse.grading.split_execute` (nbgrader's execute step: the
  student's cells in the student kernel, every test in the test kernel, which runs no submission code),
  :mod:`~dlcourse.grading.plan` (which kernel runs which cell), :mod:`~dlcourse.grading.run_report`;
- the data-only boundary between them: :mod:`~dlcourse.grading.harness` and
  :mod:`~dlcourse.grading.harness_proxies` (test kernel), :mod:`~dlcourse.grading.subject` (student
  kernel), :mod:`~dlcourse.grading.exchange` (one call), :mod:`~dlcourse.grading.rpc` (framing), the codec
  (:mod:`~dlcourse.grading.codec` with ``codec_common``, ``codec_numpy``, ``codec_torch``,
  ``codec_references``, ``codec_updates``);
- where each kernel runs: :mod:`~dlcourse.grading.sandbox` (bubblewrap), :mod:`~dlcourse.grading.confinement`
  (inside it, before the kernel), :mod:`~dlcourse.grading.seccomp`, :mod:`~dlcourse.grading.working_copy`,
  :mod:`~dlcourse.grading.limits`; resource groups for a whole sandbox (:mod:`~dlcourse.grading.resources`
  with ``resource_budget``, ``cgroups``, ``cgroup_hierarchy``, ``process_table``, ``process_monitor``);
  driving a kernel: :mod:`~dlcourse.grading.kernels`, :mod:`~dlcourse.grading.kernel_pair`,
  :mod:`~dlcourse.grading.kernel_driver`, :mod:`~dlcourse.grading.outputs` (what of its messages becomes
  output);
- feedback: :mod:`~dlcourse.grading.feedback` (hidden tests hidden, and the leak scan),
  :mod:`~dlcourse.grading.pending` (answers graded by hand that wait for a person say so) and
  :mod:`~dlcourse.grading.preprocessors` (stderr is not a failure; script in markdown escaped).

Names are imported lazily: the kernel-side modules (subject, harness, sandbox) must not pull nbgrader in.

Example:
    >>> from dlcourse.grading import Limits
    >>> Limits().notebook_seconds
    300
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "dlcourse.grading.feedback": ["HideHiddenTests"],
    "dlcourse.grading.pending": ["GetGradesMarkingPending"],
    "dlcourse.grading.preprocessors": ["SanitizeSubmission", "StderrIsNotFailure"],
    "dlcourse.grading.split_execute": ["SplitExecute"],
    "dlcourse.grading.limits": ["Limits"],
    "dlcourse.grading.runner": ["GradeOptions", "grade_class"],
    "dlcourse.grading.lint": ["lint_test_cells"],
    "dlcourse.grading.preflight_check": ["preflight"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dlcourse.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
