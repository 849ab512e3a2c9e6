"""SQLite driver details the conformance suite cannot see."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mailgate.storage import Change, SqliteStore, StorageError
from mailgate.storage import sqlite_worker
from mailgate.storage.sqlite_schema import SCHEMA_VERSION


async def test_schema_version_and_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SqliteStore(db):
        pass
    async with SqliteStore(db):  # reopening migrates nothing
        pass
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SqliteStore(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer"):
        await SqliteStore(db).open()


async def test_busy_database_raises_storage_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SqliteStore(db, busy_timeout_ms=100) as store:
        acc = await store.create_account("ann@example.org", "x")
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StorageError, match="busy"):
                await store.create_folder(acc.id, "INBOX")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await store.create_folder(acc.id, "INBOX")  # usable afterwards


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    with pytest.raises(StorageError):
        await store.list_accounts()
    await store.open()
    await store.close()
    with pytest.raises(StorageError):
        await store.list_accounts()


async def test_two_stores_in_one_process_hear_each_other(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with SqliteStore(db, poll_interval=0.05) as a, SqliteStore(db, poll_interval=0.05) as b:
        acc = await a.create_account("ann@example.org", "x")
        folder = await a.create_folder(acc.id, "INBOX")
        heard_a: list[Change] = []
        heard_b: list[Change] = []
        a.add_listener(heard_a.append)
        b.add_listener(heard_b.append)
        await a.append_message(folder.id, blob_id="ab" * 32, size=1, summary=b"")
        assert heard_a == [Change(folder.id)]  # own write: at once
        deadline = time.monotonic() + 1
        while not heard_b and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert heard_b == [Change(folder.id)]
        await asyncio.sleep(0.2)
        assert heard_a == [Change(folder.id)] and heard_b == [Change(folder.id)]  # once each


async def test_change_log_is_trimmed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_worker, "_TRIM_EVERY", 4)
    monkeypatch.setattr(sqlite_worker, "CHANGE_RETENTION_S", 0.0)
    db = tmp_path / "s.db"
    async with SqliteStore(db) as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        for _ in range(12):
            await store.append_message(folder.id, blob_id="ab" * 32, size=1, summary=b"")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM changes").fetchone()[0] < 4
    conn.close()


async def test_reopen_after_close_and_after_failed_open(tmp_path: Path) -> None:
    import threading

    before = threading.active_count()
    bad = SqliteStore(tmp_path / "missing-dir" / "s.db")
    with pytest.raises(StorageError):
        await bad.open()
    store = SqliteStore(tmp_path / "s.db")
    for _ in range(2):
        await store.open()
        await store.create_account(f"u{_}@example.org", "x")
        await store.close()
    assert threading.active_count() == before  # no worker thread left behind


# --- group commit (sqlite_worker.DbThread._run_group) -------------------------------
async def _hold_worker(store: SqliteStore) -> tuple[threading.Event, asyncio.Future[None]]:
    """Keep the worker thread busy until the event is set, so that jobs
    submitted meanwhile are all queued together (as under load)."""
    release = threading.Event()
    started = threading.Event()

    def hold(db: sqlite_worker.Db) -> None:
        started.set()
        release.wait(10)

    fut = store._db.run(hold)
    await asyncio.to_thread(started.wait, 10)
    return release, fut


def _count_commits(store: SqliteStore) -> list[str]:
    seen: list[str] = []

    def trace(db: sqlite_worker.Db) -> None:
        db.c.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)

    store._db.run(trace)
    return seen


async def test_queued_appends_share_one_commit_each_gets_its_own_result(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        heard: list[Change] = []
        store.add_listener(heard.append)
        commits = _count_commits(store)
        release, held = await _hold_worker(store)
        appends = [asyncio.ensure_future(store.append_message(
            folder.id, blob_id=f"{i:064x}", size=10 + i, summary=b"s%d" % i)) for i in range(6)]
        await asyncio.sleep(0.05)  # all six are queued behind the held job
        release.set()
        await held
        messages = await asyncio.gather(*appends)
        assert len(commits) == 1  # one WAL fsync for six deliveries
        assert [m.uid for m in messages] == [1, 2, 3, 4, 5, 6]
        assert [m.blob_id for m in messages] == [f"{i:064x}" for i in range(6)]
        assert len({m.modseq for m in messages}) == 6
        status = await store.folder_status(folder.id)
        assert (status.messages, status.uidnext, status.size) == (6, 7, sum(range(10, 16)))
        assert heard and set(heard) == {Change(folder.id)}


async def test_a_failing_job_in_a_group_leaves_the_others_alone(tmp_path: Path) -> None:
    from mailgate.storage import NotFound, QuotaExceeded

    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        commits = _count_commits(store)
        release, held = await _hold_worker(store)

        def append(i: int, folder_id: int, quota: int | None = None) -> asyncio.Future[object]:
            return asyncio.ensure_future(store.append_message(
                folder_id, blob_id=f"{i:064x}", size=100, summary=b"", quota_bytes=quota))

        jobs = [append(0, folder.id), append(1, folder.id + 99), append(2, folder.id),
                append(3, folder.id, quota=150), append(4, folder.id)]
        await asyncio.sleep(0.05)
        release.set()
        await held
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert len(commits) == 1
        assert isinstance(results[1], NotFound) and isinstance(results[3], QuotaExceeded)
        assert [r.uid for r in results if not isinstance(r, Exception)] == [1, 2, 3]
        index = await store.message_index(folder.id)
        assert [m.uid for m in index] == [1, 2, 3]
        status = await store.folder_status(folder.id)
        assert (status.messages, status.uidnext, status.size) == (3, 4, 300)


async def test_group_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_worker, "GROUP_COMMIT_MAX_JOBS", 2)
    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        commits = _count_commits(store)
        release, held = await _hold_worker(store)
        jobs = [asyncio.ensure_future(store.append_message(
            folder.id, blob_id=f"{i:064x}", size=1, summary=b"")) for i in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        await held
        assert [m.uid for m in await asyncio.gather(*jobs)] == [1, 2, 3, 4, 5]
        assert len(commits) == 3  # 2 + 2 + 1


async def test_reads_queued_among_grouped_writes_see_them_committed(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        release, held = await _hold_worker(store)
        first = asyncio.ensure_future(store.append_message(
            folder.id, blob_id="a" * 64, size=1, summary=b""))
        await asyncio.sleep(0.01)
        status = asyncio.ensure_future(store.folder_status(folder.id))  # a solo job
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(store.append_message(
            folder.id, blob_id="b" * 64, size=1, summary=b""))
        await asyncio.sleep(0.05)
        release.set()
        await held
        # The read was submitted after the first append: it runs after the
        # group's commit (and so sees the second too: jobs pending together
        # may run in any order).
        assert (await first).uid == 1 and (await second).uid == 2
        assert (await status).messages == 2


async def test_a_group_whose_transaction_is_lost_runs_its_jobs_alone(tmp_path: Path) -> None:
    """SQLite aborts the whole transaction on some errors (disk full, I/O):
    the jobs before the failing one are undone too, so each runs again alone."""
    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
        commits = _count_commits(store)
        lost = {"once": True}

        def abort_the_transaction(db: sqlite_worker.Db) -> None:
            with db.write() as c:
                if db.grouped and lost.pop("once", False):
                    c.execute("ROLLBACK")  # what SQLite does itself after SQLITE_FULL
                    raise sqlite3.OperationalError("database or disk is full")
                c.execute("INSERT INTO changes (folder_id, at) VALUES (?, 0)", (folder.id,))

        release, held = await _hold_worker(store)
        before = asyncio.ensure_future(store.append_message(
            folder.id, blob_id="a" * 64, size=1, summary=b""))
        await asyncio.sleep(0.01)
        odd = store._db.run_grouped(abort_the_transaction)
        after = asyncio.ensure_future(store.append_message(
            folder.id, blob_id="b" * 64, size=1, summary=b""))
        await asyncio.sleep(0.05)
        release.set()
        await held
        assert (await before).uid == 1
        await odd  # alone, the second time, it succeeds
        assert (await after).uid == 2
        assert len(commits) == 3  # the group committed nothing; three solo commits
        assert [m.uid for m in await store.message_index(folder.id)] == [1, 2]
