"""Conformance of the relay queue (outbound): every driver runs these
(see the `store` fixture in conftest.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mailgate.storage import NotFound
from mailgate.storage.base import Store

BLOB_A, BLOB_B = "a" * 64, "b" * 64


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def test_enqueue_list_and_blob_references(store: Store) -> None:
    e = await store.enqueue_outbound("ann@example.org", ["x@far.example", "y@far.example"], BLOB_A, 42)
    assert e.recipients == ("x@far.example", "y@far.example") and e.attempts == 0
    assert e.sender == "ann@example.org" and e.size == 42 and e.last_error == ""
    assert e.created.tzinfo is not None and e.next_attempt <= _now()
    dsn = await store.enqueue_outbound("", ["ann@far.example"], BLOB_B, 7)
    listed = await store.list_outbound()
    assert [m.id for m in listed] == [e.id, dsn.id] and listed[1].sender == ""
    assert listed[0].recipients == e.recipients
    # Queued blobs are referenced: the orphan sweep must keep them.
    assert {BLOB_A, BLOB_B} <= await store.referenced_blob_ids()
    with pytest.raises(ValueError):
        await store.enqueue_outbound("ann@example.org", [], BLOB_A, 1)


async def test_claim_leases_due_entries_once(store: Store) -> None:
    now = _now()
    first = await store.enqueue_outbound("a@x.example", ["r@y.example"], BLOB_A, 1,
                                         not_before=now - timedelta(seconds=10))
    second = await store.enqueue_outbound("a@x.example", ["s@y.example"], BLOB_B, 1,
                                          not_before=now - timedelta(seconds=5))
    later = await store.enqueue_outbound("a@x.example", ["t@y.example"], BLOB_B, 1,
                                         not_before=now + timedelta(hours=1))
    lease = now + timedelta(minutes=10)
    got = await store.claim_outbound(now, lease, limit=1)
    assert [m.id for m in got] == [first.id]  # earliest first, limit respected
    got = await store.claim_outbound(now, lease, limit=10)
    assert [m.id for m in got] == [second.id]  # the first one is leased now
    assert await store.claim_outbound(now, lease) == []
    # An unsettled claim comes due again when its lease ends.
    again = await store.claim_outbound(lease, lease + timedelta(minutes=10))
    assert {m.id for m in again} == {first.id, second.id}
    assert later.id not in {m.id for m in again}


async def test_reschedule_and_delete(store: Store) -> None:
    e = await store.enqueue_outbound("a@x.example", ["r@y.example", "s@y.example"], BLOB_A, 3)
    when = _now() + timedelta(minutes=2)
    r = await store.reschedule_outbound(e.id, recipients=["s@y.example"], next_attempt=when,
                                        last_error="451 4.3.0 try later")
    assert r.recipients == ("s@y.example",) and r.attempts == 1
    assert r.last_error == "451 4.3.0 try later"
    assert abs((r.next_attempt - when).total_seconds()) < 0.01
    assert (await store.list_outbound())[0] == r
    assert await store.claim_outbound(_now(), when) == []  # not due yet
    with pytest.raises(NotFound):
        await store.reschedule_outbound(e.id + 100, recipients=["s@y.example"],
                                        next_attempt=when, last_error="")
    await store.delete_outbound(e.id)
    await store.delete_outbound(e.id)  # settled twice (two servers): no error
    assert await store.list_outbound() == []
    assert BLOB_A not in await store.referenced_blob_ids()


async def test_sqlite_store_of_schema_v1_gains_the_queue(tmp_path) -> None:
    import sqlite3

    from mailgate.storage import SqliteStore
    from mailgate.storage.sqlite_schema import MIGRATIONS, _statements

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for stmt in _statements(MIGRATIONS[0]):
        conn.execute(stmt)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.close()
    async with SqliteStore(path) as store:
        e = await store.enqueue_outbound("a@x.example", ["r@y.example"], BLOB_A, 1)
        assert [m.id for m in await store.list_outbound()] == [e.id]
