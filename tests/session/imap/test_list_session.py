"""LIST and LSUB at session level over MemoryStore and SqliteStore: RFC 3501
wildcards and references, LIST-EXTENDED (RFC 5258 section 5 examples),
LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154), hidden folders."""

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
from mailgate.session.imap import selected as selected_mod
from mailgate.session.imap.context import SessionContext
from mailgate.session.imap.folders import FOLDER_HANDLERS
from mailgate.storage import BlobStore, MemoryStore, SqliteStore
from mailgate.storage.base import Store

MSG = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def _fresh_recent_claims() -> None:
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
def runtime(store: Store, tmp_path: Path) -> Runtime:
    return Runtime(store, BlobStore(tmp_path / "blobs"), "mail.example.com", None)


@pytest.fixture
async def ctx(store: Store, runtime: Runtime) -> SessionContext:
    """An account with the default folders (INBOX, Sent, Drafts, Trash, Junk,
    Archive, all subscribed)."""
    account = await store.create_account("alice@example.com", "x")
    await ensure_default_folders(store, account)
    return SessionContext(runtime, tls_active=True, account=account)


async def _bare(store: Store, runtime: Runtime, folders: list[str], subs: list[str]) -> SessionContext:
    account = await store.create_account("bob@example.com", "x")
    for name in folders:
        await store.create_folder(account.id, name)
    for name in subs:
        await store.subscribe(account.id, name)
    return SessionContext(runtime, tls_active=True, account=account)


@pytest.fixture
async def rfc(store: Store, runtime: Runtime) -> SessionContext:
    """The hierarchy of RFC 5258 section 5, example 1, with the
    subscriptions of example 2 ("Fruit/Peach" is subscribed, not a folder)."""
    return await _bare(
        store, runtime,
        ["INBOX", "Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable",
         "Vegetable/Broccoli", "Vegetable/Corn"],
        ["INBOX", "Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"],
    )


async def run(ctx: SessionContext, line: str) -> list[r.Response]:
    cmd = parse_command(line.encode("utf-8"), utf8=ctx.utf8)
    assert isinstance(cmd, Command), cmd
    out = [resp async for resp in FOLDER_HANDLERS[type(cmd)](ctx, cmd)]
    assert isinstance(out[-1], r.Tagged) and out[-1].tag == cmd.tag
    return out


async def wire(ctx: SessionContext, line: str) -> bytes:
    return b"".join(to_bytes(x, utf8=ctx.utf8) for x in await run(ctx, line))


async def lines(ctx: SessionContext, line: str) -> list[str]:
    """The untagged lines, as text; the tagged line must be OK."""
    out = (await wire(ctx, line)).decode("utf-8").split("\r\n")
    assert out[-1] == ""
    assert out[-2].split(" ")[1] == "OK", out[-2]
    return out[:-2]


async def listed(ctx: SessionContext, line: str) -> list[str]:
    """Names of the LIST/LSUB lines, in order."""
    out = []
    for resp in await run(ctx, line):
        if isinstance(resp, r.ListItem):
            out.append(resp.name)
    return out


def show_hidden(ctx: SessionContext, on: bool = True) -> None:
    ctx.runtime.imap = dataclasses.replace(ctx.runtime.imap, show_hidden_folders_enabled=on)


async def mk(ctx: SessionContext, *names: str) -> None:
    """Folders made directly in the store (no missing parents are added)."""
    assert ctx.account is not None
    for name in names:
        await ctx.store.create_folder(ctx.account.id, name)


# -- LIST "" "" ------------------------------------------------------------------------

async def test_empty_pattern_returns_delimiter_and_root(ctx: SessionContext) -> None:
    assert await wire(ctx, 'A101 LIST "" ""') == (
        b'* LIST (\\Noselect) "/" ""\r\nA101 OK LIST completed.\r\n')


async def test_empty_pattern_with_reference(ctx: SessionContext) -> None:
    assert await lines(ctx, 'A102 LIST Work/Reports ""') == ['* LIST (\\Noselect) "/" ""']


async def test_empty_pattern_among_extended_patterns(ctx: SessionContext) -> None:
    assert await listed(ctx, 'A1 LIST "" ("" "Sent")') == ["", "Sent"]


# -- plain LIST ------------------------------------------------------------------------

async def test_list_star_default_folders_exact_bytes(ctx: SessionContext) -> None:
    assert await wire(ctx, 'A1 LIST "" *') == (
        b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
        b'* LIST (\\Archive \\HasNoChildren) "/" "Archive"\r\n'
        b'* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"\r\n'
        b'* LIST (\\Junk \\HasNoChildren) "/" "Junk"\r\n'
        b'* LIST (\\Sent \\HasNoChildren) "/" "Sent"\r\n'
        b'* LIST (\\Trash \\HasNoChildren) "/" "Trash"\r\n'
        b"A1 OK LIST completed.\r\n")


async def test_percent_versus_star(ctx: SessionContext) -> None:
    await mk(ctx, "Work", "Work/Reports", "Work/Reports/2024", "Work/Old", "Workshop")
    top = await listed(ctx, 'A1 LIST "" %')
    assert "Work" in top and "Workshop" in top
    assert not any("/" in n for n in top)
    assert await listed(ctx, 'A2 LIST "" Work/%') == ["Work/Old", "Work/Reports"]
    assert await listed(ctx, 'A3 LIST "" Work/*') == ["Work/Old", "Work/Reports", "Work/Reports/2024"]
    assert await listed(ctx, 'A4 LIST "" Work*') == [
        "Work", "Work/Old", "Work/Reports", "Work/Reports/2024", "Workshop"]
    assert await listed(ctx, 'A5 LIST "" Work%') == ["Work", "Workshop"]
    assert await listed(ctx, 'A6 LIST "" %/%') == ["Work/Old", "Work/Reports"]
    assert await listed(ctx, 'A7 LIST "" */2024') == ["Work/Reports/2024"]
    assert await listed(ctx, 'A8 LIST "" %/2024') == []


async def test_children_attributes(ctx: SessionContext) -> None:
    await mk(ctx, "Work", "Work/Reports")
    assert await lines(ctx, 'A1 LIST "" Work*') == [
        '* LIST (\\HasChildren) "/" "Work"',
        '* LIST (\\HasNoChildren) "/" "Work/Reports"',
    ]


async def test_reference_is_prefixed(ctx: SessionContext) -> None:
    # RFC 3501 6.3.8: LIST ~/Mail/ % lists the level below ~/Mail/
    await mk(ctx, "Work", "Work/Reports", "Work/Reports/2024", "Work/Old")
    assert await listed(ctx, 'A202 LIST Work/ %') == ["Work/Old", "Work/Reports"]
    assert await listed(ctx, 'A203 LIST Work /%') == ["Work/Old", "Work/Reports"]
    assert await listed(ctx, 'A204 LIST Work/ *') == ["Work/Old", "Work/Reports", "Work/Reports/2024"]
    assert await listed(ctx, 'A205 LIST Work/Reports "/2024"') == ["Work/Reports/2024"]


async def test_exact_name_without_wildcards(ctx: SessionContext) -> None:
    assert await listed(ctx, 'A1 LIST "" Sent') == ["Sent"]
    assert await listed(ctx, 'A2 LIST "" sent') == []  # only INBOX ignores case


async def test_missing_level_is_noselect(ctx: SessionContext) -> None:
    await mk(ctx, "Orphan/Child")
    out = await lines(ctx, 'A1 LIST "" %')
    assert '* LIST (\\Noselect \\HasChildren) "/" "Orphan"' in out
    assert await lines(ctx, 'A2 LIST "" Orphan*') == [
        '* LIST (\\Noselect \\HasChildren) "/" "Orphan"',
        '* LIST (\\HasNoChildren) "/" "Orphan/Child"',
    ]
    assert await listed(ctx, 'A3 LIST "" Orphan/%') == ["Orphan/Child"]


async def test_inbox_is_case_insensitive_in_patterns(ctx: SessionContext) -> None:
    await mk(ctx, "INBOX/Sub", "Inboxes")
    assert await listed(ctx, 'A1 LIST "" inbox') == ["INBOX"]
    assert await listed(ctx, 'A2 LIST "" InBox/%') == ["INBOX/Sub"]
    assert await listed(ctx, 'A3 LIST "" inb*') == ["INBOX", "INBOX/Sub"]
    assert await listed(ctx, 'A4 LIST "" Inb*') == ["INBOX", "INBOX/Sub", "Inboxes"]
    assert await listed(ctx, 'A5 LIST "" inboxes') == []


async def test_inbox_and_its_inferiors_come_first(ctx: SessionContext) -> None:
    await mk(ctx, "A-first", "INBOX/Sub")
    assert (await listed(ctx, 'A1 LIST "" *'))[:3] == ["INBOX", "INBOX/Sub", "A-first"]


async def test_no_subscribed_attribute_unless_asked(ctx: SessionContext) -> None:
    assert "\\Subscribed" not in "".join(await lines(ctx, 'A1 LIST "" *'))


async def test_non_ascii_names_modified_utf7_exact_bytes(ctx: SessionContext) -> None:
    await mk(ctx, "Entwürfe", "Entwürfe/Alt", "日本語")
    assert await wire(ctx, 'A1 LIST "" Entw&APw-rfe*') == (
        b'* LIST (\\HasChildren) "/" "Entw&APw-rfe"\r\n'
        b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/Alt"\r\n'
        b"A1 OK LIST completed.\r\n")
    assert await wire(ctx, 'A2 LIST "" &ZeVnLIqe-') == (
        b'* LIST (\\HasNoChildren) "/" "&ZeVnLIqe-"\r\nA2 OK LIST completed.\r\n')


async def test_non_ascii_names_utf8_accept(ctx: SessionContext) -> None:
    await mk(ctx, "Entwürfe")
    ctx.enabled.add("UTF8=ACCEPT")
    assert await wire(ctx, 'A1 LIST "" "Entwü*"') == (
        '* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n'.encode()
        + b"A1 OK LIST completed.\r\n")


# -- hidden folders (ShowHiddenFoldersEnabled) ---------------------------------------------

async def test_hidden_folders_not_listed_by_default(ctx: SessionContext) -> None:
    await mk(ctx, ".sync", "Work", "Work/.cache", "Work/.cache/x")
    assert ctx.account is not None
    await ctx.store.subscribe(ctx.account.id, ".sync")
    out = await lines(ctx, 'A1 LIST "" *')
    assert not any("." in line for line in out)
    # only hidden children: the visible parent has none
    assert '* LIST (\\HasNoChildren) "/" "Work"' in out
    assert ".sync" not in await listed(ctx, 'A2 LIST (SUBSCRIBED) "" *')
    assert ".sync" not in await listed(ctx, 'A3 LSUB "" *')
    assert await listed(ctx, 'A4 LIST "" .sync') == []


async def test_hidden_folders_listed_when_enabled(ctx: SessionContext) -> None:
    await mk(ctx, ".sync", "Work", "Work/.cache")
    show_hidden(ctx)
    out = await lines(ctx, 'A1 LIST "" *')
    assert '* LIST (\\HasNoChildren) "/" ".sync"' in out
    assert '* LIST (\\HasChildren) "/" "Work"' in out
    assert '* LIST (\\HasNoChildren) "/" "Work/.cache"' in out
    show_hidden(ctx, False)  # a setting change applies to the next command
    assert ".sync" not in await listed(ctx, 'A2 LIST "" *')


# -- RFC 5258 section 5 ------------------------------------------------------------------

async def test_rfc5258_example_1_whole_hierarchy(rfc: SessionContext) -> None:
    assert await listed(rfc, 'A01 LIST "" *') == [
        "INBOX", "Fruit", "Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable",
        "Vegetable/Broccoli", "Vegetable/Corn"]


async def test_rfc5258_example_2_subscribed(rfc: SessionContext) -> None:
    assert await lines(rfc, 'A02 LIST (SUBSCRIBED) "" *') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
        '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Fruit/Peach"',
        '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"',
    ]


async def test_rfc5258_example_3_return_children(rfc: SessionContext) -> None:
    assert await lines(rfc, 'A03 LIST () "" % RETURN (CHILDREN)') == [
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* LIST (\\HasChildren) "/" "Fruit"',
        '* LIST (\\HasNoChildren) "/" "Tofu"',
        '* LIST (\\HasChildren) "/" "Vegetable"',
    ]


async def test_rfc5258_example_5_6_remote_is_accepted(rfc: SessionContext) -> None:
    # there are no remote folders: REMOTE changes nothing
    assert await lines(rfc, 'A05 LIST (REMOTE SUBSCRIBED) "" *') == await lines(
        rfc, 'A05b LIST (SUBSCRIBED) "" *')
    assert await lines(rfc, 'A06 LIST (REMOTE) "" * RETURN (SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasChildren) "/" "Fruit"',
        '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
        '* LIST (\\HasNoChildren) "/" "Tofu"',
        '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Vegetable/Broccoli"',
        '* LIST (\\HasNoChildren) "/" "Vegetable/Corn"',
    ]


async def test_rfc5258_example_7_several_patterns(rfc: SessionContext) -> None:
    # each name once, in one order, whatever pattern(s) it matches
    assert await listed(rfc, 'A07 LIST "" ("INBOX" "Fruit/%" "Fruit/A*" "Tofu")') == [
        "INBOX", "Fruit/Apple", "Fruit/Banana", "Tofu"]


async def test_rfc5258_example_8_recursivematch(store: Store, runtime: Runtime) -> None:
    ctx = await _bare(store, runtime, ["Foo", "Foo/Bar", "Foo/Baz", "Moo"], ["Foo/Bar", "Moo"])
    assert await lines(ctx, 'C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (CHILDREN)') == [
        '* LIST (\\HasChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Moo"',
    ]
    # with "*" Foo/Bar matches itself: no CHILDINFO line for Foo
    assert await lines(ctx, 'C05 LIST (SUBSCRIBED RECURSIVEMATCH) "" *') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Foo/Bar"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Moo"',
    ]
    # without RECURSIVEMATCH, Foo is not listed at all
    assert await listed(ctx, 'C06 LIST (SUBSCRIBED) "" %') == ["Moo"]


async def test_rfc5258_recursivematch_subscribed_parent_with_subscribed_child(rfc: SessionContext) -> None:
    assert await lines(rfc, 'A04 LIST (SUBSCRIBED RECURSIVEMATCH) "" %') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        '* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasChildren \\Subscribed) "/" "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))',
    ]


async def test_rfc5258_nonexistent_parent_of_subscribed_name(store: Store, runtime: Runtime) -> None:
    ctx = await _bare(store, runtime, ["INBOX"], ["Gone/Box"])
    assert await lines(ctx, 'A1 LIST (SUBSCRIBED RECURSIVEMATCH) "" %') == [
        '* LIST (\\NonExistent \\HasNoChildren) "/" "Gone" ("CHILDINFO" ("SUBSCRIBED"))',
    ]
    assert await lines(ctx, 'A2 LIST (SUBSCRIBED) "" Gone*') == [
        '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Gone/Box"',
    ]
    # without the SUBSCRIBED selection only existing names are listed
    assert await listed(ctx, 'A3 LIST "" Gone* RETURN (SUBSCRIBED)') == []


async def test_childinfo_exact_bytes(store: Store, runtime: Runtime) -> None:
    ctx = await _bare(store, runtime, ["Foo", "Foo/Bar"], ["Foo/Bar"])
    assert await wire(ctx, 'C1 LIST (SUBSCRIBED RECURSIVEMATCH) "" %') == (
        b'* LIST (\\HasChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))\r\n'
        b"C1 OK LIST completed.\r\n")


async def test_recursivematch_alone_is_bad_in_the_parser(rfc: SessionContext) -> None:
    assert not isinstance(parse_command(b'A1 LIST (RECURSIVEMATCH) "" %'), Command)


# -- SPECIAL-USE (RFC 6154) ------------------------------------------------------------------

async def test_special_use_selection(ctx: SessionContext) -> None:
    await mk(ctx, "Work")
    assert await lines(ctx, 't1 LIST (SPECIAL-USE) "" *') == [
        '* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
        '* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
        '* LIST (\\Junk \\HasNoChildren) "/" "Junk"',
        '* LIST (\\Sent \\HasNoChildren) "/" "Sent"',
        '* LIST (\\Trash \\HasNoChildren) "/" "Trash"',
    ]


async def test_special_use_return_option(ctx: SessionContext) -> None:
    out = await lines(ctx, 't2 LIST "" % RETURN (SPECIAL-USE)')
    assert out == await lines(ctx, 't3 LIST "" %')
    assert '* LIST (\\Sent \\HasNoChildren) "/" "Sent"' in out


async def test_special_use_and_subscribed_selection_combine(ctx: SessionContext) -> None:
    await ok_(ctx, "t0 UNSUBSCRIBE Junk")
    names = await listed(ctx, 't1 LIST (SPECIAL-USE SUBSCRIBED) "" *')
    assert names == ["Archive", "Drafts", "Sent", "Trash"]


async def test_special_use_recursivematch(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await mk(ctx, "Old")
    await ctx.store.create_folder(ctx.account.id, "Old/Sent", "\\Sent")
    out = await lines(ctx, 't1 LIST (SPECIAL-USE RECURSIVEMATCH) "" Old')
    assert out == ['* LIST (\\HasChildren) "/" "Old" ("CHILDINFO" ("SPECIAL-USE"))']


async def ok_(ctx: SessionContext, line: str) -> None:
    last = (await run(ctx, line))[-1]
    assert isinstance(last, r.Tagged) and last.status == "OK", last


# -- LIST-STATUS (RFC 5819) ------------------------------------------------------------------

async def test_list_status(ctx: SessionContext) -> None:
    assert ctx.account is not None
    await deliver(ctx.store, ctx.blobs, ctx.account, "INBOX", MSG, flags=("\\Seen",))
    await deliver(ctx.store, ctx.blobs, ctx.account, "INBOX", MSG)
    await mk(ctx, "Orphan/Child")
    out = await lines(ctx, 'A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert out == [
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* STATUS "INBOX" (MESSAGES 2 UNSEEN 1)',
        '* LIST (\\Archive \\HasNoChildren) "/" "Archive"',
        '* STATUS "Archive" (MESSAGES 0 UNSEEN 0)',
        '* LIST (\\Drafts \\HasNoChildren) "/" "Drafts"',
        '* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)',
        '* LIST (\\Junk \\HasNoChildren) "/" "Junk"',
        '* STATUS "Junk" (MESSAGES 0 UNSEEN 0)',
        '* LIST (\\Noselect \\HasChildren) "/" "Orphan"',  # nothing to STATUS
        '* LIST (\\Sent \\HasNoChildren) "/" "Sent"',
        '* STATUS "Sent" (MESSAGES 0 UNSEEN 0)',
        '* LIST (\\Trash \\HasNoChildren) "/" "Trash"',
        '* STATUS "Trash" (MESSAGES 0 UNSEEN 0)',
    ]


async def test_list_status_with_other_return_options(rfc: SessionContext) -> None:
    assert await lines(rfc, 'A2 LIST "" Fruit/* RETURN (CHILDREN STATUS (MESSAGES UIDNEXT) SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
        '* STATUS "Fruit/Apple" (MESSAGES 0 UIDNEXT 1)',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Fruit/Banana"',
        '* STATUS "Fruit/Banana" (MESSAGES 0 UIDNEXT 1)',
    ]


async def test_list_status_not_for_childinfo_only_or_nonexistent(rfc: SessionContext) -> None:
    out = await lines(rfc, 'A3 LIST (SUBSCRIBED RECURSIVEMATCH) "" * RETURN (STATUS (MESSAGES))')
    statuses = [line for line in out if line.startswith("* STATUS")]
    assert statuses == [
        '* STATUS "INBOX" (MESSAGES 0)',
        '* STATUS "Fruit/Banana" (MESSAGES 0)',
        '* STATUS "Vegetable" (MESSAGES 0)',
        '* STATUS "Vegetable/Broccoli" (MESSAGES 0)',
    ]
    assert '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" "Fruit/Peach"' in out
    out = await lines(rfc, 'A4 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))')
    assert '* STATUS "Fruit" (MESSAGES 0)' not in out
    assert '* STATUS "Vegetable" (MESSAGES 0)' in out


async def test_list_status_recent_bad_in_rev2(ctx: SessionContext) -> None:
    assert (await wire(ctx, 'A1 LIST "" % RETURN (STATUS (MESSAGES RECENT))')).startswith(b"* LIST")
    ctx.enabled.add("IMAP4rev2")
    out = await run(ctx, 'A2 LIST "" % RETURN (STATUS (MESSAGES RECENT))')
    assert len(out) == 1 and isinstance(out[0], r.Tagged) and out[0].status == "BAD"


async def test_list_status_highestmodseq_enables_condstore(ctx: SessionContext) -> None:
    await run(ctx, 'A1 LIST "" INBOX RETURN (STATUS (HIGHESTMODSEQ))')
    assert ctx.condstore


# -- LSUB ------------------------------------------------------------------------------

async def test_lsub(store: Store, runtime: Runtime) -> None:
    ctx = await _bare(store, runtime, ["INBOX", "Work", "Work/Reports", "News"],
                      ["INBOX", "Work/Reports", "Gone", "Gone/Deep/Box"])
    assert await wire(ctx, 'A1 LSUB "" *') == (
        b'* LSUB () "/" "INBOX"\r\n'
        b'* LSUB (\\Noselect) "/" "Gone"\r\n'
        b'* LSUB (\\Noselect) "/" "Gone/Deep/Box"\r\n'
        b'* LSUB () "/" "Work/Reports"\r\n'
        b"A1 OK LSUB completed.\r\n")
    # "%" last: an unsubscribed level above a subscribed name is \Noselect
    assert await lines(ctx, 'A2 LSUB "" %') == [
        '* LSUB () "/" "INBOX"',
        '* LSUB (\\Noselect) "/" "Gone"',
        '* LSUB (\\Noselect) "/" "Work"',
    ]
    assert await lines(ctx, 'A3 LSUB "" Gone/%') == ['* LSUB (\\Noselect) "/" "Gone/Deep"']
    assert await lines(ctx, 'A4 LSUB Work/ *') == ['* LSUB () "/" "Work/Reports"']
    assert await lines(ctx, 'A5 LSUB "" ""') == ['* LSUB (\\Noselect) "/" ""']


async def test_lsub_follows_subscribe_and_unsubscribe(ctx: SessionContext) -> None:
    await ok_(ctx, "t1 CREATE News")
    assert "News" not in await listed(ctx, 't2 LSUB "" *')
    await ok_(ctx, "t3 SUBSCRIBE News")
    assert "News" in await listed(ctx, 't4 LSUB "" *')
    await ok_(ctx, "t5 UNSUBSCRIBE News")
    assert "News" not in await listed(ctx, 't6 LSUB "" *')


async def test_created_and_renamed_folders_show_in_list(ctx: SessionContext) -> None:
    await ok_(ctx, "t1 CREATE a/b/c")
    assert await lines(ctx, 't2 LIST "" a*') == [
        '* LIST (\\HasChildren) "/" "a"',
        '* LIST (\\HasChildren) "/" "a/b"',
        '* LIST (\\HasNoChildren) "/" "a/b/c"',
    ]
    await ok_(ctx, "t3 RENAME a/b z")
    assert await listed(ctx, 't4 LIST "" a*') == ["a"]
    assert await listed(ctx, 't5 LIST "" z*') == ["z", "z/c"]
