"""Fixtures for the storage conformance suite: every test taking `store`
runs once per driver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mailgate import mime
from mailgate.storage import BlobStore, MemoryStore, SqliteStore
from mailgate.storage.base import Store

from pg import PgServer, PgUnavailable, required


class FakeSummary:
    """Stands in for mailgate.mime's summary in storage tests: records the
    size and first line only, so it never copies the message."""

    def __init__(self, data: object) -> None:
        view = memoryview(data)  # type: ignore[arg-type]
        head = bytes(view[:200])
        self._bytes = b"%d:" % len(view) + head.split(b"\r\n", 1)[0]

    def to_bytes(self) -> bytes:
        return self._bytes


@pytest.fixture
def fake_summarize(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "summarize", FakeSummary, raising=False)


@pytest.fixture
async def pg_dsn(pg_server: PgServer) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    name, dsn = await pg_server.create_database()
    try:
        yield dsn
    finally:
        await pg_server.drop_database(name)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    db_name = None
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        s = SqliteStore(tmp_path / "store.db")
    else:
        from mailgate.storage.postgres import PostgresStore

        # The session fixture by name (sync), then a database of our own:
        # an async fixture cannot await another one through getfixturevalue.
        server: PgServer = request.getfixturevalue("pg_server")
        db_name, dsn = await server.create_database()
        s = PostgresStore(dsn)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        if db_name is not None:
            await server.drop_database(db_name)


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")
