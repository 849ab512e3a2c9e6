"""PostgreSQL operations on accounts, settings, folders and subscriptions.

Readers are f(conn, ...), writers f(tx, ...) run by PgDb.write inside one
transaction (see postgres_db). Pre-checks give the precise storage error;
the constraints behind them still catch races with other servers (and
postgres_db translates those into the same errors).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ._common import is_inferior_or_self, next_uidvalidity
from .errors import AlreadyExists, NotFound, StorageError
from .models import Account, Folder, Role
from .postgres_db import Tx

_ACCOUNT_COLS = ("id, address, password_hash, role, pop_enabled, imap_enabled,"
                 " home_server, quota_bytes, overrides, database")
_FOLDER_COLS = "id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use"
_UPDATABLE = {f.name for f in dataclasses.fields(Account)} - {"id", "address"}


def _account(row: Any) -> Account | None:
    if row is None:
        return None
    aid, address, pw, role, pop, imap, home, quota, overrides, database = row
    return Account(aid, address, pw, Role(role), pop, imap, home, quota, json.loads(overrides),
                   database)


def _folder(row: Any) -> Folder | None:
    return None if row is None else Folder(*row)


# --- accounts --------------------------------------------------------------
async def create_account(tx: Tx, address: str, password_hash: str, role: Role,
                         home: str) -> Account:
    address = address.lower()
    aid = await tx.c.fetchval(
        "INSERT INTO accounts (address, password_hash, role, home_server)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (address) DO NOTHING RETURNING id",
        address, password_hash, Role(role).value, home,
    )
    if aid is None:
        raise AlreadyExists(address)
    return Account(aid, address, password_hash, Role(role), home_server=home)


async def get_account(conn: Any, address: str) -> Account | None:
    return _account(await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE address = $1", address.lower()
    ))


async def get_account_by_id(conn: Any, account_id: int) -> Account | None:
    return _account(await conn.fetchrow(
        f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = $1", account_id
    ))


async def list_accounts(conn: Any) -> list[Account]:
    # COLLATE "C": byte order, as SQLite and MemoryStore sort, whatever the
    # database's locale.
    rows = await conn.fetch(
        f'SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY address COLLATE "C"'
    )
    return [a for a in map(_account, rows) if a is not None]


async def update_account(tx: Tx, address: str, fields: dict[str, Any]) -> Account:
    bad = set(fields) - _UPDATABLE
    if bad:
        raise ValueError(f"unknown or read-only account fields: {sorted(bad)}")
    values: dict[str, Any] = dict(fields)
    if "role" in values:
        values["role"] = Role(values["role"]).value
    if "overrides" in values:
        values["overrides"] = json.dumps(dict(values["overrides"]), sort_keys=True)
    for flag in ("pop_enabled", "imap_enabled"):
        if flag in values:
            values[flag] = bool(values[flag])
    if not values:
        acc = await get_account(tx.c, address)
    else:
        # Keys are checked against _UPDATABLE above, so they are safe to splice.
        sets = ", ".join(
            f"{k} = ${i}" + ("::jsonb" if k == "overrides" else "")
            for i, k in enumerate(values, 2)
        )
        acc = _account(await tx.c.fetchrow(
            f"UPDATE accounts SET {sets} WHERE address = $1 RETURNING {_ACCOUNT_COLS}",
            address.lower(), *values.values(),
        ))
    if acc is None:
        raise NotFound(address)
    return acc


async def delete_account(tx: Tx, address: str) -> None:
    # Lock the account first: a folder being created for it (whose foreign
    # key check shares that lock) is then either in the list below or never
    # committed, so every dropped folder is announced.
    aid = await tx.c.fetchval(
        "SELECT id FROM accounts WHERE address = $1 FOR UPDATE", address.lower()
    )
    if aid is None:
        raise NotFound(address)
    fids = [r[0] for r in await tx.c.fetch("SELECT id FROM folders WHERE account_id = $1", aid)]
    await tx.c.execute("DELETE FROM accounts WHERE id = $1", aid)  # cascades
    tx.log_change(*fids)


# --- settings --------------------------------------------------------------
async def get_settings(conn: Any, scope: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT key, value FROM settings WHERE scope = $1", scope)
    return {k: v for k, v in rows}


async def get_setting(conn: Any, scope: str, key: str) -> str | None:
    return await conn.fetchval("SELECT value FROM settings WHERE scope = $1 AND key = $2", scope, key)


async def put_settings(tx: Tx, scope: str, values: dict[str, str]) -> None:
    if not values:
        return
    await tx.c.execute(
        "INSERT INTO settings (scope, key, value)"
        " SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)"
        " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
        scope, list(values), [str(v) for v in values.values()],
    )


# --- folders ---------------------------------------------------------------
async def _new_uidvalidities(tx: Tx, n: int) -> list[int]:
    """n fresh UIDVALIDITY values. The counter row stays locked until COMMIT,
    so servers creating folders at once draw strictly increasing values."""
    last = await tx.c.fetchval(
        "SELECT value FROM counters WHERE name = 'uidvalidity' FOR UPDATE"
    )
    out = []
    for _ in range(n):
        last = next_uidvalidity(last)
        out.append(last)
    await tx.c.execute("UPDATE counters SET value = $1 WHERE name = 'uidvalidity'", last)
    return out


async def create_folder(tx: Tx, account_id: int, name: str,
                        special_use: str | None) -> Folder:
    has_account, taken = await tx.c.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1),"
        " EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND name = $2)",
        account_id, name,
    )
    if not has_account:
        raise NotFound(f"account {account_id}")
    if taken:
        raise AlreadyExists(name)
    (uidv,) = await _new_uidvalidities(tx, 1)
    fid = await tx.c.fetchval(
        "INSERT INTO folders (account_id, name, uidvalidity, special_use)"
        " VALUES ($1, $2, $3, $4) RETURNING id", account_id, name, uidv, special_use,
    )
    tx.log_change(fid)
    return Folder(fid, account_id, name, uidv, 1, 1, special_use)


async def get_folder(conn: Any, account_id: int, name: str) -> Folder | None:
    return _folder(await conn.fetchrow(
        f"SELECT {_FOLDER_COLS} FROM folders WHERE account_id = $1 AND name = $2",
        account_id, name,
    ))


async def get_folder_by_id(conn: Any, folder_id: int) -> Folder | None:
    return _folder(await conn.fetchrow(
        f"SELECT {_FOLDER_COLS} FROM folders WHERE id = $1", folder_id
    ))


async def list_folders(conn: Any, account_id: int) -> list[Folder]:
    rows = await conn.fetch(
        f'SELECT {_FOLDER_COLS} FROM folders WHERE account_id = $1 ORDER BY name COLLATE "C"',
        account_id,
    )
    return [Folder(*r) for r in rows]


async def rename_folder(tx: Tx, account_id: int, old: str, new: str) -> None:
    # Row locks in id order, the order every multi-folder write takes them
    # in, so a rename and a MOVE can wait for each other but never deadlock.
    moving = await tx.c.fetch(
        "SELECT id, name FROM folders WHERE account_id = $1"
        " AND (name = $2 OR left(name, $3) = $4) ORDER BY id FOR UPDATE",
        account_id, old, len(old) + 1, old + "/",
    )
    if not any(name == old for _, name in moving):
        raise NotFound(old)
    if is_inferior_or_self(new, old):
        raise StorageError(f"cannot rename {old!r} into itself")
    ids = [fid for fid, _ in moving]
    names = [new + name[len(old):] for _, name in moving]
    clash = await tx.c.fetch(
        "SELECT name FROM folders WHERE account_id = $1 AND name = ANY($2::text[])"
        " AND NOT id = ANY($3::bigint[]) ORDER BY name COLLATE \"C\" LIMIT 1",
        account_id, names, ids,
    )
    if clash:
        raise AlreadyExists(clash[0][0])
    uidvs = await _new_uidvalidities(tx, len(ids))
    # One statement: the deferrable unique constraint is checked at its end,
    # so a folder may take a name another moving folder is leaving.
    await tx.c.execute(
        "UPDATE folders f SET name = t.name, uidvalidity = t.uidv"
        " FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS t(id, name, uidv)"
        " WHERE f.id = t.id", ids, names, uidvs,
    )
    tx.log_change(*ids)


async def delete_folder(tx: Tx, folder_id: int) -> None:
    # Messages, summaries and the expunge log go by ON DELETE CASCADE.
    if await tx.c.fetchval("DELETE FROM folders WHERE id = $1 RETURNING id", folder_id) is None:
        raise NotFound(f"folder {folder_id}")
    tx.log_change(folder_id)


async def set_special_use(tx: Tx, folder_id: int, special_use: str | None) -> None:
    if await tx.c.fetchval(
        "UPDATE folders SET special_use = $2 WHERE id = $1 RETURNING id", folder_id, special_use
    ) is None:
        raise NotFound(f"folder {folder_id}")
    tx.log_change(folder_id)


async def subscribe(tx: Tx, account_id: int, name: str) -> None:
    await tx.c.execute(
        "INSERT INTO subscriptions VALUES ($1, $2) ON CONFLICT DO NOTHING", account_id, name
    )


async def unsubscribe(tx: Tx, account_id: int, name: str) -> None:
    await tx.c.execute(
        "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", account_id, name
    )


async def list_subscriptions(conn: Any, account_id: int) -> list[str]:
    rows = await conn.fetch(
        'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE "C"',
        account_id,
    )
    return [r[0] for r in rows]
