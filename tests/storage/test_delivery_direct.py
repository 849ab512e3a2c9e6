"""delivery_routing's direct path: a recipient whose database is the
directory store itself is filed with ONE guarded Store.file_message job (no
lookups before, no settling after); anything the guard refuses is either a
temporary failure (a move mark) or routed afresh (the account changed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgate import delivery_routing
from mailgate.delivery import ensure_default_folders
from mailgate.directory.stores import MOVING_SCOPE, MailboxInTransit, MailboxStores
from mailgate.storage import BlobStore, MemoryStore, Message, NotFound, SqliteStore
from mailgate.storage.models import MailboxDatabase

RAW = b"From: a@example.org\r\nSubject: direct\r\n\r\nhello\r\n"


class Counting:
    """Counts the store calls made through it."""

    def __init__(self, store: object) -> None:
        self.calls: list[str] = []
        self._store = store

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._store, name)
        if callable(attr) and not name.startswith("_"):
            def counted(*args: object, **kwargs: object) -> object:
                self.calls.append(name)
                return attr(*args, **kwargs)
            return counted
        return attr


@pytest.fixture(params=["sqlite", "memory"])
async def directory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    store = SqliteStore(tmp_path / "m.db") if request.param == "sqlite" else MemoryStore()
    await store.open()
    try:
        await store.create_database(MailboxDatabase("DB01", f"sqlite://{tmp_path / 'm.db'}"))
        yield store
    finally:
        await store.close()


async def _setup(directory: object, tmp_path: Path) -> tuple[MailboxStores, Counting, object]:
    account = await directory.create_account("ann@example.org", "x")
    await ensure_default_folders(directory, account)
    account = await directory.update_account(account.address, database="DB01")
    counting = Counting(directory)
    stores = MailboxStores(counting, f"sqlite://{tmp_path / 'm.db'}",  # type: ignore[arg-type]
                           BlobStore(tmp_path / "blobs"))
    return stores, counting, account


async def test_direct_delivery_is_one_store_job(directory: object, tmp_path: Path) -> None:
    stores, counting, account = await _setup(directory, tmp_path)
    await delivery_routing.deliver_routed(stores, [(account, "INBOX")], RAW)  # learns DB01
    counting.calls.clear()
    blob, (msg,) = await delivery_routing.deliver_routed(stores, [(account, "INBOX")], RAW)
    assert isinstance(msg, Message) and msg.uid == 2 and msg.blob_id == blob.blob_id
    assert counting.calls == ["file_message"]
    assert stores.blobs.path(blob.blob_id).read_bytes() == RAW
    _, (missing,) = await delivery_routing.deliver_routed(stores, [(account, "Nope")], RAW)
    assert isinstance(missing, NotFound)  # the guard held: a real bounce


async def test_direct_delivery_refuses_a_moving_mailbox(directory: object, tmp_path: Path) -> None:
    stores, counting, account = await _setup(directory, tmp_path)
    await directory.put_settings(MOVING_SCOPE, {account.address: "DB02"})
    _, (result,) = await delivery_routing.deliver_routed(stores, [(account, "INBOX")], RAW)
    assert isinstance(result, MailboxInTransit)
    inbox = await directory.get_folder(account.id, "INBOX")
    assert await directory.message_index(inbox.id) == []


async def test_changed_account_is_routed_afresh(directory: object, tmp_path: Path) -> None:
    stores, counting, account = await _setup(directory, tmp_path)
    # Since RCPT the account moved to "" (the directory store itself, named
    # differently): the guard refuses, the routed path looks it up again.
    await directory.update_account(account.address, database="")
    _, (msg,) = await delivery_routing.deliver_routed(stores, [(account, "INBOX")], RAW)
    assert isinstance(msg, Message)
    assert "file_message" in counting.calls and "get_account" in counting.calls


async def test_unserialized_guard_takes_the_routed_path(tmp_path: Path) -> None:
    class Unserialized(MemoryStore):
        guard_serialized = False  # as PostgreSQL: settle after the commit

    store = Unserialized()
    await store.create_database(MailboxDatabase("DB01", f"sqlite://{tmp_path / 'm.db'}"))
    stores, counting, account = await _setup(store, tmp_path)
    _, (msg,) = await delivery_routing.deliver_routed(stores, [(account, "INBOX")], RAW)
    assert isinstance(msg, Message)
    assert "file_message" not in counting.calls and "append_message" in counting.calls


async def test_direct_database_answer_expires(directory: object, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    stores, counting, account = await _setup(directory, tmp_path)
    now = [1000.0]
    monkeypatch.setattr(delivery_routing.time, "monotonic", lambda: now[0])
    assert await delivery_routing._is_direct(stores, account)
    counting.calls.clear()
    now[0] += delivery_routing.DIRECT_DATABASE_TTL_S - 0.01
    assert await delivery_routing._is_direct(stores, account)
    assert counting.calls == []  # remembered
    now[0] += 0.02
    assert await delivery_routing._is_direct(stores, account)
    assert counting.calls == ["get_database"]  # asked again
