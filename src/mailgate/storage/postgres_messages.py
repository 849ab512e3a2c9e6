"""PostgreSQL operations on messages: append, index, flags, copy/move, expunge.

Concurrency: every message write first takes the row lock of each folder
it changes (SELECT ... FOR UPDATE, or the UPDATE of the folder row, which
takes the same lock), in ascending folder id when there are two, so UID and
MODSEQ assignment is serialised per folder across every process and server
while writes to different folders run in parallel. A write that checks a
quota locks the account row before any folder, so concurrent deliveries to
one account cannot both squeeze under its quota. Under READ COMMITTED each
statement after a lock is granted sees everything committed before it.

Batching: arrays (ANY($n::bigint[]), unnest) and data-modifying CTEs, so a
write on many messages is a fixed number of statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ._common import CHUNK, DELETED, SEEN, FlagCache, apply_mode, canon_flags, columns_from_rows, flags_text
from .errors import GuardFailed, NotFound, QuotaExceeded
from .models import DeliveryGuard, FlagMode, FolderChanges, FolderStatus, Message, MessageColumns, MessageMeta, StoreResult
from .postgres_db import Tx

_flag_cache = FlagCache()  # event-loop only
_zones: dict[int, timezone] = {}


def _zone(seconds: int) -> timezone:
    tz = _zones.get(seconds)
    if tz is None:
        tz = timezone.utc if seconds == 0 else timezone(timedelta(seconds=seconds))
        if len(_zones) < 256:
            _zones[seconds] = tz
    return tz


def _local(when: datetime, offset: int) -> datetime:
    """PostgreSQL hands back timestamptz in UTC; restore the client's zone."""
    return when.astimezone(_zone(offset))


def _counts(flags: frozenset[str]) -> tuple[int, int]:
    """(unseen, deleted) contribution of one message."""
    return (SEEN not in flags, DELETED in flags)


async def _require_folder(conn: Any, folder_id: int) -> None:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM folders WHERE id = $1)", folder_id):
        raise NotFound(f"folder {folder_id}")


async def _lock_folders(tx: Tx, *folder_ids: int) -> dict[int, tuple[int, int, int]]:
    """Lock the folder rows (ascending id: no lock-order deadlocks);
    {id: (account_id, uidnext, highestmodseq)}, NotFound for a missing one."""
    rows = await tx.c.fetch(
        "SELECT id, account_id, uidnext, highestmodseq FROM folders"
        " WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", list(set(folder_ids)),
    )
    got = {r[0]: (r[1], r[2], r[3]) for r in rows}
    for fid in folder_ids:
        if fid not in got:
            raise NotFound(f"folder {fid}")
    return got


async def _lock_account(tx: Tx, folder_id: int) -> int:
    """Lock the account row of a folder (before any folder lock); its id."""
    aid = await tx.c.fetchval(
        "SELECT a.id FROM folders f JOIN accounts a ON a.id = f.account_id"
        " WHERE f.id = $1 FOR NO KEY UPDATE OF a", folder_id,
    )
    if aid is None:
        raise NotFound(f"folder {folder_id}")
    return int(aid)


async def _check_quota(tx: Tx, account_id: int, extra: int, quota: int) -> None:
    """Usage + extra against quota, with the account row locked by us. A new
    statement, so a new snapshot: it sees the writes committed by whoever
    held the account lock before us."""
    used = await tx.c.fetchval(
        "SELECT coalesce(sum(total_size), 0) FROM folders WHERE account_id = $1", account_id
    )
    if used + extra > quota:
        raise QuotaExceeded(f"account {account_id}: quota {quota} bytes")


async def _select(conn: Any, cols: str, folder_id: int, uids: Sequence[int],
                  table: str = "messages m") -> list[Any]:
    """Rows of the given UIDs that exist, ascending UID (uid is column 0).

    A dense set (e.g. 1:*) is read as one range scan and filtered here
    rather than sent as a huge array.
    """
    want = sorted(set(uids))
    if not want:
        return []
    if len(want) > CHUNK and want[-1] - want[0] < 2 * len(want):
        wanted = set(want)
        rows = await conn.fetch(
            f"SELECT {cols} FROM {table} WHERE m.folder_id = $1 AND m.uid BETWEEN $2 AND $3"
            " ORDER BY m.uid", folder_id, want[0], want[-1],
        )
        return [r for r in rows if r[0] in wanted]
    return list(await conn.fetch(
        f"SELECT {cols} FROM {table} WHERE m.folder_id = $1 AND m.uid = ANY($2::bigint[])"
        " ORDER BY m.uid", folder_id, want,
    ))


# --- append ----------------------------------------------------------------
# The UPDATE takes the folder row's lock and hands out UID and MODSEQ; the
# inserts use what it returned. No row comes back if the folder is gone.
_APPEND = """
WITH f AS (
    UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1,
        n_messages = n_messages + 1, n_unseen = n_unseen + $8,
        n_deleted = n_deleted + $9, total_size = total_size + $5
    WHERE id = $1 RETURNING uidnext - 1 AS uid, highestmodseq AS modseq
), m AS (
    INSERT INTO messages (folder_id, uid, modseq, flags, internaldate, tz_offset, size, blob_id)
    SELECT $1, uid, modseq, $2, $3, $4, $5, $6 FROM f RETURNING uid, modseq
), s AS (
    INSERT INTO summaries (folder_id, uid, data) SELECT $1, uid, $7 FROM m
)
SELECT uid, modseq FROM m
"""


async def append(tx: Tx, folder_id: int, blob_id: str, size: int, summary: bytes,
                 flags: Iterable[str], internaldate: datetime | None,
                 quota: int | None) -> Message:
    fl = canon_flags(flags)
    if internaldate is None:
        internaldate = datetime.now(timezone.utc)
    elif internaldate.tzinfo is None:  # naive: the contract says aware; assume UTC
        internaldate = internaldate.replace(tzinfo=timezone.utc)
    offset = internaldate.utcoffset() or timedelta(0)
    unseen, deleted = _counts(fl)
    if quota is not None:
        await _check_quota(tx, await _lock_account(tx, folder_id), size, quota)
    row = await tx.c.fetchrow(
        _APPEND, folder_id, flags_text(fl), internaldate, int(offset.total_seconds()),
        size, blob_id, summary, unseen, deleted,
    )
    if row is None:
        raise NotFound(f"folder {folder_id}")
    tx.log_change(folder_id)
    return Message(folder_id, row[0], row[1], fl, internaldate, size, blob_id, summary)


async def file_message(tx: Tx, account_id: int, folder_name: str, blob_id: str, size: int,
                       summary: bytes, flags: Iterable[str], internaldate: datetime | None,
                       quota: int | None, guard: DeliveryGuard | None) -> Message:
    """Store.file_message in one transaction. The guard's account row is
    locked (as a quota check locks it), so a change of its database waits
    for us; the move mark in settings is read, not locked: READ COMMITTED
    may miss a mark committed meanwhile (guard_serialized is False, the
    caller settles afterwards)."""
    if guard is not None:
        address = guard.address.lower()
        row = await tx.c.fetchrow(
            "SELECT id, database, quota_bytes FROM accounts WHERE address = $1"
            " FOR NO KEY UPDATE", address)
        if row is None or row[0] != account_id or row[1] != guard.database:
            raise GuardFailed(f"mailbox {address} changed since it was routed", held=False)
        mark = await tx.c.fetchval("SELECT value FROM settings WHERE scope = $1 AND key = $2",
                                   guard.hold_scope, address)
        if mark:
            raise GuardFailed(f"mailbox {address} is held ({guard.hold_scope})", held=True)
        quota = row[2]
    elif quota is not None:  # the account lock comes before any folder lock
        await tx.c.fetchval("SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account_id)
    folder_id = await tx.c.fetchval(
        "SELECT id FROM folders WHERE account_id = $1 AND name = $2", account_id, folder_name)
    if folder_id is None:
        raise NotFound(f"account {account_id}: no folder {folder_name!r}")
    if quota is not None:
        await _check_quota(tx, account_id, size, quota)
    return await append(tx, folder_id, blob_id, size, summary, flags, internaldate, None)


# --- reads -----------------------------------------------------------------
def _metas(rows: list[Any]) -> list[MessageMeta]:
    get = _flag_cache.get
    return [MessageMeta(uid, modseq, get(fl)) for uid, modseq, fl in rows]


async def message_columns(conn: Any, folder_id: int) -> MessageColumns:
    rows = await conn.fetch(
        "SELECT uid, modseq, flags FROM messages WHERE folder_id = $1 ORDER BY uid", folder_id
    )
    if not rows:
        await _require_folder(conn, folder_id)
    return columns_from_rows(rows)


async def message_index(conn: Any, folder_id: int) -> list[MessageMeta]:
    rows = await conn.fetch(
        "SELECT uid, modseq, flags FROM messages WHERE folder_id = $1 ORDER BY uid", folder_id
    )
    if not rows:
        await _require_folder(conn, folder_id)
    return _metas(rows)


async def get_messages(conn: Any, folder_id: int, uids: Sequence[int]) -> list[Message]:
    # Rows first, in one statement: rows mean the folder existed at that
    # snapshot; only an empty answer needs the (second) existence check.
    rows = await _select(
        conn, "m.uid, m.modseq, m.flags, m.internaldate, m.tz_offset, m.size, m.blob_id, s.data",
        folder_id, uids,
        "messages m JOIN summaries s ON s.folder_id = m.folder_id AND s.uid = m.uid",
    )
    if not rows:
        await _require_folder(conn, folder_id)
    get = _flag_cache.get
    return [Message(folder_id, uid, modseq, get(fl), _local(when, off), size, blob, data)
            for uid, modseq, fl, when, off, size, blob, data in rows]


async def get_summaries(conn: Any, folder_id: int, uids: Sequence[int], with_internaldate: bool,
                        with_summary: bool = True) -> list[tuple[Any, ...]]:
    cols = f"m.uid, m.size, {'s.data' if with_summary else 'NULL::bytea'}, m.blob_id" + (
        ", m.internaldate, m.tz_offset" if with_internaldate else "")
    tables = ("messages m JOIN summaries s ON s.folder_id = m.folder_id AND s.uid = m.uid" if with_summary
              else "messages m")
    rows = await _select(conn, cols, folder_id, uids, tables)
    if not rows:
        await _require_folder(conn, folder_id)
    if with_internaldate:
        return [(uid, size, data, blob, _local(when, off)) for uid, size, data, blob, when, off in rows]
    return [tuple(row) for row in rows]


async def changed_since(conn: Any, folder_id: int, modseq: int) -> list[MessageMeta]:
    rows = await conn.fetch(
        "SELECT uid, modseq, flags FROM messages WHERE folder_id = $1 AND modseq > $2"
        " ORDER BY uid", folder_id, modseq,
    )
    if not rows:
        await _require_folder(conn, folder_id)
    return _metas(rows)


async def expunged_since(conn: Any, folder_id: int, modseq: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT uid FROM expunged WHERE folder_id = $1 AND modseq > $2 ORDER BY uid",
        folder_id, modseq,
    )
    if not rows:
        await _require_folder(conn, folder_id)
    return [r[0] for r in rows]


async def changes_since(conn: Any, folder_id: int, modseq: int) -> FolderChanges:
    # One snapshot: the head's message count agrees with the changes.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow("SELECT highestmodseq, n_messages, uidnext FROM folders WHERE id = $1",
                                   folder_id)
        if head is None:
            raise NotFound(f"folder {folder_id}")
        changed = await conn.fetch(
            "SELECT uid, modseq, flags FROM messages WHERE folder_id = $1 AND modseq > $2 ORDER BY uid",
            folder_id, modseq,
        )
        expunged = await conn.fetch(
            "SELECT uid FROM expunged WHERE folder_id = $1 AND modseq > $2 ORDER BY uid", folder_id, modseq,
        )
    return FolderChanges(*head, _metas(changed), [r[0] for r in expunged])


async def folder_status(conn: Any, folder_id: int) -> FolderStatus:
    row = await conn.fetchrow(
        "SELECT n_messages, n_unseen, total_size, uidnext, uidvalidity, highestmodseq,"
        " n_deleted FROM folders WHERE id = $1", folder_id,
    )
    if row is None:
        raise NotFound(f"folder {folder_id}")
    return FolderStatus(*row)


async def account_usage(conn: Any, account_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT coalesce(sum(total_size), 0) FROM folders WHERE account_id = $1", account_id
    ))


async def referenced_blob_ids(conn: Any) -> set[str]:
    return {r[0] for r in await conn.fetch("SELECT DISTINCT blob_id FROM messages")}


# --- flags -----------------------------------------------------------------
_STORE = """
WITH u AS (
    UPDATE messages m SET flags = t.flags, modseq = t.modseq
    FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS t(uid, flags, modseq)
    WHERE m.folder_id = $1 AND m.uid = t.uid
)
UPDATE folders SET highestmodseq = $5, n_unseen = n_unseen + $6, n_deleted = n_deleted + $7
WHERE id = $1
"""


async def store_flags(tx: Tx, folder_id: int, uids: Sequence[int], flags: Iterable[str],
                      mode: FlagMode, unchanged_since: int | None) -> StoreResult:
    given = canon_flags(flags)
    mode = FlagMode(mode)
    _, _, hms = (await _lock_folders(tx, folder_id))[folder_id]
    changed: list[MessageMeta] = []
    refused: list[int] = []
    d_unseen = d_deleted = 0
    texts: list[str] = []
    for uid, modseq, text in await _select(tx.c, "m.uid, m.modseq, m.flags", folder_id, uids):
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
        texts.append(flags_text(new))
        changed.append(MessageMeta(uid, hms, new))
    if changed:
        await tx.c.execute(
            _STORE, folder_id, [m.uid for m in changed], texts, [m.modseq for m in changed],
            hms, d_unseen, d_deleted,
        )
        tx.log_change(folder_id)
    return StoreResult(tuple(changed), tuple(refused))


# --- copy, move, expunge -----------------------------------------------------
_COPY = """
WITH t AS (
    SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS t(old, new, modseq)
), ins AS (
    INSERT INTO messages (folder_id, uid, modseq, flags, internaldate, tz_offset, size, blob_id)
    SELECT $1, t.new, t.modseq, m.flags, m.internaldate, m.tz_offset, m.size, m.blob_id
    FROM t JOIN messages m ON m.folder_id = $2 AND m.uid = t.old
), sums AS (
    INSERT INTO summaries (folder_id, uid, data)
    SELECT $1, t.new, s.data FROM t JOIN summaries s ON s.folder_id = $2 AND s.uid = t.old
    WHERE NOT $11
), moved AS (  -- a move hands the summary row over instead of copying it
    UPDATE summaries s SET folder_id = $1, uid = t.new
    FROM t WHERE $11 AND s.folder_id = $2 AND s.uid = t.old
)
UPDATE folders SET uidnext = $6, highestmodseq = $7, n_messages = n_messages + cardinality($3),
    n_unseen = n_unseen + $8, n_deleted = n_deleted + $9, total_size = total_size + $10
WHERE id = $1
"""


async def _copy_rows(tx: Tx, folder_id: int, uids: Sequence[int], dest_id: int,
                     quota: int | None, move: bool) -> tuple[list[tuple[int, int]], list[Any]]:
    """Copy into dest, both folders locked; returns pairs and the source
    (uid, flags, size) rows. The source lock keeps its rows (and summaries)
    from changing between the read here and the INSERT ... SELECT."""
    if move:
        quota = None  # moves never grow usage
    account_id = await _lock_account(tx, dest_id) if quota is not None else 0
    heads = await _lock_folders(tx, folder_id, dest_id)
    _, uidnext, hms = heads[dest_id]
    rows = await _select(tx.c, "m.uid, m.flags, m.size", folder_id, uids)
    if not rows:
        return [], rows
    size = sum(r[2] for r in rows)
    if quota is not None:
        await _check_quota(tx, account_id, size, quota)
    olds = [r[0] for r in rows]
    news = list(range(uidnext, uidnext + len(rows)))
    modseqs = list(range(hms + 1, hms + 1 + len(rows)))
    unseen = deleted = 0
    for _, text, _ in rows:
        u, d = _counts(_flag_cache.get(text))
        unseen, deleted = unseen + u, deleted + d
    await tx.c.execute(_COPY, dest_id, folder_id, olds, news, modseqs,
                       uidnext + len(rows), modseqs[-1], unseen, deleted, size, move)
    tx.log_change(dest_id)
    return list(zip(olds, news)), rows


async def copy_messages(tx: Tx, folder_id: int, uids: Sequence[int], dest_id: int,
                        quota: int | None) -> list[tuple[int, int]]:
    pairs, _ = await _copy_rows(tx, folder_id, uids, dest_id, quota, move=False)
    return pairs


# Expunged UIDs get MODSEQs highestmodseq+1.. in the order given; every part
# of the statement sees the folder row as it was before it.
_REMOVE = """
WITH t AS (
    SELECT * FROM unnest($2::bigint[]) WITH ORDINALITY AS t(uid, n)
), gone AS (
    DELETE FROM messages m USING t WHERE m.folder_id = $1 AND m.uid = t.uid
), sums AS (
    DELETE FROM summaries s USING t WHERE $6 AND s.folder_id = $1 AND s.uid = t.uid
), logged AS (
    INSERT INTO expunged (folder_id, uid, modseq)
    SELECT $1, t.uid, f.highestmodseq + t.n FROM t, folders f WHERE f.id = $1
    ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq
)
UPDATE folders SET highestmodseq = highestmodseq + cardinality($2),
    n_messages = n_messages - cardinality($2), n_unseen = n_unseen - $3,
    n_deleted = n_deleted - $4, total_size = total_size - $5
WHERE id = $1
"""


async def _remove(tx: Tx, folder_id: int, rows: list[Any], drop_summaries: bool) -> None:
    """Delete (uid, flags, size) rows of a locked folder, log them as
    expunged, fix its counters."""
    if not rows:
        return
    unseen = deleted = size = 0
    for _, text, sz in rows:
        u, d = _counts(_flag_cache.get(text))
        unseen, deleted, size = unseen + u, deleted + d, size + sz
    await tx.c.execute(_REMOVE, folder_id, [r[0] for r in rows], unseen, deleted, size,
                       drop_summaries)
    tx.log_change(folder_id)


async def move_messages(tx: Tx, folder_id: int, uids: Sequence[int],
                        dest_id: int) -> list[tuple[int, int]]:
    pairs, rows = await _copy_rows(tx, folder_id, uids, dest_id, None, move=True)
    await _remove(tx, folder_id, rows, drop_summaries=False)
    return pairs


async def expunge(tx: Tx, folder_id: int, uids: Sequence[int]) -> list[int]:
    await _lock_folders(tx, folder_id)
    rows = await _select(tx.c, "m.uid, m.flags, m.size", folder_id, uids)
    await _remove(tx, folder_id, rows, drop_summaries=True)
    return [r[0] for r in rows]
