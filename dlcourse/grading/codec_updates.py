"""After a call: what changed (:func:`fingerprint`), and the new content written into the caller's objects.

Objects are numbered as they cross (the memo of :mod:`~dlcourse.grading.codec_common`);
after a call the callee sends back the new content of every shared argument the
call changed (:meth:`~dlcourse.grading.codec.Encoder.content`), and the caller
writes it into its own object in place. Which arguments are shared, and so may be
updated, is decided by :mod:`~dlcourse.grading.exchange`.

Example:
    >>> fingerprint([1, 2], []) == fingerprint([1, 3], [])
    False
"""

from __future__ import annotations

import hashlib
from typing import Any

from dlcourse.grading.codec import Decoder
from dlcourse.grading.codec_common import CodecError, _is_torch, _type_name
from dlcourse.grading.codec_torch import _MODULE_INTERNALS, _copy_tensor, _fill_module, module_class_name

MUTABLE_TAGS = frozenset({"list", "dict", "set", "bytearray", "nd", "ndo", "tensor", "module", "optim", "tgen",
                          "npgen", "nprs", "pyrandom"})
"""Nodes whose objects can change in place during a call (their new content is sent back)."""


def fingerprint(node: Any, blobs: list[Any]) -> str:
    """A digest of a node and the buffers it refers to: equal digests mean equal content.

    Example:
        >>> fingerprint({"t": "bytes", "b": 0}, [b"ab"]) == fingerprint({"t": "bytes", "b": 0}, [b"ab"])
        True
    """
    digest = hashlib.blake2b(digest_size=16)

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            digest.update(b"{")
            for key in sorted(item):
                digest.update(key.encode())
                if key == "b" and type(item[key]) is int:
                    digest.update(memoryview(blobs[item[key]]).cast("B"))
                else:
                    walk(item[key])
            digest.update(b"}")
        elif isinstance(item, list):
            digest.update(b"[")
            for part in item:
                walk(part)
            digest.update(b"]")
        else:
            digest.update(repr(item).encode())

    walk(node)
    return digest.hexdigest()


def apply_update(target: Any, node: Any, decoder: Decoder) -> None:
    """Write the content of ``node`` (from :meth:`Encoder.content` on the other side) into ``target`` in place.

    The caller's list, dict, array, tensor, module, optimizer or generator
    then holds what the callee left in its copy, as if both were one object.

    Example:
        >>> from dlcourse.grading.codec_common import Memo
        >>> items = [1, 2]
        >>> apply_update(items, {"t": "list", "m": 0, "v": [3]}, Decoder([], Memo([items])))
        >>> items
        [3]
    """
    if not isinstance(node, dict) or node.get("t") not in MUTABLE_TAGS:
        raise CodecError("a malformed update")
    tag = node["t"]
    index = node.get("m")
    if type(index) is not int or decoder.memo.get(index) is not target:
        raise CodecError("an update for an object the call did not share")
    decoder._content_of = index
    try:
        fresh = decoder.decode(node)
    finally:
        decoder._content_of = None
    kind = type(target)
    if tag == "list" and kind is list:
        target[:] = fresh
    elif tag == "dict" and isinstance(target, dict):
        target.clear()
        target.update(fresh)
    elif tag == "set" and kind is set:
        target.clear()
        target.update(fresh)
    elif tag == "bytearray" and kind is bytearray:
        target[:] = fresh
    elif tag in ("nd", "ndo") and kind is type(fresh):
        if target.shape != fresh.shape or target.dtype != fresh.dtype:
            raise CodecError(f"the call changed an argument array's shape or dtype in place ({target.shape} "
                             f"{target.dtype} to {fresh.shape} {fresh.dtype})")
        target[...] = fresh
    elif tag == "tensor" and _is_torch(target, "Tensor"):
        _copy_tensor(target, fresh)
    elif tag == "module" and type(target) is type(fresh) and module_class_name(type(target)) is not None:
        _fill_module(target, {"training": fresh.training, "attributes": {
            k: v for k, v in vars(fresh).items() if not k.startswith("_") and k not in _MODULE_INTERNALS},
            "parameters": dict(fresh._parameters), "buffers": dict(fresh._buffers),
            "children": dict(fresh._modules)})
    elif tag == "optim" and type(target) is type(fresh):
        target.state.clear()
        target.state.update(fresh.state)
        for group, new in zip(target.param_groups, fresh.param_groups):
            group.update({k: v for k, v in new.items() if k != "params"})
    elif tag == "tgen" and type(target) is type(fresh):
        target.set_state(fresh.get_state())
    elif tag == "npgen" and type(target) is type(fresh):
        target.bit_generator.state = fresh.bit_generator.state
    elif tag == "nprs" and type(target) is type(fresh):
        target.set_state(fresh.get_state())
    elif tag == "pyrandom" and type(target) is type(fresh):
        target.setstate(fresh.getstate())
    else:
        raise CodecError(f"an update of a {tag} for a {_type_name(target)}")
