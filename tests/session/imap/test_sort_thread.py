"""SORT (RFC 5256, RFC 5957, RFC 5267 ESORT) and THREAD (ORDEREDSUBJECT,
REFERENCES) over MemoryStore, plus the base subject of RFC 5256 2.1."""

from __future__ import annotations

import datetime as dt

import pytest

from mailgate.protocol.imap import responses as r
from mailgate.protocol.imap import to_bytes
from mailgate.session.imap.base_subject import base_subject
from mailgate.session.imap.msgset import ReadCommandError
from mailgate.session.imap.sort import ordered_set, sort_response
from mailgate.session.imap.thread import ThreadInfo, references, thread_response

from reading_helpers import Mailbox, parse

UTC = dt.timezone.utc


@pytest.mark.parametrize("subject,base,reply", [
    ("hello", "hello", False),
    ("Re: hello", "hello", True),
    ("RE: Re: re: hello", "hello", True),
    ("Fw: hello", "hello", True),
    ("FWD:hello", "hello", True),
    ("Re[2]: hello", "hello", True),
    ("Re [list]: hello", "hello", True),
    ("[PATCH] Re: hello", "hello", True),
    ("[PATCH] hello", "hello", False),
    ("[PATCH]", "[PATCH]", False),  # removing the blob would leave nothing
    ("[a][b] Re: [c] hello", "hello", True),
    ("hello (fwd)", "hello", True),
    ("hello (FWD) (fwd)  ", "hello", True),
    ("[Fwd: hello]", "hello", True),
    ("[fwd: Re: [fwd: hello (fwd)]]", "hello", True),
    ("  hello \t world  ", "hello world", False),
    ("Reply: hello", "Reply: hello", False),
    ("Re:", "", True),
    ("", "", False),
])
def test_base_subject(subject, base, reply):
    assert base_subject(subject) == (base, reply)


def raw(subject: str, frm: str, to: str, date: str | None, *, extra: str = "", body: str = "x\r\n") -> bytes:
    head = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if date:
        head += f"Date: {date}\r\n"
    return (head + extra + "\r\n" + body).encode()


@pytest.fixture
async def mb(tmp_path):
    box = await Mailbox(tmp_path).setup()
    await box.add(raw("Re: Banana", "Zed <zed@x.org>", "amy@x.org", "Wed, 3 Jan 2024 00:00:00 +0000",
                      body="short\r\n"), date=dt.datetime(2024, 5, 1, tzinfo=UTC))
    await box.add(raw("apple", "bob@x.org", "Carl <carl@x.org>", "Mon, 1 Jan 2024 00:00:00 +0500",
                      extra="Cc: zz@x.org\r\n", body="medium body\r\n" * 3), date=dt.datetime(2024, 5, 3, tzinfo=UTC))
    await box.add(raw("[list] Banana (fwd)", "=?utf-8?q?=C3=84rger?= <aerger@x.org>", "zoe@x.org", None,
                      extra="Cc: Ann <ann@x.org>\r\n"),
                  date=dt.datetime(2024, 1, 2, 6, 0, tzinfo=UTC))
    await box.add(raw("Cherry", "alice@x.org", "Bob <Bob@x.org>", "Tue, 2 Jan 2024 12:00:00 +0000",
                      body="long body\r\n" * 100), date=dt.datetime(2024, 5, 2, tzinfo=UTC))
    await box.select()
    return box


async def sort(mb, line: str) -> bytes:
    cmd = parse(line)
    return b"".join(to_bytes(x) for x in await sort_response(mb.ctx, cmd))


@pytest.mark.parametrize("criteria,expected", [
    ("SUBJECT", "2 1 3 4"),  # apple, banana (1, 3 tie: sequence order), cherry
    ("REVERSE SUBJECT", "4 1 3 2"),  # REVERSE flips the key, not the tie order
    ("SUBJECT DATE", "2 3 1 4"),
    ("SUBJECT REVERSE DATE", "2 1 3 4"),
    ("DATE", "2 3 4 1"),  # 2 is 31-Dec-2023 19:00 UTC; 3 has no Date: internal date
    ("REVERSE DATE", "1 4 3 2"),
    ("ARRIVAL", "3 1 4 2"),
    ("SIZE", "1 3 2 4"),
    ("REVERSE SIZE", "4 2 3 1"),
    ("FROM", "3 4 2 1"),  # aerger, alice, bob, zed
    ("DISPLAYFROM", "4 2 1 3"),  # alice@x.org, bob@x.org, zed, Ärger
    ("TO", "1 4 2 3"),  # amy, Bob, carl, zoe
    ("DISPLAYTO", "1 4 2 3"),  # amy@x.org, bob, carl, zoe@x.org
    ("CC", "1 4 3 2"),  # none, none, ann, zz
    ("CC REVERSE SUBJECT", "4 1 3 2"),
])
async def test_sort_criteria(mb, criteria, expected):
    assert await sort(mb, f"UID SORT ({criteria}) UTF-8 ALL") == f"* SORT {expected}\r\n".encode()


async def test_sort_sizes_really_are_ordered(mb):
    sizes = {m.uid: m.size for m in await mb.store.get_messages(mb.ctx.selected.folder.id, [1, 2, 3, 4])}
    assert sorted(sizes, key=sizes.get) == [1, 3, 2, 4]


async def test_sort_with_search_key_and_sequence_numbers(mb):
    view = mb.ctx.selected
    await mb.store.expunge(view.folder.id, [1])
    view.forget_expunged_by_self([1])
    # Now UIDs 2, 3, 4 are sequence numbers 1, 2, 3.
    assert await sort(mb, "SORT (SUBJECT) UTF-8 ALL") == b"* SORT 1 2 3\r\n"
    assert await sort(mb, "UID SORT (SUBJECT) UTF-8 ALL") == b"* SORT 2 3 4\r\n"
    assert await sort(mb, "SORT (REVERSE ARRIVAL) US-ASCII NOT SUBJECT apple") == b"* SORT 3 2\r\n"
    assert await sort(mb, "SORT (DATE) UTF-8 SUBJECT nothing") == b"* SORT\r\n"


async def test_esort(mb):
    assert (await sort(mb, "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL")
            == b'* ESEARCH (TAG "A1") MIN 2 MAX 4 ALL 2,1,3:4 COUNT 4\r\n')
    assert await sort(mb, "SORT RETURN (SAVE) (DATE) UTF-8 SUBJECT banana") == b""
    assert mb.ctx.selected.saved_result == [1, 3]


def test_ordered_set_keeps_order():
    assert str(ordered_set([5, 6, 7, 1, 2, 9])) == "5:7,1:2,9"
    assert str(ordered_set([])) == ""


async def test_sort_unknown_criterion_is_bad(mb):
    from mailgate.protocol.imap.commands import Sort, SortCriterion
    with pytest.raises(ReadCommandError):
        await sort_response(mb.ctx, Sort("A1", criteria=(SortCriterion("COLOUR"),)))


# -- THREAD ----------------------------------------------------------------------------------

async def thread(mb, line: str) -> bytes:
    return to_bytes(await thread_response(mb.ctx, parse(line)))


async def test_orderedsubject(mb):
    # apple: 2; banana: 3 (2-Jan, internal date) then 1 (3-Jan); cherry: 4.
    # Threads go by the date of their first message.
    assert await thread(mb, "UID THREAD ORDEREDSUBJECT UTF-8 ALL") == b"* THREAD (2)(3 1)(4)\r\n"


async def test_orderedsubject_several_children_are_siblings(tmp_path):
    box = await Mailbox(tmp_path).setup()
    for day, subject in [(1, "x"), (2, "Re: x"), (3, "y"), (4, "Re: x"), (5, "re: X")]:
        await box.add(raw(subject, "a@b.c", "d@e.f", f"{day} Jan 2024 00:00:00 +0000"))
    await box.select()
    assert await thread(box, "THREAD ORDEREDSUBJECT UTF-8 ALL") == b"* THREAD (1 (2)(4)(5))(3)\r\n"


def ref(uid, day, subject, mid=None, refs=()):
    from mailgate.session.imap.base_subject import base_subject as bs
    base, is_reply = bs(subject)
    return ThreadInfo(uid, float(day), base.lower(), is_reply,
                      None if mid is None else f"<{mid}>".encode(),
                      tuple(f"<{x}>".encode() for x in refs))


def render(threads) -> bytes:
    return to_bytes(r.ThreadResult(threads))


def test_references_algorithm():
    infos = [
        ref(1, 2, "topic", "a"),
        ref(2, 3, "Re: topic", "b", ["a"]),
        ref(3, 4, "Re: topic", "c", ["a", "b"]),
        ref(4, 5, "Re: topic", "d", ["a"]),  # In-Reply-To only (same input form)
        ref(5, 6, "other", "e", ["missing"]),
        ref(6, 7, "Re: other", "f", ["missing"]),
        ref(7, 8, "Re: topic", "g"),  # no references: joined by subject
        ref(8, 1, "lonely", "h"),
        ref(9, 9, "dup", "a"),  # duplicate Message-ID: treated as unique
    ]
    assert render(references(infos)) == b"* THREAD (8)(1 (2 3)(4)(7))((5)(6))(9)\r\n"


def test_references_dummy_with_one_child_is_promoted():
    infos = [ref(1, 1, "alpha", "a", ["gone1", "gone2"]), ref(2, 2, "beta", "b")]
    assert render(references(infos)) == b"* THREAD (1)(2)\r\n"


def test_references_loops_are_not_created():
    infos = [ref(1, 1, "x", "x", ["y"]), ref(2, 2, "y", "y", ["x"]), ref(3, 3, "z", "z", ["z"])]
    out = render(references(infos))
    assert out == b"* THREAD (2 1)(3)\r\n"


def test_references_truncated_references_reparent():
    # 2 first claims c is a child of b (via its References), then c's own
    # References say its parent is a: the later, own statement wins (1C).
    infos = [ref(1, 1, "s", "a"), ref(2, 2, "Re: s", "d", ["b", "c"]), ref(3, 3, "Re: s", "c", ["a"])]
    assert render(references(infos)) == b"* THREAD (1 3 2)\r\n"


def test_references_subject_merging_rules():
    # Two threads with the same subject, neither a reply: a dummy holds both.
    infos = [ref(1, 1, "same", "a"), ref(2, 2, "same", "b")]
    assert render(references(infos)) == b"* THREAD ((1)(2))\r\n"
    # A reply thread is moved under the non-reply one, whichever came first.
    infos = [ref(1, 1, "Re: same", "a"), ref(2, 2, "same", "b")]
    assert render(references(infos)) == b"* THREAD (2 1)\r\n"
    # Empty subjects are never merged.
    infos = [ref(1, 1, "", "a"), ref(2, 2, "Re:", "b")]
    assert render(references(infos)) == b"* THREAD (1)(2)\r\n"


async def test_thread_references_over_the_store(tmp_path):
    box = await Mailbox(tmp_path).setup()
    msgs = [
        ("topic", "<a@x>", "", 2),
        ("Re: topic", "<b@x>", "References: <a@x>\r\n", 3),
        ("Re: topic", "<c@x>", "References: <a@x>\r\n <b@x>\r\n", 4),
        ("Re: topic", "<d@x>", "In-Reply-To: <a@x> (comment)\r\n", 5),
        ("other", "<e@x>", "", 1),
    ]
    for subject, mid, extra, day in msgs:
        await box.add(raw(subject, "a@b.c", "d@e.f", f"{day} Jan 2024 00:00:00 +0000",
                          extra=f"Message-ID: {mid}\r\n{extra}"))
    view = await box.select()
    assert await thread(box, "UID THREAD REFERENCES UTF-8 ALL") == b"* THREAD (5)(1 (2 3)(4))\r\n"
    await box.store.expunge(view.folder.id, [1])
    view.forget_expunged_by_self([1])
    # Without 1, its children hang from a dummy; sequence numbers shift by one.
    assert await thread(box, "THREAD REFERENCES UTF-8 ALL") == b"* THREAD (4)((1 2)(3))\r\n"
    assert await thread(box, "UID THREAD REFERENCES UTF-8 NOT UID 3") == b"* THREAD (5)((2)(4))\r\n"


async def test_thread_unknown_algorithm_is_bad(mb):
    with pytest.raises(ReadCommandError) as exc:
        await thread_response(mb.ctx, parse("THREAD COLOURS UTF-8 ALL"))
    assert exc.value.to_response("A1").status == "BAD"


async def test_thread_empty_result(mb):
    assert await thread(mb, "THREAD REFERENCES UTF-8 SUBJECT nothing") == b"* THREAD\r\n"
