"""Serializer: exact bytes, streaming, and round trips through an
independent parser (imapclient's response parser)."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response, parse_response

from mailgate.protocol.imap import LiteralStream, SequenceSet, chunks, compress, to_bytes
from mailgate.protocol.imap import responses as r
from mailgate.protocol.imap.fetch_items import FetchBody, Section

S = SequenceSet.of


def imaplib_style(line: bytes) -> list:
    """Split one serialized response the way imaplib hands it to imapclient:
    (text-with-marker, literal) tuples, then the tail."""
    out: list = []
    rest = line.rstrip(b"\r\n")
    while (m := re.search(rb"~?\{(\d+)\}\r\n", rest)):
        size = int(m.group(1))
        out.append((rest[:m.start()] + rest[m.start():m.end() - 2], rest[m.end():m.end() + size]))
        rest = rest[m.end() + size:]
    out.append(rest)
    return out


EXACT = [
    (r.Tagged("a1", "OK", "LOGIN completed"), b"a1 OK LOGIN completed\r\n"),
    (r.Tagged("a1", "OK", "", r.READ_WRITE), b"a1 OK [READ-WRITE]\r\n"),
    (r.Tagged("a", "NO", "bad\r\nx OK injected", r.AUTHENTICATIONFAILED),
     b"a NO [AUTHENTICATIONFAILED] bad  x OK injected\r\n"),
    (r.Condition("OK", "ready", r.capability_code(("IMAP4rev1", "LITERAL+"))),
     b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
    (r.Condition("OK", "x", r.uidnext(5)), b"* OK [UIDNEXT 5] x\r\n"),
    (r.Condition("OK", "x", r.uidvalidity(3857529045)), b"* OK [UIDVALIDITY 3857529045] x\r\n"),
    (r.Condition("OK", "x", r.highestmodseq(715194045007)), b"* OK [HIGHESTMODSEQ 715194045007] x\r\n"),
    (r.Condition("OK", "x", r.permanentflags(("\\Seen", "\\Deleted", "\\*"))),
     b"* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] x\r\n"),
    (r.Condition("OK", "x", r.CLOSED), b"* OK [CLOSED] x\r\n"),
    (r.Condition("BYE", "logging out"), b"* BYE logging out\r\n"),
    (r.Condition("PREAUTH", "welcome"), b"* PREAUTH welcome\r\n"),
    (r.Tagged("a", "OK", "done", r.AppendUid(38505, S([3955]))), b"a OK [APPENDUID 38505 3955] done\r\n"),
    (r.Tagged("a", "OK", "done", r.CopyUid(38505, S([304, 319, 320, 321]), S([3956, 3957, 3958, 3959]))),
     b"a OK [COPYUID 38505 304,319:321 3956:3959] done\r\n"),
    (r.Tagged("a", "OK", "x", r.SetCode(S([7, 9]))), b"a OK [MODIFIED 7,9] x\r\n"),
    (r.Tagged("a", "NO", "x", r.badcharset(("UTF-8", "US-ASCII"))),
     b"a NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n"),
    (r.Tagged("a", "NO", "x", r.TRYCREATE), b"a NO [TRYCREATE] x\r\n"),
    (r.Tagged("a", "NO", "x", r.Code("OVERQUOTA")), b"a NO [OVERQUOTA] x\r\n"),
    (r.Continuation("Ready"), b"+ Ready\r\n"),
    (r.Continuation(data=b""), b"+ \r\n"),
    (r.Continuation(data=b"\0joe"), b"+ AGpvZQ==\r\n"),
    (r.Capabilities(("IMAP4rev1", "IDLE", "AUTH=PLAIN")), b"* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN\r\n"),
    (r.Exists(23), b"* 23 EXISTS\r\n"),
    (r.Recent(0), b"* 0 RECENT\r\n"),
    (r.Expunged(3), b"* 3 EXPUNGE\r\n"),
    (r.Vanished(S([41, 43, 44, 45]), earlier=True), b"* VANISHED (EARLIER) 41,43:45\r\n"),
    (r.Vanished(S([405, 407, 408, 409, 410, 411])), b"* VANISHED 405,407:411\r\n"),
    (r.Flags(("\\Answered", "\\Seen", "$Forwarded")), b"* FLAGS (\\Answered \\Seen $Forwarded)\r\n"),
    (r.Enabled(("CONDSTORE",)), b"* ENABLED CONDSTORE\r\n"),
    (r.Enabled(()), b"* ENABLED\r\n"),
    (r.IdData(None), b"* ID NIL\r\n"),
    (r.IdData((("name", "mailgate"), ("os", None))), b'* ID ("name" "mailgate" "os" NIL)\r\n'),
    (r.SearchResult((2, 3, 6)), b"* SEARCH 2 3 6\r\n"),
    (r.SearchResult(()), b"* SEARCH\r\n"),
    (r.SearchResult((2, 10), modseq=917162500), b"* SEARCH 2 10 (MODSEQ 917162500)\r\n"),
    (r.ESearch("A282", min=2, count=3), b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'),
    (r.ESearch("a", uid=True, all=S([1, 2, 3, 5]), max=5), b'* ESEARCH (TAG "a") UID MAX 5 ALL 1:3,5\r\n'),
    (r.ESearch("a"), b'* ESEARCH (TAG "a")\r\n'),
    (r.SortResult((5, 3, 4)), b"* SORT 5 3 4\r\n"),
    (r.ThreadResult((r.ThreadNode(2),
                     r.ThreadNode(3, (r.ThreadNode(6, (r.ThreadNode(4, (r.ThreadNode(23),)),
                                                       r.ThreadNode(44, (r.ThreadNode(7, (r.ThreadNode(96),)),)))),)),)),
     b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"),
    (r.ThreadResult((r.ThreadNode(None, (r.ThreadNode(3), r.ThreadNode(5))),)), b"* THREAD ((3)(5))\r\n"),
    (r.ThreadResult(()), b"* THREAD\r\n"),
    (r.ListItem("INBOX", "/", ("\\HasNoChildren",)), b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'),
    (r.ListItem("Entw\u00fcrfe", "/", ("\\Drafts",)), b'* LIST (\\Drafts) "/" "Entw&APw-rfe"\r\n'),
    (r.ListItem("Foo", None, ("\\NonExistent",), childinfo=("SUBSCRIBED",)),
     b'* LIST (\\NonExistent) NIL "Foo" ("CHILDINFO" ("SUBSCRIBED"))\r\n'),
    (r.ListItem("New", ".", (), oldname="Old"), b'* LIST () "." "New" ("OLDNAME" ("Old"))\r\n'),
    (r.ListItem("a\\b", "\\", (), kind="LSUB"), b'* LSUB () "\\\\" "a\\\\b"\r\n'),
    (r.StatusData("INBOX", (("MESSAGES", 231), ("UIDNEXT", 44292))),
     b'* STATUS "INBOX" (MESSAGES 231 UIDNEXT 44292)\r\n'),
    (r.NamespaceData((("", "/"),), (), (("Shared/", "/"),)),
     b'* NAMESPACE (("" "/")) NIL (("Shared/" "/"))\r\n'),
    (r.Quota("", (("STORAGE", 10, 512),)), b'* QUOTA "" (STORAGE 10 512)\r\n'),
    (r.QuotaRoot("INBOX", ("",)), b'* QUOTAROOT "INBOX" ""\r\n'),
    (r.QuotaRoot("x", ()), b'* QUOTAROOT "x"\r\n'),
    (r.FetchResponse(12, (r.FetchFlags(("\\Seen",)), r.FetchNumber("UID", 4827313),
                          r.FetchModSeq(65402), r.FetchNumber("RFC822.SIZE", 44827),
                          r.FetchInternalDate(dt.datetime(1996, 7, 17, 2, 44, 25,
                                                          tzinfo=dt.timezone(dt.timedelta(hours=-7)))))),
     b'* 12 FETCH (FLAGS (\\Seen) UID 4827313 MODSEQ (65402) RFC822.SIZE 44827 '
     b'INTERNALDATE "17-Jul-1996 02:44:25 -0700")\r\n'),
    (r.FetchResponse(1, (r.FetchSection("BODY[]", b"hi\r\n"), r.FetchSection("BODY[1]", None),
                         r.FetchRaw("ENVELOPE", b'(NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL)'))),
     b'* 1 FETCH (BODY[] {4}\r\nhi\r\n BODY[1] NIL ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'),
    (r.FetchResponse(1, (r.FetchSection("BINARY[1]", b"a\0b"), r.FetchSection("BINARY[2]", b"ab"))),
     b"* 1 FETCH (BINARY[1] ~{3}\r\na\0b BINARY[2] {2}\r\nab)\r\n"),
]


@pytest.mark.parametrize("resp,wire", EXACT, ids=[type(x[0]).__name__ + str(i) for i, x in enumerate(EXACT)])
def test_exact_bytes(resp: r.Response, wire: bytes) -> None:
    assert to_bytes(resp) == wire
    assert chunks(resp) == [wire]  # no streams: one piece


def test_utf8_names_after_enable() -> None:
    item = r.ListItem("Entw\u00fcrfe", "/")
    assert to_bytes(item, utf8=True) == '* LIST () "/" "Entw\u00fcrfe"\r\n'.encode()
    assert to_bytes(r.StatusData("\u65e5", (("MESSAGES", 1),)), utf8=True) == \
        '* STATUS "\u65e5" (MESSAGES 1)\r\n'.encode()


def test_streamed_literal_is_handed_on_untouched() -> None:
    body = io.BytesIO(b"x" * 5_000_000)
    stream = LiteralStream(5_000_000, body)
    resp = r.FetchResponse(7, (r.FetchNumber("UID", 9), r.FetchSection("BODY[]", stream),
                               r.FetchFlags(("\\Seen",))))
    pieces = chunks(resp)
    assert pieces == [b"* 7 FETCH (UID 9 BODY[] {5000000}\r\n", stream, b" FLAGS (\\Seen))\r\n"]
    assert pieces[1] is stream and body.tell() == 0  # nothing was read
    wire = to_bytes(resp)
    assert len(wire) == len(pieces[0]) + 5_000_000 + len(pieces[2])


def test_streamed_literal8() -> None:
    stream = LiteralStream(3, io.BytesIO(b"a\0b"), binary=True)
    resp = r.FetchResponse(1, (r.FetchSection("BINARY[]", stream),))
    assert to_bytes(resp) == b"* 1 FETCH (BINARY[] ~{3}\r\na\0b)\r\n"


def test_section_response_names() -> None:
    item = FetchBody(Section((1, 2), "HEADER.FIELDS", ("From", "X(odd)")), peek=True, partial=(10, 5))
    assert item.response_name() == 'BODY[1.2.HEADER.FIELDS (From "X(odd)")]<10>'


def test_compress() -> None:
    assert compress([1, 2, 3, 4, 5, 7]) == "1:5,7"
    assert compress([9, 3, 3, 2, 10]) == "2:3,9:10"
    assert compress([]) == ""


# -- round trips through imapclient ----------------------------------------------------------

def test_fetch_round_trip_via_imapclient() -> None:
    resp = r.FetchResponse(3, (r.FetchNumber("UID", 77), r.FetchFlags(("\\Seen", "$Work")),
                               r.FetchSection("BODY[HEADER]", b"Subject: x\r\n\r\n"),
                               r.FetchModSeq(12), r.FetchNumber("RFC822.SIZE", 1234)))
    line = to_bytes(resp)
    assert line.startswith(b"* ")
    # imaplib hands imapclient "3 (...)", without the FETCH word.
    parsed = parse_fetch_response(imaplib_style(line[2:].replace(b" FETCH ", b" ", 1)))
    msg = parsed[77]
    assert msg[b"SEQ"] == 3 and msg[b"FLAGS"] == (b"\\Seen", b"$Work")
    assert msg[b"BODY[HEADER]"] == b"Subject: x\r\n\r\n"
    assert msg[b"MODSEQ"] == (12,) and msg[b"RFC822.SIZE"] == 1234


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_text, st.sampled_from(["/", ".", None]),
       st.lists(st.sampled_from(["\\HasChildren", "\\Noselect", "\\Sent", "\\Marked"]), unique=True))
def test_list_round_trip_via_imapclient(name: str, delim: str | None, attrs: list[str]) -> None:
    from mailgate.protocol.imap import mutf7_decode
    line = to_bytes(r.ListItem(name, delim, tuple(attrs)))
    assert line.startswith(b"* LIST ") and line.endswith(b"\r\n") and line.count(b"\r\n") <= 2
    flags, got_delim, got_name = parse_response(imaplib_style(line[7:]))
    assert [f.decode() for f in flags] == attrs
    assert got_delim == (None if delim is None else delim.encode())
    assert mutf7_decode(got_name) == name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2**32 - 1), max_size=30), st.text(max_size=20))
def test_search_and_text_round_trip(numbers: list[int], text: str) -> None:
    line = to_bytes(r.SearchResult(tuple(numbers)))
    assert parse_response([line[len(b"* SEARCH"):].strip()]) == tuple(numbers)
    wire = to_bytes(r.Tagged("t1", "NO", text))
    assert wire.count(b"\r\n") == 1 and wire.endswith(b"\r\n")  # no injected lines


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=10), st.one_of(st.none(), st.text(max_size=10))), max_size=5))
def test_id_round_trip(params: list) -> None:
    line = to_bytes(r.IdData(tuple(params)))
    parsed = parse_response(imaplib_style(line[len(b"* ID "):]))
    flat = [x for pair in params for x in pair]
    expected = tuple(None if x is None else x.encode() for x in flat)
    assert (parsed[0] if parsed else ()) == expected


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(9999, 1, 1)),
       st.integers(-23 * 60 + 1, 23 * 60 - 1))
def test_date_time_round_trip(day: dt.date, offset_minutes: int) -> None:
    from mailgate.protocol.imap import grammar as g
    tz = dt.timezone(dt.timedelta(minutes=offset_minutes))
    value = dt.datetime(day.year, day.month, day.day, 13, 5, 9, tzinfo=tz)
    wire = to_bytes(r.FetchResponse(1, (r.FetchInternalDate(value),)))
    quoted = wire[wire.index(b'"'):wire.rindex(b'"') + 1]
    assert g.date_time(g.Cursor(quoted)) == value


# -- FetchRows: the batched form writes exactly what one FetchResponse per message would ----

_ROW_VALUES = {
    "UID": st.integers(1, 2**32 - 1),
    "RFC822.SIZE": st.integers(0, 2**31),
    "MODSEQ": st.integers(1, 2**63 - 1),
    "FLAGS": st.lists(st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "$Label1", "work"]),
                      unique=True, max_size=4).map(tuple),
    "INTERNALDATE": st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1),
                                 timezones=st.sampled_from([dt.timezone.utc,
                                                            dt.timezone(dt.timedelta(hours=-7)),
                                                            dt.timezone(dt.timedelta(minutes=330))])),
    "ENVELOPE": st.just(b'(NIL "100%s %d" NIL NIL NIL NIL NIL NIL NIL "<a@b>")'),
    "BODY": st.just(b'("text" "plain" NIL NIL NIL "7bit" 3 1)'),
    "BODYSTRUCTURE": st.just(b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)'),
}


def _as_item(name: str, value: object) -> r.FetchData:
    if name == "FLAGS":
        return r.FetchFlags(value)  # type: ignore[arg-type]
    if name == "MODSEQ":
        return r.FetchModSeq(value)  # type: ignore[arg-type]
    if name == "INTERNALDATE":
        return r.FetchInternalDate(value)  # type: ignore[arg-type]
    if name in ("UID", "RFC822.SIZE"):
        return r.FetchNumber(name, value)  # type: ignore[arg-type]
    return r.FetchRaw(name, value)  # type: ignore[arg-type]


@st.composite
def _fetch_rows(draw: st.DrawFn) -> r.FetchRows:
    names = draw(st.lists(st.sampled_from(sorted(_ROW_VALUES)), unique=True, min_size=1))
    rows = draw(st.lists(st.tuples(st.integers(1, 10**6), *[_ROW_VALUES[n] for n in names]), max_size=5))
    return r.FetchRows.from_rows(tuple(names), rows)


@given(_fetch_rows())
@settings(max_examples=200, deadline=None)
def test_fetch_rows_equal_one_response_per_row(resp: r.FetchRows) -> None:
    expected = b"".join(
        to_bytes(r.FetchResponse(row[0], tuple(_as_item(n, v) for n, v in zip(resp.items, row[1:]))))
        for row in zip(resp.seqs, *resp.columns))
    assert to_bytes(resp) == expected


def test_fetch_rows_header_sync_line() -> None:
    when = dt.datetime(2024, 3, 5, 7, 8, 9, tzinfo=dt.timezone.utc)
    resp = r.FetchRows.from_rows(("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "MODSEQ"),
                                 ((3, 17, ("\\Seen",), 1234, when, b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", 9),))
    assert to_bytes(resp) == (b'* 3 FETCH (UID 17 FLAGS (\\Seen) RFC822.SIZE 1234 INTERNALDATE "05-Mar-2024 07:08:09'
                              b' +0000" ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) MODSEQ (9))\r\n')


def test_fetch_rows_refuse_unknown_items() -> None:
    with pytest.raises(TypeError, match="not a FETCH row item"):
        to_bytes(r.FetchRows.from_rows(("BODY[HEADER]",), ((1, b"x"),)))
    with pytest.raises(TypeError, match="at most one literal"):
        to_bytes(r.FetchRows.from_rows(("BODY[]", "RFC822"), ((1, b"x", b"y"),)))


def test_fetch_rows_with_whole_messages_match_single_responses() -> None:
    """A literal column (BODY[] / RFC822) writes exactly what one
    FetchResponse per message writes; a big message stays its own piece."""
    from mailgate.protocol.imap.serializer import KEEP_APART, chunks

    big = b"Subject: big\r\n\r\n" + b"x" * KEEP_APART + b"\r\n"
    rows = ((1, 7, (), b"Subject: a\r\n\r\nhi\r\n", 3), (2, 9, ("\\Seen",), big, 4))
    batch = r.FetchRows.from_rows(("UID", "FLAGS", "BODY[]", "MODSEQ"), rows)
    single = b"".join(to_bytes(r.FetchResponse(seq, (
        r.FetchNumber("UID", uid), r.FetchFlags(flags), r.FetchSection("BODY[]", data), r.FetchModSeq(modseq))))
        for seq, uid, flags, data, modseq in rows)
    assert to_bytes(batch) == single
    assert any(piece is big for piece in chunks(batch))  # never copied into a bigger piece
    only = r.FetchRows.from_rows(("RFC822",), ((5, b"m\r\n"),))
    assert to_bytes(only) == b"* 5 FETCH (RFC822 {3}\r\nm\r\n)\r\n"


def test_fetch_rows_refuse_ragged_columns() -> None:
    with pytest.raises(ValueError, match="one value per message"):
        to_bytes(r.FetchRows(("UID", "RFC822.SIZE"), [1, 2], ([5, 6], [10])))
