"""From one assembled command to a typed `Command` or an `Invalid` event.

Dispatch is two dicts from command name to parse function (plain and UID
forms), so the set of commands is visible in one place and nothing is
looked up by attribute name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import commands as c
from . import grammar as g
from . import parse_general as pg
from . import parse_selected as ps
from .events import Invalid
from .grammar import Cursor, ParseError
from .literal import Literal
from .responses import badcharset
from .search_keys import SUPPORTED_CHARSETS, BadCharset

__all__ = ["parse_command", "parse_auth_response", "is_idle_done", "COMMANDS", "UID_COMMANDS"]

Parse = Callable[[Cursor, str], c.Command]


def _bare(cls: type[c.Command]) -> Parse:
    """Commands without arguments."""
    return lambda cur, tag: cls(tag)


COMMANDS: dict[str, Parse] = {
    # any state
    "CAPABILITY": _bare(c.Capability),
    "NOOP": _bare(c.Noop),
    "LOGOUT": _bare(c.Logout),
    "ID": pg.id_,
    # not authenticated
    "STARTTLS": _bare(c.StartTLS),
    "AUTHENTICATE": pg.authenticate,
    "LOGIN": pg.login,
    # authenticated
    "ENABLE": pg.enable,
    "SELECT": pg.select,
    "EXAMINE": pg.examine,
    "CREATE": pg.create,
    "DELETE": pg.delete,  # type: ignore[dict-item]
    "RENAME": pg.rename,
    "SUBSCRIBE": pg.subscribe,  # type: ignore[dict-item]
    "UNSUBSCRIBE": pg.unsubscribe,  # type: ignore[dict-item]
    "LIST": pg.list_,
    "LSUB": pg.lsub,
    "NAMESPACE": _bare(c.Namespace),
    "STATUS": pg.status,
    "APPEND": pg.append,
    "IDLE": _bare(c.Idle),
    "COMPRESS": pg.compress,
    "GETQUOTA": pg.getquota,
    "GETQUOTAROOT": pg.getquotaroot,  # type: ignore[dict-item]
    "SETQUOTA": pg.setquota,
    # selected
    "CHECK": _bare(c.Check),
    "CLOSE": _bare(c.Close),
    "UNSELECT": _bare(c.Unselect),
    "EXPUNGE": _bare(c.Expunge),
    "SEARCH": ps.search,
    "SORT": ps.sort,
    "THREAD": ps.thread,
    "FETCH": ps.fetch,
    "STORE": ps.store,
    "COPY": ps.copy,
    "MOVE": ps.move,
}

UID_COMMANDS: dict[str, Parse] = {
    "FETCH": lambda cur, tag: ps.fetch(cur, tag, uid=True),
    "STORE": lambda cur, tag: ps.store(cur, tag, uid=True),
    "COPY": lambda cur, tag: ps.copy(cur, tag, uid=True),
    "MOVE": lambda cur, tag: ps.move(cur, tag, uid=True),
    "SEARCH": lambda cur, tag: ps.search(cur, tag, uid=True),
    "SORT": lambda cur, tag: ps.sort(cur, tag, uid=True),
    "THREAD": lambda cur, tag: ps.thread(cur, tag, uid=True),
    "EXPUNGE": ps.expunge_uid,
}


def parse_command(text: bytes, literals: Sequence[Literal] = (), breaks: Sequence[int] = (),
                  *, utf8: bool = False) -> c.Command | Invalid:
    """Parse one command; ``text`` and ``breaks`` as built by the reader."""
    cur = Cursor(text, literals, breaks, utf8=utf8)
    try:
        tag = g.tag(cur)
    except ParseError as exc:
        return Invalid(None, exc.text)
    name = ""
    try:
        if cur.at_end():
            raise ParseError("missing command name")
        cur.sp()
        name = g.keyword(cur, "a command name")
        table = COMMANDS
        if name == "UID":
            cur.sp()
            name = "UID " + g.keyword(cur, "a UID command")
            table = UID_COMMANDS
        parse = table.get(name.removeprefix("UID "))
        if parse is None:
            return Invalid(tag, f"unknown command {name}")
        command = parse(cur, tag)
        cur.end()
        return command
    except BadCharset as exc:
        return Invalid(tag, exc.text, badcharset(SUPPORTED_CHARSETS), status="NO")
    except ParseError as exc:
        return Invalid(tag, f"{name}: {exc.text}" if name else exc.text)


def parse_auth_response(line: bytes, tag: str) -> bytes | None | Invalid:
    """A client's answer to an AUTHENTICATE challenge: decoded bytes, None
    for "*" (the client cancels: answer BAD), or Invalid."""
    if line == b"*":
        return None
    try:
        return pg.decode_base64(line) if line else b""
    except ParseError as exc:
        return Invalid(tag, f"AUTHENTICATE: {exc.text}")


def is_idle_done(line: bytes) -> bool:
    return line.strip().upper() == b"DONE"
