"""Messages between the grader's test kernel and the student's kernel: framing, and calls that may nest.

One Unix socket joins the two kernels while a test cell runs. A message is a
JSON header and the byte buffers its values refer to (:mod:`~dlcourse.grading.codec`)::

    8 bytes: header length H | H bytes: JSON header | for each buffer: 8 bytes length, then the bytes

Every length is checked against the limits before anything is read into memory,
and a header is parsed only once it is complete; a malformed or oversized message
ends the exchange with a :class:`ProtocolError`.

:class:`Peer` sends a request and waits for its reply; while it waits it
answers the requests the other side sends (a student's function calling a
test's callback, which calls another student function, and so on).

Example:
    >>> import socket
    >>> a, b = socket.socketpair()
    >>> Channel(a).send({"op": "ping"}, [b"xy"])
    >>> Channel(b).receive(deadline=None)
    ({'op': 'ping', 'blobs': [2]}, [b'xy'])
    >>> a.close(), b.close()
    (None, None)
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_HEADER_BYTES = 64 * 1024 * 1024
"""Largest JSON header of one message."""

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
"""Largest message (header and buffers) the grader's side accepts: a result bigger than this is refused."""

MAX_BUFFERS = 100_000
"""Most buffers (arrays, tensors, byte strings) in one message."""

_LENGTH = struct.Struct(">Q")


class ProtocolError(RuntimeError):
    """The other side sent something that is not a well-formed message, or closed the connection."""


class PeerTimeout(TimeoutError):
    """No reply came before the deadline."""


@dataclass
class Channel:
    """Length-prefixed messages over a stream socket, with size limits on what is received."""

    sock: socket.socket
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def send(self, header: dict, blobs: list[Any] = (), deadline: float | None = None) -> None:
        views = [memoryview(blob).cast("B") for blob in blobs]
        header = {**header, "blobs": [view.nbytes for view in views]}
        text = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
        parts: list[Any] = [_LENGTH.pack(len(text)), text]
        for view in views:
            parts += [_LENGTH.pack(view.nbytes), view]
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise PeerTimeout("no time left to send")
        try:
            self.sock.settimeout(left)
            if sum(len(part) for part in parts) < 1 << 20:
                self.sock.sendall(b"".join(parts))
            else:  # large buffers go out one by one, without being copied into one
                for part in parts:
                    self.sock.sendall(part)
        except TimeoutError:
            raise PeerTimeout("the other side did not take the message before the time limit") from None
        except OSError as error:
            raise ProtocolError(f"the connection broke ({error})") from None

    def receive(self, deadline: float | None) -> tuple[dict, list[bytes]]:
        size = _LENGTH.unpack(self._read(_LENGTH.size, deadline))[0]
        if size > min(MAX_HEADER_BYTES, self.max_message_bytes):
            raise ProtocolError(f"a message header of {size:,} bytes (at most {MAX_HEADER_BYTES:,})")
        try:
            header = json.loads(self._read(size, deadline))
        except (ValueError, RecursionError) as error:
            raise ProtocolError(f"a malformed message header ({type(error).__name__})") from None
        sizes = header.get("blobs") if isinstance(header, dict) else None
        if not isinstance(sizes, list) or len(sizes) > MAX_BUFFERS or not all(
                type(n) is int and n >= 0 for n in sizes):
            raise ProtocolError("a malformed message header (no list of buffer sizes)")
        if size + sum(sizes) > self.max_message_bytes:
            raise ProtocolError(f"a message of {(size + sum(sizes)) / 2**20:,.0f} MiB, over the "
                                f"{self.max_message_bytes / 2**20:,.0f} MiB limit")
        blobs = []
        for expected in sizes:
            length = _LENGTH.unpack(self._read(_LENGTH.size, deadline))[0]
            if length != expected:
                raise ProtocolError("a buffer whose length does not match the header")
            blobs.append(self._read(length, deadline))
        return header, blobs

    def _read(self, size: int, deadline: float | None) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            try:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise PeerTimeout("no answer before the time limit")
                    self.sock.settimeout(left)
                else:
                    self.sock.settimeout(None)
                count = self.sock.recv_into(view[got:], min(size - got, 1 << 24))
            except TimeoutError:
                raise PeerTimeout("no answer before the time limit") from None
            except OSError as error:
                raise ProtocolError(f"the connection broke ({error})") from None
            if count == 0:
                raise ProtocolError("the other side closed the connection")
            got += count
        return bytes(buffer)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class Peer:
    """Requests and replies over a :class:`Channel`; requests that arrive while waiting are served by ``serve``.

    ``serve(header, blobs)`` returns ``(reply_header, reply_blobs)`` for one
    incoming request; a reply carries ``"re"``: the number of the request it
    answers.
    """

    channel: Channel
    serve: Callable[[dict, list[bytes]], tuple[dict, list[Any]]]
    deadline: float | None = None  # for sending replies: a peer that does not read them cannot hold this side
    _next: int = 1

    def request(self, header: dict, blobs: list[Any], deadline: float | None) -> tuple[dict, list[bytes]]:
        number = self._next
        self._next += 1
        self.channel.send({**header, "n": number}, blobs, deadline)
        while True:
            incoming, incoming_blobs = self.channel.receive(deadline)
            if incoming.get("op") == "reply":
                if incoming.get("re") != number:
                    raise ProtocolError("a reply to a request that was not waiting")
                return incoming, incoming_blobs
            self.answer(incoming, incoming_blobs)

    def answer(self, incoming: dict, blobs: list[bytes]) -> None:
        """Serve one request and send its reply."""
        reply, reply_blobs = self.serve(incoming, blobs)
        self.channel.send({**reply, "op": "reply", "re": incoming.get("n")}, reply_blobs, self.deadline)


def seconds_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (``inf`` for none)."""
    return math.inf if deadline is None else deadline - time.monotonic()
