"""The storage conformance suite: every driver runs every test here
(see the `store` fixture in conftest.py)."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from mailgate.storage import (
    AlreadyExists,
    Change,
    FlagMode,
    NotFound,
    QuotaExceeded,
    Role,
    StorageError,
)
from mailgate.storage.base import Store

BLOB = "ab" * 32
SEEN, DELETED, FLAGGED = "\\Seen", "\\Deleted", "\\Flagged"


async def _account(store: Store, address: str = "Ann@Example.org"):
    return await store.create_account(address, "{PLAIN}x")


async def _folder(store: Store, name: str = "INBOX"):
    acc = await _account(store)
    return acc, await store.create_folder(acc.id, name)


async def _append(store: Store, folder_id: int, n: int = 1, size: int = 10, **kw):
    out = []
    for i in range(n):
        out.append(await store.append_message(
            folder_id, blob_id=kw.get("blob_id", f"{i:064x}"), size=size,
            summary=b"s%d" % i, flags=kw.get("flags", ()),
            internaldate=kw.get("internaldate"), quota_bytes=kw.get("quota_bytes"),
        ))
    return out


# --- accounts ---------------------------------------------------------------
async def test_account_crud_and_case_insensitive_lookup(store: Store) -> None:
    acc = await store.create_account("Ann@Example.ORG", "h1")
    assert acc.address == "ann@example.org" and acc.role is Role.USER
    assert await store.get_account("ANN@example.org") == acc
    assert await store.get_account_by_id(acc.id) == acc
    assert await store.get_account("nobody@example.org") is None
    with pytest.raises(AlreadyExists):
        await store.create_account("ann@EXAMPLE.org", "h2")
    bob = await store.create_account("bob@example.org", "h", Role.ADMINISTRATOR, "node2")
    assert [a.address for a in await store.list_accounts()] == ["ann@example.org", "bob@example.org"]
    assert bob.role is Role.ADMINISTRATOR and bob.home_server == "node2"

    up = await store.update_account(
        "ANN@example.org", password_hash="h3", role="guest", pop_enabled=False,
        quota_bytes=1000, overrides={"ImapUseProtocolDefaults": "false"},
    )
    assert (up.password_hash, up.role, up.pop_enabled, up.imap_enabled) == ("h3", Role.GUEST, False, True)
    assert up.quota_bytes == 1000 and up.overrides == {"ImapUseProtocolDefaults": "false"}
    again = await store.get_account("ann@example.org")
    assert again == up and again.overrides == up.overrides
    with pytest.raises(ValueError):
        await store.update_account("ann@example.org", id=5)
    with pytest.raises(NotFound):
        await store.update_account("nobody@example.org", home_server="x")

    await store.delete_account("Ann@example.org")
    assert await store.get_account("ann@example.org") is None
    with pytest.raises(NotFound):
        await store.delete_account("ann@example.org")


async def test_delete_account_removes_folders_and_messages(store: Store) -> None:
    acc, f = await _folder(store)
    await _append(store, f.id, 2)
    await store.subscribe(acc.id, "INBOX")
    await store.delete_account(acc.address)
    assert await store.get_folder_by_id(f.id) is None
    assert await store.referenced_blob_ids() == set()
    acc2 = await store.create_account(acc.address, "x")
    assert await store.list_folders(acc2.id) == []
    assert await store.list_subscriptions(acc2.id) == []


async def test_settings_merge_per_scope(store: Store) -> None:
    assert await store.get_settings("imap") == {}
    await store.put_settings("imap", {"LoginType": "SecureLogin", "MaxConnections": "100"})
    await store.put_settings("imap", {"MaxConnections": "200"})
    await store.put_settings("pop", {"LoginType": "PlainTextLogin"})
    assert await store.get_settings("imap") == {"LoginType": "SecureLogin", "MaxConnections": "200"}
    assert await store.get_settings("pop") == {"LoginType": "PlainTextLogin"}
    assert await store.get_setting("imap", "MaxConnections") == "200"
    assert await store.get_setting("pop", "MaxConnections") is None  # another scope's key
    assert await store.get_setting("smtp", "LoginType") is None  # a scope never written


# --- folders ------------------------------------------------------------------
async def test_create_list_get_folders(store: Store) -> None:
    acc = await _account(store)
    inbox = await store.create_folder(acc.id, "INBOX")
    sent = await store.create_folder(acc.id, "Sent", "\\Sent")
    assert (inbox.uidnext, inbox.highestmodseq, inbox.special_use) == (1, 1, None)
    assert sent.special_use == "\\Sent" and sent.uidvalidity > inbox.uidvalidity
    with pytest.raises(AlreadyExists):
        await store.create_folder(acc.id, "INBOX")
    with pytest.raises(NotFound):
        await store.create_folder(acc.id + 999, "INBOX")
    assert await store.get_folder(acc.id, "INBOX") == inbox
    assert await store.get_folder(acc.id, "inbox") is None  # exact names
    assert await store.get_folder_by_id(sent.id) == sent
    assert [f.name for f in await store.list_folders(acc.id)] == ["INBOX", "Sent"]
    await store.set_special_use(inbox.id, "\\Important")
    assert (await store.get_folder_by_id(inbox.id)).special_use == "\\Important"
    with pytest.raises(NotFound):
        await store.set_special_use(inbox.id + 999, None)
    other = await store.create_account("bob@example.org", "x")
    assert (await store.create_folder(other.id, "INBOX")).account_id == other.id


async def test_uidvalidity_never_repeats_for_a_name(store: Store) -> None:
    acc = await _account(store)
    seen = set()
    for _ in range(5):
        f = await store.create_folder(acc.id, "Work")
        assert f.uidvalidity not in seen and 0 < f.uidvalidity < 2**32
        seen.add(f.uidvalidity)
        await store.delete_folder(f.id)
        assert await store.get_folder(acc.id, "Work") is None
    with pytest.raises(NotFound):
        await store.delete_folder(f.id)


async def test_rename_with_inferiors(store: Store) -> None:
    acc = await _account(store)
    made = {n: await store.create_folder(acc.id, n) for n in ("a", "a/b", "a/b/c", "ab", "x")}
    await _append(store, made["a/b"].id, 2)
    await store.rename_folder(acc.id, "a", "z/y")
    names = [f.name for f in await store.list_folders(acc.id)]
    assert names == ["ab", "x", "z/y", "z/y/b", "z/y/b/c"]
    moved = await store.get_folder(acc.id, "z/y/b")
    assert moved.id == made["a/b"].id and moved.uidvalidity > made["x"].uidvalidity
    assert len(await store.message_index(moved.id)) == 2
    assert (await store.get_folder(acc.id, "ab")).uidvalidity == made["ab"].uidvalidity
    with pytest.raises(NotFound):
        await store.rename_folder(acc.id, "a", "q")
    with pytest.raises(AlreadyExists):
        await store.rename_folder(acc.id, "x", "ab")
    await store.create_folder(acc.id, "q/b")
    with pytest.raises(AlreadyExists):  # an inferior's target exists
        await store.rename_folder(acc.id, "z/y", "q")
    assert await store.get_folder(acc.id, "z/y") is not None  # nothing half-done
    with pytest.raises(StorageError):
        await store.rename_folder(acc.id, "x", "x/sub")


async def test_rename_onto_own_inferior_names(store: Store) -> None:
    # "a/b" -> "a" moves "a/b/b/x" onto "a/b/x", itself being renamed to "a/x".
    acc = await _account(store)
    for n in ("a/b", "a/b/x", "a/b/b/x"):
        await store.create_folder(acc.id, n)
    await store.rename_folder(acc.id, "a/b", "a")
    assert [f.name for f in await store.list_folders(acc.id)] == ["a", "a/b/x", "a/x"]


async def test_subscriptions_may_name_missing_folders(store: Store) -> None:
    acc = await _account(store)
    await store.subscribe(acc.id, "Nowhere")
    await store.subscribe(acc.id, "INBOX")
    await store.subscribe(acc.id, "INBOX")
    assert await store.list_subscriptions(acc.id) == ["INBOX", "Nowhere"]
    await store.unsubscribe(acc.id, "Nowhere")
    await store.unsubscribe(acc.id, "Never")
    assert await store.list_subscriptions(acc.id) == ["INBOX"]


# --- messages -------------------------------------------------------------------
async def test_append_assigns_increasing_uid_and_modseq(store: Store) -> None:
    _, f = await _folder(store)
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    msgs = await _append(store, f.id, 3, flags=["\\seen", "$Junk", "\\Recent"], internaldate=when)
    assert [m.uid for m in msgs] == [1, 2, 3]
    assert [m.modseq for m in msgs] == [2, 3, 4]
    assert msgs[0].flags == frozenset({SEEN, "$Junk"})  # canonical case, no \Recent
    assert msgs[0].internaldate == when and msgs[0].internaldate.utcoffset() == timedelta(hours=2)
    got = await store.get_messages(f.id, [3, 1, 99, 1])
    assert got == [msgs[0], msgs[2]]
    assert got[0].summary == b"s0" and got[0].blob_id == f"{0:064x}"
    # The same rows as plain tuples, for FETCH without body sections.
    assert await store.get_summaries(f.id, [3, 1, 99, 1]) == [(1, 10, b"s0", f"{0:064x}"), (3, 10, b"s2", f"{2:064x}")]
    dated = await store.get_summaries(f.id, [2], with_internaldate=True)
    assert dated == [(2, 10, b"s1", f"{1:064x}", when)] and dated[0][4].utcoffset() == timedelta(hours=2)
    assert await store.get_summaries(f.id, [3, 2], with_summary=False) == [(2, 10, None, f"{1:064x}"),
                                                                           (3, 10, None, f"{2:064x}")]
    folder = await store.get_folder_by_id(f.id)
    assert (folder.uidnext, folder.highestmodseq) == (4, 4)
    now = (await _append(store, f.id))[0].internaldate
    assert now.tzinfo is not None
    assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=1)


async def test_uids_never_reused_after_expunge(store: Store) -> None:
    _, f = await _folder(store)
    await _append(store, f.id, 3)
    assert await store.expunge(f.id, [2, 3, 7]) == [2, 3]
    assert await store.expunge(f.id, [3]) == []
    (m,) = await _append(store, f.id)
    assert m.uid == 4
    assert [x.uid for x in await store.message_index(f.id)] == [1, 4]
    modseqs = [x.modseq for x in await store.message_index(f.id)]
    assert modseqs[-1] == (await store.get_folder_by_id(f.id)).highestmodseq


async def test_store_flag_modes(store: Store) -> None:
    _, f = await _folder(store)
    await _append(store, f.id, 3)
    r = await store.store_flags(f.id, [1, 2], [SEEN], FlagMode.ADD)
    assert [(m.uid, m.flags) for m in r.changed] == [(1, {SEEN}), (2, {SEEN})]
    assert [m.modseq for m in r.changed] == [5, 6] and r.refused == ()
    r = await store.store_flags(f.id, [1, 2, 3], ["\\SEEN"], FlagMode.ADD)
    assert [m.uid for m in r.changed] == [3]  # no-op rows keep their modseq
    r = await store.store_flags(f.id, [1], [FLAGGED, "work"], FlagMode.REPLACE)
    assert r.changed[0].flags == {FLAGGED, "work"}
    r = await store.store_flags(f.id, [1, 2], [FLAGGED, SEEN], FlagMode.REMOVE)
    assert [(m.uid, m.flags) for m in r.changed] == [(1, {"work"}), (2, frozenset())]
    index = {m.uid: m for m in await store.message_index(f.id)}
    assert index[1].flags == {"work"} and index[3].flags == {SEEN}
    assert index[2].modseq == (await store.get_folder_by_id(f.id)).highestmodseq
    r = await store.store_flags(f.id, [42], [SEEN], FlagMode.ADD)
    assert r.changed == () and r.refused == ()


async def test_message_columns_equal_the_index(store: Store) -> None:
    account, f = await _folder(store)
    await _append(store, f.id, 5)
    await store.expunge(f.id, [2])
    await store.store_flags(f.id, [1, 3], [SEEN], FlagMode.ADD)
    await store.store_flags(f.id, [4], [FLAGGED, "work"], FlagMode.ADD)
    columns = await store.message_columns(f.id)
    index = await store.message_index(f.id)
    assert columns.uids.tolist() == [m.uid for m in index] == [1, 3, 4, 5]
    assert columns.modseqs.tolist() == [m.modseq for m in index]
    assert [columns.flagsets[i] for i in columns.flag_ids] == [m.flags for m in index]
    assert len(columns.flagsets) == 3  # {\Seen}, {\Flagged work}, {}: shared, not one per message
    empty = await store.create_folder(account.id, "Empty")
    assert (await store.message_columns(empty.id)).uids.tolist() == []
    with pytest.raises(NotFound):
        await store.message_columns(10**9)


async def test_store_unchanged_since(store: Store) -> None:
    _, f = await _folder(store)
    await _append(store, f.id, 3)  # modseqs 2, 3, 4
    r = await store.store_flags(f.id, [1, 2, 3], [SEEN], FlagMode.ADD, unchanged_since=3)
    assert r.refused == (3,) and [m.uid for m in r.changed] == [1, 2]
    index = {m.uid: m.flags for m in await store.message_index(f.id)}
    assert index[3] == frozenset()


async def test_copy_shares_blobs_and_keeps_flags(store: Store) -> None:
    acc, src = await _folder(store)
    dest = await store.create_folder(acc.id, "Archive")
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    msgs = await _append(store, src.id, 3, flags=[SEEN], internaldate=when)
    await _append(store, dest.id, 1)
    pairs = await store.copy_messages(src.id, [3, 1, 9], dest.id)
    assert pairs == [(1, 2), (3, 3)]
    copies = await store.get_messages(dest.id, [2, 3])
    assert [c.blob_id for c in copies] == [msgs[0].blob_id, msgs[2].blob_id]
    assert all(c.flags == {SEEN} and c.internaldate == when for c in copies)
    assert [c.summary for c in copies] == [b"s0", b"s2"]
    assert copies[0].modseq < copies[1].modseq
    assert len(await store.message_index(src.id)) == 3
    assert await store.account_usage(acc.id) == 60
    assert await store.copy_messages(src.id, [], dest.id) == []
    self_copy = await store.copy_messages(src.id, [2], src.id)
    assert self_copy == [(2, 4)]


async def test_move(store: Store) -> None:
    acc, src = await _folder(store)
    dest = await store.create_folder(acc.id, "Trash")
    msgs = await _append(store, src.id, 3, flags=[FLAGGED])
    before = (await store.get_folder_by_id(src.id)).highestmodseq
    pairs = await store.move_messages(src.id, [1, 3], dest.id)
    assert pairs == [(1, 1), (3, 2)]
    assert [m.uid for m in await store.message_index(src.id)] == [2]
    assert await store.expunged_since(src.id, before) == [1, 3]
    moved = await store.get_messages(dest.id, [1, 2])
    assert [m.blob_id for m in moved] == [msgs[0].blob_id, msgs[2].blob_id]
    assert [m.summary for m in moved] == [b"s0", b"s2"] and moved[0].flags == {FLAGGED}
    assert await store.account_usage(acc.id) == 30
    s, d = await store.folder_status(src.id), await store.folder_status(dest.id)
    assert (s.messages, s.size, d.messages, d.size) == (1, 10, 2, 20)


async def test_expunge_log_and_changed_since(store: Store) -> None:
    _, f = await _folder(store)
    await _append(store, f.id, 5)  # modseq 2..6
    assert [m.uid for m in await store.changed_since(f.id, 4)] == [4, 5]
    await store.store_flags(f.id, [2], [SEEN], FlagMode.ADD)  # modseq 7
    mark = (await store.get_folder_by_id(f.id)).highestmodseq
    assert [m.uid for m in await store.changed_since(f.id, 4)] == [2, 4, 5]
    assert await store.expunge(f.id, [5, 1]) == [1, 5]  # modseq 8, 9
    assert await store.expunged_since(f.id, 0) == [1, 5]
    assert await store.expunged_since(f.id, mark + 1) == [5]
    assert await store.expunged_since(f.id, mark + 2) == []
    assert await store.changed_since(f.id, mark) == []
    assert (await store.get_folder_by_id(f.id)).highestmodseq == mark + 2
    # The same reads in one job, with the folder's head.
    found = await store.changes_since(f.id, 4)
    assert (found.highestmodseq, found.messages, found.uidnext) == (mark + 2, 3, 6)
    assert [m.uid for m in found.changed] == [2, 4] and found.expunged == [1, 5]
    assert found.changed == [m for m in await store.changed_since(f.id, 4)]
    with pytest.raises(NotFound):
        await store.changes_since(f.id + 999, 0)


async def test_folder_status_and_missing_folder(store: Store) -> None:
    _, f = await _folder(store)
    await _append(store, f.id, 2, size=100)
    await _append(store, f.id, 1, size=5, flags=[SEEN, DELETED])
    st = await store.folder_status(f.id)
    assert (st.messages, st.unseen, st.size, st.deleted) == (3, 2, 205, 1)
    assert (st.uidnext, st.uidvalidity, st.highestmodseq) == (4, f.uidvalidity, 4)
    missing = f.id + 999
    for call in (
        store.folder_status(missing), store.message_index(missing),
        store.get_messages(missing, [1]), store.get_summaries(missing, [1]), store.changed_since(missing, 0),
        store.expunged_since(missing, 0), store.expunge(missing, [1]),
        store.store_flags(missing, [1], [SEEN], FlagMode.ADD),
        store.copy_messages(f.id, [1], missing), store.move_messages(missing, [1], f.id),
        store.append_message(missing, blob_id=BLOB, size=1, summary=b""),
    ):
        with pytest.raises(NotFound):
            await call


async def test_quota(store: Store) -> None:
    acc, f = await _folder(store)
    other = await store.create_folder(acc.id, "Other")
    await _append(store, f.id, 2, size=40, quota_bytes=100)
    with pytest.raises(QuotaExceeded):
        await _append(store, other.id, 1, size=21, quota_bytes=100)
    await _append(store, other.id, 1, size=20, quota_bytes=100)
    assert await store.account_usage(acc.id) == 100
    with pytest.raises(QuotaExceeded):
        await store.copy_messages(f.id, [1], other.id, quota_bytes=100)
    assert (await store.folder_status(other.id)).messages == 1  # nothing half-done
    await store.move_messages(f.id, [1], other.id)  # moves never grow usage
    await _append(store, f.id, 1, size=1000)  # no quota given: not checked
    assert await store.account_usage(acc.id) == 1100


async def test_file_message_by_folder_name_with_quota(store: Store) -> None:
    acc, inbox = await _folder(store)
    msg = await store.file_message(acc.id, "INBOX", blob_id=BLOB, size=40, summary=b"s",
                                   flags=[SEEN], quota_bytes=100)
    assert (msg.folder_id, msg.uid, msg.size, msg.flags) == (inbox.id, 1, 40, {SEEN})
    assert msg.summary == b"s" and msg.internaldate.tzinfo is not None
    assert [m.uid for m in await store.message_index(inbox.id)] == [1]
    assert (await store.folder_status(inbox.id)).messages == 1
    with pytest.raises(QuotaExceeded):
        await store.file_message(acc.id, "INBOX", blob_id=BLOB, size=61, summary=b"s",
                                 quota_bytes=100)
    with pytest.raises(NotFound):
        await store.file_message(acc.id, "Nope", blob_id=BLOB, size=1, summary=b"s")
    assert (await store.folder_status(inbox.id)).messages == 1  # refusals wrote nothing
    # Concurrent deliveries (grouped where the driver groups commits) get
    # distinct UIDs, in one folder.
    filed = await asyncio.gather(*(
        store.file_message(acc.id, "INBOX", blob_id=BLOB, size=1, summary=b"c%d" % i)
        for i in range(5)))
    assert sorted(m.uid for m in filed) == [2, 3, 4, 5, 6]


async def test_file_message_guard(store: Store) -> None:
    from mailgate.storage.errors import GuardFailed
    from mailgate.storage.models import DeliveryGuard

    acc, inbox = await _folder(store)
    acc = await store.update_account(acc.address, database="DB01", quota_bytes=50)
    guard = DeliveryGuard("ANN@example.org", "DB01", "moving")

    async def file(guard: DeliveryGuard, size: int = 10, account_id: int = acc.id):
        # quota_bytes is ignored with a guard: the account row's own counts
        return await store.file_message(account_id, "INBOX", blob_id=BLOB, size=size,
                                        summary=b"g", quota_bytes=10**9, guard=guard)

    assert (await file(guard)).uid == 1
    with pytest.raises(QuotaExceeded):
        await file(guard, size=41)
    await store.put_settings("moving", {"ann@example.org": "DB02"})
    with pytest.raises(GuardFailed) as held:
        await file(guard)
    assert held.value.held
    await store.put_settings("moving", {"ann@example.org": ""})  # an ended move: no mark
    assert (await file(guard)).uid == 2
    await store.update_account(acc.address, database="DB02")  # moved away
    with pytest.raises(GuardFailed) as changed:
        await file(guard)
    assert not changed.value.held
    with pytest.raises(GuardFailed):  # not that account (any more)
        await file(DeliveryGuard("ann@example.org", "DB02", "moving"), account_id=acc.id + 1)
    with pytest.raises(GuardFailed):
        await file(DeliveryGuard("nobody@example.org", "DB01", "moving"))
    assert [m.uid for m in await store.message_index(inbox.id)] == [1, 2]
    assert isinstance(store.guard_serialized, bool)


async def test_get_messages_dense_and_sparse_sets(store: Store) -> None:
    _, f = await _folder(store)
    for start in range(0, 1200, 300):  # appends are per message; keep it quick
        await _append(store, f.id, 300)
    await store.expunge(f.id, list(range(2, 1200, 7)))
    live = [m.uid for m in await store.message_index(f.id)]
    dense = await store.get_messages(f.id, range(1, 1301))
    assert [m.uid for m in dense] == live
    sparse = list(range(1, 1201, 3))
    assert [m.uid for m in await store.get_messages(f.id, sparse)] == sorted(set(sparse) & set(live))
    assert [row[0] for row in await store.get_summaries(f.id, range(1, 1301))] == live
    assert [row[0] for row in await store.get_summaries(f.id, sparse)] == sorted(set(sparse) & set(live))
    r = await store.store_flags(f.id, range(1, 1201), [SEEN], FlagMode.ADD)
    assert len(r.changed) == len(live)
    assert (await store.folder_status(f.id)).unseen == 0


async def test_referenced_blob_ids(store: Store) -> None:
    acc, f = await _folder(store)
    other = await store.create_folder(acc.id, "Other")
    await _append(store, f.id, 2)
    await store.copy_messages(f.id, [1], other.id)
    await store.expunge(f.id, [1])
    assert await store.referenced_blob_ids() == {f"{0:064x}", f"{1:064x}"}
    await store.delete_folder(other.id)
    assert await store.referenced_blob_ids() == {f"{1:064x}"}


async def test_listeners_fire_on_writes(store: Store) -> None:
    acc, f = await _folder(store)
    dest = await store.create_folder(acc.id, "Dest")
    seen: list[Change] = []
    store.add_listener(seen.append)
    store.add_listener(lambda c: 1 / 0)  # a broken listener must not stop others
    await _append(store, f.id)
    assert seen == [Change(f.id)]
    await store.store_flags(f.id, [1], [SEEN], FlagMode.ADD)
    await store.copy_messages(f.id, [1], dest.id)
    await store.move_messages(f.id, [1], dest.id)
    await store.expunge(dest.id, [1])
    assert {c.folder_id for c in seen[1:]} == {f.id, dest.id} and len(seen) >= 5
    seen.clear()
    await store.rename_folder(acc.id, "Dest", "Dest2")
    await store.delete_folder(dest.id)
    assert Change(dest.id) in seen
    store.remove_listener(seen.append)
    seen.clear()
    await _append(store, f.id)
    await asyncio.sleep(0.4)  # the SQLite poller must not replay our own writes
    assert seen == []


async def test_random_operations_keep_counters_consistent(store: Store) -> None:
    rnd = random.Random(7)
    acc = await _account(store)
    folders = [(await store.create_folder(acc.id, n)).id for n in ("A", "B", "C")]
    flags = [SEEN, DELETED, FLAGGED, "k1"]
    last_modseq = {fid: 1 for fid in folders}
    for step in range(150):
        fid = rnd.choice(folders)
        uids = [m.uid for m in await store.message_index(fid)]
        some = rnd.sample(uids, min(len(uids), rnd.randint(0, 4)))
        op = rnd.randrange(5)
        if op == 0 or not uids:
            await _append(store, fid, 1, size=rnd.randint(1, 99),
                          flags=rnd.sample(flags, rnd.randint(0, 2)))
        elif op == 1:
            await store.store_flags(fid, some, rnd.sample(flags, 2), rnd.choice(list(FlagMode)))
        elif op == 2:
            await store.copy_messages(fid, some, rnd.choice(folders))
        elif op == 3:
            await store.move_messages(fid, some, rnd.choice(folders))
        else:
            await store.expunge(fid, some)
        for g in folders:
            hms = (await store.get_folder_by_id(g)).highestmodseq
            assert hms >= last_modseq[g]
            last_modseq[g] = hms
    total = 0
    for g in folders:
        index = await store.message_index(g)
        msgs = await store.get_messages(g, [m.uid for m in index])
        st = await store.folder_status(g)
        assert st.messages == len(msgs)
        assert st.unseen == sum(SEEN not in m.flags for m in msgs)
        assert st.deleted == sum(DELETED in m.flags for m in msgs)
        assert st.size == sum(m.size for m in msgs)
        assert all(m.modseq <= st.highestmodseq and m.uid < st.uidnext for m in msgs)
        assert [m.meta for m in msgs] == index
        total += st.size
    assert await store.account_usage(acc.id) == total
