"""The POP3 states (RFC 1939 section 3) and the commands each one accepts:
the one table of the protocol."""

from __future__ import annotations

import enum
from typing import Final

from .commands import Auth, Capa, Dele, List, Noop, Pass, Quit, Retr, Rset, Stat, Stls, Top, Uidl, User, Xclient


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"  # after QUIT in TRANSACTION: nothing more is read


ALLOWED: Final[dict[State, frozenset[type]]] = {
    State.AUTHORIZATION: frozenset({User, Pass, Auth, Capa, Stls, Quit, Xclient}),
    State.TRANSACTION: frozenset({Stat, List, Uidl, Top, Retr, Dele, Rset, Noop, Capa, Quit}),
    State.UPDATE: frozenset(),
}


# Keyed by the state's value: hashing an Enum member runs Python code, and
# this lookup is made for every command.
_BY_VALUE: Final[dict[str, frozenset[type]]] = {state._value_: kinds for state, kinds in ALLOWED.items()}


def allowed(state: State, command: object) -> bool:
    return type(command) in _BY_VALUE[state._value_]


def capabilities(
    *,
    state: State,
    user_login: bool,
    sasl: tuple[str, ...],
    stls: bool,
    implementation: str = "mailgate",
) -> tuple[bytes, ...]:
    """CAPA lines (RFC 2449, 2595, 3206, 5034) for what is possible now."""
    lines = [b"TOP", b"UIDL"]
    if state is State.AUTHORIZATION:
        if user_login:
            lines.append(b"USER")
        if sasl:
            lines.append(b"SASL " + " ".join(sasl).encode("ascii"))
        if stls:
            lines.append(b"STLS")
    lines += [
        b"RESP-CODES",
        b"AUTH-RESP-CODE",
        b"PIPELINING",
        b"EXPIRE NEVER",
        b"LOGIN-DELAY 0",
        b"IMPLEMENTATION " + implementation.encode("ascii", "replace"),
    ]
    return tuple(lines)
