"""Grading a class with nbgrader: ``dlcourse grade`` and the pieces ``nbgrader_config.py`` plugs in.

- :mod:`~course_utils.grading.intake`: submissions from a folder per student, nbgrader's ``submitted/``
  layout, or an LMS zip export;
- :mod:`~course_utils.grading.checks`: the pre-flight check of every submitted notebook (a broken or
  tampered file is flagged with the reason, and repaired where that is safe), and the lint of test cells;
- :mod:`~course_utils.grading.split_execute`: autograding in two kernels -- the student's cells in the
  sandboxed student kernel, every test in the grader's own test kernel, which runs no submission code
  (:mod:`~course_utils.grading.plan` sorts the cells; :mod:`~course_utils.grading.harness`,
  :mod:`~course_utils.grading.subject`, :mod:`~course_utils.grading.exchange`,
  :mod:`~course_utils.grading.codec` and :mod:`~course_utils.grading.rpc` carry calls between them as data);
- :mod:`~course_utils.grading.sandbox`, :mod:`~course_utils.grading.seccomp`,
  :mod:`~course_utils.grading.kernels` and :mod:`~course_utils.grading.resources`: where each kernel runs,
  within which limits, and how the grader drives it; :mod:`~course_utils.grading.outputs`: what of its
  messages becomes notebook output;
- :mod:`~course_utils.grading.preprocessors`: nbgrader preprocessors (stderr is not a failure, hidden
  tests stay hidden in the feedback);
- :mod:`~course_utils.grading.runner` and :mod:`~course_utils.grading.worker`: one run over a class,
  students in parallel, resumable after a crash.

Names are imported lazily: the kernel-side modules (subject, harness, sandbox) must not pull nbgrader in.

Example:
    >>> from course_utils.grading import Limits
    >>> Limits().notebook_seconds
    300
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "course_utils.grading.preprocessors": ["HideHiddenTests", "SanitizeSubmission", "StderrIsNotFailure"],
    "course_utils.grading.split_execute": ["SplitExecute"],
    "course_utils.grading.limits": ["Limits"],
    "course_utils.grading.runner": ["GradeOptions", "grade_class"],
    "course_utils.grading.checks": ["lint_test_cells", "preflight"],
}
_WHERE = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
