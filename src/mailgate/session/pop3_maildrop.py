"""The POP3 maildrop: the INBOX as one session saw it at login, plus the
in-process registry that gives a TRANSACTION-state session exclusive use of
an account's maildrop (RFC 1939 section 4: "exclusive-access lock")."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..storage.base import Store

INBOX = "INBOX"
_BATCH = 500  # records fetched per get_messages call at login


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the maildrop; numbers are positions in Maildrop.entries + 1."""

    uid: int
    size: int
    blob_id: str
    unique_id: str  # UIDL: stable across sessions, restarts and IMAP activity


def unique_id(uidvalidity: int, uid: int) -> str:
    """RFC 1939 UIDL: 1-70 characters in 0x21-0x7E, never reused. A folder's
    UIDVALIDITY is never reused for its name and UIDs never within it."""
    return f"{uidvalidity}.{uid}"


@dataclass(slots=True)
class Maildrop:
    folder_id: int | None  # None: the account has no INBOX (an empty maildrop)
    entries: tuple[Entry, ...] = ()
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE

    def get(self, number: int) -> Entry | None:
        """A message that exists and is not marked deleted."""
        if 1 <= number <= len(self.entries) and number not in self.deleted:
            return self.entries[number - 1]
        return None

    def exists(self, number: int) -> bool:
        return 1 <= number <= len(self.entries)

    def live(self) -> list[tuple[int, Entry]]:
        return [(n, e) for n, e in enumerate(self.entries, 1) if n not in self.deleted]

    def totals(self) -> tuple[int, int]:
        live = self.live()
        return len(live), sum(e.size for _, e in live)

    def deleted_uids(self) -> list[int]:
        return sorted(self.entries[n - 1].uid for n in self.deleted)


async def load_maildrop(store: Store, account_id: int, descending: bool) -> Maildrop:
    """Snapshot the INBOX: uids, exact sizes and blob ids, oldest first
    (message 1 = oldest) unless descending."""
    folder = await store.get_folder(account_id, INBOX)
    if folder is None:
        return Maildrop(None)
    uids = [meta.uid for meta in await store.message_index(folder.id)]
    entries: list[Entry] = []
    for start in range(0, len(uids), _BATCH):
        for message in await store.get_messages(folder.id, uids[start : start + _BATCH]):
            entries.append(
                Entry(message.uid, message.size, message.blob_id,
                      unique_id(folder.uidvalidity, message.uid))
            )
    entries.sort(key=lambda e: e.uid, reverse=descending)
    return Maildrop(folder.id, tuple(entries))


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
