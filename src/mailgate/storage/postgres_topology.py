"""PostgreSQL: topology (servers, mailbox databases) and mailbox import/export.

Readers f(conn, ...), writers f(tx, ...) as in postgres_folders, and the
PostgresTopology mixin that PostgresStore inherits its async methods from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Any

from ._common import DELETED, SEEN, canon_flags, flags_text
from .errors import AlreadyExists, NotFound
from .models import Account, Folder, MailboxDatabase, MailServer, Message
from .postgres_db import PgDb, Tx
from .postgres_folders import get_account_by_id

_SERVER_COLS = "name, site, roles, imap_host, imap_port, pop_host, pop_port"
_DB_COLS = "name, url, blob_dir, server"


def _server(row: Any) -> MailServer | None:
    if row is None:
        return None
    name, site, roles, ih, ip, ph, pp = row
    return MailServer(name, site, tuple(roles), (ih, ip), (ph, pp))


def _database(row: Any) -> MailboxDatabase | None:
    return None if row is None else MailboxDatabase(*row)


# --- servers and databases ---------------------------------------------------
async def put_server(tx: Tx, s: MailServer) -> None:
    await tx.c.execute(
        f"INSERT INTO servers ({_SERVER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (name) DO UPDATE SET site = excluded.site, roles = excluded.roles,"
        " imap_host = excluded.imap_host, imap_port = excluded.imap_port,"
        " pop_host = excluded.pop_host, pop_port = excluded.pop_port",
        s.name, s.site, list(s.roles), s.imap_backend[0], s.imap_backend[1],
        s.pop_backend[0], s.pop_backend[1],
    )


async def get_server(conn: Any, name: str) -> MailServer | None:
    return _server(await conn.fetchrow(f"SELECT {_SERVER_COLS} FROM servers WHERE name = $1", name))


async def list_servers(conn: Any) -> list[MailServer]:
    rows = await conn.fetch(f'SELECT {_SERVER_COLS} FROM servers ORDER BY name COLLATE "C"')
    return [s for s in map(_server, rows) if s is not None]


async def create_database(tx: Tx, d: MailboxDatabase) -> MailboxDatabase:
    done = await tx.c.fetchval(
        f"INSERT INTO mailbox_databases ({_DB_COLS}) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (name) DO NOTHING RETURNING name", d.name, d.url, d.blob_dir, d.server,
    )
    if done is None:
        raise AlreadyExists(d.name)
    return d


async def get_database(conn: Any, name: str) -> MailboxDatabase | None:
    return _database(await conn.fetchrow(
        f"SELECT {_DB_COLS} FROM mailbox_databases WHERE name = $1", name))


async def list_databases(conn: Any) -> list[MailboxDatabase]:
    rows = await conn.fetch(f'SELECT {_DB_COLS} FROM mailbox_databases ORDER BY name COLLATE "C"')
    return [d for d in map(_database, rows) if d is not None]


async def mount_database(tx: Tx, name: str, server: str) -> MailboxDatabase:
    row = await tx.c.fetchrow(
        f"UPDATE mailbox_databases SET server = $2 WHERE name = $1 RETURNING {_DB_COLS}",
        name, server)
    found = _database(row)
    if found is None:
        raise NotFound(f"database {name}")
    return found


# --- mailbox import / export -------------------------------------------------
async def import_account(tx: Tx, a: Account) -> Account:
    address = a.address.lower()
    have = await get_account_by_id(tx.c, a.id)
    if have is not None:
        if have.address != address:
            raise AlreadyExists(f"account id {a.id} is {have.address}")
        return have
    # The directory's id, not this database's identity sequence: every
    # database keys a mailbox by the directory's account id.
    await tx.c.execute(
        "INSERT INTO accounts (id, address, password_hash, role, pop_enabled, imap_enabled,"
        " home_server, quota_bytes, overrides, database) OVERRIDING SYSTEM VALUE"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
        a.id, address, a.password_hash, a.role.value, a.pop_enabled, a.imap_enabled,
        a.home_server, a.quota_bytes, json.dumps(dict(a.overrides), sort_keys=True), a.database,
    )
    # Keep the sequence above imported ids, should this store ever create accounts.
    await tx.c.execute(
        "SELECT setval(pg_get_serial_sequence('accounts', 'id'),"
        " (SELECT max(id) FROM accounts))")
    found = await get_account_by_id(tx.c, a.id)
    assert found is not None
    return found


async def import_folder(tx: Tx, account_id: int, f: Folder,
                        expunged: list[tuple[int, int]]) -> Folder:
    if not await tx.c.fetchval("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)", account_id):
        raise NotFound(f"account {account_id}")
    # Messages, summaries and the expunge log of a replaced folder cascade.
    old = [r[0] for r in await tx.c.fetch(
        "DELETE FROM folders WHERE account_id = $1 AND name = $2 RETURNING id", account_id, f.name)]
    fid = await tx.c.fetchval(
        "INSERT INTO folders (account_id, name, uidvalidity, uidnext, highestmodseq, special_use)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        account_id, f.name, f.uidvalidity, f.uidnext, f.highestmodseq, f.special_use,
    )
    if expunged:
        await tx.c.execute(
            "INSERT INTO expunged (folder_id, uid, modseq)"
            " SELECT $1, u, m FROM unnest($2::bigint[], $3::bigint[]) AS t(u, m)",
            fid, [u for u, _ in expunged], [m for _, m in expunged],
        )
    # Never hand out this UIDVALIDITY (or a smaller one) again here.
    await tx.c.execute(
        "UPDATE counters SET value = GREATEST(value, $1) WHERE name = 'uidvalidity'", f.uidvalidity)
    tx.log_change(*old, fid)
    return Folder(fid, account_id, f.name, f.uidvalidity, f.uidnext, f.highestmodseq, f.special_use)


async def import_messages(tx: Tx, folder_id: int, messages: list[Message]) -> None:
    if await tx.c.fetchval("SELECT id FROM folders WHERE id = $1 FOR UPDATE", folder_id) is None:
        raise NotFound(f"folder {folder_id}")
    if not messages:
        return
    rows, sums = [], []
    unseen = deleted = size = 0
    for m in messages:
        fl = canon_flags(m.flags)
        when = m.internaldate if m.internaldate.tzinfo else m.internaldate.replace(tzinfo=timezone.utc)
        offset = when.utcoffset() or timedelta(0)
        rows.append((folder_id, m.uid, m.modseq, flags_text(fl), when, int(offset.total_seconds()),
                     m.size, m.blob_id))
        sums.append((folder_id, m.uid, bytes(m.summary)))
        unseen += SEEN not in fl
        deleted += DELETED in fl
        size += m.size
    await tx.c.executemany(
        "INSERT INTO messages (folder_id, uid, modseq, flags, internaldate, tz_offset, size, blob_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows)
    await tx.c.executemany("INSERT INTO summaries (folder_id, uid, data) VALUES ($1, $2, $3)", sums)
    await tx.c.execute(
        "UPDATE folders SET uidnext = GREATEST(uidnext, $2), highestmodseq = GREATEST(highestmodseq, $3),"
        " n_messages = n_messages + $4, n_unseen = n_unseen + $5, n_deleted = n_deleted + $6,"
        " total_size = total_size + $7 WHERE id = $1",
        folder_id, max(m.uid for m in messages) + 1, max(m.modseq for m in messages), len(messages),
        unseen, deleted, size,
    )
    tx.log_change(folder_id)


async def expunge_log(conn: Any, folder_id: int) -> list[tuple[int, int]]:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM folders WHERE id = $1)", folder_id):
        raise NotFound(f"folder {folder_id}")
    rows = await conn.fetch(
        "SELECT uid, modseq FROM expunged WHERE folder_id = $1 ORDER BY uid", folder_id)
    return [(r[0], r[1]) for r in rows]


async def delete_mailbox_data(tx: Tx, account_id: int) -> None:
    gone = [r[0] for r in await tx.c.fetch(
        "DELETE FROM folders WHERE account_id = $1 RETURNING id", account_id)]
    await tx.c.execute("DELETE FROM subscriptions WHERE account_id = $1", account_id)
    tx.log_change(*gone)


class PostgresTopology:
    """The async side, mixed into PostgresStore (which provides _db)."""

    _db: PgDb

    async def put_server(self, server: MailServer) -> None:
        await self._db.write(put_server, server)

    async def get_server(self, name: str) -> MailServer | None:
        return await self._db.read(get_server, name)

    async def list_servers(self) -> list[MailServer]:
        return await self._db.read(list_servers)

    async def create_database(self, database: MailboxDatabase) -> MailboxDatabase:
        return await self._db.write(create_database, database)

    async def get_database(self, name: str) -> MailboxDatabase | None:
        return await self._db.read(get_database, name)

    async def list_databases(self) -> list[MailboxDatabase]:
        return await self._db.read(list_databases)

    async def mount_database(self, name: str, server: str) -> MailboxDatabase:
        return await self._db.write(mount_database, name, server)

    async def import_account(self, account: Account) -> Account:
        return await self._db.write(import_account, account)

    async def import_folder(self, account_id: int, folder: Folder,
                            expunged: Sequence[tuple[int, int]] = ()) -> Folder:
        return await self._db.write(import_folder, account_id, folder, list(expunged))

    async def import_messages(self, folder_id: int, messages: Sequence[Message]) -> None:
        await self._db.write(import_messages, folder_id, list(messages))

    async def expunge_log(self, folder_id: int) -> list[tuple[int, int]]:
        return await self._db.read(expunge_log, folder_id)

    async def delete_mailbox_data(self, account_id: int) -> None:
        await self._db.write(delete_mailbox_data, account_id)
