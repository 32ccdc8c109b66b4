"""References and direction-dependent values: what a decoded node may point to besides fresh data.

A ``ref`` node is an object numbered earlier in the same exchange (the memo of
:mod:`~dlcourse.grading.codec_common`: both sides number objects in the order
they cross); one that crossed as a copy cannot be referred to. The other nodes
depend on the direction, and each is accepted only where the
:class:`~dlcourse.grading.codec.Decoder` was given a function to resolve it
(``None``: refused):

- ``handle``: a student's object that stays in the student's kernel (to the
  grader) or one the grader holds (back to the student);
- ``cb``: a function of the tests the student's code may call back;
- ``name``: a function or class of the student's notebook, by name;
- ``lib``: a library function or class, by its public name (``torch.sigmoid``).

Example:
    >>> from dlcourse.grading.codec import Decoder
    >>> Decoder([]).decode({"t": "handle", "i": 1})
    Traceback (most recent call last):
    ...
    dlcourse.grading.codec_common.CodecError: an object handle where none may be
"""

from __future__ import annotations

from typing import Any

from dlcourse.grading.codec_common import CodecError


class ReferenceDecoding:
    """The part of :class:`~dlcourse.grading.codec.Decoder` that resolves references, handles, callbacks and names."""

    def _d_ref(self, node: dict, depth: int) -> Any:
        return self.memo.get(node["i"])

    def _d_handle(self, node: dict, depth: int) -> Any:
        if self.handle is None:
            raise CodecError("an object handle where none may be")
        return self.handle(node["i"])

    def _d_cb(self, node: dict, depth: int) -> Any:
        if self.callback is None:
            raise CodecError("a callback where none may be")
        return self.callback(node["i"])

    def _d_name(self, node: dict, depth: int) -> Any:
        if self.name is None or type(node["n"]) is not str:
            raise CodecError("a name reference where none may be")
        return self.name(node["n"])

    def _d_lib(self, node: dict, depth: int) -> Any:
        if self.library is None or type(node["n"]) is not str:
            raise CodecError("a library reference where none may be")
        return self.library(node["n"])
