"""SQLite operations on messages: append, index, flags, copy/move, expunge.

Every write is one `db.write()` transaction (BEGIN IMMEDIATE, or a
SAVEPOINT of a group commit: see sqlite_worker.py) that also updates the
folder's UIDNEXT / HIGHESTMODSEQ / counters and appends to the change log.
These functions touch nothing but the database, so a group may roll one
back or run it again.
Work on many messages is batched (executemany, chunked IN lists or one
range scan), never a query per message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from ._common import (
    columns_from_rows,
    CHUNK,
    DELETED,
    SEEN,
    FlagCache,
    apply_mode,
    canon_flags,
    chunks,
    flags_text,
)
from .errors import GuardFailed, NotFound, QuotaExceeded
from .models import DeliveryGuard, FlagMode, FolderChanges, FolderStatus, Message, MessageColumns, MessageMeta, StoreResult
from .sqlite_worker import Db

_flag_cache = FlagCache()  # used on worker threads only; dict ops are GIL-atomic


def _stamp(when: datetime | None) -> str:
    if when is None:
        when = datetime.now(timezone.utc)
    elif when.tzinfo is None:  # naive: the contract says aware; assume UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.isoformat()


def _folder_head(c: sqlite3.Connection, folder_id: int) -> tuple[int, int, int]:
    """(account_id, uidnext, highestmodseq) or NotFound."""
    row = c.execute(
        "SELECT account_id, uidnext, highestmodseq FROM folders WHERE id = ?", (folder_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"folder {folder_id}")
    return row


def _require_folder(c: sqlite3.Connection, folder_id: int) -> None:
    if not c.execute("SELECT 1 FROM folders WHERE id = ?", (folder_id,)).fetchone():
        raise NotFound(f"folder {folder_id}")


def _select(c: sqlite3.Connection, cols: str, folder_id: int, uids: Sequence[int],
            table: str = "messages m") -> list[Any]:
    """Rows of the given UIDs that exist, ascending UID (uid is column 0).

    A dense set (e.g. 1:*) is read as one range scan and filtered here;
    a sparse one as IN lists of CHUNK values.
    """
    want = sorted(set(uids))
    if not want:
        return []
    if len(want) > CHUNK and want[-1] - want[0] < 2 * len(want):
        wanted = set(want)
        rows = c.execute(
            f"SELECT {cols} FROM {table} WHERE m.folder_id = ? AND m.uid BETWEEN ? AND ?"
            " ORDER BY m.uid", (folder_id, want[0], want[-1]),
        ).fetchall()
        return [r for r in rows if r[0] in wanted]
    out: list[Any] = []
    for part in chunks(want):
        marks = ",".join("?" * len(part))
        out += c.execute(
            f"SELECT {cols} FROM {table} WHERE m.folder_id = ? AND m.uid IN ({marks})"
            " ORDER BY m.uid", (folder_id, *part),
        ).fetchall()
    return out


def _counts(flags: frozenset[str]) -> tuple[int, int]:
    """(unseen, deleted) contribution of one message."""
    return (SEEN not in flags, DELETED in flags)


def _quota(c: sqlite3.Connection, account_id: int, extra: int, quota: int | None) -> None:
    if quota is None:
        return
    used = c.execute(
        "SELECT coalesce(sum(total_size), 0) FROM folders WHERE account_id = ?", (account_id,)
    ).fetchone()[0]
    if used + extra > quota:
        raise QuotaExceeded(f"account {account_id}: quota {quota} bytes")


def append(db: Db, folder_id: int, blob_id: str, size: int, summary: bytes,
           flags: Iterable[str], internaldate: datetime | None,
           quota: int | None) -> Message:
    with db.write() as c:
        account_id, uid, hms = _folder_head(c, folder_id)
        return _insert(db, c, folder_id, account_id, uid, hms, blob_id, size, summary,
                       flags, internaldate, quota)


def file_message(db: Db, account_id: int, folder_name: str, blob_id: str, size: int,
                 summary: bytes, flags: Iterable[str], internaldate: datetime | None,
                 quota: int | None, guard: DeliveryGuard | None) -> Message:
    """Store.file_message: guard, folder by name, quota and row in one
    transaction. Under BEGIN IMMEDIATE the guard's reads and the insert
    happen while this connection holds the database's write lock, so a move
    mark written by any process is either seen here or committed after us
    (then the mover's last pass copies our row): see guard_serialized."""
    with db.write() as c:
        if guard is not None:
            quota = _check_guard(c, account_id, guard)
        row = c.execute(
            "SELECT id, uidnext, highestmodseq FROM folders WHERE account_id = ? AND name = ?",
            (account_id, folder_name),
        ).fetchone()
        if row is None:
            raise NotFound(f"account {account_id}: no folder {folder_name!r}")
        folder_id, uid, hms = row
        return _insert(db, c, folder_id, account_id, uid, hms, blob_id, size, summary,
                       flags, internaldate, quota)


def _check_guard(c: sqlite3.Connection, account_id: int, guard: DeliveryGuard) -> int | None:
    """GuardFailed unless the guard holds; the account's current quota."""
    address = guard.address.lower()
    row = c.execute("SELECT id, database, quota_bytes FROM accounts WHERE address = ?",
                    (address,)).fetchone()
    if row is None or row[0] != account_id or row[1] != guard.database:
        raise GuardFailed(f"mailbox {address} changed since it was routed", held=False)
    mark = c.execute("SELECT value FROM settings WHERE scope = ? AND key = ?",
                     (guard.hold_scope, address)).fetchone()
    if mark is not None and mark[0]:
        raise GuardFailed(f"mailbox {address} is held ({guard.hold_scope})", held=True)
    return row[2]


def _insert(db: Db, c: sqlite3.Connection, folder_id: int, account_id: int, uid: int,
            hms: int, blob_id: str, size: int, summary: bytes, flags: Iterable[str],
            internaldate: datetime | None, quota: int | None) -> Message:
    """The new row, inside the caller's write transaction."""
    fl = canon_flags(flags)
    stamp = _stamp(internaldate)
    unseen, deleted = _counts(fl)
    _quota(c, account_id, size, quota)
    modseq = hms + 1
    c.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
              (folder_id, uid, modseq, flags_text(fl), stamp, size, blob_id))
    c.execute("INSERT INTO summaries VALUES (?, ?, ?)", (folder_id, uid, summary))
    c.execute(
        "UPDATE folders SET uidnext = ?, highestmodseq = ?, n_messages = n_messages + 1,"
        " n_unseen = n_unseen + ?, n_deleted = n_deleted + ?, total_size = total_size + ?"
        " WHERE id = ?", (uid + 1, modseq, unseen, deleted, size, folder_id),
    )
    db.log_change(folder_id)
    return Message(folder_id, uid, modseq, fl, datetime.fromisoformat(stamp), size,
                   blob_id, summary)


def _metas(rows: list[tuple[int, int, str]]) -> list[MessageMeta]:
    get = _flag_cache.get
    return [MessageMeta(uid, modseq, get(fl)) for uid, modseq, fl in rows]


def message_columns(db: Db, folder_id: int) -> MessageColumns:
    cursor = db.c.execute(
        "SELECT uid, modseq, flags FROM messages WHERE folder_id = ? ORDER BY uid", (folder_id,)
    )
    columns = columns_from_rows(cursor)  # row by row from the cursor
    if not columns.uids:
        _require_folder(db.c, folder_id)
    return columns


def message_index(db: Db, folder_id: int) -> list[MessageMeta]:
    rows = db.c.execute(
        "SELECT uid, modseq, flags FROM messages WHERE folder_id = ? ORDER BY uid", (folder_id,)
    ).fetchall()
    if not rows:
        _require_folder(db.c, folder_id)
    return _metas(rows)


def get_messages(db: Db, folder_id: int, uids: Sequence[int]) -> list[Message]:
    with db.read() as c:
        _require_folder(c, folder_id)
        rows = _select(
            c, "m.uid, m.modseq, m.flags, m.internaldate, m.size, m.blob_id, s.data",
            folder_id, uids,
            "messages m JOIN summaries s ON s.folder_id = m.folder_id AND s.uid = m.uid",
        )
    get, iso = _flag_cache.get, datetime.fromisoformat
    return [Message(folder_id, uid, modseq, get(fl), iso(when), size, blob, bytes(data))
            for uid, modseq, fl, when, size, blob, data in rows]


def get_summaries(db: Db, folder_id: int, uids: Sequence[int], with_internaldate: bool,
                  with_summary: bool = True) -> list[tuple[Any, ...]]:
    cols = f"m.uid, m.size, {'s.data' if with_summary else 'NULL'}, m.blob_id" + (
        ", m.internaldate" if with_internaldate else "")
    tables = ("messages m JOIN summaries s ON s.folder_id = m.folder_id AND s.uid = m.uid" if with_summary
              else "messages m")
    with db.read() as c:
        _require_folder(c, folder_id)
        rows = _select(c, cols, folder_id, uids, tables)
    if with_internaldate:
        iso = datetime.fromisoformat
        return [(uid, size, data, blob, iso(when)) for uid, size, data, blob, when in rows]
    return rows


def store_flags(db: Db, folder_id: int, uids: Sequence[int], flags: Iterable[str],
                mode: FlagMode, unchanged_since: int | None) -> StoreResult:
    given = canon_flags(flags)
    mode = FlagMode(mode)
    changed: list[MessageMeta] = []
    refused: list[int] = []
    with db.write() as c:
        _, _, hms = _folder_head(c, folder_id)
        d_unseen = d_deleted = 0
        updates = []
        for uid, modseq, text in _select(c, "m.uid, m.modseq, m.flags", folder_id, uids):
            if unchanged_since is not None and modseq > unchanged_since:
                refused.append(uid)
                continue
            old = _flag_cache.get(text)
            new = apply_mode(old, given, mode)
            if new == old:
                continue
            hms += 1
            (ou, od), (nu, nd) = _counts(old), _counts(new)
            d_unseen += nu - ou
            d_deleted += nd - od
            updates.append((flags_text(new), hms, folder_id, uid))
            changed.append(MessageMeta(uid, hms, new))
        if updates:
            c.executemany(
                "UPDATE messages SET flags = ?, modseq = ? WHERE folder_id = ? AND uid = ?", updates
            )
            c.execute(
                "UPDATE folders SET highestmodseq = ?, n_unseen = n_unseen + ?,"
                " n_deleted = n_deleted + ? WHERE id = ?", (hms, d_unseen, d_deleted, folder_id),
            )
            db.log_change(folder_id)
    return StoreResult(tuple(changed), tuple(refused))


def _copy_rows(db: Db, folder_id: int, uids: Sequence[int], dest_id: int,
               quota: int | None, move: bool) -> tuple[list[tuple[int, int]], list[Any]]:
    """Insert copies into dest (inside a transaction); returns pairs and source rows."""
    c = db.c
    _require_folder(c, folder_id)
    account_id, uidnext, hms = _folder_head(c, dest_id)
    rows = _select(c, "m.uid, m.flags, m.internaldate, m.size, m.blob_id", folder_id, uids)
    if not rows:
        return [], rows
    if not move:
        _quota(c, account_id, sum(r[3] for r in rows), quota)
    pairs, inserts = [], []
    unseen = deleted = size = 0
    for src_uid, text, when, sz, blob in rows:
        hms += 1
        inserts.append((dest_id, uidnext, hms, text, when, sz, blob))
        pairs.append((src_uid, uidnext))
        u, d = _counts(_flag_cache.get(text))
        unseen, deleted, size = unseen + u, deleted + d, size + sz
        uidnext += 1
    c.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", inserts)
    keys = [(dest_id, new, folder_id, old) for old, new in pairs]
    if move:  # the summary row can simply change hands
        c.executemany(
            "UPDATE summaries SET folder_id = ?, uid = ? WHERE folder_id = ? AND uid = ?", keys
        )
    else:
        c.executemany(
            "INSERT INTO summaries SELECT ?, ?, data FROM summaries WHERE folder_id = ? AND uid = ?",
            keys,
        )
    c.execute(
        "UPDATE folders SET uidnext = ?, highestmodseq = ?, n_messages = n_messages + ?,"
        " n_unseen = n_unseen + ?, n_deleted = n_deleted + ?, total_size = total_size + ?"
        " WHERE id = ?", (uidnext, hms, len(rows), unseen, deleted, size, dest_id),
    )
    db.log_change(dest_id)
    return pairs, rows


def copy_messages(db: Db, folder_id: int, uids: Sequence[int], dest_id: int,
                  quota: int | None) -> list[tuple[int, int]]:
    with db.write():
        pairs, _ = _copy_rows(db, folder_id, uids, dest_id, quota, move=False)
    return pairs


def _remove(db: Db, folder_id: int, rows: list[tuple[int, str, int]],
            drop_summaries: bool) -> None:
    """Delete (uid, flags, size) rows, log them as expunged, fix counters."""
    if not rows:
        return
    c = db.c
    hms = c.execute("SELECT highestmodseq FROM folders WHERE id = ?", (folder_id,)).fetchone()[0]
    keys = [(folder_id, r[0]) for r in rows]
    c.executemany("DELETE FROM messages WHERE folder_id = ? AND uid = ?", keys)
    if drop_summaries:
        c.executemany("DELETE FROM summaries WHERE folder_id = ? AND uid = ?", keys)
    logged = [(folder_id, uid, hms + i) for i, (uid, _, _) in enumerate(rows, 1)]
    c.executemany("INSERT OR REPLACE INTO expunged VALUES (?, ?, ?)", logged)
    unseen = deleted = size = 0
    for _, text, sz in rows:
        u, d = _counts(_flag_cache.get(text))
        unseen, deleted, size = unseen + u, deleted + d, size + sz
    c.execute(
        "UPDATE folders SET highestmodseq = ?, n_messages = n_messages - ?,"
        " n_unseen = n_unseen - ?, n_deleted = n_deleted - ?, total_size = total_size - ?"
        " WHERE id = ?", (hms + len(rows), len(rows), unseen, deleted, size, folder_id),
    )
    db.log_change(folder_id)


def move_messages(db: Db, folder_id: int, uids: Sequence[int],
                  dest_id: int) -> list[tuple[int, int]]:
    with db.write():
        pairs, rows = _copy_rows(db, folder_id, uids, dest_id, None, move=True)
        _remove(db, folder_id, [(r[0], r[1], r[3]) for r in rows], drop_summaries=False)
    return pairs


def expunge(db: Db, folder_id: int, uids: Sequence[int]) -> list[int]:
    with db.write() as c:
        _require_folder(c, folder_id)
        rows = _select(c, "m.uid, m.flags, m.size", folder_id, uids)
        _remove(db, folder_id, rows, drop_summaries=True)
    return [r[0] for r in rows]


def changed_since(db: Db, folder_id: int, modseq: int) -> list[MessageMeta]:
    rows = db.c.execute(
        # INDEXED BY: for "ORDER BY uid" the planner would walk the primary
        # key over the whole folder (15 ms at 100,000 messages, on every
        # poll of a big folder); the MODSEQ index finds the few changed rows.
        "SELECT uid, modseq, flags FROM messages INDEXED BY messages_modseq"
        " WHERE folder_id = ? AND modseq > ? ORDER BY uid", (folder_id, modseq),
    ).fetchall()
    if not rows:
        _require_folder(db.c, folder_id)
    return _metas(rows)


def expunged_since(db: Db, folder_id: int, modseq: int) -> list[int]:
    rows = db.c.execute(
        "SELECT uid FROM expunged INDEXED BY expunged_modseq WHERE folder_id = ? AND modseq > ?"
        " ORDER BY uid", (folder_id, modseq),
    ).fetchall()
    if not rows:
        _require_folder(db.c, folder_id)
    return [r[0] for r in rows]


def changes_since(db: Db, folder_id: int, modseq: int) -> FolderChanges:
    with db.read() as c:  # one snapshot: the head and the changes agree
        head = c.execute("SELECT highestmodseq, n_messages, uidnext FROM folders WHERE id = ?",
                         (folder_id,)).fetchone()
        if head is None:
            raise NotFound(f"folder {folder_id}")
        changed = c.execute(
            "SELECT uid, modseq, flags FROM messages INDEXED BY messages_modseq"  # see changed_since
            " WHERE folder_id = ? AND modseq > ? ORDER BY uid", (folder_id, modseq),
        ).fetchall()
        expunged = c.execute(
            "SELECT uid FROM expunged INDEXED BY expunged_modseq WHERE folder_id = ? AND modseq > ?"
            " ORDER BY uid", (folder_id, modseq),
        ).fetchall()
    return FolderChanges(*head, _metas(changed), [r[0] for r in expunged])


def folder_status(db: Db, folder_id: int) -> FolderStatus:
    row = db.c.execute(
        "SELECT n_messages, n_unseen, total_size, uidnext, uidvalidity, highestmodseq,"
        " n_deleted FROM folders WHERE id = ?", (folder_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"folder {folder_id}")
    return FolderStatus(*row)


def account_usage(db: Db, account_id: int) -> int:
    return int(db.c.execute(
        "SELECT coalesce(sum(total_size), 0) FROM folders WHERE account_id = ?", (account_id,)
    ).fetchone()[0])


def referenced_blob_ids(db: Db) -> set[str]:
    return {r[0] for r in db.c.execute("SELECT DISTINCT blob_id FROM messages")}
