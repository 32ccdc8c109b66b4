"""nbgrader plumbing: the pieces ``nbgrader_config.py`` plugs into autograding.

nbgrader 0.9 gives a test cell zero points when it wrote anything to stderr,
so a correct answer that merely triggers a library warning (PyTorch emits
several) would score 0 (GRADING_THREATS #20). :class:`StderrIsNotFailure`
relabels stderr streams as stdout after execution: the text stays visible in
the feedback, and only real errors cost points.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


class StderrIsNotFailure(NbGraderPreprocessor):
    """Turn stderr output into stdout output, marked as such, so that warnings never cost points."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(f"[stderr] {line}" for line in output["text"].splitlines(True))
        return cell, resources
