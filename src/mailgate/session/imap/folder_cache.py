"""SELECT of a big folder without reading its whole index every time.

Loading the UID/MODSEQ/flags of 100,000 messages from the store takes about
0.1 s; clients select their big folders over and over (every reconnect, every
folder switch).  The process keeps each big folder's index as it was at some
MODSEQ; a SELECT takes a copy (which shares the arrays until either side
changes them, MessageIndex.copy) and catches it up with what changed since
that MODSEQ — the same two reads a selected session polls with (RFC 7162's
CHANGEDSINCE and the expunge log, which the store never prunes).

Only folders of at least CACHE_MIN_MESSAGES are kept, the least recently
selected leave first once CACHE_MAX_MESSAGES are held (20 bytes a message).
Entries are keyed by store, folder id and UIDVALIDITY, so a recreated folder
never meets an old entry; an entry goes with its store.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from ...storage.base import Store
from ...storage.errors import NotFound
from ...storage.index_snapshots import IndexSnapshots, store_identity
from ...storage.models import Folder, FolderChanges, MessageColumns, MessageMeta
from .message_index import MessageIndex

CACHE_MIN_MESSAGES = 5_000  # smaller folders load directly: cheap enough
CACHE_MAX_MESSAGES = 2_000_000  # all entries together: about 40 MB
SNAPSHOT_REFRESH_CHANGES = 1_000  # a snapshot this far behind is written again

log = logging.getLogger(__name__)

_Key = tuple[int, int, int]  # (id(store), folder id, UIDVALIDITY)


@dataclass(slots=True)
class _Entry:
    index: MessageIndex
    modseq: int  # the index holds every change up to this MODSEQ


class FolderIndexCache:
    def __init__(self, max_messages: int = CACHE_MAX_MESSAGES, min_messages: int = CACHE_MIN_MESSAGES) -> None:
        self.max_messages = max_messages
        self.min_messages = min_messages
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._held = 0
        self._watched: set[int] = set()  # stores with a finalizer
        # Files of big folders' indexes (storage/index_snapshots.py); set by
        # the server to DATA/cache/index, None in tests and tools.
        self.snapshots: IndexSnapshots | None = None
        self._saving: set[asyncio.Future[None]] = set()

    @property
    def held(self) -> int:
        """Messages held over all entries."""
        return self._held

    async def load(self, store: Store, folder: Folder) -> tuple[MessageIndex, int]:
        """A private copy of the folder's index and the MODSEQ it is complete to."""
        key = (id(store), folder.id, folder.uidvalidity)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            # A private copy is caught up (concurrent SELECTs must not apply
            # their reads to one index in either order); copies are cheap.
            index = entry.index.copy()
            caught = await _catch_up(store, folder.id, index, entry.modseq)
            if caught is not None:
                highest = caught[0]
                self._put(store, key, _Entry(index.copy(), highest))
                return index, highest
            self._drop(key)  # could not be brought up to date: load afresh
        loaded = await self._from_snapshot(store, folder)
        if loaded is not None:
            index, highest, applied = loaded
            self._put(store, key, _Entry(index.copy(), highest))
            if applied >= SNAPSHOT_REFRESH_CHANGES:
                self._save_later(store, folder, index, highest)
            return index, highest
        # HIGHESTMODSEQ as read before the index: the index holds at least
        # every change up to it (a later one is applied again on catch-up).
        mark = folder.highestmodseq
        index = MessageIndex.from_columns(await store.message_columns(folder.id))
        if len(index) >= self.min_messages:
            self._put(store, key, _Entry(index.copy(), mark))
            self._save_later(store, folder, index, mark)
        return index, mark

    async def _from_snapshot(self, store: Store, folder: Folder) -> tuple[MessageIndex, int, int] | None:
        """(index, MODSEQ mark, changes applied) from the snapshot file."""
        identity = store_identity(store)
        if self.snapshots is None or identity is None:
            return None
        snapshot = self.snapshots.open(identity, folder.id, folder.uidvalidity)  # reads the head
        if snapshot is None:
            return None
        since = snapshot.modseq
        # The file is read and checked on a thread while the store reads what
        # changed since its MODSEQ.
        columns, changes = await asyncio.gather(asyncio.to_thread(snapshot.columns),
                                                _read_changes(store, folder.id, since))
        if columns is None or changes is None:  # damaged, or the folder is gone
            return None
        index = MessageIndex.from_columns(columns)
        caught = _apply(index, since, changes, check=True)
        if caught is None:
            log.warning("index snapshot of folder %d disagrees with the store; reloading", folder.id)
            return None
        highest, applied = caught
        return index, highest, applied

    def _save_later(self, store: Store, folder: Folder, index: MessageIndex, modseq: int) -> None:
        identity = store_identity(store)
        if self.snapshots is None or identity is None:
            return
        frozen = index.copy()  # its arrays stay as they are: whoever changes them copies first
        columns = MessageColumns(frozen.uids, frozen.modseqs, frozen.flag_ids, list(frozen.flagsets))
        task = asyncio.get_running_loop().run_in_executor(
            None, self.snapshots.save, identity, folder.id, folder.uidvalidity, modseq, columns)
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    def _put(self, store: Store, key: _Key, entry: _Entry) -> None:
        self._drop(key)
        if len(entry.index) > self.max_messages:
            return
        self._entries[key] = entry
        self._held += len(entry.index)
        while self._held > self.max_messages:
            self._drop(next(iter(self._entries)))
        if key[0] not in self._watched:
            self._watched.add(key[0])
            weakref.finalize(store, self._forget_store, key[0])

    def _drop(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._held -= len(entry.index)

    def _forget_store(self, store_id: int) -> None:
        self._watched.discard(store_id)
        for key in [k for k in self._entries if k[0] == store_id]:
            self._drop(key)


async def _read_changes(store: Store, folder_id: int, since: int) -> FolderChanges | None:
    try:
        return await store.changes_since(folder_id, since)
    except NotFound:
        return None


async def _catch_up(store: Store, folder_id: int, index: MessageIndex, since: int) -> tuple[int, int] | None:
    found = await _read_changes(store, folder_id, since)
    return None if found is None else _apply(index, since, found)


def _apply(index: MessageIndex, since: int, found: FolderChanges, check: bool = False) -> tuple[int, int] | None:
    """Apply what changed after ``since`` to ``index`` silently (it is not
    anyone's view yet); returns the new MODSEQ mark and the number of changes
    applied, None when the changes do not fit (then the caller loads the
    folder afresh). ``check``: also compare the result with the folder's
    message count and UIDNEXT (an index from a file)."""
    highest = max(since, found.highestmodseq)  # read first: the changes hold at least this
    changed: list[MessageMeta] = found.changed
    expunged = set(found.expunged)
    if expunged:
        index.remove_all(expunged)
    try:
        for meta in changed:  # ascending UID: updates, then new messages
            if meta.uid not in expunged:
                index[meta.uid] = meta
    except ValueError:  # a UID below the newest that the index lacks: not ours to guess
        return None
    if check and (since > found.highestmodseq or found.messages != len(index)
                  or (index.uids and index.uids[-1] >= found.uidnext)):
        return None  # not this folder's history (or the store is older than the file: a restored backup)
    return max([highest, *(m.modseq for m in changed)]), len(changed) + len(expunged)


# One per process: sessions of every connection share it.
folder_index_cache = FolderIndexCache()
