"""Grading a class with nbgrader: ``dlcourse grade`` and the pieces ``nbgrader_config.py`` plugs in.

- :mod:`~dlcourse.grading.intake`: submissions from a folder per student, nbgrader's ``submitted/``
  layout, or an LMS zip export;
- :mod:`~dlcourse.grading.checks`: the pre-flight check of every submitted notebook (a broken or
  tampered file is flagged with the reason, and repaired where that is safe), and the lint of test cells;
- :mod:`~dlcourse.grading.split_execute`: autograding in two kernels -- the student's cells in the
  sandboxed student kernel, every test in the grader's own test kernel, which runs no submission code
  (:mod:`~dlcourse.grading.plan` sorts the cells; :mod:`~dlcourse.grading.harness`,
  :mod:`~dlcourse.grading.subject`, :mod:`~dlcourse.grading.exchange`,
  :mod:`~dlcourse.grading.codec` and :mod:`~dlcourse.grading.rpc` carry calls between them as data);
- :mod:`~dlcourse.grading.sandbox`, :mod:`~dlcourse.grading.seccomp`,
  :mod:`~dlcourse.grading.kernels` and :mod:`~dlcourse.grading.resources`: where each kernel runs,
  within which limits, and how the grader drives it; :mod:`~dlcourse.grading.outputs`: what of its
  messages becomes notebook output;
- :mod:`~dlcourse.grading.preprocessors`: nbgrader preprocessors (stderr is not a failure, hidden
  tests stay hidden in the feedback);
- :mod:`~dlcourse.grading.runner` and :mod:`~dlcourse.grading.worker`: one run over a class,
  students in parallel, resumable after a crash.

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
    "dlcourse.grading.preprocessors": ["HideHiddenTests", "SanitizeSubmission", "StderrIsNotFailure"],
    "dlcourse.grading.split_execute": ["SplitExecute"],
    "dlcourse.grading.limits": ["Limits"],
    "dlcourse.grading.runner": ["GradeOptions", "grade_class"],
    "dlcourse.grading.checks": ["lint_test_cells", "preflight"],
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
