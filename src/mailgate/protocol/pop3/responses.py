"""POP3 responses as typed values; serializer.py turns them into bytes."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable
from dataclasses import dataclass


class Code(str, enum.Enum):
    """Extended response codes (RFC 2449 RESP-CODES, RFC 3206)."""

    IN_USE = "IN-USE"
    LOGIN_DELAY = "LOGIN-DELAY"
    SYS_TEMP = "SYS/TEMP"
    SYS_PERM = "SYS/PERM"
    AUTH = "AUTH"


@dataclass(frozen=True, slots=True)
class Ok:
    text: str = ""
    code: Code | None = None


@dataclass(frozen=True, slots=True)
class Err:
    text: str
    code: Code | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    """A SASL server challenge: "+ " and the base64 of data (RFC 5034)."""

    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Lines:
    """A multi-line reply held in memory (CAPA, LIST, UIDL): the serializer
    dot-stuffs each line and adds the terminating "."."""

    status: Ok
    lines: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Body:
    """A message reply (RETR, TOP) whose raw bytes are already in memory: the
    serializer stuffs and terminates them in one piece, so a small message
    costs one buffer and one write instead of a chunk pipeline."""

    status: Ok
    data: bytes


@dataclass(frozen=True, slots=True)
class Prepared:
    """A reply the serializer already made (serializer.prepare): the session
    reads and encodes the next message of a download ahead, while the client
    is busy with the last one, so answering its RETR is a lookup and a write."""

    wire: bytes


@dataclass(frozen=True, slots=True, eq=False)
class Stream:
    """A multi-line reply streamed from storage (RETR, TOP): body yields raw
    message bytes in chunks of any size; the serializer dot-stuffs them."""

    status: Ok
    body: AsyncIterable[bytes]


Response = Ok | Err | Challenge | Lines | Body | Prepared | Stream


class After(enum.Enum):
    """What the driver does once the responses are written."""

    CONTINUE = "continue"
    START_TLS = "start-tls"  # STLS accepted: handshake, then discard buffered input
    CLOSE = "close"  # QUIT, too many bad commands, shutdown
    HAND_OVER = "hand-over"  # a frontend's login passed: proxy to the backend


@dataclass(frozen=True, slots=True)
class Outcome:
    responses: tuple[Response, ...]
    after: After = After.CONTINUE

    @classmethod
    def of(cls, *responses: Response, after: After = After.CONTINUE) -> Outcome:
        return cls(tuple(responses), after)
