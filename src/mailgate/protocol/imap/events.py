"""What `CommandReader` hands the session besides parsed commands.

Each non-command event that needs an answer knows its wire form through
``to_response()``, so the session never composes protocol errors itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .commands import Command
from .responses import TOOBIG, Condition, Continuation, ResponseCode, Tagged

_frozen = dataclass(frozen=True, slots=True)


@_frozen
class Invalid:
    """The client broke the grammar (or a limit): answer, then read on.

    ``tag`` is None when the line had no usable tag (untagged BAD).  A few
    parse results are refusals rather than syntax errors and carry
    status "NO" (an unknown SEARCH charset: NO [BADCHARSET (...)]).
    """

    tag: str | None
    text: str
    code: ResponseCode | None = None
    status: str = "BAD"

    def to_response(self) -> Tagged | Condition:
        if self.tag is None:
            return Condition(self.status, self.text, self.code)
        return Tagged(self.tag, self.status, self.text, self.code)


@_frozen
class NeedContinuation:
    """A synchronizing literal was announced: send ``to_response()`` ("+ ...")
    so the client sends the bytes, then keep calling next_event()."""

    tag: str | None
    size: int
    text: str = "Ready for literal data"

    def to_response(self) -> Continuation:
        return Continuation(self.text)


@_frozen
class NeedData:
    """Nothing complete yet: feed more bytes."""


NEED_DATA = NeedData()


@_frozen
class LiteralTooLarge:
    """A literal exceeded ``limit``; the command is answered and dropped.

    For a synchronizing literal ({n}, ``sync``) the client has not sent the
    bytes and waits for "+", so we answer NO right away and the client gives
    up on the command.  For a non-synchronizing one the bytes are coming
    anyway: the reader discards them, and the answer is BAD (RFC 7888).
    """

    tag: str | None
    limit: int
    size: int
    sync: bool

    def to_response(self) -> Tagged | Condition:
        text = f"literal of {self.size} bytes exceeds the limit of {self.limit} bytes"
        status = "NO" if self.sync else "BAD"
        if self.tag is None:
            return Condition(status, text, TOOBIG)
        return Tagged(self.tag, status, text, TOOBIG)


@_frozen
class RawLine:
    """One line read with next_line() (AUTHENTICATE answers, IDLE's DONE),
    without its CRLF."""

    line: bytes


Event = Command | Invalid | NeedContinuation | NeedData | LiteralTooLarge
