"""Topology ops over SQLite and PostgreSQL directories: servers, databases,
routes, mailboxes in a database, moves (exact), deliveries during a move,
failover."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailgate.admin import ops
from mailgate.admin import ops_topology as topo
from mailgate.config import Config
from mailgate.directory.stores import MOVING_SCOPE, MailboxInTransit, MailboxStores
from mailgate.directory.topology import Route, locate_mailbox
from mailgate.policy.state import DISCONNECT_SCOPE, MOVED_MARK
from mailgate.runtime import Runtime
from mailgate.storage.base import Store
from mailgate.storage.blobs import BlobStore
from mailgate.storage.models import FlagMode, MailServer


@contextlib.asynccontextmanager
async def runtime_for(config: Config):
    async with ops.open_store(config) as (store, blobs):
        runtime = Runtime(store, blobs, config.hostname, None, node=config.node,
                          directory_url=config.store_url)
        try:
            yield runtime
        finally:
            await runtime.close_mailbox_stores()


def message(subject: str, body: str = "hello") -> bytes:
    return f"From: a@example.test\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()


async def snapshot(store: Store, blobs: BlobStore, account_id: int) -> dict:
    """Everything a client can observe of a mailbox, plus its blob bytes."""
    out: dict = {"subscriptions": await store.list_subscriptions(account_id), "folders": {}}
    for f in await store.list_folders(account_id):
        uids = [m.uid for m in await store.message_index(f.id)]
        msgs = await store.get_messages(f.id, uids)
        out["folders"][f.name] = {
            "head": (f.uidvalidity, f.uidnext, f.highestmodseq, f.special_use),
            "status": await store.folder_status(f.id),
            "expunged": await store.expunge_log(f.id),
            "messages": [(m.uid, m.modseq, m.flags, m.internaldate, m.internaldate.utcoffset(), m.size,
                          m.blob_id, m.summary, blobs.path(m.blob_id).read_bytes()) for m in msgs],
        }
    return out


async def test_init_records_a_single_node_topology(config: Config) -> None:
    assert [s.name for s in await topo.list_servers(config)] == ["mx1"]
    details = await topo.show_server(config, "mx1")
    assert details.server.imap_backend == ("127.0.0.1", 1993)
    assert details.server.pop_backend == ("127.0.0.1", 1995)
    assert [d.name for d in details.databases] == ["DB01"]
    (db01, count), = await topo.list_databases(config)
    assert db01.url == config.store_url and db01.server == "mx1" and count == 0
    account = await ops.add_mailbox(config, "ann@example.test", "pw")
    assert account.database == "DB01"
    async with runtime_for(config) as runtime:
        route = await locate_mailbox(runtime, "Ann@Example.test")
        assert route == Route("mx1", "", ("127.0.0.1", 1993), ("127.0.0.1", 1995), "DB01")
        assert await locate_mailbox(runtime, "nobody@example.test") is None
        store, blobs = await runtime.mailbox_store(account)
        assert store is runtime.store and blobs is runtime.blobs  # single node: no second store


async def test_mailbox_in_a_second_database(config: Config, second_db_url: str, tmp_path: Path) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    with pytest.raises(ops.OpError, match="exists already"):
        await topo.add_database(config, "DB02", second_db_url)
    with pytest.raises(ops.OpError, match="no server"):
        await topo.add_database(config, "DB03", second_db_url, server="ghost")
    account = await ops.add_mailbox(config, "bob@example.test", "pw", database="DB02")
    with pytest.raises(ops.OpError, match="no mailbox database"):
        await ops.add_mailbox(config, "carl@example.test", "pw", database="DB99")
    delivered = await ops.deliver_local(config, "bob@example.test", [message("one")])
    async with runtime_for(config) as runtime:
        store, blobs = await runtime.mailbox_store(account)
        assert store is not runtime.store and blobs.root == tmp_path / "blobs02"
        inbox = await store.get_folder(account.id, "INBOX")
        assert [m.uid for m in await store.message_index(inbox.id)] == [delivered.uid]
        assert blobs.exists(delivered.blob_id)
        assert await runtime.store.list_folders(account.id) == []  # nothing in the directory's DB01
        assert (await locate_mailbox(runtime, "bob@example.test")).database == "DB02"
    details = await ops.show_mailbox(config, "bob@example.test")
    assert dict((n, c) for n, c, _ in details.folders)["INBOX"] == 1
    counts = {d.name: n for d, n in await topo.list_databases(config)}
    assert counts == {"DB01": 0, "DB02": 1}
    await ops.remove_mailbox(config, "bob@example.test")
    async with runtime_for(config) as runtime:
        store, _ = await runtime.mailboxes.for_database("DB02")
        assert await store.get_account("bob@example.test") is None


async def _fill(store: Store, blobs: BlobStore, account_id: int) -> None:
    """Folders and messages with everything a move must keep."""
    from mailgate.delivery import deliver

    account = await store.get_account_by_id(account_id)
    zone = timezone(timedelta(hours=5, minutes=30))
    for i in range(7):
        await deliver(store, blobs, account, "INBOX", message(f"m{i}", "x" * i),
                      flags=["\\Seen"] if i % 2 else [], internaldate=datetime(2021, 1, i + 1, 8, tzinfo=zone))
    inbox = await store.get_folder(account_id, "INBOX")
    await store.store_flags(inbox.id, [2, 3], ["$Important", "\\Flagged"], FlagMode.ADD)
    await store.store_flags(inbox.id, [5], ["\\Deleted"], FlagMode.ADD)
    await store.expunge(inbox.id, [5, 6])
    work = await store.create_folder(account_id, "Work/2021")
    await store.copy_messages(inbox.id, [1, 2], work.id)
    await store.subscribe(account_id, "Work/2021")
    await store.subscribe(account_id, "Gone")  # a subscription to a missing folder


async def test_move_keeps_everything_byte_for_byte(config: Config, second_db_url: str, tmp_path: Path) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    account = await ops.add_mailbox(config, "ann@example.test", "pw")
    async with runtime_for(config) as runtime:
        await _fill(runtime.store, runtime.blobs, account.id)
        before = await snapshot(runtime.store, runtime.blobs, account.id)
    report = await topo.move_mailbox(config, "ann@example.test", "DB02", settle_seconds=0.01)
    assert (report.source, report.target, report.messages) == ("DB01", "DB02", 7)
    async with runtime_for(config) as runtime:
        moved = await runtime.store.get_account("ann@example.test")
        assert moved.database == "DB02"
        store, blobs = await runtime.mailbox_store(moved)
        assert await snapshot(store, blobs, account.id) == before
        assert await runtime.store.list_folders(account.id) == []  # the old copy is gone
        assert await runtime.store.list_subscriptions(account.id) == []
        # New mail continues from the kept UIDNEXT / MODSEQ.
        nxt = await ops.deliver_local(config, "ann@example.test", [message("after")])
        assert nxt.uid == before["folders"]["INBOX"]["head"][1]
        assert nxt.modseq == before["folders"]["INBOX"]["head"][2] + 1
        after = await snapshot(store, blobs, account.id)
    generation = (await _settings(config, DISCONNECT_SCOPE))["ann@example.test"]
    assert generation.endswith(MOVED_MARK)  # its sessions were told to reconnect
    # And back into the directory's own database, still exact.
    await topo.move_mailbox(config, "ann@example.test", "DB01", settle_seconds=0.01)
    async with runtime_for(config) as runtime:
        assert await snapshot(runtime.store, runtime.blobs, account.id) == after
        store, _ = await runtime.mailboxes.for_database("DB02")
        assert await store.list_folders(account.id) == []
    with pytest.raises(ops.OpError, match="in DB01 already"):
        await topo.move_mailbox(config, "ann@example.test", "DB01")
    with pytest.raises(ops.OpError, match="no mailbox database"):
        await topo.move_mailbox(config, "ann@example.test", "DB77")


async def _settings(config: Config, scope: str) -> dict[str, str]:
    async with ops.open_store(config) as (store, _):
        return await store.get_settings(scope)


async def test_delivery_during_a_move_is_not_lost(config: Config, second_db_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    await ops.add_mailbox(config, "ann@example.test", "pw")
    delivered = 0
    retried = 0
    moved = asyncio.Event()
    real_end_sessions = topo._end_sessions
    ended = 0

    async def end_sessions_then_deliver(directory: Store, address: str) -> None:
        # The first call runs while the mailbox is marked moving: a delivery
        # then must be refused (tempfail), whatever the background loop's timing.
        nonlocal ended, retried
        await real_end_sessions(directory, address)
        ended += 1
        if ended == 1:
            with pytest.raises(MailboxInTransit):
                await ops.deliver_local(config, "ann@example.test", [message("while-marked")])
            retried += 1

    monkeypatch.setattr(topo, "_end_sessions", end_sessions_then_deliver)

    async def deliveries() -> None:
        # Steadily, from before the move until after it: some land in the old
        # database, some while it is marked, some in the new one.
        nonlocal retried, delivered
        after = 0
        while after < 3:
            while True:
                try:
                    await ops.deliver_local(config, "ann@example.test", [message(f"n{delivered}")])
                    break
                except MailboxInTransit:  # `mailgate deliver` exits 75; the MTA retries
                    retried += 1
                    await asyncio.sleep(0.05)
            delivered += 1
            after += moved.is_set()
            await asyncio.sleep(0.01)

    sender = asyncio.create_task(deliveries())
    await asyncio.sleep(0.2)
    await topo.move_mailbox(config, "ann@example.test", "DB02", settle_seconds=0.5)
    moved.set()
    await sender
    total = delivered
    assert ended == 2 and retried > 0  # some arrived while it was marked
    async with runtime_for(config) as runtime:
        account = await runtime.store.get_account("ann@example.test")
        store, _ = await runtime.mailbox_store(account)
        inbox = await store.get_folder(account.id, "INBOX")
        msgs = await store.get_messages(inbox.id, [m.uid for m in await store.message_index(inbox.id)])
    subjects = sorted(m.summary for m in msgs)
    assert len(msgs) == total and len(set(subjects)) == total


async def test_the_moving_mark_refuses_mail_and_logins(config: Config) -> None:
    from mailgate.session.imap.session import ImapSession

    account = await ops.add_mailbox(config, "ann@example.test", "pw")
    async with ops.open_store(config) as (store, _):
        await store.put_settings(MOVING_SCOPE, {"ann@example.test": "DB02"})
    with pytest.raises(MailboxInTransit):
        await ops.deliver_local(config, "ann@example.test", [message("x")])
    async with runtime_for(config) as runtime:
        with pytest.raises(MailboxInTransit):
            await locate_mailbox(runtime, "ann@example.test")
        session = ImapSession(runtime, tls_active=True, can_start_tls=False)
        reply = await session.login("a1", "ann@example.test", "pw", via_sasl=False)
        assert reply.status == "NO" and session.ctx.account is None
        stores = MailboxStores(runtime.store, config.store_url, runtime.blobs)
        from mailgate.delivery_routing import deliver_routed

        _blob, (result,) = await deliver_routed(stores, [(account, "INBOX")], message("y"))
        assert isinstance(result, MailboxInTransit)
        await runtime.store.put_settings(MOVING_SCOPE, {"ann@example.test": ""})
        reply = await session.login("a2", "ann@example.test", "pw", via_sasl=False)
        assert reply.status == "OK"


async def test_failover_mount_changes_the_route(config: Config, second_db_url: str, tmp_path: Path) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    await ops.add_mailbox(config, "ann@example.test", "pw", database="DB02")
    await ops.add_mailbox(config, "bob@example.test", "pw")
    async with runtime_for(config) as runtime:
        other = MailServer("mx2", "site-b", ("backend",), ("10.1.0.2", 1993), ("10.1.0.2", 1995))
        await runtime.store.put_server(other)
        assert (await locate_mailbox(runtime, "ann@example.test")).server == "mx1"
    mounted = await topo.mount_database(config, "DB02", "mx2")
    assert mounted.server == "mx2"
    async with runtime_for(config) as runtime:
        route = await locate_mailbox(runtime, "ann@example.test")
        assert route == Route("mx2", "site-b", ("10.1.0.2", 1993), ("10.1.0.2", 1995), "DB02")
        assert (await locate_mailbox(runtime, "bob@example.test")).server == "mx1"
    disconnects = await _settings(config, DISCONNECT_SCOPE)
    assert disconnects.get("ann@example.test", "").endswith(MOVED_MARK)
    assert "bob@example.test" not in disconnects
    with pytest.raises(ops.OpError, match="no server"):
        await topo.mount_database(config, "DB02", "ghost")
    with pytest.raises(ops.OpError, match="no mailbox database"):
        await topo.mount_database(config, "DB09", "mx2")
    assert replace(mounted, server="mx1") != mounted
