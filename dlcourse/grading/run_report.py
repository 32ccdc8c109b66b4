"""The report of one notebook's run in two kernels: what a human should know, written as JSON for the worker.

:class:`~dlcourse.grading.split_execute.SplitExecute` fills a :class:`RunReport` while it runs a notebook
and writes it to its ``report_path``; the grading worker reads it back (:meth:`RunReport.from_json`).

Example:
    >>> report = RunReport("perceptron", flags=[Flag("timeout", "cell 3 ran over the 60 s cell limit", 2)])
    >>> RunReport.from_json(report.to_json()) == report
    True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class Flag:
    """Something about one notebook's run that a human should know (the student is flagged)."""

    kind: str  # timeout, time-limit, interrupt-ignored, kernel-died, memory, flood, resources, no-answer, files
    message: str
    cell: int | None = None


@dataclass
class RunReport:
    """What :class:`SplitExecute` saw while running one notebook (written as JSON for the grading worker)."""

    notebook: str
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    grader_error: str | None = None  # not the student's fault: the test kernel could not start, and the like

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        data = json.loads(text)
        data["flags"] = [Flag(**flag) for flag in data.get("flags", [])]
        return cls(**data)
