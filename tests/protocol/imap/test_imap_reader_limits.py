"""Limits: each has a number, a clear answer, and the reader stays usable."""

from __future__ import annotations

import pytest

from mailgate.protocol.imap import (CommandReader, Invalid, LiteralTooLarge, NeedContinuation,
                                    NeedData, RawLine, ReaderMisuse, is_idle_done,
                                    parse_auth_response, serializer)
from mailgate.protocol.imap import commands as c

from imap_helpers import drain, events_bytewise, events_chunked, events_whole

NOOP = b"z NOOP\r\n"


def test_line_too_long_complete_line() -> None:
    data = b"a SELECT " + b"x" * 200 + b"\r\n" + NOOP
    events = events_whole(data, max_line_length=100)
    assert len(events) == 2
    assert isinstance(events[0], Invalid) and events[0].tag == "a"
    assert "too long" in events[0].text and "100" in events[0].text
    assert events[1] == c.Noop("z")
    assert events_bytewise(data, max_line_length=100) == events


def test_line_too_long_never_ending_is_answered_early() -> None:
    reader = CommandReader(max_line_length=100)
    reader.feed(b"a SEARCH " + b"x" * 500)  # no CRLF yet
    (ev,) = drain(reader)
    assert isinstance(ev, Invalid) and ev.tag == "a"
    # The rest of the long line is skipped, however much comes.
    for _ in range(100):
        reader.feed(b"y" * 1000)
        assert drain(reader) == []
    reader.feed(b"\r\n" + NOOP)
    assert drain(reader) == [c.Noop("z")]
    assert serializer.to_bytes(ev.to_response()).startswith(b"a BAD command line too long")


def test_line_limit_is_exact() -> None:
    line = b"a LOGIN u " + b"p" * 90  # exactly 100 bytes
    assert len(line) == 100
    assert events_whole(line + b"\r\n", max_line_length=100) == [c.Login("a", "u", b"p" * 90)]
    ev = events_whole(line + b"p\r\n", max_line_length=100)
    assert isinstance(ev[0], Invalid)


def test_line_limit_excludes_literals_but_counts_all_pieces() -> None:
    data = b"a LOGIN {200}\r\n" + b"u" * 200 + b" pw\r\n"
    (ev,) = [e for e in events_whole(data, max_line_length=50, max_string_literal=1000)
             if not isinstance(e, NeedContinuation)]
    assert ev == c.Login("a", "u" * 200, b"pw")
    data = b"a LOGIN {2}\r\nuu " + b"p" * 60 + b"\r\n" + NOOP
    events = [e for e in events_whole(data, max_line_length=50) if not isinstance(e, NeedContinuation)]
    assert isinstance(events[0], Invalid) and events[1] == c.Noop("z")


def test_too_long_line_ending_in_nonsync_literal_discards_its_data() -> None:
    # Otherwise the literal's bytes would be read as a command (injection).
    data = b"a LOGIN " + b"x" * 200 + b" {12+}\r\nb DELETE foo\r\n" + NOOP
    events = events_whole(data, max_line_length=100)
    assert [type(e) for e in events] == [Invalid, c.Noop]
    assert events_bytewise(data, max_line_length=100) == events


def test_sync_literal_too_large_answers_at_once() -> None:
    reader = CommandReader(max_literal_size=1000)
    reader.feed(b"a APPEND INBOX {5000}\r\n")
    (ev,) = drain(reader)
    assert ev == LiteralTooLarge("a", 1000, 5000, sync=True)
    assert serializer.to_bytes(ev.to_response()) == (
        b"a NO [TOOBIG] literal of 5000 bytes exceeds the limit of 1000 bytes\r\n")
    # The client got NO instead of "+", so it sends its next command.
    reader.feed(NOOP)
    assert drain(reader) == [c.Noop("z")]


def test_nonsync_literal_too_large_is_discarded() -> None:
    body = b"x" * 3000
    data = b"a APPEND INBOX {3000+}\r\n" + body + b" (\\Seen) {4+}\r\nabcd\r\n" + NOOP
    events = events_whole(data, max_literal_size=1000)
    assert events == [LiteralTooLarge("a", 1000, 3000, sync=False), c.Noop("z")]
    assert events[0].to_response().status == "BAD"
    assert events_bytewise(data, max_literal_size=1000) == events


def test_literal_minus_limit() -> None:
    data = b"a APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\n" + NOOP
    events = events_whole(data, nonsync_limit=4096)
    assert events == [LiteralTooLarge("a", 4096, 5000, sync=False), c.Noop("z")]
    # A synchronizing literal of the same size is fine under LITERAL-.
    data = b"a APPEND INBOX {5000}\r\n" + b"x" * 5000 + b"\r\n"
    events = events_whole(data, nonsync_limit=4096)
    assert isinstance(events[-1], c.Append)


def test_string_literals_outside_append_are_capped() -> None:
    data = b"a LOGIN joe {100000}\r\n"
    (ev,) = events_whole(data)
    assert isinstance(ev, LiteralTooLarge) and ev.limit == 64 * 1024
    # The cap is for all literals of the command together.
    data = b"a LOGIN {40}\r\n" + b"u" * 40 + b" {40}\r\n"
    events = events_whole(data, max_string_literal=64)
    assert isinstance(events[-1], LiteralTooLarge) and events[-1].limit == 24


def test_absurd_literal_size() -> None:
    (ev,) = events_whole(b"a APPEND INBOX {" + b"9" * 5000 + b"}\r\n")
    assert isinstance(ev, LiteralTooLarge) and ev.sync


def test_too_many_literals() -> None:
    data = b"a APPEND INBOX" + b" {1+}\r\nx" * 5 + b"\r\n" + NOOP
    events = events_whole(data, max_literals=3)
    assert isinstance(events[0], Invalid) and "too many literals" in events[0].text
    assert events[-1] == c.Noop("z")
    assert events_bytewise(data, max_literals=3) == events


def test_large_literal_is_spooled_not_kept_in_memory() -> None:
    size = 3 * (1 << 20) + 17
    reader = CommandReader()
    reader.feed(b"a APPEND INBOX (\\Seen) {%d+}\r\n" % size)
    block = bytes(range(256)) * 256
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        reader.feed(block[:n])
        sent += n
        assert drain(reader) == []
    reader.feed(b"\r\n")
    (ev,) = drain(reader)
    lit = ev.messages[0].literal
    assert lit.size == size and not lit.in_memory
    assert lit._file._rolled  # type: ignore[union-attr]  # SpooledTemporaryFile went to disk
    total = 0
    for chunk in lit.chunks():
        total += len(chunk)
    assert total == size
    assert lit.open().read(512) == (block * 2)[:512]
    lit.close()


def test_multiappend_memory_budget() -> None:
    # Several mid-sized literals: once 1 MiB is used, the rest go to files.
    part = b"y" * 600_000
    data = b"a APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(part) + part for _ in range(3)) + b"\r\n"
    (ev,) = events_whole(data)
    lits = [m.literal for m in ev.messages]
    assert [lit.in_memory for lit in lits] == [True, False, False]
    assert all(lit.read() == part for lit in lits)


def test_next_line_for_authenticate_and_idle() -> None:
    reader = CommandReader()
    reader.feed(b"a AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\nb IDLE\r\ndone\r\n" + NOOP)
    assert reader.next_event() == c.Authenticate("a", "PLAIN")
    line = reader.next_line()
    assert line == RawLine(b"AGpvZQBzZWNyZXQ=")
    assert parse_auth_response(line.line, "a") == b"\0joe\0secret"
    assert reader.next_event() == c.Idle("b")
    assert is_idle_done(reader.next_line().line)
    assert reader.next_event() == c.Noop("z")
    assert isinstance(reader.next_line(), NeedData)


def test_auth_response_cancel_and_garbage() -> None:
    assert parse_auth_response(b"*", "a") is None
    assert parse_auth_response(b"", "a") == b""
    bad = parse_auth_response(b"not base64!", "a")
    assert isinstance(bad, Invalid) and bad.tag == "a"


def test_next_line_too_long_then_usable() -> None:
    reader = CommandReader(max_line_length=50)
    reader.feed(b"x" * 200)
    assert isinstance(reader.next_line(), Invalid)
    reader.feed(b"x" * 200 + b"\r\nDONE\r\n")
    assert reader.next_line() == RawLine(b"DONE")


def test_next_line_mid_command_is_misuse() -> None:
    reader = CommandReader()
    reader.feed(b"a LOGIN {3}\r\n")
    assert isinstance(reader.next_event(), NeedContinuation)
    with pytest.raises(ReaderMisuse):
        reader.next_line()


def test_blank_lines_and_bare_lf_are_tolerated() -> None:
    data = b"\r\n\r\na NOOP\n\nb LOGIN {2}\nab pw\r\n"
    events = [e for e in events_whole(data) if not isinstance(e, NeedContinuation)]
    assert events == [c.Noop("a"), c.Login("b", "ab", b"pw")]


@pytest.mark.parametrize("step", [1, 5, 4096])
def test_limits_identical_in_any_chunking(step: int) -> None:
    data = (b"a SELECT " + b"x" * 300 + b"\r\n" + b"b APPEND INBOX {3000+}\r\n" + b"q" * 3000
            + b"\r\n" + b"c APPEND INBOX {3000}\r\n" + NOOP + b"d LOGIN {3}\r\nabc def\r\n")
    kw = dict(max_line_length=100, max_literal_size=1000)
    whole = events_whole(data, **kw)
    assert [type(e).__name__ for e in whole] == [
        "Invalid", "LiteralTooLarge", "LiteralTooLarge", "Noop", "NeedContinuation", "Login"]
    assert events_chunked(data, list(range(0, len(data), step)), **kw) == whole
