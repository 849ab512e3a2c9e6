"""POP3 responses -> bytes: the only place that makes POP3 response bytes."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncGenerator, AsyncIterator

from .responses import Body, Challenge, Err, Lines, Ok, Prepared, Stream

TERMINATOR = b".\r\n"
_LINE_DOT = re.compile(rb"\n\.")  # a line (other than the first) that starts with "."


def _text(text: str) -> bytes:
    # A reply is one line: no client-chosen CR/LF may split it.
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")


def _status(prefix: bytes, text: str, code: object | None) -> bytes:
    parts = [prefix]
    if code is not None:
        parts.append(b"[" + str(getattr(code, "value", code)).encode("ascii") + b"]")
    if text:
        parts.append(_text(text))
    return b" ".join(parts) + b"\r\n"


def encode(response: Ok | Err | Challenge | Lines | Body | Prepared) -> bytes:
    """A single-line or in-memory multi-line reply, complete with line ends."""
    if isinstance(response, Prepared):  # first: RETR is the hot path of a download
        return response.wire
    if isinstance(response, Body):
        return _body(response)
    if isinstance(response, Ok):
        return _status(b"+OK", response.text, response.code)
    if isinstance(response, Err):
        return _status(b"-ERR", response.text, response.code)
    if isinstance(response, Challenge):
        return b"+ " + base64.b64encode(response.data) + b"\r\n"
    out = bytearray(_status(b"+OK", response.status.text, response.status.code))
    for line in response.lines:
        if line.startswith(b"."):
            out += b"."
        out += line
        out += b"\r\n"
    out += TERMINATOR
    return bytes(out)


def _stuffed(data: bytes) -> bytes:
    """Every "." that starts a line (after the first) doubled. Most messages
    have none: the regex looks for one about twice as fast as bytes.replace
    or `in` (which scan a 2-byte pattern whose first byte is on every line)."""
    return data.replace(b"\n.", b"\n..") if _LINE_DOT.search(data) else data


def _body(response: Body) -> bytes:
    """Status line, stuffed message, terminator: one join."""
    data = response.data
    parts = [_status(b"+OK", response.status.text, response.status.code)]
    if data[:1] == b".":
        parts.append(b".")
    parts.append(_stuffed(data))
    if data and not data.endswith(b"\r\n"):
        parts.append(b"\r\n")
    parts.append(TERMINATOR)
    return b"".join(parts)


def prepare(response: Body) -> Prepared:
    """The reply encoded now, to be sent later (a read-ahead)."""
    return Prepared(_body(response))


class DotStuffer:
    """Streaming byte-stuffing of a message body (RFC 1939 section 3).

    Lines starting with "." get one more "."; the state carried between
    chunks is whether the next byte starts a line. finish() ends the body
    with CRLF when it does not end with one, then the terminating ".".
    """

    __slots__ = ("_at_line_start", "_tail", "_empty")

    def __init__(self) -> None:
        self._at_line_start = True
        self._tail = b""  # last two bytes sent
        self._empty = True

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        out = _stuffed(chunk)
        if self._at_line_start and chunk[:1] == b".":
            out = b"." + out
        self._at_line_start = chunk[-1:] == b"\n"
        self._tail = (self._tail + chunk[-2:])[-2:]
        self._empty = False
        return out

    def finish(self) -> bytes:
        if self._empty or self._tail == b"\r\n":
            return TERMINATOR
        return b"\r\n" + TERMINATOR


async def encode_stream(response: Stream) -> AsyncIterator[bytes]:
    """Status line, the stuffed body chunk by chunk, the terminator."""
    yield _status(b"+OK", response.status.text, response.status.code)
    stuffer = DotStuffer()
    body = response.body
    try:
        async for chunk in body:
            stuffed = stuffer.feed(chunk)
            if stuffed:
                yield stuffed
    finally:
        if isinstance(body, AsyncGenerator):  # stopped early: let it clean up
            await body.aclose()
    yield stuffer.finish()


def unstuff(data: bytes) -> bytes:
    """The inverse, for tests and tools: a multi-line body as sent (without
    the status line, with the terminator) -> the body bytes (with the CRLF
    that finish() added to a body not ending in one)."""
    if data == TERMINATOR:
        return b""
    if not data.endswith(b"\r\n" + TERMINATOR):
        raise ValueError("no terminator")
    pieces = data[: -len(TERMINATOR)].split(b"\n")
    return b"\n".join(piece[1:] if piece.startswith(b".") else piece for piece in pieces)
