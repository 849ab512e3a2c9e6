"""SQLite: topology (servers, mailbox databases) and mailbox import/export.

Plain functions f(db, ...) for the worker thread (as sqlite_folders), and
the SqliteTopology mixin that SqliteStore inherits its async methods from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._common import SEEN, DELETED, canon_flags, flags_text
from .errors import AlreadyExists, NotFound
from .models import Account, Folder, MailboxDatabase, MailServer, Message
from .sqlite_folders import _drop_folders, get_account_by_id
from .sqlite_messages import _stamp
from .sqlite_worker import Db, DbThread

_SERVER_COLS = "name, site, roles, imap_host, imap_port, pop_host, pop_port"
_DB_COLS = "name, url, blob_dir, server"


def _server(row: Any) -> MailServer | None:
    if row is None:
        return None
    name, site, roles, ih, ip, ph, pp = row
    return MailServer(name, site, tuple(r for r in roles.split(",") if r), (ih, ip), (ph, pp))


def _database(row: Any) -> MailboxDatabase | None:
    return None if row is None else MailboxDatabase(*row)


# --- servers and databases ---------------------------------------------------
def put_server(db: Db, s: MailServer) -> None:
    with db.write() as c:
        c.execute(
            f"INSERT OR REPLACE INTO servers ({_SERVER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (s.name, s.site, ",".join(s.roles), s.imap_backend[0], s.imap_backend[1],
             s.pop_backend[0], s.pop_backend[1]),
        )


def get_server(db: Db, name: str) -> MailServer | None:
    return _server(db.c.execute(f"SELECT {_SERVER_COLS} FROM servers WHERE name = ?",
                                (name,)).fetchone())


def list_servers(db: Db) -> list[MailServer]:
    rows = db.c.execute(f"SELECT {_SERVER_COLS} FROM servers ORDER BY name").fetchall()
    return [s for s in map(_server, rows) if s is not None]


def create_database(db: Db, d: MailboxDatabase) -> MailboxDatabase:
    with db.write() as c:
        if c.execute("SELECT 1 FROM mailbox_databases WHERE name = ?", (d.name,)).fetchone():
            raise AlreadyExists(d.name)
        c.execute(f"INSERT INTO mailbox_databases ({_DB_COLS}) VALUES (?, ?, ?, ?)",
                  (d.name, d.url, d.blob_dir, d.server))
    return d


def get_database(db: Db, name: str) -> MailboxDatabase | None:
    return _database(db.c.execute(f"SELECT {_DB_COLS} FROM mailbox_databases WHERE name = ?",
                                  (name,)).fetchone())


def list_databases(db: Db) -> list[MailboxDatabase]:
    rows = db.c.execute(f"SELECT {_DB_COLS} FROM mailbox_databases ORDER BY name").fetchall()
    return [d for d in map(_database, rows) if d is not None]


def mount_database(db: Db, name: str, server: str) -> MailboxDatabase:
    with db.write() as c:
        if c.execute("UPDATE mailbox_databases SET server = ? WHERE name = ?",
                     (server, name)).rowcount == 0:
            raise NotFound(f"database {name}")
        found = get_database(db, name)
    assert found is not None
    return found


# --- mailbox import / export -------------------------------------------------
def import_account(db: Db, a: Account) -> Account:
    address = a.address.lower()
    with db.write() as c:
        have = get_account_by_id(db, a.id)
        if have is not None:
            if have.address != address:
                raise AlreadyExists(f"account id {a.id} is {have.address}")
            return have
        if c.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone():
            raise AlreadyExists(address)
        c.execute(
            "INSERT INTO accounts (id, address, password_hash, role, pop_enabled, imap_enabled,"
            " home_server, quota_bytes, overrides, database) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, address, a.password_hash, a.role.value, int(a.pop_enabled), int(a.imap_enabled),
             a.home_server, a.quota_bytes, json.dumps(dict(a.overrides), sort_keys=True), a.database),
        )
        found = get_account_by_id(db, a.id)
    assert found is not None
    return found


def import_folder(db: Db, account_id: int, f: Folder,
                  expunged: Sequence[tuple[int, int]]) -> Folder:
    with db.write() as c:
        if not c.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone():
            raise NotFound(f"account {account_id}")
        old = [r[0] for r in c.execute("SELECT id FROM folders WHERE account_id = ? AND name = ?",
                                       (account_id, f.name))]
        _drop_folders(db, old)
        cur = c.execute(
            "INSERT INTO folders (account_id, name, uidvalidity, uidnext, highestmodseq, special_use)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, f.name, f.uidvalidity, f.uidnext, f.highestmodseq, f.special_use),
        )
        fid = int(cur.lastrowid or 0)
        c.executemany("INSERT INTO expunged VALUES (?, ?, ?)",
                      [(fid, uid, modseq) for uid, modseq in expunged])
        # Never hand out this UIDVALIDITY (or a smaller one) again here.
        c.execute(
            "INSERT INTO counters (name, value) VALUES ('uidvalidity', ?) ON CONFLICT (name)"
            " DO UPDATE SET value = max(value, excluded.value)", (f.uidvalidity,),
        )
        db.log_change(fid)
    return Folder(fid, account_id, f.name, f.uidvalidity, f.uidnext, f.highestmodseq, f.special_use)


def import_messages(db: Db, folder_id: int, messages: Sequence[Message]) -> None:
    rows, sums = [], []
    unseen = deleted = size = 0
    for m in messages:
        fl = canon_flags(m.flags)
        rows.append((folder_id, m.uid, m.modseq, flags_text(fl), _stamp(m.internaldate), m.size,
                     m.blob_id))
        sums.append((folder_id, m.uid, bytes(m.summary)))
        unseen += SEEN not in fl
        deleted += DELETED in fl
        size += m.size
    with db.write() as c:
        if not c.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,)).fetchone():
            raise NotFound(f"folder {folder_id}")
        if not messages:
            return
        c.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        c.executemany("INSERT INTO summaries VALUES (?, ?, ?)", sums)
        c.execute(
            "UPDATE folders SET uidnext = max(uidnext, ?), highestmodseq = max(highestmodseq, ?),"
            " n_messages = n_messages + ?, n_unseen = n_unseen + ?, n_deleted = n_deleted + ?,"
            " total_size = total_size + ? WHERE id = ?",
            (max(m.uid for m in messages) + 1, max(m.modseq for m in messages), len(messages),
             unseen, deleted, size, folder_id),
        )
        db.log_change(folder_id)


def expunge_log(db: Db, folder_id: int) -> list[tuple[int, int]]:
    with db.read() as c:
        if not c.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,)).fetchone():
            raise NotFound(f"folder {folder_id}")
        return [(u, m) for u, m in c.execute(
            "SELECT uid, modseq FROM expunged WHERE folder_id = ? ORDER BY uid", (folder_id,))]


def delete_mailbox_data(db: Db, account_id: int) -> None:
    with db.write() as c:
        fids = [r[0] for r in c.execute("SELECT id FROM folders WHERE account_id = ?", (account_id,))]
        _drop_folders(db, fids)
        c.execute("DELETE FROM subscriptions WHERE account_id = ?", (account_id,))


class SqliteTopology:
    """The async side, mixed into SqliteStore (which provides _db)."""

    _db: DbThread

    async def put_server(self, server: MailServer) -> None:
        await self._db.run(put_server, server)

    async def get_server(self, name: str) -> MailServer | None:
        return await self._db.run(get_server, name)

    async def list_servers(self) -> list[MailServer]:
        return await self._db.run(list_servers)

    async def create_database(self, database: MailboxDatabase) -> MailboxDatabase:
        return await self._db.run(create_database, database)

    async def get_database(self, name: str) -> MailboxDatabase | None:
        return await self._db.run(get_database, name)

    async def list_databases(self) -> list[MailboxDatabase]:
        return await self._db.run(list_databases)

    async def mount_database(self, name: str, server: str) -> MailboxDatabase:
        return await self._db.run(mount_database, name, server)

    async def import_account(self, account: Account) -> Account:
        return await self._db.run(import_account, account)

    async def import_folder(self, account_id: int, folder: Folder,
                            expunged: Sequence[tuple[int, int]] = ()) -> Folder:
        return await self._db.run(import_folder, account_id, folder, list(expunged))

    async def import_messages(self, folder_id: int, messages: Sequence[Message]) -> None:
        await self._db.run(import_messages, folder_id, list(messages))

    async def expunge_log(self, folder_id: int) -> list[tuple[int, int]]:
        return await self._db.run(expunge_log, folder_id)

    async def delete_mailbox_data(self, account_id: int) -> None:
        await self._db.run(delete_mailbox_data, account_id)
