"""SQLite operations on the relay queue (table `outbound`).

Plain functions f(db, ...) run on the store's worker thread, like
sqlite_folders and sqlite_messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .errors import NotFound
from .models import OutboundMessage
from .sqlite_worker import Db

_COLS = "id, sender, recipients, blob_id, size, created, next_attempt, attempts, last_error"


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _row(row: tuple[Any, ...]) -> OutboundMessage:
    qid, sender, rcpts, blob_id, size, created, nxt, attempts, err = row
    return OutboundMessage(qid, sender, tuple(json.loads(rcpts)), blob_id, size,
                           _when(created), _when(nxt), attempts, err)


def enqueue(db: Db, sender: str, recipients: tuple[str, ...], blob_id: str, size: int,
            not_before: datetime | None) -> OutboundMessage:
    if not recipients:
        raise ValueError("an outbound message needs at least one recipient")
    now = datetime.now(timezone.utc).timestamp()
    nxt = not_before.timestamp() if not_before is not None else now
    with db.write() as c:
        cur = c.execute(
            "INSERT INTO outbound (sender, recipients, blob_id, size, created, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (sender, json.dumps(list(recipients)), blob_id, size, now, nxt),
        )
        qid = int(cur.lastrowid or 0)
    return OutboundMessage(qid, sender, recipients, blob_id, size, _when(now), _when(nxt))


def claim(db: Db, now: datetime, lease_until: datetime, limit: int) -> list[OutboundMessage]:
    # One write transaction: select and push next_attempt forward together,
    # so two servers polling the same store never claim the same entry.
    with db.write() as c:
        rows = c.execute(
            f"SELECT {_COLS} FROM outbound WHERE next_attempt <= ?"
            " ORDER BY next_attempt, id LIMIT ?", (now.timestamp(), limit),
        ).fetchall()
        c.executemany("UPDATE outbound SET next_attempt = ? WHERE id = ?",
                      [(lease_until.timestamp(), r[0]) for r in rows])
    return [_row(r) for r in rows]


def reschedule(db: Db, queue_id: int, recipients: tuple[str, ...], next_attempt: datetime,
               last_error: str) -> OutboundMessage:
    if not recipients:
        raise ValueError("an outbound message needs at least one recipient")
    with db.write() as c:
        cur = c.execute(
            "UPDATE outbound SET recipients = ?, next_attempt = ?, attempts = attempts + 1,"
            " last_error = ? WHERE id = ?",
            (json.dumps(list(recipients)), next_attempt.timestamp(), last_error, queue_id),
        )
        if cur.rowcount == 0:
            raise NotFound(f"outbound message {queue_id}")
        row = c.execute(f"SELECT {_COLS} FROM outbound WHERE id = ?", (queue_id,)).fetchone()
    return _row(row)


def delete(db: Db, queue_id: int) -> None:
    with db.write() as c:
        c.execute("DELETE FROM outbound WHERE id = ?", (queue_id,))


def list_all(db: Db) -> list[OutboundMessage]:
    return [_row(r) for r in db.c.execute(f"SELECT {_COLS} FROM outbound ORDER BY id")]


def blob_ids(db: Db) -> set[str]:
    return {r[0] for r in db.c.execute("SELECT DISTINCT blob_id FROM outbound")}
