"""SQLite driver details the conformance suite cannot see."""

from __future__ import annotations

import asyncio
import sqlite3
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
