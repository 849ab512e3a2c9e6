"""IMAP connection states and the commands allowed in each: one table.

RFC 3501 section 3 / RFC 9051 section 3, plus each extension's rule:
ID in any state (RFC 2971); ENABLE only when authenticated and nothing is
selected (RFC 5161); COMPRESS once authenticated (RFC 4978); IDLE,
NAMESPACE, STATUS, APPEND, quota commands when authenticated or selected.
"""

from __future__ import annotations

from enum import Enum

from .commands import Command

__all__ = ["State", "ALLOWED", "allowed", "commands_for"]


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
_NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
_AUTH_ONLY = frozenset({State.AUTHENTICATED})
_AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
_SELECTED = frozenset({State.SELECTED})

#: command name -> states in which it may be issued (UID forms share their
#: base command's row).  Nothing is allowed in LOGOUT.
ALLOWED: dict[str, frozenset[State]] = {
    "CAPABILITY": _ANY, "NOOP": _ANY, "LOGOUT": _ANY, "ID": _ANY,
    "STARTTLS": _NOT_AUTH, "AUTHENTICATE": _NOT_AUTH, "LOGIN": _NOT_AUTH,
    "ENABLE": _AUTH_ONLY,
    "SELECT": _AUTH, "EXAMINE": _AUTH, "CREATE": _AUTH, "DELETE": _AUTH, "RENAME": _AUTH,
    "SUBSCRIBE": _AUTH, "UNSUBSCRIBE": _AUTH, "LIST": _AUTH, "LSUB": _AUTH,
    "NAMESPACE": _AUTH, "STATUS": _AUTH, "APPEND": _AUTH, "IDLE": _AUTH, "COMPRESS": _AUTH,
    "GETQUOTA": _AUTH, "GETQUOTAROOT": _AUTH, "SETQUOTA": _AUTH,
    "CHECK": _SELECTED, "CLOSE": _SELECTED, "UNSELECT": _SELECTED, "EXPUNGE": _SELECTED,
    "SEARCH": _SELECTED, "SORT": _SELECTED, "THREAD": _SELECTED, "FETCH": _SELECTED,
    "STORE": _SELECTED, "COPY": _SELECTED, "MOVE": _SELECTED,
}


def allowed(state: State, command: Command | str) -> bool:
    name = command if isinstance(command, str) else command.name
    return state in ALLOWED.get(name.upper(), frozenset())


def commands_for(state: State) -> frozenset[str]:
    return frozenset(name for name, states in ALLOWED.items() if state in states)
