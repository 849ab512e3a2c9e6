"""Fixtures for the storage conformance suite: every test taking `store`
runs once per driver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgate import mime
from mailgate.storage import BlobStore, MemoryStore, SqliteStore
from mailgate.storage.base import Store


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


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "store.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")
