"""MemoryStore's topology (servers, mailbox databases) and mailbox import /
export: a mixin over MemoryStore's dicts, kept apart so memory.py stays
small. Like the rest of MemoryStore, no method awaits mid-change."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import timezone
from typing import TYPE_CHECKING, Any

from ._common import canon_flags
from .errors import AlreadyExists, NotFound
from .models import Account, Folder, MailboxDatabase, MailServer, Message

if TYPE_CHECKING:
    from .memory import _Folder


class MemoryTopology:
    # Provided by MemoryStore (declared for the type checker).
    _accounts: dict[int, Account]
    _by_address: dict[str, int]
    _folders: dict[int, _Folder]
    _subs: dict[int, set[str]]
    _ids: Any
    _uidvalidity: int
    _listeners: Any

    def __init__(self) -> None:
        self._servers: dict[str, MailServer] = {}
        self._databases: dict[str, MailboxDatabase] = {}

    # --- servers and databases -----------------------------------------------
    async def put_server(self, server: MailServer) -> None:
        self._servers[server.name] = server

    async def get_server(self, name: str) -> MailServer | None:
        return self._servers.get(name)

    async def list_servers(self) -> list[MailServer]:
        return [self._servers[n] for n in sorted(self._servers)]

    async def create_database(self, database: MailboxDatabase) -> MailboxDatabase:
        if database.name in self._databases:
            raise AlreadyExists(database.name)
        self._databases[database.name] = database
        return database

    async def get_database(self, name: str) -> MailboxDatabase | None:
        return self._databases.get(name)

    async def list_databases(self) -> list[MailboxDatabase]:
        return [self._databases[n] for n in sorted(self._databases)]

    async def mount_database(self, name: str, server: str) -> MailboxDatabase:
        db = self._databases.get(name)
        if db is None:
            raise NotFound(f"database {name}")
        db = dataclasses.replace(db, server=server)
        self._databases[name] = db
        return db

    # --- mailbox import / export ---------------------------------------------
    def _take_id(self, used: int) -> None:
        """Keep the shared id counter above an id chosen elsewhere."""
        nxt = next(self._ids)
        self._ids = itertools.count(max(nxt, used + 1))

    async def import_account(self, account: Account) -> Account:
        address = account.address.lower()
        have = self._accounts.get(account.id)
        if have is not None:
            if have.address != address:
                raise AlreadyExists(f"account id {account.id} is {have.address}")
            return have
        if address in self._by_address:
            raise AlreadyExists(address)
        acc = dataclasses.replace(account, address=address, overrides=dict(account.overrides))
        self._accounts[acc.id] = acc
        self._by_address[address] = acc.id
        self._take_id(acc.id)
        return acc

    async def import_folder(self, account_id: int, folder: Folder,
                            expunged: Sequence[tuple[int, int]] = ()) -> Folder:
        from .memory import _Folder

        if account_id not in self._accounts:
            raise NotFound(f"account {account_id}")
        gone = [f.id for f in self._folders.values()
                if f.account_id == account_id and f.name == folder.name]
        for fid in gone:
            del self._folders[fid]
        f = _Folder(next(self._ids), account_id, folder.name, folder.uidvalidity,
                    folder.uidnext, folder.highestmodseq, folder.special_use)
        f.expunged = {uid: modseq for uid, modseq in expunged}
        self._folders[f.id] = f
        self._uidvalidity = max(self._uidvalidity, folder.uidvalidity)
        self._listeners.fire([*gone, f.id])
        return f.public()

    async def import_messages(self, folder_id: int, messages: Sequence[Message]) -> None:
        from .memory import _Msg

        f = self._folders.get(folder_id)
        if f is None:
            raise NotFound(f"folder {folder_id}")
        clash = [m.uid for m in messages if m.uid in f.msgs]
        if clash or len({m.uid for m in messages}) != len(messages):
            raise AlreadyExists(f"folder {folder_id}: UID {clash[0] if clash else '?'}")
        for m in messages:
            when = m.internaldate if m.internaldate.tzinfo else m.internaldate.replace(tzinfo=timezone.utc)
            f.msgs[m.uid] = _Msg(m.uid, m.modseq, canon_flags(m.flags), when, m.size, m.blob_id,
                                 bytes(m.summary))
            f.uidnext = max(f.uidnext, m.uid + 1)
            f.highestmodseq = max(f.highestmodseq, m.modseq)
        # Sessions rely on ascending-UID order of the dict.
        f.msgs = dict(sorted(f.msgs.items()))
        if messages:
            self._listeners.fire([folder_id])

    async def expunge_log(self, folder_id: int) -> list[tuple[int, int]]:
        f = self._folders.get(folder_id)
        if f is None:
            raise NotFound(f"folder {folder_id}")
        return sorted(f.expunged.items())

    async def delete_mailbox_data(self, account_id: int) -> None:
        gone = [f.id for f in self._folders.values() if f.account_id == account_id]
        for fid in gone:
            del self._folders[fid]
        self._subs.pop(account_id, None)
        if gone:
            self._listeners.fire(gone)
