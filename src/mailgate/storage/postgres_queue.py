"""PostgreSQL operations on the relay queue (table `outbound`).

Readers f(conn, ...), writers f(tx, ...), as in postgres_folders. Several
servers may run the relay against one database: claim() takes due rows
with FOR UPDATE SKIP LOCKED, so two servers claiming at once split the due
entries between them instead of queueing behind each other's locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .errors import NotFound
from .models import OutboundMessage
from .postgres_db import Tx

_COLS = "id, sender, recipients, blob_id, size, created, next_attempt, attempts, last_error"


def _row(row: Any) -> OutboundMessage:
    qid, sender, rcpts, blob_id, size, created, nxt, attempts, err = row
    return OutboundMessage(qid, sender, tuple(rcpts), blob_id, size, created, nxt,
                           attempts, err)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


async def enqueue(tx: Tx, sender: str, recipients: Sequence[str], blob_id: str, size: int,
                  not_before: datetime | None) -> OutboundMessage:
    if not recipients:
        raise ValueError("an outbound message needs at least one recipient")
    now = datetime.now(timezone.utc)
    nxt = _aware(not_before) if not_before is not None else now
    row = await tx.c.fetchrow(
        "INSERT INTO outbound (sender, recipients, blob_id, size, created, next_attempt)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLS}",
        sender, list(recipients), blob_id, size, now, nxt,
    )
    return _row(row)


# The entries come back as they were before the lease, like the other drivers.
_CLAIM = f"""
WITH due AS (
    SELECT {_COLS} FROM outbound WHERE next_attempt <= $1
    ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE outbound o SET next_attempt = $2 FROM due WHERE o.id = due.id
)
SELECT {_COLS} FROM due ORDER BY next_attempt, id
"""


async def claim(tx: Tx, now: datetime, lease_until: datetime,
                limit: int) -> list[OutboundMessage]:
    rows = await tx.c.fetch(_CLAIM, _aware(now), _aware(lease_until), limit)
    return [_row(r) for r in rows]


async def reschedule(tx: Tx, queue_id: int, recipients: Sequence[str],
                     next_attempt: datetime, last_error: str) -> OutboundMessage:
    if not recipients:
        raise ValueError("an outbound message needs at least one recipient")
    row = await tx.c.fetchrow(
        "UPDATE outbound SET recipients = $2, next_attempt = $3, attempts = attempts + 1,"
        f" last_error = $4 WHERE id = $1 RETURNING {_COLS}",
        queue_id, list(recipients), _aware(next_attempt), last_error,
    )
    if row is None:
        raise NotFound(f"outbound message {queue_id}")
    return _row(row)


async def delete(tx: Tx, queue_id: int) -> None:
    await tx.c.execute("DELETE FROM outbound WHERE id = $1", queue_id)


async def list_all(conn: Any) -> list[OutboundMessage]:
    return [_row(r) for r in await conn.fetch(f"SELECT {_COLS} FROM outbound ORDER BY id")]


async def blob_ids(conn: Any) -> set[str]:
    return {r[0] for r in await conn.fetch("SELECT DISTINCT blob_id FROM outbound")}
