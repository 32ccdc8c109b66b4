"""One call across the boundary: arguments out; result, changed state and errors back -- all as data.

Both sides call each other the same way (a test calls a student's function; a
student's function calls a test's callback), so both use these helpers:

1. the caller encodes the arguments (:func:`encode_arguments`), keeping the memo
   that numbers every object it sent;
2. the callee decodes them (fresh objects, numbered the same), remembers a
   fingerprint of each *stateful* one (:func:`stateful_indices`), runs the call,
   and answers with :func:`reply_for`: the result, the new state of every
   stateful argument the call changed, or the error;
3. the caller reads the answer with :func:`read_reply`: it writes the new state
   into its own objects and raises an error as an exception of a builtin type.

**Plain data crosses by value, both ways.** Arrays, tensors, lists, dicts and
the like are copies: what a function does to the arrays it was given never
reaches the caller's arrays, and what it returns is a new object, never one of
the caller's. A test's own values cannot be changed by the student's code.
**Models, optimizers and random generators are shared**: a call that trains a
model, steps an optimizer or draws from a generator changes the caller's one,
as training must; a result that is one of them is the caller's object. The
caller enforces both: it accepts new state, and references to its own objects,
only for those.

An error crosses as the name of its nearest builtin exception class and its
message: never a traceback (the grader's would quote the tests), never a
class of the other side's making.

Example:
    >>> import random
    >>> from dlcourse.grading.codec import Decoder
    >>> header, blobs, memo = encode_arguments(([1, 2], random.Random(0)), {})
    >>> decoder = Decoder(blobs)
    >>> args, kwargs = decode_arguments(header, decoder)
    >>> before = fingerprints(decoder.memo)
    >>> def call():
    ...     args[0].append(3)  # a copy: the caller's list stays [1, 2]
    ...     return args[1].random()  # shared: the caller's generator moves on too
    >>> reply, reply_blobs = reply_for(call, decoder.memo, before, policy=None)
    >>> value = read_reply(reply, Decoder(reply_blobs, memo=memo))
    >>> memo.objects[0], memo.objects[1].random() == random.Random(0).random()
    ([1, 2], False)
"""

from __future__ import annotations

import builtins
import random
import sys
from collections.abc import Callable
from typing import Any

from dlcourse.grading.codec import Decoder, Encoder
from dlcourse.grading.codec_common import COPIED, CodecError, Memo, _torch
from dlcourse.grading.codec_torch import module_class_name, optimizer_class_name
from dlcourse.grading.codec_updates import apply_update, fingerprint

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


def stateful_indices(memo: Memo) -> set[int]:
    """The numbers of the objects in ``memo`` that are shared by reference: models (with everything they hold:
    parameters and their gradients, buffers, submodules, a recorder's records), optimizers (with their state),
    random generators. Everything else in ``memo`` crossed as a copy."""
    owned: set[int] = set()
    torch = _torch()
    numpy = sys.modules.get("numpy")
    generators = (random.Random, *((numpy.random.Generator, numpy.random.RandomState) if numpy else ()),
                  *((torch.Generator,) if torch else ()))

    def own(obj: Any) -> None:
        index = memo.index_of(obj)
        if index is not None and index not in owned:
            owned.add(index)
            if isinstance(obj, (list, tuple)):
                for item in obj:
                    own(item)
            elif isinstance(obj, dict):
                for item in obj.values():
                    own(item)
            elif torch is not None and isinstance(obj, torch.Tensor) and obj.grad is not None:
                own(obj.grad)

    for obj in memo.objects:
        if isinstance(obj, generators):
            own(obj)
        elif torch is not None and isinstance(obj, torch.nn.Module) and module_class_name(type(obj)):
            own(obj)
            for part in [*obj._parameters.values(), *obj._buffers.values(),
                         *(v for k, v in vars(obj).items() if not k.startswith("_"))]:
                if part is not None:
                    own(part)
        elif torch is not None and isinstance(obj, torch.optim.Optimizer) and optimizer_class_name(type(obj)):
            own(obj)
            for entry in obj.state.values():
                for part in entry.values():
                    own(part)
    return owned


def fingerprints(memo: Memo) -> dict[int, str]:
    """A digest of the content of every stateful object in ``memo``, by number (to see what a call changed)."""
    result = {}
    for index in stateful_indices(memo):
        node, blobs = _content(memo, memo.objects[index])
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
    """The reply for a call that returned ``result`` (the new state of changed stateful arguments included).

    Only stateful arguments may appear in the result by reference; everything else is encoded afresh.
    """
    try:
        stateful = stateful_indices(memo)
        view = Memo(list(memo.objects), {id(obj): index for index, obj in enumerate(memo.objects)
                                         if index in stateful})
        encoder = Encoder(memo=view, policy=policy)
        value = encoder.encode(result)
        updates = []
        for index in sorted(before):
            obj = memo.objects[index]
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
    stateful = stateful_indices(decoder.memo)
    # The other side may refer to the caller's objects only where they are shared: a reference to an argument
    # that crossed as a copy (a test's array, say) would hand the test's own object back as the "result".
    memo = decoder.memo
    decoder.memo = Memo([obj if index in stateful else COPIED for index, obj in enumerate(memo.objects)],
                        {id(obj): index for index, obj in enumerate(memo.objects) if index in stateful})
    try:
        value = decoder.decode(header.get("value"))
        for update in header["updates"]:
            if (type(update) is not list or len(update) != 2 or type(update[0]) is not int
                    or update[0] not in stateful):
                raise BrokenExchange("an update of something that crossed as a copy, or a malformed one")
            apply_update(memo.objects[update[0]], update[1], decoder)
    finally:
        decoder.memo = memo
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
