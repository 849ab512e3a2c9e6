"""The selected folder as one IMAP session sees it.

RFC 3501 section 7.4.1 / RFC 9051 section 7.5.1: message sequence numbers may
only change when the server tells the client, and EXPUNGE must not be sent
while answering FETCH, STORE or SEARCH by sequence number. So each session
keeps its own view (UID list, flags, MODSEQs), learns what changed in the store
by MODSEQ, and reports changes only at points where the rules allow it.
Messages expunged by others stay in this view until their EXPUNGE is sent.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ...storage.base import Store
from ...storage.models import Folder, MessageMeta
from .folder_cache import folder_index_cache
from .message_index import MessageIndex

# In-process \Recent bookkeeping (IMAP4rev1 only): the highest UID some session
# has already seen as recent, per folder. The first session to see a message
# gets \Recent for it.
# Keyed by the store object too: tests run many stores in one process.
_recent_claims: dict[tuple[int, int], int] = {}


def peek_recent(store: Store, folder_id: int) -> int:
    """The highest UID already claimed as recent (STATUS RECENT, no claim)."""
    return _recent_claims.get((id(store), folder_id), 0)


def claim_recent(store: Store, folder_id: int, max_uid: int) -> int:
    """Marks UIDs up to max_uid as seen; returns the previous claim."""
    key = (id(store), folder_id)
    previous = _recent_claims.get(key, 0)
    if max_uid > previous:
        _recent_claims[key] = max_uid
    return previous


Changes = tuple[int, list[MessageMeta], list[int]]


class _SharedRead(asyncio.Future):
    """The answer of one read that many sessions await directly. A waiter
    being cancelled (its client went away) must not cancel the others'
    answer, so cancel() refuses: the cancelled task gets its CancelledError
    when the read ends. (asyncio.shield per waiter did the same with an
    extra future and two callbacks each: 10,000 idlers woken at once.)"""

    def cancel(self, msg: object = None) -> bool:
        return False


_in_flight: dict[tuple[int, int, int, int], _SharedRead] = {}


async def _read_changes(store: Store, folder_id: int, since: int) -> Changes:
    # The store reads HIGHESTMODSEQ first: every change up to it is in the
    # two reads that follow, so a session may move its mark there without
    # missing one.
    found = await store.changes_since(folder_id, since)
    return found.highestmodseq, found.changed, found.expunged


def _settle_shared(shared: _SharedRead, key: tuple[int, int, int, int], task: asyncio.Task) -> None:
    _in_flight.pop(key, None)
    if task.cancelled():
        asyncio.Future.cancel(shared)
    elif (exc := task.exception()) is not None:
        shared.set_exception(exc)
    else:
        shared.set_result(task.result())


async def shared_changes(store: Store, folder_id: int, since: int, generation: int) -> Changes:
    """What changed in a folder since a MODSEQ. Sessions at the same MODSEQ
    (10,000 idlers woken by one delivery) share one set of queries -- but only
    a read started after the last change they heard of (`generation`, from
    the change hub): an older one may have missed it."""
    key = (id(store), folder_id, since, generation)
    shared = _in_flight.get(key)
    if shared is None:
        loop = asyncio.get_running_loop()
        shared = _in_flight[key] = _SharedRead(loop=loop)
        task = loop.create_task(_read_changes(store, folder_id, since))
        task.add_done_callback(functools.partial(_settle_shared, shared, key))
    return await shared


@dataclass
class Updates:
    """What a poll found, in the form the serializer needs."""

    expunged_seqs: list[int] = field(default_factory=list)  # in send order
    expunged_uids: list[int] = field(default_factory=list)
    exists: int | None = None
    recent: int | None = None
    flag_changes: list[tuple[int, MessageMeta]] = field(default_factory=list)  # (seq, meta)

    def __bool__(self) -> bool:
        return bool(self.expunged_seqs or self.exists is not None or self.flag_changes)


class RecentUids:
    """This session's \\Recent UIDs (IMAP4rev1): those it claimed at SELECT,
    a range (floor, ceiling] of the view's UIDs -- kept as two numbers, not a
    set of every message of a first SELECT -- plus single UIDs claimed later.
    Members leave with the view's UIDs (EXPUNGE) or by discard()."""

    __slots__ = ("_index", "floor", "ceiling", "extra")

    def __init__(self, index: MessageIndex) -> None:
        self._index = index  # the view's messages (its UID array is index.uids)
        self.floor = self.ceiling = 0
        self.extra: set[int] = set()

    def claim_range(self, floor: int, ceiling: int) -> None:
        self.floor, self.ceiling = floor, max(floor, ceiling)

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int):
            return False
        if self.floor < uid <= self.ceiling:
            uids = self._index.uids
            i = bisect.bisect_left(uids, uid)
            return i < len(uids) and uids[i] == uid
        return uid in self.extra

    def __len__(self) -> int:
        uids = self._index.uids
        in_range = (bisect.bisect_right(uids, self.ceiling) - bisect.bisect_right(uids, self.floor)
                    if self.ceiling > self.floor else 0)
        return in_range + len(self.extra)

    def __bool__(self) -> bool:
        return len(self) > 0

    def update(self, uids: Iterable[int]) -> None:
        self.extra.update(uids)

    def discard(self, uid: int) -> None:
        self.extra.discard(uid)

    def clear(self) -> None:
        self.floor = self.ceiling = 0
        self.extra.clear()


class SelectedFolder:
    # Slots: one view per session, and 10,000 sessions may idle in one folder.
    __slots__ = ("folder", "readonly", "meta", "known_modseq", "gone", "recent", "reported_exists",
                 "saved_result", "_pending_flags", "dirty", "notify")

    def __init__(self, folder: Folder, readonly: bool, index: MessageIndex | list[MessageMeta]) -> None:
        self.folder = folder
        self.readonly = readonly
        # UIDs, MODSEQs and flags in arrays (20 bytes a message); ``meta``
        # answers uid -> MessageMeta, ``uids`` is its UID array (sequence
        # number n is uids[n - 1]; a property: the index may swap arrays
        # when it stops sharing them).
        if isinstance(index, MessageIndex):
            self.meta = index
            self.known_modseq = folder.highestmodseq  # open() raises it to what the index holds
        else:
            self.meta = MessageIndex(index)
            self.known_modseq = max(folder.highestmodseq, max(self.meta.modseqs, default=0))
        self.gone: set[int] = set()  # expunged in the store, not yet reported
        self.recent = RecentUids(self.meta)
        self.reported_exists = len(self.uids)
        self.saved_result: list[int] = []  # SEARCHRES "$" (UIDs)
        self._pending_flags: dict[int, MessageMeta] = {}  # changed by others
        # Set by the change hub when the store says this folder changed; the
        # session polls only then, so an idle folder costs no queries.
        self.dirty = False
        # Called after dirty is set: wakes the session's driver (IDLE).
        self.notify: Callable[[], None] | None = None

    def mark_dirty(self) -> None:
        """The change hub's callback for this view."""
        self.dirty = True
        if self.notify is not None:
            self.notify()

    @classmethod
    async def open(cls, store: Store, folder: Folder, readonly: bool, track_recent: bool = True) -> SelectedFolder:
        index, mark = await folder_index_cache.load(store, folder)
        view = cls(folder, readonly, index)
        view.known_modseq = max(view.known_modseq, mark)
        if track_recent and view.uids and not readonly:
            previous = claim_recent(store, folder.id, view.uids[-1])
            view.recent.claim_range(previous, view.uids[-1])
        return view

    # --- numbering --------------------------------------------------------
    @property
    def uids(self) -> array[int]:
        """UIDs, ascending: sequence number n is uids[n - 1]."""
        return self.meta.uids

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def uid_at(self, seq: int) -> int:
        return self.uids[seq - 1]

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def live_uids(self, uids: list[int]) -> list[int]:
        """Drop UIDs already expunged in the store (not yet reported)."""
        return [u for u in uids if u not in self.gone] if self.gone else uids

    # --- learning from the store -------------------------------------------
    async def poll(self, store: Store, generation: int | None = None) -> None:
        """Read what changed since known_modseq into the view (no reporting).
        With the change hub's generation, the read may be shared with other
        sessions; without, it is this session's own, fresh read."""
        if generation is None:
            highest, changed, expunged = await _read_changes(store, self.folder.id, self.known_modseq)
        else:
            highest, changed, expunged = await shared_changes(store, self.folder.id, self.known_modseq,
                                                              generation)
        newest = max(self.known_modseq, highest)
        last_uid = self.max_uid
        new: list[MessageMeta] = []
        for meta in changed:
            newest = max(newest, meta.modseq)
            if meta.uid > last_uid:
                new.append(meta)
            else:
                current = self.meta.get(meta.uid)
                if current is not None and current.modseq != meta.modseq:
                    self._pending_flags[meta.uid] = meta
        for uid in expunged:
            if uid in self.meta:
                self.gone.add(uid)
        if new:
            new.sort(key=lambda m: m.uid)
            for meta in new:
                self.meta.append(meta)
            new_uids = [m.uid for m in new]
            previous = claim_recent(store, self.folder.id, new_uids[-1]) if not self.readonly else new_uids[-1]
            self.recent.update(u for u in new_uids if u > previous)
        self.known_modseq = newest

    def apply_own_change(self, meta: MessageMeta) -> None:
        """A STORE by this session: no unsolicited FETCH needed for it."""
        if meta.uid in self.meta:
            self.meta[meta.uid] = meta
        self._pending_flags.pop(meta.uid, None)

    def settle(self, uids: list[int]) -> None:
        """Take others' pending flag changes of these messages into the view
        now: a STORE that found nothing to change echoes the flags as they
        really are, not this session's stale copy."""
        for uid in uids:
            meta = self._pending_flags.pop(uid, None)
            if meta is not None and uid in self.meta and uid not in self.gone:
                self.meta[uid] = meta

    def forget_expunged_by_self(self, uids: list[int]) -> list[int]:
        """This session's EXPUNGE: returns the sequence numbers to report, in
        send order (each EXPUNGE renumbers the messages after it)."""
        return self._drop(uids)

    def take_updates(self, allow_expunge: bool) -> Updates:
        """What to report now. allow_expunge is False while answering FETCH,
        STORE or SEARCH by sequence number (RFC 3501 7.4.1)."""
        updates = Updates()
        if allow_expunge and self.gone:
            gone = sorted(self.gone)
            updates.expunged_uids = gone
            updates.expunged_seqs = self._drop(gone)
        for uid, meta in sorted(self._pending_flags.items()):
            if uid in self.gone or uid not in self.meta:
                continue  # expunged (by another session, or by this one since the poll)
            self.meta[uid] = meta
            seq = self.seq_of(uid)
            if seq is not None:
                updates.flag_changes.append((seq, meta))
        self._pending_flags.clear()
        if len(self.uids) != self.reported_exists or updates.expunged_seqs:
            if len(self.uids) > self.reported_exists - len(updates.expunged_seqs):
                updates.exists = len(self.uids)
                updates.recent = len(self.recent)
            self.reported_exists = len(self.uids)
        return updates

    def _drop(self, uids: list[int]) -> list[int]:
        seqs: list[int] = []
        for uid in sorted(uids, reverse=True):
            seq = self.seq_of(uid)
            if seq is None:
                continue
            # Descending order: each number is still right when the client
            # applies the EXPUNGEs one after another.
            seqs.append(seq)
            self.meta.pop(uid)  # also leaves self.uids
            self._pending_flags.pop(uid, None)
            self.recent.discard(uid)
            self.gone.discard(uid)
        return seqs
