"""A selected folder's messages as three parallel arrays.

A session keeps the UID, MODSEQ and flags of every message of its selected
folder (sequence numbers, FLAGS fetches, flag searches and change tracking
come from it).  One Python object per message costs about 400 bytes with its
dict entry and boxed integers, so a 100,000-message folder cost 40 MB per
session.  Here a message costs 20 bytes: UIDs and MODSEQs in unsigned 64-bit
arrays, and an index into the folder's few distinct flag sets (a folder has
dozens of flag combinations, not thousands).

Copies share their arrays until one side changes them (copy on write): a
SELECT of a cached 100,000-message folder hands out a copy, and most views
never change most of their folder -- copying 2 MB into fresh pages every
time cost more than everything else a SELECT does.

The class also answers the mapping questions the session code asks
(``index.get(uid)``, ``uid in index``, ``index[uid] = meta``), building a
MessageMeta on the fly; loops over many messages use the arrays directly.
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

from ...storage.models import MessageColumns, MessageMeta

__all__ = ["MessageIndex"]


class MessageIndex:
    __slots__ = ("uids", "modseqs", "flag_ids", "flagsets", "_flag_id", "_shared")

    def __init__(self, metas: Iterable[MessageMeta] = ()) -> None:
        self.uids = array("Q")  # ascending
        self.modseqs = array("Q")
        self.flag_ids = array("I")
        self.flagsets: list[frozenset[str]] = []  # flag_ids index this
        self._flag_id: dict[frozenset[str], int] = {}
        # True once copy() lent these arrays to a twin, or while they are
        # read-only memoryviews of a mapped snapshot file: they are never
        # changed in place (see _own).
        self._shared = False
        for meta in sorted(metas, key=lambda m: m.uid):
            self.append(meta)

    # --- building ----------------------------------------------------------
    def flag_id(self, flags: frozenset[str]) -> int:
        found = self._flag_id.get(flags)
        if found is None:
            found = self._flag_id[flags] = len(self.flagsets)
            self.flagsets.append(flags)
        return found

    def append(self, meta: MessageMeta) -> None:
        """Add a message with a UID above every UID already here."""
        if self.uids and meta.uid <= self.uids[-1]:
            raise ValueError(f"UID {meta.uid} does not follow {self.uids[-1]}")
        self._own()
        self.uids.append(meta.uid)
        self.modseqs.append(meta.modseq)
        self.flag_ids.append(self.flag_id(meta.flags))

    # --- reading -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.uids)

    def position(self, uid: int) -> int | None:
        """The 0-based position of a UID (sequence number - 1), None if absent."""
        i = bisect_left(self.uids, uid)
        return i if i < len(self.uids) and self.uids[i] == uid else None

    def at(self, i: int) -> MessageMeta:
        return MessageMeta(self.uids[i], self.modseqs[i], self.flagsets[self.flag_ids[i]])

    def highest_modseq(self, uids: Iterable[int]) -> int | None:
        """The highest MODSEQ among these UIDs (those present), None if none."""
        modseqs, position = self.modseqs, self.position
        return max((modseqs[i] for i in map(position, uids) if i is not None), default=None)

    def flags_at(self, i: int) -> frozenset[str]:
        return self.flagsets[self.flag_ids[i]]

    def get(self, uid: int, default: MessageMeta | None = None) -> MessageMeta | None:
        i = self.position(uid)
        return default if i is None else self.at(i)

    def __getitem__(self, uid: int) -> MessageMeta:
        i = self.position(uid)
        if i is None:
            raise KeyError(uid)
        return self.at(i)

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.position(uid) is not None

    def __iter__(self) -> Iterator[int]:
        """UIDs, ascending (like iterating a dict keyed by UID)."""
        return iter(self.uids)

    def values(self) -> Iterator[MessageMeta]:
        return (self.at(i) for i in range(len(self.uids)))

    def items(self) -> Iterator[tuple[int, MessageMeta]]:
        return ((self.uids[i], self.at(i)) for i in range(len(self.uids)))

    # --- changing ------------------------------------------------------------
    def __setitem__(self, uid: int, meta: MessageMeta) -> None:
        """Update a message here, or append one with a higher UID."""
        if uid != meta.uid:
            raise ValueError(f"key {uid} is not the message's UID {meta.uid}")
        i = self.position(uid)
        if i is None:
            self.append(meta)
            return
        self._own()
        self.modseqs[i] = meta.modseq
        self.flag_ids[i] = self.flag_id(meta.flags)

    def pop(self, uid: int, default: MessageMeta | None = None) -> MessageMeta | None:
        i = self.position(uid)
        if i is None:
            return default
        meta = self.at(i)
        self._own()
        del self.uids[i], self.modseqs[i], self.flag_ids[i]
        return meta

    def remove_all(self, uids: set[int]) -> None:
        """Drop many messages in one pass (pop() is a shift of the arrays each)."""
        keep = [u not in uids for u in self.uids]
        # New arrays rather than slice assignment: they may be shared.
        self.uids, self.modseqs, self.flag_ids = (array(_typecode(column), itertools.compress(column, keep))
                                                  for column in (self.uids, self.modseqs, self.flag_ids))
        self._shared = False

    def copy(self) -> MessageIndex:
        """An independent copy; the arrays are copied only when either side
        first changes them."""
        twin = MessageIndex()
        twin.uids, twin.modseqs, twin.flag_ids = self.uids, self.modseqs, self.flag_ids
        twin.flagsets = list(self.flagsets)
        twin._flag_id = dict(self._flag_id)
        self._shared = twin._shared = True
        return twin

    def _own(self) -> None:
        """Before changing the arrays: copy them if a twin may still read them."""
        if self._shared:
            self.uids, self.modseqs, self.flag_ids = map(_copied, (self.uids, self.modseqs, self.flag_ids))
            self._shared = False

    def nbytes(self) -> int:
        """Memory of the arrays (for the tests' budget and the metrics)."""
        return sum(a.itemsize * len(a) for a in (self.uids, self.modseqs, self.flag_ids))

    @classmethod
    def from_columns(cls, columns: MessageColumns) -> MessageIndex:
        """Adopt the store's columns (Store.message_columns) or a snapshot's
        (memoryviews of a mapped file, copied on the first change) without
        copying."""
        index = cls()
        index.uids, index.modseqs, index.flag_ids = columns.uids, columns.modseqs, columns.flag_ids
        index._shared = not all(isinstance(c, array) for c in (index.uids, index.modseqs, index.flag_ids))
        index.flagsets = list(columns.flagsets)
        index._flag_id = {flags: i for i, flags in enumerate(index.flagsets)}
        return index

    def positions_with(self, wanted: Callable[[frozenset[str]], bool]) -> Iterator[int]:
        """Positions of the messages whose flag set satisfies ``wanted``
        (asked once per distinct set, not once per message)."""
        hits = {i for i, flags in enumerate(self.flagsets) if wanted(flags)}
        if not hits:
            return iter(())
        return itertools.compress(itertools.count(), map(hits.__contains__, self.flag_ids))


def _typecode(column: array | memoryview) -> str:
    return column.typecode if isinstance(column, array) else column.format


def _copied(column: array | memoryview) -> array:
    """A private, growable array with the column's numbers (a memcpy)."""
    if isinstance(column, array):
        return column[:]
    out = array(column.format)
    out.frombytes(column.cast("B"))
    return out
