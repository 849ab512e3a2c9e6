"""Rules every store driver shares, so memory and SQLite cannot drift apart."""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable
from typing import TypeVar

from .models import FlagMode, MessageColumns

T = TypeVar("T")

# IMAP system flags are case-insensitive on the wire; storing one spelling
# keeps "\SEEN" and "\Seen" from becoming two flags and keeps the unseen
# counters right. \Recent is per-session state (RFC 3501 2.3.2), never stored.
_SYSTEM = {
    f.lower(): f
    for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
}
_NOT_STORED = "\\recent"

SEEN = "\\Seen"
DELETED = "\\Deleted"

# SQLite allows 32766 host parameters; smaller chunks keep statements cheap to
# prepare and bound the work of one IN list.
CHUNK = 500


def canon_flags(flags: Iterable[str]) -> frozenset[str]:
    out = set()
    for flag in flags:
        low = flag.lower()
        if low == _NOT_STORED:
            continue
        out.add(_SYSTEM.get(low, flag))
    return frozenset(out)


def apply_mode(old: frozenset[str], given: frozenset[str], mode: FlagMode) -> frozenset[str]:
    if mode is FlagMode.REPLACE:
        return given
    if mode is FlagMode.ADD:
        return old | given
    return old - given


def flags_text(flags: frozenset[str]) -> str:
    """Canonical text form: sorted, space separated (flags never hold spaces)."""
    return " ".join(sorted(flags))


class FlagCache:
    """Text -> frozenset, interned: a folder has few distinct flag sets, so
    100k index rows share a handful of frozensets instead of building 100k."""

    __slots__ = ("_map",)

    def __init__(self) -> None:
        self._map: dict[str, frozenset[str]] = {"": frozenset()}

    def get(self, text: str) -> frozenset[str]:
        fs = self._map.get(text)
        if fs is None:
            fs = frozenset(text.split(" "))
            if len(self._map) < 4096:  # bound the cache against keyword floods
                self._map[text] = fs
        return fs


def columns_from_rows(rows: Iterable[tuple[int, int, str]]) -> MessageColumns:
    """(uid, modseq, flags text) rows in ascending UID -> MessageColumns,
    consumed one at a time (a cursor: no list of 100,000 rows in between)."""
    uids, modseqs, flag_ids = array("Q"), array("Q"), array("I")
    flagsets: list[frozenset[str]] = []
    ids: dict[str, int] = {}
    for uid, modseq, text in rows:
        found = ids.get(text)
        if found is None:
            found = ids[text] = len(flagsets)
            flagsets.append(frozenset(text.split(" ")) if text else frozenset())
        uids.append(uid)
        modseqs.append(modseq)
        flag_ids.append(found)
    return MessageColumns(uids, modseqs, flag_ids, flagsets)


def next_uidvalidity(last: int) -> int:
    """Time-based and strictly above every value handed out before in the
    store, so a name deleted and recreated (even after a restart, or by
    another process sharing the counter) never sees an old UIDVALIDITY."""
    now = int(time.time()) & 0xFFFFFFFF
    nxt = max(last + 1, now)
    if nxt > 0xFFFFFFFF:  # 32-bit nz-number on the wire; wrap far past 2106
        nxt = 1
    return nxt


def is_inferior_or_self(name: str, root: str) -> bool:
    return name == root or name.startswith(root + "/")


def chunks(seq: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
