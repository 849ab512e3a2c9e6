"""Hypothesis: hostile input only ever yields typed events, in any chunking."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.protocol.imap import (Command, Invalid, LiteralTooLarge, NeedContinuation,
                                    SequenceSet, mutf7_decode, mutf7_encode, serializer)
from mailgate.protocol.imap import grammar as g
from mailgate.protocol.imap.fetch_items import fetch_att
from mailgate.protocol.imap.mutf7 import MUTF7Error

from imap_helpers import events_chunked, events_whole
from test_imap_transcript import CASES, INVALID

EVENT_TYPES = (Command, Invalid, LiteralTooLarge, NeedContinuation)
VALID = [data for data, _ in CASES] + [data for data, *_ in INVALID]
SMALL = dict(max_line_length=300, max_literal_size=2000, max_string_literal=500, max_literals=8)
# IMAP_FUZZ_EXAMPLES=20000 for a longer hunt.
FAST = settings(max_examples=int(os.environ.get("IMAP_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(events: list) -> None:
    for ev in events:
        assert isinstance(ev, EVENT_TYPES), ev
        if not isinstance(ev, Command):
            serializer.to_bytes(ev.to_response())  # every answer can be written


@FAST
@given(st.binary(max_size=2000))
def test_random_bytes_give_typed_events(data: bytes) -> None:
    _check(events_whole(data, **SMALL))


@FAST
@given(st.lists(st.sampled_from([b"a ", b"UID ", b"FETCH ", b"{", b"}", b"+", b"~", b"3", b"\r\n",
                                 b"(", b")", b"[", b"]", b'"', b"\\", b"*", b":", b"$", b" ",
                                 b"SEARCH", b"APPEND", b"x", b"<", b".", b"NOT ", b"\n", b"\0",
                                 b"\xff", b"0", b"99999999999"]), max_size=200))
def test_token_soup_gives_typed_events(tokens: list[bytes]) -> None:
    _check(events_whole(b"".join(tokens), **SMALL))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b" ", b"(", b")", b"{5}\r\n", b"{2+}\r\n", b'"',
                                                  b"\r\n", b"*", b"$", b"~", b"\\"]))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 5))]
        else:
            data[pos:pos] = data[max(0, pos - 10):pos]
    return bytes(data)


@FAST
@given(mutated())
def test_mutated_commands_give_typed_events(data: bytes) -> None:
    _check(events_whole(data, **SMALL))


@FAST
@given(mutated(), st.lists(st.integers(0, 400), max_size=20))
def test_chunking_never_changes_events(data: bytes, cuts: list[int]) -> None:
    data = data + b"\r\nz NOOP\r\n"
    assert events_chunked(data, cuts, **SMALL) == events_whole(data, **SMALL)


@FAST
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=8), st.lists(st.integers(0, 2000)))
def test_pipelined_valid_commands_any_chunking(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    whole = events_whole(data)
    assert len([e for e in whole if not isinstance(e, NeedContinuation)]) == len(parts)
    assert events_chunked(data, cuts) == whole


@FAST
@given(st.text())
def test_mutf7_round_trip(name: str) -> None:
    encoded = mutf7_encode(name)
    assert all(0x20 <= b <= 0x7E for b in encoded)
    assert mutf7_decode(encoded) == name


@FAST
@given(st.binary(max_size=60))
def test_mutf7_decode_is_strict_and_canonical(raw: bytes) -> None:
    try:
        name = mutf7_decode(raw)
    except MUTF7Error:
        return
    assert mutf7_encode(name) == raw  # one spelling per name


@FAST
@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,/=&-", max_size=12))
def test_mutf7_decode_base64_runs(run: str) -> None:
    # Lone surrogates, odd byte counts, stray bits: MUTF7Error, nothing else.
    raw = b"&" + run.encode() + b"-"
    try:
        name = mutf7_decode(raw)
    except MUTF7Error:
        return
    assert mutf7_encode(name) == raw


_num = st.integers(1, 2**32 - 1)
_end = st.one_of(st.none(), _num)


@FAST
@given(st.lists(st.tuples(_end, _end), min_size=1, max_size=10))
def test_sequence_set_text_round_trip(ranges: list) -> None:
    value = SequenceSet(tuple(ranges))
    cur = g.Cursor(str(value).encode())
    assert g.sequence_set(cur) == value and cur.at_end()


@FAST
@given(st.lists(st.tuples(_end, _end), min_size=1, max_size=6), st.integers(0, 300),
       st.integers(1, 300))
def test_sequence_set_resolution_matches_brute_force(ranges: list, star: int, probe: int) -> None:
    small = [(None if a is None else a % 300 + 1, None if b is None else b % 300 + 1) for a, b in ranges]
    value = SequenceSet(tuple(small))
    expected = set()
    for a, b in small:
        if star == 0 and None in (a, b):
            continue  # "*" in an empty mailbox matches nothing
        lo, hi = (star if a is None else a), (star if b is None else b)
        lo, hi = min(lo, hi), max(lo, hi)
        expected.update(range(max(lo, 1), hi + 1))
    assert value.contains(probe, star) == (probe in expected)
    assert list(value.iter(star)) == sorted(n for n in expected if n <= star)


@FAST
@given(st.sets(st.integers(1, 500)))
def test_compress_round_trip(numbers: set[int]) -> None:
    value = SequenceSet.of(numbers)
    assert set(value.iter(500)) == numbers
    assert len(value.ranges) <= len(numbers)


_parts = st.lists(st.integers(1, 30), max_size=3).map(tuple)


@FAST
@given(_parts, st.sampled_from([None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"]),
       st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True), min_size=1, max_size=3))
def test_section_text_round_trip(part: tuple, text: str | None, fields: list[str]) -> None:
    from mailgate.protocol.imap.fetch_items import FetchBody, Section
    if text == "MIME" and not part:
        text = None
    section = Section(part, text, tuple(fields) if text and text.startswith("HEADER.FIELDS") else ())
    item = FetchBody(section)
    assert fetch_att(g.Cursor(item.response_name().encode())) == item
