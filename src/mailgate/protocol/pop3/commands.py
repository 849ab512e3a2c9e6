"""POP3 commands as typed values (RFC 1939, 2449, 2595, 5034).

The parser turns one command line into one of these, or into an Invalid that
carries the text of its -ERR reply. A line received while a SASL exchange is
in progress becomes a SaslResponse or SaslCancel instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class User:
    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    password: str  # the rest of the line: passwords may contain spaces


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH without a mechanism lists the mechanisms (RFC 1734 clients)."""

    mechanism: str | None = None  # upper-cased
    initial_response: str | None = None  # base64 text; "=" means empty


@dataclass(frozen=True, slots=True)
class Capa:
    pass


@dataclass(frozen=True, slots=True)
class Stls:
    pass


@dataclass(frozen=True, slots=True)
class Stat:
    pass


@dataclass(frozen=True, slots=True)
class List:
    msg: int | None = None


@dataclass(frozen=True, slots=True)
class Uidl:
    msg: int | None = None


@dataclass(frozen=True, slots=True)
class Top:
    msg: int
    lines: int


@dataclass(frozen=True, slots=True)
class Retr:
    msg: int


@dataclass(frozen=True, slots=True)
class Dele:
    msg: int


@dataclass(frozen=True, slots=True)
class Rset:
    pass


@dataclass(frozen=True, slots=True)
class Noop:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class Xclient:
    """XCLIENT ADDR=ip PORT=n (Dovecot's convention): a frontend names the
    real client before its proxy login. Only backends accept it."""

    addr: str
    port: int | None = None


Command = User | Pass | Auth | Capa | Stls | Stat | List | Uidl | Top | Retr | Dele | Rset | Noop | Quit | Xclient


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """A client line inside an AUTH exchange: base64 text (not yet decoded)."""

    data: str


@dataclass(frozen=True, slots=True)
class SaslCancel:
    """The client sent "*" to abort the AUTH exchange (RFC 5034)."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """Bad input: the session answers "-ERR <text>" and counts a bad command."""

    text: str
    keyword: str = ""  # upper-cased keyword when one was recognisable


Event = Command | SaslResponse | SaslCancel | Invalid

# The keyword of every command (the names clients send).
KEYWORDS: dict[type, str] = {
    User: "USER",
    Pass: "PASS",
    Auth: "AUTH",
    Capa: "CAPA",
    Stls: "STLS",
    Stat: "STAT",
    List: "LIST",
    Uidl: "UIDL",
    Top: "TOP",
    Retr: "RETR",
    Dele: "DELE",
    Rset: "RSET",
    Noop: "NOOP",
    Quit: "QUIT",
    Xclient: "XCLIENT",
}
