"""The POP3 maildrop: the INBOX as one session saw it at login, plus the
in-process registry that gives a TRANSACTION-state session exclusive use of
an account's maildrop (RFC 1939 section 4: "exclusive-access lock")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ..storage.base import Store

INBOX = "INBOX"
LOAD_BATCH = 500  # records fetched per get_messages call at login (bounds memory)
# Load by UID ranges up to UIDNEXT (no index read first) while the folder has
# used at most this many UIDs per message it holds, i.e. few were expunged.
DENSE_UIDS_PER_MESSAGE = 2


class Entry(NamedTuple):
    """One message of the maildrop, as get() hands it out."""

    uid: int
    size: int
    blob_id: str
    uidvalidity: int

    @property
    def unique_id(self) -> str:
        """UIDL: stable across sessions, restarts and IMAP activity (made
        only when asked: RETR, the hot path, never needs it)."""
        return unique_id(self.uidvalidity, self.uid)


def unique_id(uidvalidity: int, uid: int) -> str:
    """RFC 1939 UIDL: 1-70 characters in 0x21-0x7E, never reused. A folder's
    UIDVALIDITY is never reused for its name and UIDs never within it."""
    return f"{uidvalidity}.{uid}"


@dataclass(slots=True)
class Maildrop:
    """Message n is position n - 1 of the columns. Columns, not one object
    per message: a maildrop of 5,000 messages is three lists for the garbage
    collector to track instead of 5,000 records (each login would otherwise
    push the server towards a full collection of its whole heap)."""

    folder_id: int | None  # None: the account has no INBOX (an empty maildrop)
    uidvalidity: int = 0
    uids: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    blob_ids: list[str] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE

    def _entry(self, number: int) -> Entry:
        uid = self.uids[number - 1]
        return Entry(uid, self.sizes[number - 1], self.blob_ids[number - 1], self.uidvalidity)

    def get(self, number: int) -> Entry | None:
        """A message that exists and is not marked deleted."""
        if 1 <= number <= len(self.uids) and number not in self.deleted:
            return self._entry(number)
        return None

    def exists(self, number: int) -> bool:
        return 1 <= number <= len(self.uids)

    def live_sizes(self) -> list[tuple[int, int]]:
        """(number, size) of each live message: LIST, straight off the columns."""
        deleted = self.deleted
        return [(n, size) for n, size in enumerate(self.sizes, 1) if n not in deleted]

    def live_unique_ids(self) -> list[tuple[int, str]]:
        """(number, unique id) of each live message: UIDL."""
        deleted, validity = self.deleted, self.uidvalidity
        return [(n, unique_id(validity, uid)) for n, uid in enumerate(self.uids, 1) if n not in deleted]

    def totals(self) -> tuple[int, int]:
        sizes = self.sizes
        return len(sizes) - len(self.deleted), sum(sizes) - sum(sizes[n - 1] for n in self.deleted)

    def deleted_uids(self) -> list[int]:
        return sorted(self.uids[n - 1] for n in self.deleted)


async def load_maildrop(store: Store, account_id: int, descending: bool) -> Maildrop:
    """Snapshot the INBOX: uids, exact sizes and blob ids, oldest first
    (message 1 = oldest) unless descending."""
    folder = await store.get_folder(account_id, INBOX)
    if folder is None:
        return Maildrop(None)
    drop = Maildrop(folder.id, folder.uidvalidity)
    uids, sizes, blob_ids = drop.uids, drop.sizes, drop.blob_ids
    for batch in await _uid_batches(store, folder.id):
        # Sizes and blob ids only: no summaries, no Message per row.
        for uid, size, _, blob_id in await store.get_summaries(folder.id, batch, with_summary=False):
            uids.append(uid)
            sizes.append(size)
            blob_ids.append(blob_id)
    if descending:
        uids.reverse()
        sizes.reverse()
        blob_ids.reverse()
    return drop


async def _uid_batches(store: Store, folder_id: int) -> list[Sequence[int]]:
    """UID batches that cover the folder. get_messages returns only the UIDs
    that exist, so a folder with few expunged UIDs is read by plain ranges
    below its UIDNEXT (which halves the load: no index of every message's
    flags first); a sparse one by the UIDs its index lists."""
    status = await store.folder_status(folder_id)
    uidnext = status.uidnext
    if uidnext - 1 <= DENSE_UIDS_PER_MESSAGE * status.messages:
        return [range(start, min(start + LOAD_BATCH, uidnext)) for start in range(1, uidnext, LOAD_BATCH)]
    uids = [meta.uid for meta in await store.message_index(folder_id)]
    return [uids[start : start + LOAD_BATCH] for start in range(0, len(uids), LOAD_BATCH)]


class MaildropLocks:
    """Which accounts have a session in TRANSACTION state, per store."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: set[tuple[int, int]] = set()

    def acquire(self, store: Store, account_id: int) -> bool:
        key = (id(store), account_id)
        if key in self._held:
            return False
        self._held.add(key)
        return True

    def release(self, store: Store, account_id: int) -> None:
        self._held.discard((id(store), account_id))

    def held(self, store: Store, account_id: int) -> bool:
        return (id(store), account_id) in self._held


LOCKS = MaildropLocks()
