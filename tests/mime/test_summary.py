"""Unit tests for the tricky pieces of mailgate.mime, plus properties."""

from __future__ import annotations

import marshal
import mmap
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.mime import (
    DecodeFailed, MessageSummary, NoSuchPart, UnknownCte, binary_section, decode_header,
    header_fields, nul_to_0x80, search_text, section_range, summarize,
)
from mailgate.mime.addresses import parse_address_list
from mailgate.mime.envelope import parse_date
from mailgate.mime.summary import _summarize, summary_head, wire_items
from mailgate.mime.params import join_rfc2231, parse_content_type, parse_cte
from mailgate.mime.transfer import decode_base64, decode_qp, rewrite_header

from .imap_values import value


def msg(*lines: str) -> bytes:
    return "\r\n".join(lines).encode()


NESTED = msg(
    "From: a@example.com", "Subject: nested", "Content-Type: multipart/mixed; boundary=outer", "",
    "preamble", "--outer", "Content-Type: text/plain", "", "one", "--outer",
    "Content-Type: message/rfc822", "", "Subject: inner", "Content-Type: multipart/alternative; boundary=in",
    "", "--in", "Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "aGVsbG8=",
    "--in", "", "two", "--in--", "--outer--", "epilogue", "",
)


def sect(buf: bytes, section: str) -> bytes | None:
    s = summarize(buf)
    rng = section_range(s, section)
    return None if rng is None else buf[rng[0]:rng[1]]


# --- sections ---------------------------------------------------------------

@pytest.mark.parametrize(("section", "expected"), [
    ("1", b"one"),
    ("1.MIME", b"Content-Type: text/plain\r\n\r\n"),
    ("2.HEADER", b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"),
    ("2.1", b"aGVsbG8="),
    ("2.2", b"two"),
    ("2.2.MIME", b"\r\n"),
    ("2.TEXT", b"--in\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               b"aGVsbG8=\r\n--in\r\n\r\ntwo\r\n--in--\r\n"),  # close line keeps its CRLF (018)
    ("3", None), ("1.1", None), ("0", None), ("01", None), ("2.3", None), ("1.HEADER", None),
    ("bogus", None),
])
def test_section_ranges(section: str, expected: bytes | None) -> None:
    assert sect(NESTED, section) == expected


def test_whole_header_and_text() -> None:
    s = summarize(NESTED)
    assert section_range(s, "") == (0, len(NESTED))
    assert NESTED[: s.header_end].endswith(b"outer\r\n\r\n")
    assert section_range(s, "text") == (s.header_end, len(NESTED))


def test_single_part_message_part_one_is_the_body() -> None:
    buf = msg("Subject: x", "", "body")
    assert sect(buf, "1") == b"body"
    assert sect(buf, "1.MIME") == b"Subject: x\r\n\r\n"
    assert sect(buf, "2") is None


def test_header_without_blank_line_is_all_header() -> None:
    buf = b"Subject: x\r\nno colon here\r\nmore"
    s = summarize(buf)
    assert s.header_end == len(buf)
    assert sect(buf, "TEXT") == b""


# --- header fields -----------------------------------------------------------

def test_header_fields_keeps_folding_and_order_and_ends_with_blank_line() -> None:
    block = b"From: a\r\nSubject: one\r\n two\r\nX: y\r\nsubject: again\r\n\r\n"
    assert header_fields(block, ["SUBJECT"], False) == (
        b"Subject: one\r\n two\r\nsubject: again\r\n\r\n")
    assert header_fields(block, ["subject", "x"], True) == b"From: a\r\n\r\n"
    assert header_fields(b"From: a", ["from"], False) == b"From: a\r\n\r\n"
    assert header_fields(block, ["nope"], False) == b"\r\n"


# --- parameters, encodings, addresses, dates --------------------------------------

def test_rfc2231_join_and_lone_continuation() -> None:
    assert join_rfc2231([(b"a*1", b"2"), (b"a*0*", b"utf-8''1"), (b"b*1", b"x")]) == [
        (b"a*", b"utf-8''12"), (b"b*1", b"x")]


def test_content_type_parsing() -> None:
    assert parse_content_type(b"text; charset=x") is None
    assert parse_content_type(b"image/") is None
    assert parse_content_type(b' Text/HTML ; Charset="UTF-8"; ; x=y') == (
        b"Text", b"HTML", [(b"Charset", b"UTF-8")])
    assert parse_cte(b" Base64 (comment)") == b"Base64"
    assert parse_cte(b"quoted/printable") == b"7bit"
    assert parse_cte(None) == b"7bit"


def test_addresses() -> None:
    assert parse_address_list(b'"A \\"B\\"" <a@b.c>, (c) d@e.f (name)') == [
        (b'A "B"', None, b"a", b"b.c"), (b"name", None, b"d", b"e.f")]
    assert parse_address_list(b"G: x@y;, z") == [
        (None, None, b"G", None), (None, None, b"x", b"y"), (None, None, None, None),
        (None, None, b"z", b"MISSING_DOMAIN")]
    # a syntax error drops the rest of the list
    assert parse_address_list(b"a@@b, c@d") == [(None, None, b"a", b"MISSING_DOMAIN")]


def test_envelope_defaults_sender_and_reply_to_to_from() -> None:
    env = value(summarize(msg("From: A <a@b>", "Sender:", "", "")).envelope)
    assert isinstance(env, list)
    assert env[2] == env[3] == env[4] == [[b"A", None, b"a", b"b"]]


@pytest.mark.parametrize(("raw", "expected"), [
    (b"Tue, 5 Jan 99 17:45 EST", datetime(1999, 1, 5, 17, 45, tzinfo=timezone(timedelta(hours=-5)))),
    (b"  3 feb 2023 08:05:09   +0530 (IST)",
     datetime(2023, 2, 3, 8, 5, 9, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    (b"sometime last week", None), (b"31 Feb 2024 10:00 +0000", None),
    (b"1 Jan 2024 10:00 +9999", None),
])
def test_parse_date(raw: bytes, expected: datetime | None) -> None:
    assert parse_date(raw) == expected


def test_decode_header_joins_adjacent_words_only() -> None:
    assert decode_header(b"=?utf-8?q?a?=  =?utf-8?b?Yg==?= c =?x-bad?q?d?=") == "ab c d"
    assert decode_header(b"=?UTF-8?B?@@@?= x") == "=?UTF-8?B?@@@?= x"


# --- transfer encodings / BINARY ----------------------------------------------------

def test_qp_decoding() -> None:
    assert decode_qp(b"a=3D=\r\nb  \r\nc=20\r\nd=") == b"a=b\r\nc \r\nd"
    with pytest.raises(DecodeFailed):
        decode_qp(b"=ZZ")
    assert decode_qp(b"=ZZ", strict=False) == b"=ZZ"


def test_base64_decoding() -> None:
    assert decode_base64(b"aGVs\r\nbG8=") == b"hello"
    assert decode_base64(b"YQ==Yg==") == b"ab"  # concatenated encodings
    with pytest.raises(DecodeFailed):
        decode_base64(b"aGV$bG8=")
    assert decode_base64(b"aGV$sbG8=", strict=False) == b"hello"


def test_rewrite_header_moves_cte_to_the_end() -> None:
    assert rewrite_header(b"A: 1\r\nContent-Transfer-Encoding:\r\n base64\r\nB: 2\r\n\r\n") == (
        b"A: 1\r\nB: 2\r\nContent-Transfer-Encoding: binary\r\n\r\n")


def test_binary_of_a_container_decodes_inside() -> None:
    s = summarize(NESTED)
    assert binary_section(NESTED, s, "2.1") == b"hello"
    inner = binary_section(NESTED, s, "2")
    assert b"hello" in inner and b"aGVsbG8=" not in inner
    assert b"Content-Transfer-Encoding: binary\r\n\r\nhello\r\n--in" in inner
    assert binary_section(NESTED, s, "") == NESTED[:s.parts[0].body_start] + inner.join(
        [NESTED[s.parts[0].body_start:section_range(s, "2")[0]],  # type: ignore[index]
         NESTED[section_range(s, "2")[1]:]])  # type: ignore[index]
    with pytest.raises(NoSuchPart):
        binary_section(NESTED, s, "9")


def test_binary_unknown_encoding() -> None:
    buf = msg("Content-Transfer-Encoding: x-uuencode", "", "begin 644 f")
    with pytest.raises(UnknownCte):
        binary_section(buf, summarize(buf), "1")


def test_nul_handling() -> None:
    buf = msg("Subject: n", "", "a\0b")
    s = summarize(buf)
    assert s.has_nul
    assert binary_section(buf, s, "1") == b"a\0b"
    assert nul_to_0x80(b"a\0b") == b"a\x80b"


# --- summary storage, search text -------------------------------------------------

def test_round_trip() -> None:
    s = summarize(NESTED)
    t = MessageSummary.from_bytes(s.to_bytes())
    assert t == s
    assert t.subject == "nested" and t.from_ == b"a@example.com"


def test_wire_items_slice_the_stored_summary() -> None:
    s = summarize(NESTED)
    stored = s.to_bytes()
    assert wire_items(stored) == (s.envelope, s.body, s.bodystructure)
    assert summary_head(stored) == (s.size, s.header_end, s.has_nul)
    assert section_range(s, "") == (0, s.size) and section_range(s, "TEXT") == (s.header_end, s.size)


def test_format_1_rows_still_load() -> None:
    """Summaries stored before format 2 (one marshal tuple) keep working."""
    s = summarize(NESTED)
    date = (s.date.timestamp(), int(s.date.utcoffset().total_seconds())) if s.date else None
    old = marshal.dumps((1, s.size, s.envelope, s.body, s.bodystructure, s.header_end,
                         tuple(tuple(p) for p in s.parts), s.has_nul, s.lines, date, s.subject,
                         s.subject_raw, s.from_, s.to, s.cc, s.bcc, s.message_id, s.in_reply_to,
                         s.references))
    assert MessageSummary.from_bytes(old) == s
    assert wire_items(old) == (s.envelope, s.body, s.bodystructure)
    assert summary_head(old) == (s.size, s.header_end, s.has_nul)


def test_round_trip_keeps_date_offset() -> None:
    s = summarize(msg("Date: Mon, 1 Jan 2024 10:00:00 -0330", "", ""))
    t = MessageSummary.from_bytes(s.to_bytes())
    assert t.date == s.date and t.date is not None
    assert t.date.utcoffset() == timedelta(hours=-3, minutes=-30)


def test_search_text_decodes_bodies_and_embedded_headers() -> None:
    headers, body = search_text(NESTED, summarize(NESTED))
    assert "Subject: nested" in headers
    assert "hello" in body and "Subject: inner" in body and "one" in body
    assert "preamble" not in body


# --- properties --------------------------------------------------------------

_PIECES = st.sampled_from([
    b"--b\r\n", b"--b--\r\n", b"--c\r\n", b"\r\n", b"\n", b"\r", b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/digest; boundary=c\r\n", b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"From: x <y@z>, (", b"Subject: =?utf-8?q?x?=\r\n",
    b"Date: 1 Jan 2024 00:00 +0000\r\n", b"a: \"", b"\0", b"x", b" ", b"=", b"--", b"\xff",
])


def _check_ranges(buf: bytes) -> None:
    # The parser itself, not summarize(): its safety net would hide bugs.
    s = _summarize(buf)
    assert s.size == len(buf)
    value(s.envelope), value(s.body), value(s.bodystructure)
    for p in s.parts:
        assert 0 <= p.hdr_start <= p.body_start <= p.body_end <= len(buf)
    for section in ("", "HEADER", "TEXT", "1", "1.MIME", "1.1", "2", "2.1.MIME", "1.HEADER"):
        rng = section_range(s, section)
        assert rng is None or 0 <= rng[0] <= rng[1] <= len(buf)
    assert MessageSummary.from_bytes(s.to_bytes()) == s
    assert wire_items(s.to_bytes()) == (s.envelope, s.body, s.bodystructure)
    assert summary_head(s.to_bytes()) == (s.size, s.header_end, s.has_nul)
    search_text(buf, s)
    for n in range(1, min(len(s.parts), 4) + 1):
        try:
            binary_section(buf, s, str(n))
        except (UnknownCte, DecodeFailed, NoSuchPart):
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(buf: bytes) -> None:
    _check_ranges(buf)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map(b"".join))
def test_mime_shaped_noise_never_raises(buf: bytes) -> None:
    _check_ranges(buf)


def test_deep_nesting_is_bounded() -> None:
    buf = b"Content-Type: message/rfc822\r\n\r\n" * 5000 + b"end"
    s = summarize(buf)
    assert s.size == len(buf) and len(s.parts) < 100


def test_part_count_is_bounded() -> None:
    buf = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 30_000 + b"--b--\r\n"
    s = summarize(buf)
    assert 9_000 < len(s.parts) <= 10_001
    assert s.parts[0].body_end == len(buf)  # the rest is epilogue


# --- 10 MB from an mmap -----------------------------------------------------------

@pytest.mark.slow
def test_large_message_from_mmap_stays_small(tmp_path: Path) -> None:
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    path = tmp_path / "big.eml"
    with path.open("wb") as f:
        f.write(msg("From: a@b", "Subject: big", "Content-Type: multipart/mixed; boundary=z",
                    "", "--z", "Content-Type: text/plain", "", "hi", "--z",
                    "Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
                    "", ""))
        f.write(line * (10_000_000 // len(line)))
        f.write(b"--z--\r\n")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        tracemalloc.start()
        try:
            s = summarize(mm)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert s.size == path.stat().st_size > 10_000_000
        assert peak < 2_000_000, peak
        assert section_range(s, "2") is not None
        assert b'"base64"' in s.bodystructure
