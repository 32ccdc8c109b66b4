"""One call across the boundary: arguments out; result, changed arguments and errors back -- all as data.

Both sides call each other the same way (a test calls a student's function; a
student's function calls a test's callback), so both use these helpers:

1. the caller encodes the arguments (:func:`encode_arguments`), keeping the memo
   that numbers every object it sent;
2. the callee decodes them (fresh objects, numbered the same), remembers a
   fingerprint of each mutable one, runs the call, and answers with
   :func:`reply_for`: the result, the new content of every argument the call
   changed, or the error;
3. the caller reads the answer with :func:`read_reply`: it writes the changes into
   its own objects, resolves a result that *is* one of its arguments to that
   very object, and raises the error as an exception of a builtin type.

An error crosses as the name of its nearest builtin exception class and its
message: never a traceback (the grader's would quote the tests), never a
class of the other side's making.

Example:
    >>> from course_utils.grading.codec import Decoder
    >>> header, blobs, memo = encode_arguments(([1, 2],), {})
    >>> decoder = Decoder(blobs)
    >>> args, kwargs = decode_arguments(header, decoder)
    >>> before = fingerprints(decoder.memo)
    >>> args[0].append(3)
    >>> reply, reply_blobs = reply_for(lambda: len(args[0]), decoder.memo, before, policy=None)
    >>> original = memo.objects[0]
    >>> read_reply(reply, Decoder(reply_blobs, memo=memo)), original
    (3, [1, 2, 3])
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from course_utils.grading.codec import MUTABLE_TAGS, CodecError, Decoder, Encoder, Memo, apply_update, fingerprint

MAX_MESSAGE_CHARACTERS = 2000
"""Longest error message that crosses (the rest is cut)."""

ERRORS = tuple(sorted(name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
                      and issubclass(getattr(builtins, name), Exception)
                      and name not in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseExceptionGroup",
                                       "ExceptionGroup", "EncodingWarning")))
"""Builtin exception classes an error may be raised as on the other side (the nearest one in its class hierarchy)."""


class BrokenExchange(RuntimeError):
    """The other side answered with something that is not a well-formed reply."""


def encode_arguments(args: tuple, kwargs: dict, policy: Callable[[Any], dict] | None = None,
                     ) -> tuple[dict, list[Any], Memo]:
    """The call's arguments as a header part, its buffers, and the memo numbering what was sent."""
    encoder = Encoder(policy=policy)
    node = {"args": [encoder.encode(value) for value in args],
            "kwargs": {_keyword(key): encoder.encode(value) for key, value in kwargs.items()}}
    return node, encoder.blobs, encoder.memo


def _keyword(key: Any) -> str:
    if type(key) is not str or not key.isidentifier():
        raise CodecError(f"the keyword argument {str(key)[:40]!r} is not a name")
    return key


def decode_arguments(header: dict, decoder: Decoder) -> tuple[list, dict]:
    """The arguments of an incoming call, as fresh objects."""
    args, kwargs = header.get("args"), header.get("kwargs")
    if type(args) is not list or type(kwargs) is not dict:
        raise CodecError("a call without a list of arguments")
    values = [decoder.decode(node) for node in args]
    return values, {_keyword(key): decoder.decode(node) for key, node in kwargs.items()}


def fingerprints(memo: Memo) -> dict[int, str]:
    """A digest of the content of every mutable object in ``memo``, by number (to see what a call changed)."""
    result = {}
    for index, obj in enumerate(memo.objects):
        node, blobs = _content(memo, obj)
        if isinstance(node, dict) and node.get("t") in MUTABLE_TAGS:
            result[index] = fingerprint(node, blobs)
    return result


def _content(memo: Memo, obj: Any) -> tuple[Any, list[Any]]:
    scratch = Encoder(memo=Memo(list(memo.objects), dict(memo._index)), policy=_placeholder)
    return scratch.content(obj), scratch.blobs


def _placeholder(value: Any) -> dict:
    return {"t": "opaque", "id": id(value)}


def reply_for(call: Callable[[], Any], memo: Memo, before: dict[int, str],
              policy: Callable[[Any], dict] | None) -> tuple[dict, list[Any]]:
    """Run ``call`` and build the reply: its result and the changed arguments, or the error it raised."""
    try:
        result = call()
    except Exception as error:
        return {"ok": False, "error": describe_error(error)}, []
    except SystemExit as error:
        return {"ok": False, "error": {"type": "RuntimeError", "message": f"the code called sys.exit({error.code!r})"
                                       [:MAX_MESSAGE_CHARACTERS]}}, []
    return encode_result(result, memo, before, policy)


def encode_result(result: Any, memo: Memo, before: dict[int, str],
                  policy: Callable[[Any], dict] | None) -> tuple[dict, list[Any]]:
    """The reply for a call that returned ``result`` (the changed arguments included)."""
    try:
        encoder = Encoder(memo=memo, policy=policy)
        shared = len(memo.objects)
        value = encoder.encode(result)
        updates = []
        for index in range(shared):
            obj = memo.objects[index]
            if index in before:
                node, blobs = _content(memo, obj)
                if fingerprint(node, blobs) != before[index]:
                    updates.append([index, encoder.content(obj)])
        return {"ok": True, "value": value, "updates": updates}, encoder.blobs
    except Exception as error:  # the result cannot be sent: say so, as the call's error
        return {"ok": False, "error": describe_error(error)}, []


def read_reply(header: dict, decoder: Decoder) -> Any:
    """The result of a call, with the changed arguments written into the caller's objects; or raise its error.

    ``decoder.memo`` is the memo of :func:`encode_arguments` for this call.
    """
    if header.get("ok") is False:
        raise raised_error(header.get("error"))
    if header.get("ok") is not True or type(header.get("updates")) is not list:
        raise BrokenExchange("a malformed reply")
    shared = len(decoder.memo.objects)
    value = decoder.decode(header.get("value"))
    for update in header["updates"]:
        if type(update) is not list or len(update) != 2 or type(update[0]) is not int or not 0 <= update[0] < shared:
            raise BrokenExchange("a malformed update in a reply")
        apply_update(decoder.memo.objects[update[0]], update[1], decoder)
    return value


def describe_error(error: BaseException) -> dict:
    """An exception as data: its nearest builtin class and its message.

    Example:
        >>> class Mine(ValueError):
        ...     pass
        >>> describe_error(Mine("bad size"))
        {'type': 'ValueError', 'message': 'bad size'}
    """
    name = next((cls.__name__ for cls in type(error).__mro__ if cls.__module__ == "builtins"
                 and cls.__name__ in ERRORS), "RuntimeError")
    try:
        message = str(error)
    except Exception:  # a student's exception whose __str__ fails
        message = f"(a {type(error).__name__} whose message cannot be read)"
    if len(message) > MAX_MESSAGE_CHARACTERS:
        message = message[:MAX_MESSAGE_CHARACTERS] + " [cut]"
    return {"type": name, "message": message}


def raised_error(node: Any) -> Exception:
    """The exception to raise for an error described by the other side (a builtin class, never one it names freely).

    Example:
        >>> raised_error({"type": "ZeroDivisionError", "message": "division by zero"})
        ZeroDivisionError('division by zero')
        >>> type(raised_error({"type": "os.system", "message": "x"})).__name__
        'RuntimeError'
    """
    if not isinstance(node, dict):
        return BrokenExchange("a malformed error in a reply")
    name, message = node.get("type"), node.get("message")
    cls = getattr(builtins, name) if isinstance(name, str) and name in ERRORS else RuntimeError
    text = message[:MAX_MESSAGE_CHARACTERS + 10] if isinstance(message, str) else "(no message)"
    return cls(text)
