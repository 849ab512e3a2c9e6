"""SEARCH evaluation and ESEARCH/SEARCHRES answers over MemoryStore."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.protocol.imap import responses as r
from mailgate.protocol.imap import search_keys as sk
from mailgate.protocol.imap import to_bytes
from mailgate.protocol.imap.sequence import SequenceSet
from mailgate.session.imap import search_eval
from mailgate.session.imap.search import search_response, search_uids

from reading_helpers import Mailbox, parse

UTC = dt.timezone.utc


def msg(subject: str = "hello", *, frm: str = "Alice <alice@example.com>", to: str = "bob@example.com",
        date: str | None = "Mon, 15 Jan 2024 10:00:00 +0000", extra: str = "", body: str = "Body text.\r\n",
        cc: str | None = None) -> bytes:
    head = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    if date:
        head += f"Date: {date}\r\n"
    return (head + extra + "\r\n" + body).encode("utf-8")


@pytest.fixture
async def mb(tmp_path):
    box = await Mailbox(tmp_path).setup()
    # 1: plain, seen+flagged        2: encoded From, answered, keyword
    # 3: base64 body, deleted       4: qp latin-1 body, draft, no Date
    # 5: big, late in 2024 +14:00   6: Re: subject, header X-Tag
    await box.add(msg("Lunch plans", body="Let's meet at noon.\r\n"), flags=("\\Seen", "\\Flagged"),
                  date=dt.datetime(2024, 1, 10, 9, 0, tzinfo=UTC))
    await box.add(msg("Straßenbahn fährt", frm="=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>",
                      cc="Project Team <team@example.com>"),
                  flags=("\\Answered", "$Important"), date=dt.datetime(2024, 2, 1, 23, 30, tzinfo=UTC))
    await box.add(msg("attachment", extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: base64\r\n",
                      body="WmVicmFmaXNoIGFyZSBncmVhdCDwn5CfCg==\r\n"),
                  flags=("\\Deleted",), date=dt.datetime(2024, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    await box.add(msg("crêpes", date=None, extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n", body="Des cr=EApes au beurre.\r\n"),
                  flags=("\\Draft",), date=dt.datetime(2024, 4, 5, 12, 0, tzinfo=UTC))
    await box.add(msg("big one", date="Sun, 30 Jun 2024 23:30:00 -0500", body="x" * 5000 + "\r\n"),
                  date=dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC))
    await box.add(msg("Re: Lunch plans", extra="X-Tag: Blue-Green\r\nMessage-ID: <six@example.com>\r\n",
                      body="Sounds good.\r\n"), date=dt.datetime(2024, 7, 2, 12, 0, tzinfo=UTC))
    view = await box.select()
    view.recent = {5, 6}
    return box


async def uids(mb, criteria: str, *, uid: bool = True) -> list[int]:
    cmd = parse(("UID SEARCH " if uid else "SEARCH ") + criteria)
    return await search_uids(mb.ctx, cmd.key, uid_mode=cmd.uid)


@pytest.mark.parametrize("criteria,expected", [
    ("ALL", [1, 2, 3, 4, 5, 6]),
    ("SEEN", [1]), ("UNSEEN", [2, 3, 4, 5, 6]),
    ("FLAGGED", [1]), ("UNFLAGGED", [2, 3, 4, 5, 6]),
    ("ANSWERED", [2]), ("UNANSWERED", [1, 3, 4, 5, 6]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5, 6]),
    ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5, 6]),
    ("KEYWORD $important", [2]), ("UNKEYWORD $Important", [1, 3, 4, 5, 6]),
    ("RECENT", [5, 6]), ("OLD", [1, 2, 3, 4]), ("NEW", [5, 6]),
    ("2:4", [2, 3, 4]), ("*", [6]), ("5:*", [5, 6]), ("4:100", [4, 5, 6]),
    ("UID 1,3,99", [1, 3]), ("UID *", [6]),
])
async def test_cheap_keys(mb, criteria, expected):
    assert await uids(mb, criteria) == expected


@pytest.mark.parametrize("criteria,expected", [
    ("SUBJECT lunch", [1, 6]),
    ("SUBJECT \"LUNCH PLANS\"", [1, 6]),
    ("FROM alice", [1, 3, 4, 5, 6]),
    ("FROM müller", [2]),  # encoded word decoded, case-insensitive
    ("FROM jm@example.de", [2]),
    ("TO bob", [1, 2, 3, 4, 5, 6]),
    ("CC \"project team\"", [2]),
    ("CC \"\"", [2]),  # empty string: the field is present
    ("BCC anything", []),
    ("HEADER X-Tag blue", [6]),
    ("HEADER x-tag \"\"", [6]),
    ("HEADER Message-ID six@", [6]),
    ("NOT HEADER Message-ID \"\"", [1, 2, 3, 4, 5]),
    ("HEADER Content-Transfer-Encoding base64", [3]),
    ("BODY zebrafish", [3]),  # inside base64
    ("BODY crêpes", [4]),  # QP, ISO-8859-1
    ("BODY \"noon\"", [1]),
    ("BODY lunch", []),  # only in the header
    ("TEXT lunch", [1, 6]),
    ("TEXT \"sounds GOOD\"", [6]),
    ("LARGER 1000", [5]), ("SMALLER 200", [1, 6]),
])
async def test_message_keys(mb, criteria, expected):
    if any(ord(c) > 127 for c in criteria):
        key, _, value = criteria.rpartition(" ")
        raw = value.encode()
        criteria = f"CHARSET UTF-8 {key} {{{len(raw)}}}\r\n{value}"
    assert await uids(mb, criteria) == expected


async def test_charset_latin1_literal(mb):
    needle = "Straße".encode("iso-8859-1")
    cmd = parse(b"UID SEARCH CHARSET ISO-8859-1 SUBJECT {%d}\r\n" % len(needle) + needle)
    assert await search_uids(mb.ctx, cmd.key, uid_mode=True) == [2]


@pytest.mark.parametrize("criteria,expected", [
    # internal dates, in their own zone: msg 3 is 01-Mar-2024 00:30 +0200
    ("BEFORE 1-Mar-2024", [1, 2]), ("ON 1-Mar-2024", [3]), ("SINCE 1-Mar-2024", [3, 4, 5, 6]),
    ("ON 1-Feb-2024", [2]),
    # sent dates, in the Date header's zone: msg 5 is 30-Jun 23:30 -0500
    ("SENTON 30-Jun-2024", [5]), ("SENTSINCE 30-Jun-2024", [5]),
    ("SENTBEFORE 30-Jun-2024", [1, 2, 3, 4, 6]),  # 4 has no Date: its internal date (5-Apr) counts
    ("SENTON 5-Apr-2024", [4]),
])
async def test_dates(mb, criteria, expected):
    assert await uids(mb, criteria) == expected


async def test_missing_date_fallback_can_be_switched_to_epoch(mb, monkeypatch):
    monkeypatch.setattr(search_eval, "SENT_DATE_FALLBACK", "epoch")
    assert await uids(mb, "SENTON 1-Jan-1970") == [4]
    assert await uids(mb, "SENTBEFORE 2-Jan-1970") == [4]


@pytest.mark.parametrize("criteria,expected", [
    ("OR SEEN DELETED", [1, 3]),
    ("OR SUBJECT lunch BODY zebrafish", [1, 3, 6]),
    ("NOT SUBJECT lunch", [2, 3, 4, 5]),
    ("NOT NOT SEEN", [1]),
    ("SUBJECT lunch UNSEEN", [6]),
    ("(SUBJECT lunch) (OR SEEN RECENT)", [1, 6]),
    ("OR (SEEN FLAGGED) (DELETED NOT BODY nothing)", [1, 3]),
    ("NOT (OR 1:2 LARGER 1000)", [3, 4, 6]),
    ("OR NOT ALL 2", [2]),
    ("UID 2:5 NOT 3", [2, 4, 5]),
])
async def test_boolean_combinations(mb, criteria, expected):
    assert await uids(mb, criteria) == expected


async def test_sequence_numbers_follow_the_view(mb):
    view = mb.ctx.selected
    await mb.store.expunge(view.folder.id, [2])
    view.gone.add(2)  # expunged elsewhere, not reported yet: numbers unchanged
    assert await uids(mb, "2:3", uid=False) == [3]
    assert await uids(mb, "ALL") == [1, 3, 4, 5, 6]


async def test_flag_searches_never_load_messages(mb, monkeypatch):
    async def boom(*a):
        raise AssertionError("get_messages called")

    monkeypatch.setattr(mb.store, "get_messages", boom)
    assert await uids(mb, "OR SEEN (DELETED UID 3) NOT 6") == [1, 3]
    assert await uids(mb, "SEEN DELETED BODY zebrafish") == []  # decided by the flags alone


async def test_only_undecided_messages_are_loaded(mb, monkeypatch):
    asked = mb.record_get_messages(monkeypatch)
    assert await uids(mb, "UNSEEN UNDELETED BODY good") == [6]
    assert asked == [[2, 4, 5, 6]]


async def test_saved_result_key(mb):
    mb.ctx.selected.saved_result = [2, 5]
    assert await uids(mb, "$") == [2, 5]
    assert await uids(mb, "NOT $", uid=False) == [1, 3, 4, 6]
    mb.ctx.selected.saved_result = []
    assert await uids(mb, "$") == []


async def test_modseq_and_age(mb):
    view = mb.ctx.selected
    result = await mb.store.store_flags(view.folder.id, [4], ["\\Flagged"], "add")
    for meta in result.changed:
        view.apply_own_change(meta)
    top = view.meta[4].modseq
    assert await uids(mb, f"MODSEQ {top}") == [4]
    assert mb.ctx.condstore_used
    assert await uids(mb, "YOUNGER 60") == []
    assert await uids(mb, "OLDER 60") == [1, 2, 3, 4, 5, 6]


# -- responses -----------------------------------------------------------------------

async def answer(mb, line: str) -> bytes:
    cmd = parse(line)
    found = await search_uids(mb.ctx, cmd.key, uid_mode=cmd.uid)
    return b"".join(to_bytes(x) for x in search_response(mb.ctx, cmd, found))


async def test_plain_search_response(mb):
    await mb.store.expunge(mb.ctx.selected.folder.id, [1])
    mb.ctx.selected.forget_expunged_by_self([1])
    assert await answer(mb, "SEARCH SUBJECT lunch") == b"* SEARCH 5\r\n"
    assert await answer(mb, "UID SEARCH SUBJECT lunch") == b"* SEARCH 6\r\n"
    assert await answer(mb, "SEARCH SUBJECT nothing-like-this") == b"* SEARCH\r\n"


async def test_search_with_modseq_reports_highest(mb):
    view = mb.ctx.selected
    low = min(m.modseq for m in view.meta.values())
    top = max(view.meta[u].modseq for u in (1, 6))
    assert await answer(mb, f"UID SEARCH MODSEQ {low} SUBJECT lunch") == b"* SEARCH 1 6 (MODSEQ %d)\r\n" % top
    assert await answer(mb, "UID SEARCH MODSEQ 999999") == b"* SEARCH\r\n"


@pytest.mark.parametrize("line,expected", [
    ("UID SEARCH RETURN (MIN MAX COUNT) UNSEEN", b'* ESEARCH (TAG "A1") UID MIN 2 MAX 6 COUNT 5\r\n'),
    ("SEARCH RETURN () 2:4,6", b'* ESEARCH (TAG "A1") ALL 2:4,6\r\n'),
    ("SEARCH RETURN (ALL) SUBJECT nothing", b'* ESEARCH (TAG "A1")\r\n'),
    ("SEARCH RETURN (COUNT) SUBJECT nothing", b'* ESEARCH (TAG "A1") COUNT 0\r\n'),
    ("SEARCH RETURN (MIN) SUBJECT nothing", b'* ESEARCH (TAG "A1")\r\n'),
])
async def test_esearch(mb, line, expected):
    assert await answer(mb, line) == expected


async def test_save_result(mb):
    view = mb.ctx.selected
    assert await answer(mb, "SEARCH RETURN (SAVE) UNSEEN") == b""
    assert view.saved_result == [2, 3, 4, 5, 6]
    assert await answer(mb, "SEARCH RETURN (SAVE MIN MAX) UNSEEN") == b'* ESEARCH (TAG "A1") MIN 2 MAX 6\r\n'
    assert view.saved_result == [2, 6]
    assert await answer(mb, "SEARCH RETURN (SAVE MIN COUNT) UNSEEN") == b'* ESEARCH (TAG "A1") MIN 2 COUNT 5\r\n'
    assert view.saved_result == [2, 3, 4, 5, 6]
    assert await answer(mb, "UID SEARCH $ SEEN") == b"* SEARCH\r\n"
    assert await answer(mb, "SEARCH RETURN (SAVE) SUBJECT nothing") == b""
    assert view.saved_result == []


async def test_imap4rev2_answers_esearch(mb):
    mb.ctx.enabled.add("IMAP4rev2")
    assert await answer(mb, "UID SEARCH SUBJECT lunch") == b'* ESEARCH (TAG "A1") UID ALL 1,6\r\n'


async def test_esearch_modseq(mb):
    view = mb.ctx.selected
    modseq = view.meta[6].modseq
    resp = search_response(mb.ctx, parse("SEARCH RETURN (MAX) MODSEQ 1"), [1, 6])
    assert resp == [r.ESearch(tag="A1", max=6, modseq=modseq)]


# -- the two-pass evaluation equals a naive one -----------------------------------------

_leaves = st.one_of(
    st.sampled_from([sk.Flag("\\Seen"), sk.Flag("\\Deleted", False), sk.Flag("$important"), sk.All(),
                     sk.Header("SUBJECT", "lunch"), sk.Body("zebrafish"), sk.Size(True, 1000),
                     sk.Header("X-TAG", "")]),
    st.builds(lambda a, b: sk.Seq(SequenceSet(((a, b),))), st.integers(1, 7), st.integers(1, 7)),
)
_keys = st.recursive(_leaves, lambda inner: st.one_of(
    st.builds(sk.Not, inner), st.builds(sk.Or, inner, inner),
    st.builds(lambda ks: sk.And(tuple(ks)), st.lists(inner, min_size=2, max_size=3))), max_leaves=8)


def _naive(key, uid: int, facts: dict) -> bool:
    f = facts[uid]
    if isinstance(key, sk.All):
        return True
    if isinstance(key, sk.Flag):
        return any(x.lower() == key.flag.lower() for x in f["flags"]) == key.present
    if isinstance(key, sk.Seq):
        return any(a <= f["seq"] <= b for a, b in key.set.intervals(f["exists"]))
    if isinstance(key, sk.Header):
        return uid in f["header:" + key.field]
    if isinstance(key, sk.Body):
        return uid in f["body"]
    if isinstance(key, sk.Size):
        return f["size"] > key.size
    if isinstance(key, sk.Not):
        return not _naive(key.key, uid, facts)
    if isinstance(key, sk.Or):
        return _naive(key.left, uid, facts) or _naive(key.right, uid, facts)
    return all(_naive(k, uid, facts) for k in key.keys)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=_keys)
async def test_two_pass_evaluation_matches_naive(mb, key):
    view = mb.ctx.selected
    records = {m.uid: m for m in await mb.store.get_messages(view.folder.id, view.uids)}
    facts = {uid: {"flags": view.meta[uid].flags, "seq": i + 1, "exists": len(view.uids),
                   "size": records[uid].size, "header:SUBJECT": {1, 6}, "header:X-TAG": {6}, "body": {3}}
             for i, uid in enumerate(view.uids)}
    expected = [u for u in view.uids if _naive(key, u, facts)]
    assert await search_uids(mb.ctx, key) == expected
