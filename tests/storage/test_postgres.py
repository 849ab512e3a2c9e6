"""PostgreSQL-only: several processes and stores on one database, NOTIFY,
migrations, errors. The conformance suite covers the semantics (its `store`
fixture includes PostgresStore); these cover what only a shared server has.
Each test gets a fresh database (`pg_dsn`, conftest.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mailgate.storage import Change, FlagMode, Message, QuotaExceeded, StorageError
from mailgate.storage.base import Store

if TYPE_CHECKING:  # imported lazily at run time: asyncpg may be missing (then pg_server says so)
    from mailgate.storage.postgres import PostgresStore

    from pg import PgServer

WORKER = str(Path(__file__).with_name("pg.py"))


def _store(dsn: str, **kw: Any) -> PostgresStore:
    from mailgate.storage.postgres import PostgresStore

    return PostgresStore(dsn, **kw)


@pytest.fixture
async def pg(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    async with _store(pg_dsn) as store:
        yield store


async def _inbox(store: PostgresStore) -> tuple[int, int]:
    acc = await store.create_account("ann@example.org", "x")
    folder = await store.create_folder(acc.id, "INBOX")
    return acc.id, folder.id


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, WORKER, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _append(store: PostgresStore, fid: int, i: int, **kw: Any) -> Message:
    return await store.append_message(fid, blob_id=f"{i:064x}", size=10, summary=b"s", **kw)


# --- several processes -----------------------------------------------------------
@pytest.mark.slow
async def test_two_processes_append_concurrently(pg_dsn: str, pg: PostgresStore) -> None:
    _, fid = await _inbox(pg)
    count = 150
    procs = [await _spawn("append", pg_dsn, str(fid), str(count)) for _ in range(2)]
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()
    uids = [int(x) for out, _ in outs for x in out.split()]
    assert len(uids) == 2 * count and len(set(uids)) == 2 * count
    index = await pg.message_index(fid)
    assert sorted(uids) == [m.uid for m in index] == list(range(1, 2 * count + 1))
    st = await pg.folder_status(fid)
    assert (st.messages, st.uidnext, st.unseen) == (2 * count, 2 * count + 1, count)
    assert len({m.modseq for m in index}) == 2 * count
    assert st.highestmodseq == max(m.modseq for m in index) == 2 * count + 1


async def test_listener_hears_other_process_within_a_second(
    pg_dsn: str, pg: PostgresStore,
) -> None:
    _, fid = await _inbox(pg)
    heard = asyncio.Event()
    changes: list[Change] = []

    def on_change(change: Change) -> None:
        changes.append(change)
        heard.set()

    pg.add_listener(on_change)
    proc = await _spawn("append", pg_dsn, str(fid), "1")
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    acked = time.monotonic()
    assert line.strip() == b"1"
    await asyncio.wait_for(heard.wait(), 1.0)
    assert time.monotonic() - acked < 1.0
    assert changes == [Change(fid)]
    await proc.wait()


# --- several stores in one process (each its own pool: as two servers) -----------
async def test_two_stores_interleave_writes_without_collisions(
    pg_dsn: str, pg: PostgresStore,
) -> None:
    acc, a = await _inbox(pg)
    b = (await pg.create_folder(acc, "B")).id
    async with _store(pg_dsn, max_size=4) as other:
        await asyncio.gather(
            *(_append(s, fid, i) for i in range(60) for s in (pg, other) for fid in (a, b))
        )
        for fid in (a, b):
            index = await other.message_index(fid)
            assert [m.uid for m in index] == list(range(1, 121))
            assert len({m.modseq for m in index}) == 120
        # Moves in opposite directions at once lock both folders in id
        # order, so they wait for each other instead of deadlocking.
        results = await asyncio.gather(*(
            s.move_messages(src, [uid], dst)
            for uid in range(1, 41)
            for s, src, dst in ((pg, a, b), (other, b, a))
        ))
        assert all(len(r) == 1 for r in results)
        for fid in (a, b):
            st = await pg.folder_status(fid)
            index = await pg.message_index(fid)
            assert st.messages == len(index) == 120
            # 120 appends + 40 moved in + 40 expunged by moving out, each one MODSEQ
            assert (st.uidnext, st.highestmodseq) == (161, 201)
            assert len(await pg.expunged_since(fid, 0)) == 40
        await asyncio.gather(*(
            s.store_flags(a, range(1, 200), [f"k{i}"], FlagMode.ADD)
            for i, s in enumerate((pg, other) * 5)
        ))
        index = await pg.message_index(a)
        assert all(len(m.flags) == 10 for m in index)
        assert len({m.modseq for m in index}) == len(index)


async def test_uidvalidity_unique_across_stores(pg_dsn: str, pg: PostgresStore) -> None:
    acc, _ = await _inbox(pg)
    async with _store(pg_dsn) as other:
        made = await asyncio.gather(*(
            s.create_folder(acc, f"F{i}-{j}") for i in range(15) for j, s in enumerate((pg, other))
        ))
    assert len({f.uidvalidity for f in made}) == len(made)


async def test_quota_holds_under_concurrent_deliveries(pg_dsn: str, pg: PostgresStore) -> None:
    acc, a = await _inbox(pg)
    b = (await pg.create_folder(acc, "B")).id
    async with _store(pg_dsn) as other:
        async def one(s: PostgresStore, fid: int, i: int) -> bool:
            try:
                await _append(s, fid, i, quota_bytes=205)
                return True
            except QuotaExceeded:
                return False

        ok = await asyncio.gather(*(
            one(s, fid, i) for i in range(20) for s, fid in ((pg, a), (other, b))
        ))
    assert sum(ok) == 20 and await pg.account_usage(acc) == 200


# --- NOTIFY details ----------------------------------------------------------------
async def test_own_writes_fire_once_and_large_changes_span_notifies(
    pg_dsn: str, pg: PostgresStore,
) -> None:
    from mailgate.storage.postgres_db import Tx

    _, fid = await _inbox(pg)
    mine: list[int] = []
    pg.add_listener(lambda c: mine.append(c.folder_id))
    async with _store(pg_dsn) as other:
        theirs: list[int] = []
        got_all = asyncio.Event()

        def on_other(c: Change) -> None:
            theirs.append(c.folder_id)
            if len(theirs) >= 2500:
                got_all.set()

        other.add_listener(on_other)

        async def touch_many(tx: Tx) -> None:  # more ids than one payload holds
            tx.log_change(*range(1, 2501))

        await pg._db.write(touch_many)
        await asyncio.wait_for(got_all.wait(), 5)
        assert sorted(theirs) == list(range(1, 2501))
        assert sorted(mine) == list(range(1, 2501))  # fired locally, not echoed by NOTIFY
        mine.clear()
        await _append(other, fid, 1)
        await asyncio.sleep(0.3)
        assert mine == [fid]


async def test_listen_connection_comes_back(
    pg_dsn: str, pg_server: PgServer, pg: PostgresStore,
) -> None:
    import asyncpg

    _, fid = await _inbox(pg)
    heard = asyncio.Event()
    pg.add_listener(lambda c: heard.set())
    admin = await asyncpg.connect(pg_server.admin_dsn)
    try:
        killed = await admin.fetchval(  # the store's LISTEN connection, as if the server dropped it
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND query LIKE 'LISTEN %'", pg_dsn.rsplit("/", 1)[1],
        )
    finally:
        await admin.close()
    assert killed == 1
    async with _store(pg_dsn, listen=False) as other:
        deadline = time.monotonic() + 10
        while not heard.is_set() and time.monotonic() < deadline:
            await _append(other, fid, 1)
            try:
                await asyncio.wait_for(heard.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
    assert heard.is_set()


# --- schema and errors ---------------------------------------------------------------
async def test_migrations_versioned_and_concurrent_opens_agree(pg_dsn: str) -> None:
    import asyncpg

    from mailgate.storage.postgres_schema import SCHEMA_VERSION

    stores = [_store(pg_dsn, listen=False) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))  # all migrate at once: one wins
    await asyncio.gather(*(s.close() for s in stores))
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetch("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        await conn.execute("UPDATE schema_version SET version = $1", SCHEMA_VERSION + 1)
    finally:
        await conn.close()
    with pytest.raises(StorageError, match="newer"):
        await _store(pg_dsn).open()


async def test_upgrade_from_first_schema_version(pg_dsn: str) -> None:
    import asyncpg

    from mailgate.storage.postgres_schema import MIGRATIONS, SCHEMA_VERSION

    conn = await asyncpg.connect(pg_dsn)
    try:  # a database made by the first release
        await conn.execute(MIGRATIONS[0])
        await conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        await conn.execute("INSERT INTO schema_version VALUES (1)")
        await conn.execute(
            "INSERT INTO accounts (address, password_hash, role)"
            " VALUES ('old@x.example', 'h', 'user')"
        )
    finally:
        await conn.close()
    async with _store(pg_dsn) as store:
        assert (await store.get_account("old@x.example")) is not None
        await store.enqueue_outbound("a@x.example", ["b@y.example"], "c" * 64, 1)
        assert len(await store.list_outbound()) == 1
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT version FROM schema_version") == SCHEMA_VERSION
    finally:
        await conn.close()


async def test_unreachable_server_is_a_storage_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = _store(f"postgresql://nobody:secret@127.0.0.1:{port}/none", timeout=5)
    assert isinstance(store, Store) and "secret" not in repr(store)
    with pytest.raises(StorageError):
        await store.open()
    with pytest.raises(StorageError, match="not open"):
        await store.get_account("ann@example.org")
