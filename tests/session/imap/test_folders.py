"""Folder commands at session level (CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, STATUS, NAMESPACE, quota), over MemoryStore and SqliteStore.

Commands are parsed from wire text with the real parser and answered by
FOLDER_HANDLERS; answers are checked as wire bytes where the exact form
matters. LIST and LSUB are in test_list_session.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailgate.delivery import deliver, ensure_default_folders
from mailgate.protocol.imap import responses as r
from mailgate.protocol.imap.commands import Command
from mailgate.protocol.imap.parser import parse_command
from mailgate.protocol.imap.serializer import to_bytes
from mailgate.runtime import Runtime
from mailgate.session.imap import folders
from mailgate.session.imap import selected as selected_mod
from mailgate.session.imap.context import SessionContext
from mailgate.session.imap.folders import FOLDER_HANDLERS, MAX_DEPTH, MAX_NAME_BYTES
from mailgate.session.imap.selected import SelectedFolder
from mailgate.storage import BlobStore, MemoryStore, SqliteStore
from mailgate.storage.base import Store

MSG = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


# -- harness ------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_recent_claims() -> None:
    # \Recent claims are process-wide by folder id; ids repeat across stores.
    selected_mod._recent_claims.clear()


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "store.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def ctx(store: Store, tmp_path: Path) -> SessionContext:
    runtime = Runtime(store, BlobStore(tmp_path / "blobs"), "mail.example.com", None)
    account = await store.create_account("alice@example.com", "x")
    await ensure_default_folders(store, account)
    return SessionContext(runtime, tls_active=True, account=account)


async def run(ctx: SessionContext, line: str) -> list[r.Response]:
    cmd = parse_command(line.encode("utf-8"), utf8=ctx.utf8)
    assert isinstance(cmd, Command), cmd
    handler = FOLDER_HANDLERS[type(cmd)]
    out = [resp async for resp in handler(ctx, cmd)]
    assert isinstance(out[-1], r.Tagged) and out[-1].tag == cmd.tag
    assert not any(isinstance(x, r.Tagged) for x in out[:-1])
    return out


async def wire(ctx: SessionContext, line: str) -> bytes:
    return b"".join(to_bytes(x, utf8=ctx.utf8) for x in await run(ctx, line))


async def tagged(ctx: SessionContext, line: str) -> r.Tagged:
    last = (await run(ctx, line))[-1]
    assert isinstance(last, r.Tagged)
    return last


async def ok(ctx: SessionContext, line: str) -> list[r.Response]:
    out = await run(ctx, line)
    assert out[-1].status == "OK", out[-1]  # type: ignore[union-attr]
    return out[:-1]


async def names(ctx: SessionContext) -> list[str]:
    assert ctx.account is not None
    return [f.name for f in await ctx.store.list_folders(ctx.account.id)]


async def put(ctx: SessionContext, folder: str, data: bytes = MSG, flags: tuple[str, ...] = ()) -> None:
    assert ctx.account is not None
    await deliver(ctx.store, ctx.blobs, ctx.account, folder, data, flags=flags)


async def select(ctx: SessionContext, name: str) -> None:
    assert ctx.account is not None
    folder = await ctx.store.get_folder(ctx.account.id, name)
    assert folder is not None
    ctx.selected = await SelectedFolder.open(ctx.store, folder, readonly=False)


def show_hidden(ctx: SessionContext, on: bool = True) -> None:
    ctx.runtime.imap = dataclasses.replace(ctx.runtime.imap, show_hidden_folders_enabled=on)


# -- FOLDER_HANDLERS ------------------------------------------------------------------

def test_handler_table_covers_the_folder_commands() -> None:
    from mailgate.protocol.imap import commands as c
    assert set(FOLDER_HANDLERS) == {
        c.List, c.Lsub, c.Create, c.Delete, c.Rename, c.Subscribe, c.Unsubscribe,
        c.Status, c.Namespace, c.GetQuota, c.GetQuotaRoot, c.SetQuota,
    }


async def test_selected_folder_changes_are_reported_before_completion(ctx: SessionContext) -> None:
    await select(ctx, "INBOX")
    await put(ctx, "INBOX")
    assert ctx.selected is not None
    ctx.selected.dirty = True  # what the change hub does when the store signals
    assert await wire(ctx, "t1 STATUS Sent (MESSAGES)") == (
        b'* STATUS "Sent" (MESSAGES 0)\r\n'
        b"* 1 EXISTS\r\n* 1 RECENT\r\n"
        b"t1 OK STATUS completed.\r\n")
    ctx.selected.dirty = True
    await put(ctx, "INBOX")
    # not before BAD: the command did not run
    assert await wire(ctx, "t2 STATUS Sent (MAILBOXID)") == (
        b"t2 BAD MAILBOXID is not supported (no OBJECTID).\r\n")
    out = await wire(ctx, "t3 CREATE Sent")
    assert out.startswith(b"* 2 EXISTS\r\n* 2 RECENT\r\nt3 NO [ALREADYEXISTS]"), out


async def test_rename_selected_inbox_reports_expunges(ctx: SessionContext) -> None:
    await put(ctx, "INBOX")
    await put(ctx, "INBOX")
    await select(ctx, "INBOX")
    assert ctx.selected is not None
    ctx.selected.dirty = True
    assert await wire(ctx, "t1 RENAME INBOX Moved") == (
        b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nt1 OK RENAME completed.\r\n")
    assert ctx.selected is not None and ctx.selected.exists == 0


# -- CREATE ---------------------------------------------------------------------------

async def test_create_then_exists(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 CREATE Projects") == b"t1 OK CREATE completed.\r\n"
    assert "Projects" in await names(ctx)


async def test_create_existing_is_alreadyexists(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 CREATE Sent") == b"t1 NO [ALREADYEXISTS] Folder already exists.\r\n"


async def test_create_inbox_in_any_case_is_alreadyexists(ctx: SessionContext) -> None:
    for spelling in ("INBOX", "inbox", "InBoX"):
        assert (await tagged(ctx, f"t CREATE {spelling}")).code == r.ALREADYEXISTS


async def test_create_makes_missing_parents(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE a/b/c")
    assert {"a", "a/b", "a/b/c"} <= set(await names(ctx))


async def test_create_under_inbox_in_any_case(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE inbox/Receipts")
    assert "INBOX/Receipts" in await names(ctx)
    assert "inbox" not in await names(ctx)


async def test_create_with_trailing_separator_creates_the_folder(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Later/")
    assert "Later" in await names(ctx)
    assert (await tagged(ctx, "t2 CREATE Later")).code == r.ALREADYEXISTS


@pytest.mark.parametrize("name, why", [
    ('""', b"empty"),
    ('"a*b"', b"* or %"),
    ('"a%b"', b"* or %"),
    ('"a//b"', b"empty level"),
    ('"/a"', b"empty level"),
    ('"a//"', b"empty level"),
    ('"tab\tname"', b"control characters"),
    ('"del\x7fname"', b"control characters"),
    ('"c1\u0085name"', b"control characters"),
])
async def test_create_rejects_bad_names(ctx: SessionContext, name: str, why: bytes) -> None:
    ctx.enabled.add("UTF8=ACCEPT")  # raw control characters get past the parser only so
    before = await names(ctx)
    out = await wire(ctx, f"t1 CREATE {name}")
    assert out.startswith(b"t1 NO [CANNOT] "), out
    assert why in out
    assert await names(ctx) == before


async def test_create_rejects_control_characters_in_modified_utf7(ctx: SessionContext) -> None:
    out = await wire(ctx, "t1 CREATE a&AAk-b")  # U+0009 in base64
    assert out.startswith(b"t1 NO [CANNOT] "), out


async def test_create_name_length_and_depth_limits(ctx: SessionContext) -> None:
    longest = "x" * MAX_NAME_BYTES
    await ok(ctx, f"t1 CREATE {longest}")
    assert (await tagged(ctx, f"t2 CREATE {longest}y")).code == r.CANNOT
    deepest = "/".join(["d"] * MAX_DEPTH)
    await ok(ctx, f"t3 CREATE {deepest}")
    assert (await tagged(ctx, f"t4 CREATE {deepest}/d")).code == r.CANNOT


async def test_create_folder_count_limit(ctx: SessionContext, monkeypatch: pytest.MonkeyPatch) -> None:
    count = len(await names(ctx))
    monkeypatch.setattr(folders, "MAX_FOLDERS", count + 2)
    await ok(ctx, "t1 CREATE one")
    # two more would be needed ("p" and "p/q"): refused whole, nothing made
    out = await wire(ctx, "t2 CREATE p/q")
    assert out.startswith(b"t2 NO [LIMIT] ")
    assert "p" not in await names(ctx)
    await ok(ctx, "t3 CREATE two")
    assert (await tagged(ctx, "t4 CREATE three")).code == r.LIMIT


async def test_create_hidden_name_refused_unless_hidden_folders_shown(ctx: SessionContext) -> None:
    out = await wire(ctx, "t1 CREATE .secret")
    assert out.startswith(b"t1 NO [CANNOT] ")
    assert (await tagged(ctx, "t2 CREATE Work/.cache")).code == r.CANNOT
    show_hidden(ctx)
    await ok(ctx, "t3 CREATE .secret")
    assert ".secret" in await names(ctx)


async def test_create_non_ascii_name_in_modified_utf7(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Entw&APw-rfe")
    assert "Entwürfe" in await names(ctx)
    assert await wire(ctx, 't2 LIST "" Entw*') == (
        b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n'
        b"t2 OK LIST completed.\r\n"
    )


async def test_create_non_ascii_name_with_utf8_accept(ctx: SessionContext) -> None:
    ctx.enabled.add("UTF8=ACCEPT")
    await ok(ctx, 't1 CREATE "Entwürfe"')
    assert "Entwürfe" in await names(ctx)
    assert await wire(ctx, 't2 LIST "" "Entw*"') == (
        '* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n'.encode()
        + b"t2 OK LIST completed.\r\n"
    )


# -- CREATE-SPECIAL-USE (RFC 6154 section 3) -----------------------------------------------

async def test_create_special_use(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 CREATE MySpecial (USE (\\Drafts))") == b"t1 OK CREATE completed.\r\n"
    assert ctx.account is not None
    folder = await ctx.store.get_folder(ctx.account.id, "MySpecial")
    assert folder is not None and folder.special_use == "\\Drafts"
    assert await wire(ctx, 't2 LIST "" MySpecial') == (
        b'* LIST (\\Drafts \\HasNoChildren) "/" "MySpecial"\r\nt2 OK LIST completed.\r\n'
    )


async def test_create_special_use_parents_get_no_use(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Old/Sent (USE (\\Sent))")
    assert ctx.account is not None
    parent = await ctx.store.get_folder(ctx.account.id, "Old")
    child = await ctx.store.get_folder(ctx.account.id, "Old/Sent")
    assert parent is not None and parent.special_use is None
    assert child is not None and child.special_use == "\\Sent"


@pytest.mark.parametrize("use", ["(\\Drafts \\Sent)", "(\\All)", "(\\Flagged)", "(\\Important)"])
async def test_create_unsupported_special_use_is_useattr(ctx: SessionContext, use: str) -> None:
    # RFC 6154 example: "t1 CREATE MySpecial (USE (\Drafts \Sent))" -> NO [USEATTR]
    out = await wire(ctx, f"t1 CREATE MySpecial (USE {use})")
    assert out.startswith(b"t1 NO [USEATTR] "), out
    assert "MySpecial" not in await names(ctx)


# -- DELETE ---------------------------------------------------------------------------

async def test_delete(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Old")
    await put(ctx, "Old")
    assert await wire(ctx, "t2 DELETE Old") == b"t2 OK DELETE completed.\r\n"
    assert "Old" not in await names(ctx)


async def test_delete_inbox_refused(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 DELETE inbox") == b"t1 NO [CANNOT] INBOX cannot be deleted.\r\n"
    assert "INBOX" in await names(ctx)


async def test_delete_missing_is_nonexistent(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 DELETE Nope") == b"t1 NO [NONEXISTENT] No such folder.\r\n"


async def test_delete_with_children_is_haschildren(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE a/b")
    out = await wire(ctx, "t2 DELETE a")
    assert out.startswith(b"t2 NO [HASCHILDREN] ")
    await ok(ctx, "t3 DELETE a/b")
    await ok(ctx, "t4 DELETE a")
    assert "a" not in await names(ctx)


async def test_delete_with_only_hidden_children_still_haschildren(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ok(ctx, "t1 CREATE a")
    await ctx.store.create_folder(ctx.account.id, "a/.hidden")
    assert (await tagged(ctx, "t2 DELETE a")).code == r.HASCHILDREN


async def test_delete_selected_folder_refused(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Old")
    await select(ctx, "Old")
    out = await wire(ctx, "t2 DELETE Old")
    assert out.startswith(b"t2 NO [CANNOT] ")
    assert ctx.selected is not None and "Old" in await names(ctx)


async def test_delete_keeps_subscription(ctx: SessionContext) -> None:
    # RFC 3501 6.3.6: the server must not remove a subscription by itself
    await ok(ctx, "t1 CREATE Old")
    await ok(ctx, "t2 SUBSCRIBE Old")
    await ok(ctx, "t3 DELETE Old")
    assert ctx.account is not None
    assert "Old" in await ctx.store.list_subscriptions(ctx.account.id)


async def test_delete_hidden_folder_by_exact_name(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ctx.store.create_folder(ctx.account.id, ".sync")
    await ok(ctx, "t1 DELETE .sync")
    assert ".sync" not in await names(ctx)


# -- RENAME ---------------------------------------------------------------------------

async def test_rename_moves_inferiors(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Work/Reports/2024")
    await put(ctx, "Work/Reports")
    assert await wire(ctx, "t2 RENAME Work Job") == b"t2 OK RENAME completed.\r\n"
    got = set(await names(ctx))
    assert {"Job", "Job/Reports", "Job/Reports/2024"} <= got
    assert not any(n.startswith("Work") for n in got)
    assert ctx.account is not None
    moved = await ctx.store.get_folder(ctx.account.id, "Job/Reports")
    assert moved is not None
    assert (await ctx.store.folder_status(moved.id)).messages == 1


async def test_rename_keeps_special_use(ctx: SessionContext) -> None:
    await ok(ctx, "t1 RENAME Sent Outbox")
    assert await wire(ctx, 't2 LIST "" Outbox') == (
        b'* LIST (\\Sent \\HasNoChildren) "/" "Outbox"\r\nt2 OK LIST completed.\r\n'
    )


async def test_rename_creates_missing_superiors(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Old")
    await ok(ctx, "t2 RENAME Old Archive/2020/Old")
    assert {"Archive/2020", "Archive/2020/Old"} <= set(await names(ctx))


async def test_rename_errors(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE a/b")
    assert (await tagged(ctx, "t2 RENAME nope x")).code == r.NONEXISTENT
    assert (await tagged(ctx, "t3 RENAME a Sent")).code == r.ALREADYEXISTS
    assert (await tagged(ctx, "t4 RENAME a a")).code == r.ALREADYEXISTS
    assert (await tagged(ctx, "t5 RENAME a a/b/c")).code == r.CANNOT
    assert (await tagged(ctx, 't6 RENAME a "x//y"')).code == r.CANNOT
    assert (await tagged(ctx, 't7 RENAME a "x*"')).code == r.CANNOT
    assert (await tagged(ctx, 't8 RENAME a .hidden')).code == r.CANNOT
    assert (await tagged(ctx, 't9 RENAME a INBOX')).code == r.ALREADYEXISTS
    assert {"a", "a/b"} <= set(await names(ctx))


async def test_rename_to_missing_level_with_inferior_clash(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ok(ctx, "t1 CREATE a/x")
    await ctx.store.create_folder(ctx.account.id, "lvl/x")  # "lvl" itself is missing
    out = await wire(ctx, "t2 RENAME a lvl")
    assert out.startswith(b"t2 NO [ALREADYEXISTS] "), out
    assert {"a", "a/x"} <= set(await names(ctx))


async def test_rename_into_own_ancestor_level(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ctx.store.create_folder(ctx.account.id, "p/q")  # "p" missing
    await ctx.store.create_folder(ctx.account.id, "p/q/r")
    await ok(ctx, "t1 RENAME p/q p")
    got = set(await names(ctx))
    assert {"p", "p/r"} <= got and "p/q" not in got


async def test_rename_moves_subscriptions(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ok(ctx, "t1 CREATE Work/Reports")
    await ok(ctx, "t2 SUBSCRIBE Work")
    await ok(ctx, "t3 SUBSCRIBE Work/Reports")
    await ok(ctx, "t4 RENAME Work Job")
    subs = await ctx.store.list_subscriptions(ctx.account.id)
    assert "Job" in subs and "Job/Reports" in subs
    assert "Work" not in subs and "Work/Reports" not in subs


async def test_rename_selected_folder_keeps_it_selected(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Old")
    await put(ctx, "Old")
    await select(ctx, "Old")
    assert ctx.selected is not None
    fid = ctx.selected.folder.id
    await ok(ctx, "t2 RENAME Old New")
    assert ctx.selected is not None
    assert ctx.selected.folder.id == fid
    assert ctx.selected.folder.name == "New"
    assert ctx.selected.exists == 1


async def test_rename_inbox_moves_messages_and_leaves_inbox(ctx: SessionContext) -> None:
    # RFC 3501 6.3.5: RENAME INBOX moves all messages; inferiors stay put.
    assert ctx.account is not None
    await ok(ctx, "t0 CREATE INBOX/Keep")
    await put(ctx, "INBOX", flags=("\\Seen",))
    await put(ctx, "INBOX")
    await put(ctx, "INBOX/Keep")
    assert await wire(ctx, "t1 RENAME inbox Old-Inbox") == b"t1 OK RENAME completed.\r\n"
    inbox = await ctx.store.get_folder(ctx.account.id, "INBOX")
    old = await ctx.store.get_folder(ctx.account.id, "Old-Inbox")
    keep = await ctx.store.get_folder(ctx.account.id, "INBOX/Keep")
    assert inbox is not None and old is not None and keep is not None
    assert (await ctx.store.folder_status(inbox.id)).messages == 0
    status = await ctx.store.folder_status(old.id)
    assert (status.messages, status.unseen) == (2, 1)
    assert (await ctx.store.folder_status(keep.id)).messages == 1
    assert "Old-Inbox/Keep" not in await names(ctx)


async def test_rename_inbox_to_its_own_inferior(ctx: SessionContext) -> None:
    await put(ctx, "INBOX")
    await ok(ctx, "t1 RENAME INBOX INBOX/old-mail")
    out = await ok(ctx, "t2 STATUS INBOX/old-mail (MESSAGES)")
    assert out == [r.StatusData("INBOX/old-mail", (("MESSAGES", 1),))]


async def test_rename_inbox_to_existing_name(ctx: SessionContext) -> None:
    await put(ctx, "INBOX")
    assert (await tagged(ctx, "t1 RENAME INBOX Sent")).code == r.ALREADYEXISTS
    assert (await ok(ctx, "t2 STATUS INBOX (MESSAGES)"))[0] == r.StatusData("INBOX", (("MESSAGES", 1),))


# -- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------

async def test_subscribe_unsubscribe(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ok(ctx, "t1 CREATE News")
    assert await wire(ctx, "t2 SUBSCRIBE News") == b"t2 OK SUBSCRIBE completed.\r\n"
    assert "News" in await ctx.store.list_subscriptions(ctx.account.id)
    assert await wire(ctx, "t3 UNSUBSCRIBE News") == b"t3 OK UNSUBSCRIBE completed.\r\n"
    assert "News" not in await ctx.store.list_subscriptions(ctx.account.id)
    # not subscribed: nothing to do, still OK
    assert (await tagged(ctx, "t4 UNSUBSCRIBE News")).status == "OK"


async def test_subscribe_missing_folder_is_nonexistent(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 SUBSCRIBE Nope") == b"t1 NO [NONEXISTENT] No such folder.\r\n"


async def test_subscribe_inbox_any_case(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ok(ctx, "t1 UNSUBSCRIBE INBOX")
    await ok(ctx, "t2 SUBSCRIBE inbox")
    assert "INBOX" in await ctx.store.list_subscriptions(ctx.account.id)


# -- STATUS ---------------------------------------------------------------------------

async def test_status_rfc_example(ctx: SessionContext) -> None:
    await ok(ctx, "t0 CREATE blurdybloop")
    for _ in range(3):
        await put(ctx, "blurdybloop")
    out = await wire(ctx, "A042 STATUS blurdybloop (UIDNEXT MESSAGES)")
    assert out == (b'* STATUS "blurdybloop" (UIDNEXT 4 MESSAGES 3)\r\n'
                   b"A042 OK STATUS completed.\r\n")


async def test_status_all_items(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await put(ctx, "INBOX", MSG, flags=("\\Seen",))
    await put(ctx, "INBOX", MSG + b"more\r\n", flags=("\\Deleted",))
    await put(ctx, "INBOX", MSG)
    folder = await ctx.store.get_folder(ctx.account.id, "INBOX")
    assert folder is not None
    st = await ctx.store.folder_status(folder.id)
    out = await ok(ctx, "t1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE "
                        "HIGHESTMODSEQ DELETED APPENDLIMIT)")
    assert out == [r.StatusData("INBOX", (
        ("MESSAGES", 3), ("RECENT", 3), ("UIDNEXT", 4), ("UIDVALIDITY", folder.uidvalidity),
        ("UNSEEN", 2), ("SIZE", 3 * len(MSG) + 6), ("HIGHESTMODSEQ", st.highestmodseq),
        ("DELETED", 1), ("APPENDLIMIT", ctx.runtime.imap.max_literal_size),
    ))]


async def test_status_items_in_asked_order_once(ctx: SessionContext) -> None:
    out = await ok(ctx, "t1 STATUS Sent (UNSEEN MESSAGES UNSEEN)")
    assert out == [r.StatusData("Sent", (("UNSEEN", 0), ("MESSAGES", 0)))]


async def test_status_missing_folder(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 STATUS Nope (MESSAGES)") == b"t1 NO [NONEXISTENT] No such folder.\r\n"


async def test_status_inbox_any_case(ctx: SessionContext) -> None:
    assert await wire(ctx, "t1 STATUS inbox (MESSAGES)") == (
        b'* STATUS "INBOX" (MESSAGES 0)\r\nt1 OK STATUS completed.\r\n')


async def test_status_recent_is_peeked_not_claimed(ctx: SessionContext) -> None:
    await put(ctx, "INBOX")
    await put(ctx, "INBOX")
    assert (await ok(ctx, "t1 STATUS INBOX (RECENT)"))[0] == r.StatusData("INBOX", (("RECENT", 2),))
    assert (await ok(ctx, "t2 STATUS INBOX (RECENT)"))[0] == r.StatusData("INBOX", (("RECENT", 2),))
    await select(ctx, "INBOX")  # this session claims them
    assert (await ok(ctx, "t3 STATUS INBOX (RECENT)"))[0] == r.StatusData("INBOX", (("RECENT", 2),))
    ctx.selected = None
    # another session would see none recent now
    assert (await ok(ctx, "t4 STATUS INBOX (RECENT)"))[0] == r.StatusData("INBOX", (("RECENT", 0),))
    await put(ctx, "INBOX")
    assert (await ok(ctx, "t5 STATUS INBOX (RECENT)"))[0] == r.StatusData("INBOX", (("RECENT", 1),))


async def test_status_recent_is_bad_in_imap4rev2(ctx: SessionContext) -> None:
    ctx.enabled.add("IMAP4rev2")
    last = await tagged(ctx, "t1 STATUS INBOX (MESSAGES RECENT)")
    assert last.status == "BAD"
    assert (await tagged(ctx, "t2 STATUS INBOX (MESSAGES DELETED SIZE)")).status == "OK"


async def test_status_mailboxid_is_bad(ctx: SessionContext) -> None:
    assert (await tagged(ctx, "t1 STATUS INBOX (MAILBOXID)")).status == "BAD"


async def test_status_highestmodseq_enables_condstore(ctx: SessionContext) -> None:
    assert not ctx.condstore
    await ok(ctx, "t1 STATUS INBOX (HIGHESTMODSEQ)")
    assert ctx.condstore


async def test_status_of_hidden_folder_by_exact_name(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ctx.store.create_folder(ctx.account.id, ".sync")
    assert (await ok(ctx, "t1 STATUS .sync (MESSAGES)"))[0] == r.StatusData(".sync", (("MESSAGES", 0),))


async def test_status_non_ascii_bytes(ctx: SessionContext) -> None:
    await ok(ctx, "t1 CREATE Entw&APw-rfe")
    assert await wire(ctx, "t2 STATUS Entw&APw-rfe (MESSAGES)") == (
        b'* STATUS "Entw&APw-rfe" (MESSAGES 0)\r\nt2 OK STATUS completed.\r\n')


async def test_status_of_missing_level_is_nonexistent(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await ctx.store.create_folder(ctx.account.id, "Orphan/Child")
    assert (await tagged(ctx, "t1 STATUS Orphan (MESSAGES)")).code == r.NONEXISTENT


# -- NAMESPACE ------------------------------------------------------------------------

async def test_namespace(ctx: SessionContext) -> None:
    assert await wire(ctx, "A001 NAMESPACE") == (
        b'* NAMESPACE (("" "/")) NIL NIL\r\nA001 OK NAMESPACE completed.\r\n')


# -- QUOTA (RFC 9208) -------------------------------------------------------------------

async def _set_quota(ctx: SessionContext, quota: int | None) -> None:
    assert ctx.account is not None
    await ctx.store.update_account(ctx.account.address, quota_bytes=quota)


async def test_getquotaroot_and_getquota(ctx: SessionContext) -> None:
    await _set_quota(ctx, 10 * 1024 * 1024)  # set after login: read per command
    await put(ctx, "INBOX", b"x" * 3000)
    await put(ctx, "Sent", b"y" * 100)
    assert await wire(ctx, "G1 GETQUOTAROOT INBOX") == (
        b'* QUOTAROOT "INBOX" ""\r\n'
        b'* QUOTA "" (STORAGE 4 10240)\r\n'
        b"G1 OK GETQUOTAROOT completed.\r\n")
    assert await wire(ctx, 'G2 GETQUOTA ""') == (
        b'* QUOTA "" (STORAGE 4 10240)\r\nG2 OK GETQUOTA completed.\r\n')


async def test_quota_usage_rounds_up_limit_rounds_down(ctx: SessionContext) -> None:
    await _set_quota(ctx, 2047)
    await put(ctx, "INBOX", b"z")
    out = await ok(ctx, 'G1 GETQUOTA ""')
    assert out == [r.Quota("", (("STORAGE", 1, 1),))]


async def test_no_quota(ctx: SessionContext) -> None:
    assert await wire(ctx, "G1 GETQUOTAROOT INBOX") == (
        b'* QUOTAROOT "INBOX"\r\nG1 OK GETQUOTAROOT completed.\r\n')
    assert await wire(ctx, 'G2 GETQUOTA ""') == b"G2 NO [NONEXISTENT] No such quota root.\r\n"


async def test_getquota_unknown_root(ctx: SessionContext) -> None:
    await _set_quota(ctx, 1 << 20)
    assert (await tagged(ctx, "G1 GETQUOTA user.alice")).code == r.NONEXISTENT


async def test_getquotaroot_missing_folder(ctx: SessionContext) -> None:
    assert (await tagged(ctx, "G1 GETQUOTAROOT Nope")).code == r.NONEXISTENT


async def test_setquota_refused(ctx: SessionContext) -> None:
    out = await wire(ctx, 'S1 SETQUOTA "" (STORAGE 512)')
    assert out == b"S1 NO [NOPERM] Quotas are set by the administrator.\r\n"
    assert ctx.account is not None
    account = await ctx.store.get_account_by_id(ctx.account.id)
    assert account is not None and account.quota_bytes is None
