"""SQLite operations on accounts, settings, folders and subscriptions.

Plain functions f(db, ...) run on the store's worker thread (see
sqlite_worker). They raise storage errors; sqlite3 errors are translated by
the worker.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ._common import chunks, is_inferior_or_self, next_uidvalidity
from .errors import AlreadyExists, NotFound, StorageError
from .models import Account, Folder, Role
from .sqlite_worker import Db

_ACCOUNT_COLS = ("id, address, password_hash, role, pop_enabled, imap_enabled, home_server, quota_bytes,"
                 " overrides, database")
_FOLDER_COLS = "id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use"
_UPDATABLE = {f.name for f in dataclasses.fields(Account)} - {"id", "address"}


def _account(row: tuple[Any, ...] | None) -> Account | None:
    if row is None:
        return None
    aid, address, pw, role, pop, imap, home, quota, overrides, database = row
    return Account(aid, address, pw, Role(role), bool(pop), bool(imap), home, quota,
                   json.loads(overrides), database)


def _folder(row: tuple[Any, ...] | None) -> Folder | None:
    return None if row is None else Folder(*row)


# --- accounts --------------------------------------------------------------
def create_account(db: Db, address: str, password_hash: str, role: Role, home: str) -> Account:
    address = address.lower()
    with db.write() as c:
        if c.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone():
            raise AlreadyExists(address)
        cur = c.execute(
            "INSERT INTO accounts (address, password_hash, role, home_server) VALUES (?, ?, ?, ?)",
            (address, password_hash, Role(role).value, home),
        )
        aid = int(cur.lastrowid or 0)
    return Account(aid, address, password_hash, Role(role), home_server=home)


def get_account(db: Db, address: str) -> Account | None:
    return _account(db.c.execute(
        f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE address = ?", (address.lower(),)
    ).fetchone())


def get_account_by_id(db: Db, account_id: int) -> Account | None:
    return _account(db.c.execute(
        f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE id = ?", (account_id,)
    ).fetchone())


def list_accounts(db: Db) -> list[Account]:
    rows = db.c.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY address").fetchall()
    return [a for a in map(_account, rows) if a is not None]


def update_account(db: Db, address: str, fields: dict[str, Any]) -> Account:
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
            values[flag] = int(bool(values[flag]))
    with db.write() as c:
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)  # keys checked against _UPDATABLE
            c.execute(f"UPDATE accounts SET {sets} WHERE address = ?",
                      (*values.values(), address.lower()))
        acc = get_account(db, address)
        if acc is None:
            raise NotFound(address)
    return acc


def delete_account(db: Db, address: str) -> None:
    with db.write() as c:
        row = c.execute("SELECT id FROM accounts WHERE address = ?", (address.lower(),)).fetchone()
        if row is None:
            raise NotFound(address)
        aid = row[0]
        fids = [r[0] for r in c.execute("SELECT id FROM folders WHERE account_id = ?", (aid,))]
        _drop_folders(db, fids)
        c.execute("DELETE FROM subscriptions WHERE account_id = ?", (aid,))
        c.execute("DELETE FROM accounts WHERE id = ?", (aid,))


# --- settings --------------------------------------------------------------
def get_settings(db: Db, scope: str) -> dict[str, str]:
    return dict(db.c.execute("SELECT key, value FROM settings WHERE scope = ?", (scope,)))


def get_setting(db: Db, scope: str, key: str) -> str | None:
    row = db.c.execute("SELECT value FROM settings WHERE scope = ? AND key = ?", (scope, key)).fetchone()
    return None if row is None else row[0]


def put_settings(db: Db, scope: str, values: dict[str, str]) -> None:
    with db.write() as c:
        c.executemany(
            "INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
            [(scope, k, str(v)) for k, v in values.items()],
        )


# --- folders ---------------------------------------------------------------
def _new_uidvalidity(db: Db) -> int:
    row = db.c.execute("SELECT value FROM counters WHERE name = 'uidvalidity'").fetchone()
    value = next_uidvalidity(row[0] if row else 0)
    db.c.execute(
        "INSERT INTO counters (name, value) VALUES ('uidvalidity', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (value,),
    )
    return value


def create_folder(db: Db, account_id: int, name: str, special_use: str | None) -> Folder:
    with db.write() as c:
        if not c.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone():
            raise NotFound(f"account {account_id}")
        if c.execute("SELECT 1 FROM folders WHERE account_id = ? AND name = ?",
                     (account_id, name)).fetchone():
            raise AlreadyExists(name)
        uidv = _new_uidvalidity(db)
        cur = c.execute(
            "INSERT INTO folders (account_id, name, uidvalidity, special_use) VALUES (?, ?, ?, ?)",
            (account_id, name, uidv, special_use),
        )
        fid = int(cur.lastrowid or 0)
        db.log_change(fid)
    return Folder(fid, account_id, name, uidv, 1, 1, special_use)


def get_folder(db: Db, account_id: int, name: str) -> Folder | None:
    return _folder(db.c.execute(
        f"SELECT {_FOLDER_COLS} FROM folders WHERE account_id = ? AND name = ?",
        (account_id, name),
    ).fetchone())


def get_folder_by_id(db: Db, folder_id: int) -> Folder | None:
    return _folder(db.c.execute(
        f"SELECT {_FOLDER_COLS} FROM folders WHERE id = ?", (folder_id,)
    ).fetchone())


def list_folders(db: Db, account_id: int) -> list[Folder]:
    rows = db.c.execute(
        f"SELECT {_FOLDER_COLS} FROM folders WHERE account_id = ? ORDER BY name", (account_id,)
    ).fetchall()
    return [Folder(*r) for r in rows]


def rename_folder(db: Db, account_id: int, old: str, new: str) -> None:
    with db.write() as c:
        moving = c.execute(
            "SELECT id, name FROM folders WHERE account_id = ?"
            " AND (name = ? OR substr(name, 1, ?) = ?)",
            (account_id, old, len(old) + 1, old + "/"),
        ).fetchall()
        if not any(name == old for _, name in moving):
            raise NotFound(old)
        if is_inferior_or_self(new, old):
            raise StorageError(f"cannot rename {old!r} into itself")
        ids = {fid for fid, _ in moving}
        targets = [(new + name[len(old):], fid) for fid, name in moving]
        names = [t for t, _ in targets]
        for part in chunks(names):
            marks = ",".join("?" * len(part))
            for fid, name in c.execute(
                f"SELECT id, name FROM folders WHERE account_id = ? AND name IN ({marks})",
                (account_id, *part),
            ):
                if fid not in ids:
                    raise AlreadyExists(name)
        # Two phases: a target may equal another moving folder's current name
        # (rename "a/b" -> "a" moves "a/b/b/x" onto "a/b/x"), which a
        # one-by-one UPDATE would trip over the UNIQUE constraint.
        c.executemany("UPDATE folders SET name = ? WHERE id = ?",
                      [(f"\x00renaming\x00{fid}", fid) for fid in ids])
        c.executemany(
            "UPDATE folders SET name = ?, uidvalidity = ? WHERE id = ?",
            [(target, _new_uidvalidity(db), fid) for target, fid in targets],
        )
        for fid in ids:
            db.log_change(fid)


def _drop_folders(db: Db, fids: list[int]) -> None:
    """Delete folders and everything in them (inside a write transaction)."""
    c = db.c
    for part in chunks(fids):
        marks = ",".join("?" * len(part))
        for table in ("messages", "summaries", "expunged"):
            c.execute(f"DELETE FROM {table} WHERE folder_id IN ({marks})", part)
        c.execute(f"DELETE FROM folders WHERE id IN ({marks})", part)
    for fid in fids:
        db.log_change(fid)


def delete_folder(db: Db, folder_id: int) -> None:
    with db.write() as c:
        if not c.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,)).fetchone():
            raise NotFound(f"folder {folder_id}")
        _drop_folders(db, [folder_id])


def set_special_use(db: Db, folder_id: int, special_use: str | None) -> None:
    with db.write() as c:
        cur = c.execute("UPDATE folders SET special_use = ? WHERE id = ?", (special_use, folder_id))
        if cur.rowcount == 0:
            raise NotFound(f"folder {folder_id}")
        db.log_change(folder_id)


def subscribe(db: Db, account_id: int, name: str) -> None:
    with db.write() as c:
        c.execute("INSERT OR IGNORE INTO subscriptions VALUES (?, ?)", (account_id, name))


def unsubscribe(db: Db, account_id: int, name: str) -> None:
    with db.write() as c:
        c.execute("DELETE FROM subscriptions WHERE account_id = ? AND name = ?", (account_id, name))


def list_subscriptions(db: Db, account_id: int) -> list[str]:
    return [r[0] for r in db.c.execute(
        "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", (account_id,)
    )]
