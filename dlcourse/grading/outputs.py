"""What a grading kernel sends, turned into notebook outputs: text and pictures only, within a budget.

The grader keeps, of every message a kernel sends, only what can be shown safely
and cheaply: streams, errors, and rich outputs of the kinds in
:data:`SAFE_MIMETYPES` (with their sizes, nothing else of their metadata);
every string made valid UTF-8. :class:`OutputBudget` caps what is kept per cell
and per notebook -- except errors, which decide a test's score and are always kept.

Example:
    >>> out = to_output({"msg_type": "display_data", "content": {"data": {"text/html": "<script>",
    ...                  "text/plain": "x"}, "metadata": {}}})
    >>> dict(out.data)
    {'text/plain': 'x'}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nbformat.notebooknode import NotebookNode

from dlcourse.cells import nbgrader_meta

STOPPED = "GraderStopped"
"""``ename`` of the error put into every cell the grader did not run after it stopped a notebook."""


SAFE_MIMETYPES = ("text/plain", "image/png", "image/jpeg", "image/gif")
"""The kinds of rich output kept in a graded notebook: text and pictures. HTML, JavaScript, SVG, Markdown and
widget views are dropped (keeping their plain-text version), so that nothing a submission displays can run
as script where an instructor opens the notebook or its feedback page."""


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def note_output(text: str) -> NotebookNode:
    """A plain-text display (not a stream, which would be merged with the output it is about and cut with it)."""
    return NotebookNode(output_type="display_data", data={"text/plain": text}, metadata={})


def message_size(msg: dict) -> int:
    """Bytes a kernel message carries (content, metadata and binary buffers), as the grader counts it."""
    size = len(json.dumps(msg.get("content", {}), default=str)) + len(json.dumps(msg.get("metadata", {}),
                                                                                 default=str))
    return size + sum(len(memoryview(buffer)) for buffer in msg.get("buffers", []) or [])


def describe_cell(cell: NotebookNode, index: int) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")


@dataclass
class OutputBudget:
    """Output kept in the notebook: per cell and per notebook; what goes over is dropped with a note."""

    cell_bytes: int
    notebook_bytes: int
    notes: list[str]
    used_notebook: int = 0

    def keep(self, outputs: list, output: NotebookNode, state: dict, where: str) -> None:
        if output.output_type == "error":  # an error decides a test's score: it is always kept (and is short)
            outputs.append(output)
            return
        size = len(json.dumps(output, default=str))
        used = state.get("used", 0)
        if used + size > self.cell_bytes or self.used_notebook + size > self.notebook_bytes:
            if not state.get("capped"):
                state["capped"] = True
                which = (f"this cell's output passed {self.cell_bytes // 1024} KiB" if used + size > self.cell_bytes
                         else f"the notebook's output passed {self.notebook_bytes // 1024} KiB")
                outputs.append(note_output(f"[the grader dropped the rest of this output: {which}]"))
                note = f"output capped in {where} ({which})"
                if note not in self.notes:
                    self.notes.append(note)
            return
        state["used"] = used + size
        self.used_notebook += size
        if (output.output_type == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                and outputs[-1].get("name") == output.name):
            outputs[-1]["text"] += output.text
        else:
            outputs.append(output)


def clean_text(value: Any) -> Any:
    """``value`` with every string made valid UTF-8 (a lone surrogate becomes ``?``), recursively.

    Example:
        >>> clean_text({"a": ["ok", chr(0xD800)]})
        {'a': ['ok', '?']}
    """
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8", "replace") if not value.isascii() else value
    if isinstance(value, list):
        return [clean_text(item) for item in value]
    if isinstance(value, dict):
        return {str(clean_text(key)): clean_text(item) for key, item in value.items()}
    return value if value is None or isinstance(value, (bool, int, float)) else str(value)


def to_output(msg: dict) -> NotebookNode | None:
    """The notebook output for an IOPub message (``None`` for messages that make none): text and pictures only."""
    kind, content = msg.get("msg_type"), msg.get("content", {})
    if not isinstance(content, dict):
        return None
    if kind == "stream" and isinstance(content.get("text"), str):
        name = content.get("name") if content.get("name") in ("stdout", "stderr") else "stdout"
        return NotebookNode(output_type="stream", name=name, text=clean_text(content["text"]))
    if kind in ("display_data", "execute_result") and isinstance(content.get("data"), dict):
        data = {mime: value for mime, value in content["data"].items() if mime in SAFE_MIMETYPES}
        if not data:
            return None
        metadata = content.get("metadata") if isinstance(content.get("metadata"), dict) else {}
        sizes = {mime: {key: number for key, number in value.items() if key in ("width", "height")
                        and type(number) is int and 0 < number < 100_000}
                 for mime, value in metadata.items() if mime in data and isinstance(value, dict)}
        output = NotebookNode(output_type=kind, data=clean_text(data),
                              metadata={mime: size for mime, size in sizes.items() if size})
        if kind == "execute_result":
            count = content.get("execution_count")
            output["execution_count"] = count if type(count) is int else None
        return output
    if kind == "error":
        traceback = content.get("traceback") if isinstance(content.get("traceback"), list) else []
        return NotebookNode(output_type="error", ename=clean_text(str(content.get("ename", "Error"))[:200]),
                            evalue=clean_text(str(content.get("evalue", ""))[:2000]),
                            traceback=[clean_text(str(line)[:2000]) for line in traceback[-30:]])
    return None
