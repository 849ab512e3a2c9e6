"""Argument parsers for selected-state commands (and their UID forms)."""

from __future__ import annotations

from . import commands as c
from . import grammar as g
from .fetch_items import fetch_items
from .grammar import Cursor, ParseError
from .search_keys import charset_and_keys

_SEARCH_RETURN = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
_SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
                        "DISPLAYFROM", "DISPLAYTO"})


def expunge_uid(cur: Cursor, tag: str) -> c.Expunge:
    cur.sp()
    return c.Expunge(tag, g.sequence_set(cur))


def _return_opts(cur: Cursor) -> tuple[str, ...] | None:
    """[RETURN (opt ...)] before the search criteria (RFC 4731, 5267)."""
    if not cur.take(b"RETURN "):
        return None
    opts = []
    for opt in g.paren_list(cur, lambda x: g.keyword(x, "a RETURN option")):
        if opt not in _SEARCH_RETURN:
            raise ParseError(f"unknown RETURN option {opt}")
        opts.append(opt)
    cur.sp()
    return tuple(dict.fromkeys(opts))


def search(cur: Cursor, tag: str, uid: bool = False) -> c.Search:
    cur.sp()
    returns = _return_opts(cur)
    charset, key = charset_and_keys(cur)
    return c.Search(tag, uid, charset, key, returns)


def _sort_criterion(cur: Cursor) -> c.SortCriterion:
    word = g.keyword(cur, "a sort key")
    reverse = word == "REVERSE"
    if reverse:
        cur.sp()
        word = g.keyword(cur, "a sort key")
    if word not in _SORT_KEYS:
        raise ParseError(f"unknown sort key {word}")
    return c.SortCriterion(word, reverse)


def sort(cur: Cursor, tag: str, uid: bool = False) -> c.Sort:
    cur.sp()
    returns = _return_opts(cur)
    criteria = tuple(g.paren_list(cur, _sort_criterion, allow_empty=False))
    cur.sp()
    charset, key = charset_and_keys(cur, charset_required=True)
    return c.Sort(tag, uid, criteria, charset, key, returns)


def thread(cur: Cursor, tag: str, uid: bool = False) -> c.Thread:
    cur.sp()
    algorithm = g.keyword(cur, "a threading algorithm")
    cur.sp()
    charset, key = charset_and_keys(cur, charset_required=True)
    return c.Thread(tag, uid, algorithm, charset, key)


def fetch(cur: Cursor, tag: str, uid: bool = False) -> c.Fetch:
    cur.sp()
    seqset = g.sequence_set(cur)
    cur.sp()
    items = fetch_items(cur)
    changedsince = None
    vanished = False
    if cur.take(b" "):
        cur.expect(b"(", "'('")
        while True:
            mod = g.keyword(cur, "a FETCH modifier")
            if mod == "CHANGEDSINCE":
                cur.sp()
                changedsince = g.number64(cur)
            elif mod == "VANISHED":
                vanished = True
            else:
                raise ParseError(f"unknown FETCH modifier {mod}")
            if cur.take(b")"):
                break
            cur.sp()
    if vanished and not (uid and changedsince is not None):
        # RFC 7162 3.2.6: VANISHED only in UID FETCH, and with CHANGEDSINCE.
        raise ParseError("VANISHED needs UID FETCH and CHANGEDSINCE")
    return c.Fetch(tag, uid, seqset, items, changedsince, vanished)


_STORE_ACTIONS = {"FLAGS": "REPLACE", "+FLAGS": "ADD", "-FLAGS": "REMOVE"}


def _store_flag(cur: Cursor) -> str:
    value = g.flag(cur)
    if value == "\\Recent":
        raise ParseError("\\Recent cannot be stored")
    return value


def store(cur: Cursor, tag: str, uid: bool = False) -> c.Store:
    cur.sp()
    seqset = g.sequence_set(cur)
    cur.sp()
    unchangedsince = None
    if cur.take(b"("):
        cur.expect(b"UNCHANGEDSINCE ", "UNCHANGEDSINCE")
        unchangedsince = g.number64(cur)
        cur.expect(b")", "')'")
        cur.sp()
    sign = b""
    if cur.peek() in (0x2B, 0x2D):
        sign = cur.text[cur.pos:cur.pos + 1]
        cur.pos += 1
    word = g.keyword(cur, "FLAGS")
    silent = word.endswith(".SILENT")
    if silent:
        word = word[: -len(".SILENT")]
    if word != "FLAGS":
        raise ParseError(f"expected FLAGS, +FLAGS or -FLAGS, got {word}")
    action = _STORE_ACTIONS[sign.decode() + word]
    cur.sp()
    if cur.peek() == 0x28:
        flags = tuple(g.paren_list(cur, _store_flag))
    else:
        parts = [_store_flag(cur)]
        while cur.take(b" "):
            parts.append(_store_flag(cur))
        flags = tuple(parts)
    return c.Store(tag, uid, seqset, action, silent, tuple(dict.fromkeys(flags)), unchangedsince)


def copy(cur: Cursor, tag: str, uid: bool = False) -> c.Copy:
    cur.sp()
    seqset = g.sequence_set(cur)
    cur.sp()
    return c.Copy(tag, uid, seqset, g.mailbox(cur))


def move(cur: Cursor, tag: str, uid: bool = False) -> c.Move:
    cur.sp()
    seqset = g.sequence_set(cur)
    cur.sp()
    return c.Move(tag, uid, seqset, g.mailbox(cur))
