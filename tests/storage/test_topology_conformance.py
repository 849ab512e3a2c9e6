"""Conformance of the topology and mailbox import/export methods and of
Account.database: every driver (memory, sqlite, postgres) runs these."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mailgate.storage import AlreadyExists, NotFound, Role
from mailgate.storage.base import Store
from mailgate.storage.models import Folder, MailboxDatabase, MailServer, Message

BLOB = "cd" * 32


async def test_servers_upsert_and_list(store: Store) -> None:
    a = MailServer("mbx2", "site-b", ("backend",), ("10.0.0.2", 1993), ("10.0.0.2", 1995))
    await store.put_server(a)
    await store.put_server(MailServer("fe1", "site-a", ("frontend",)))
    assert await store.get_server("mbx2") == a
    assert await store.get_server("nope") is None
    moved = MailServer("mbx2", "site-c", ("frontend", "backend"), ("10.0.0.9", 2993), ("10.0.0.9", 2995))
    await store.put_server(moved)
    assert [s.name for s in await store.list_servers()] == ["fe1", "mbx2"]
    assert await store.get_server("mbx2") == moved


async def test_databases_create_mount_list(store: Store) -> None:
    db = MailboxDatabase("DB02", "postgresql://h/db02", "/srv/blobs02", "mbx1")
    assert await store.create_database(db) == db
    await store.create_database(MailboxDatabase("DB01", "sqlite:///x.db"))
    with pytest.raises(AlreadyExists):
        await store.create_database(MailboxDatabase("DB02", "sqlite:///other.db"))
    assert [d.name for d in await store.list_databases()] == ["DB01", "DB02"]
    mounted = await store.mount_database("DB02", "mbx2")
    assert mounted.server == "mbx2" and mounted.url == db.url and mounted.blob_dir == db.blob_dir
    assert await store.get_database("DB02") == mounted
    assert await store.get_database("DB99") is None
    with pytest.raises(NotFound):
        await store.mount_database("DB99", "mbx2")


async def test_account_database_field(store: Store) -> None:
    acc = await store.create_account("ann@example.org", "h")
    assert acc.database == ""
    up = await store.update_account("ann@example.org", database="DB02")
    assert up.database == "DB02"
    assert (await store.get_account("ann@example.org")).database == "DB02"
    assert (await store.list_accounts())[0].database == "DB02"


async def test_import_account_keeps_the_directory_id(store: Store) -> None:
    from mailgate.storage.models import Account

    src = Account(4242, "Ann@Example.org", "hash", Role.USER, True, False, "n1", 1000,
                  {"imap_x": "1"}, "DB02")
    got = await store.import_account(src)
    assert got.id == 4242 and got.address == "ann@example.org" and not got.imap_enabled
    assert got.quota_bytes == 1000 and got.database == "DB02" and got.overrides == {"imap_x": "1"}
    assert await store.import_account(src) == got  # idempotent
    assert (await store.get_account_by_id(4242)).address == "ann@example.org"
    # Accounts created afterwards never collide with the imported id.
    other = await store.create_account("bob@example.org", "h")
    assert other.id != 4242
    with pytest.raises(AlreadyExists):
        await store.import_account(Account(other.id + 5000, "bob@example.org", "h"))
    f = await store.create_folder(4242, "INBOX")
    assert f.account_id == 4242


def _msg(uid: int, modseq: int, flags: tuple[str, ...], when: datetime, size: int = 7) -> Message:
    return Message(0, uid, modseq, frozenset(flags), when, size, f"{uid:064x}", b"sum%d" % uid)


async def test_import_folder_and_messages_exactly(store: Store) -> None:
    acc = await store.create_account("ann@example.org", "h")
    tz = timezone(timedelta(hours=-7, minutes=-30))
    when = datetime(2020, 2, 29, 23, 59, 58, tzinfo=tz)
    head = Folder(0, 999, "Archive/2020", 3_000_000_123, 40, 77, "\\Archive")
    folder = await store.import_folder(acc.id, head, [(3, 10), (5, 12)])
    assert (folder.name, folder.uidvalidity, folder.uidnext, folder.highestmodseq, folder.special_use) == \
        ("Archive/2020", 3_000_000_123, 40, 77, "\\Archive")
    assert folder.account_id == acc.id
    msgs = [_msg(7, 20, ("\\Seen", "$Label1"), when), _msg(9, 75, ("\\Deleted",), when, 11),
            _msg(12, 30, (), when, 5)]
    await store.import_messages(folder.id, msgs)
    got = await store.get_messages(folder.id, [7, 9, 12])
    assert [(m.uid, m.modseq, m.flags, m.size, m.blob_id, m.summary) for m in got] == \
        [(m.uid, m.modseq, m.flags, m.size, m.blob_id, m.summary) for m in msgs]
    assert all(m.internaldate == when and m.internaldate.utcoffset() == tz.utcoffset(None) for m in got)
    assert await store.expunge_log(folder.id) == [(3, 10), (5, 12)]
    assert await store.expunged_since(folder.id, 11) == [5]
    st = await store.folder_status(folder.id)
    assert (st.messages, st.unseen, st.deleted, st.size) == (3, 2, 1, 23)
    assert (st.uidnext, st.highestmodseq, st.uidvalidity) == (40, 77, 3_000_000_123)
    assert await store.account_usage(acc.id) == 23
    # Appends after an import continue from the imported UIDNEXT / MODSEQ.
    new = await store.append_message(folder.id, blob_id=BLOB, size=1, summary=b"x")
    assert (new.uid, new.modseq) == (40, 78)
    with pytest.raises(AlreadyExists):
        await store.import_messages(folder.id, [_msg(7, 80, (), when)])
    # UIDNEXT / HIGHESTMODSEQ rise to cover messages beyond them.
    await store.import_messages(folder.id, [_msg(100, 500, (), when)])
    fresh = await store.get_folder_by_id(folder.id)
    assert (fresh.uidnext, fresh.highestmodseq) == (101, 500)
    # A folder created later never gets an imported UIDVALIDITY or below.
    later = await store.create_folder(acc.id, "Later")
    assert later.uidvalidity > 3_000_000_123


async def test_import_folder_replaces_one_of_that_name(store: Store) -> None:
    acc = await store.create_account("ann@example.org", "h")
    old = await store.create_folder(acc.id, "INBOX")
    await store.append_message(old.id, blob_id=BLOB, size=3, summary=b"x")
    other = await store.create_folder(acc.id, "Keep")
    head = Folder(0, acc.id, "INBOX", 17, 5, 9, None)
    new = await store.import_folder(acc.id, head)
    assert new.id != old.id and await store.get_folder_by_id(old.id) is None
    assert await store.message_index(new.id) == []
    assert (await store.folder_status(new.id)).messages == 0
    assert await store.get_folder(acc.id, "Keep") == other
    assert await store.expunge_log(new.id) == []
    with pytest.raises(NotFound):
        await store.import_folder(acc.id + 1000, head)
    with pytest.raises(NotFound):
        await store.import_messages(old.id, [])
    with pytest.raises(NotFound):
        await store.expunge_log(old.id)


async def test_delete_mailbox_data_keeps_the_account(store: Store) -> None:
    acc = await store.create_account("ann@example.org", "h")
    bob = await store.create_account("bob@example.org", "h")
    f = await store.create_folder(acc.id, "INBOX")
    await store.append_message(f.id, blob_id=BLOB, size=3, summary=b"x")
    await store.subscribe(acc.id, "INBOX")
    fb = await store.create_folder(bob.id, "INBOX")
    await store.delete_mailbox_data(acc.id)
    assert await store.get_account("ann@example.org") is not None
    assert await store.list_folders(acc.id) == []
    assert await store.list_subscriptions(acc.id) == []
    assert await store.get_folder_by_id(fb.id) == fb
    assert BLOB not in await store.referenced_blob_ids()
    await store.delete_mailbox_data(acc.id)  # nothing left: no error
