"""The POP3 reader: every command from a transcript, byte-at-a-time feeding,
line limits, and hostile input (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.protocol.pop3 import (
    LINE_TOO_LONG,
    NEED_DATA,
    Auth,
    Capa,
    Dele,
    Invalid,
    List,
    Noop,
    Pass,
    Pop3Reader,
    Quit,
    Retr,
    Rset,
    SaslCancel,
    SaslResponse,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    parse_all,
    parse_command,
    parse_sasl_line,
)

TRANSCRIPT = (
    b"CAPA\r\n"
    b"STLS\r\n"
    b"USER alice@example.com\r\n"
    b"PASS secret with spaces \r\n"
    b"AUTH\r\n"
    b"AUTH PLAIN\r\n"
    b"auth plain AGFsaWNlAHNlY3JldA==\r\n"
    b"AUTH LOGIN =\r\n"
    b"STAT\r\n"
    b"LIST\r\n"
    b"list 2\r\n"
    b"UIDL\r\n"
    b"UIDL 7\r\n"
    b"TOP 1 0\r\n"
    b"TOP 3 10\r\n"
    b"RETR 1\r\n"
    b"DELE 2\r\n"
    b"RSET\r\n"
    b"NOOP\r\n"
    b"QUIT\n"
)
EXPECTED = [
    Capa(),
    Stls(),
    User("alice@example.com"),
    Pass("secret with spaces "),
    Auth(),
    Auth("PLAIN"),
    Auth("PLAIN", "AGFsaWNlAHNlY3JldA=="),
    Auth("LOGIN", "="),
    Stat(),
    List(),
    List(2),
    Uidl(),
    Uidl(7),
    Top(1, 0),
    Top(3, 10),
    Retr(1),
    Dele(2),
    Rset(),
    Noop(),
    Quit(),
]


def events_fed(data: bytes, step: int, max_line: int = 512) -> list[object]:
    reader = Pop3Reader(max_line)
    events: list[object] = []
    for i in range(0, len(data), step):
        reader.receive_data(data[i : i + step])
        while (event := reader.next_event()) is not NEED_DATA:
            events.append(event)
    return events


def test_transcript_parses_every_command() -> None:
    assert parse_all(TRANSCRIPT) == EXPECTED


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_fed_in_pieces_gives_the_same_events(step: int) -> None:
    assert events_fed(TRANSCRIPT, step) == EXPECTED


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"STAT 1", "STAT takes no arguments."),
        (b"CAPA x", "CAPA takes no arguments."),
        (b"QUIT now", "QUIT takes no arguments."),
        (b"RSET 1", "RSET takes no arguments."),
        (b"NOOP 1", "NOOP takes no arguments."),
        (b"STLS 1", "STLS takes no arguments."),
        (b"RETR", "Usage: RETR msg"),
        (b"RETR 1 2", "Usage: RETR msg"),
        (b"DELE", "Usage: DELE msg"),
        (b"RETR x", "Invalid message number."),
        (b"RETR -1", "Invalid message number."),
        (b"RETR 12345678901", "Invalid message number."),
        (b"LIST 1 2", "Usage: LIST [msg]"),
        (b"UIDL a", "Invalid message number."),
        (b"TOP 1", "Usage: TOP msg n"),
        (b"TOP", "Usage: TOP msg n"),
        (b"TOP 1 x", "Invalid number of lines."),
        (b"TOP x 1", "Invalid message number."),
        (b"USER", "Usage: USER name"),
        (b"USER a b", "Usage: USER name"),
        (b"PASS", "Usage: PASS password"),
        (b"AUTH PLAIN !!!", "Invalid base64 in the initial response."),
        (b"AUTH PLAIN a b", "Usage: AUTH mechanism [initial-response]"),
        (b"APOP bob 0123", "Unknown command."),
        (b"XYZZY", "Unknown command."),
        (b"", "Unknown command."),
        (b"\xff\xfe", "Command is not valid UTF-8."),
        (b"RETR\t1", "Unknown command."),
        (b"USER a\x00b", "Invalid characters in the command."),
        (b"RETR 1\r", "Invalid characters in the command."),
        (b"DELE \r1", "Invalid characters in the command."),
    ],
)
def test_bad_commands_are_invalid_with_their_text(line: bytes, text: str) -> None:
    result = parse_command(line)
    assert isinstance(result, Invalid)
    assert result.text == text


def test_keywords_are_case_insensitive_and_extra_spaces_tolerated() -> None:
    assert parse_command(b"rEtR  5 ") == Retr(5)
    assert parse_command(b"top 1  2") == Top(1, 2)


def test_sasl_lines() -> None:
    assert parse_sasl_line(b"*") == SaslCancel()
    assert parse_sasl_line(b"") == SaslResponse("")
    assert parse_sasl_line(b"dXNlcg==") == SaslResponse("dXNlcg==")
    assert isinstance(parse_sasl_line(b"not base64!"), Invalid)
    assert isinstance(parse_sasl_line(b"\xff"), Invalid)


def test_reader_parses_sasl_lines_only_when_asked() -> None:
    reader = Pop3Reader()
    reader.receive_data(b"dXNlcg==\r\n*\r\n")
    reader.expect_sasl(True)
    assert reader.next_event() == SaslResponse("dXNlcg==")
    reader.expect_sasl(False)
    assert isinstance(reader.next_event(), Invalid)


def test_line_at_the_limit_is_accepted_over_it_refused_once() -> None:
    limit = 40
    ok_line = b"USER " + b"a" * (limit - 5)
    assert len(ok_line) == limit
    assert parse_all(ok_line + b"\r\nNOOP\r\n", limit) == [User("a" * (limit - 5)), Noop()]
    long_line = ok_line + b"b"
    data = long_line + b"\r\nNOOP\r\n"
    for step in (1, 5, len(data)):
        assert events_fed(data, step, limit) == [Invalid(LINE_TOO_LONG), Noop()]


def test_endless_line_is_refused_once_and_discarded_until_crlf() -> None:
    reader = Pop3Reader(512)
    reader.receive_data(b"X" * 600)
    assert reader.next_event() == Invalid(LINE_TOO_LONG)
    assert reader.next_event() is NEED_DATA
    for _ in range(100):
        reader.receive_data(b"Y" * 1000)
        assert reader.next_event() is NEED_DATA
    assert reader.buffered < 1024  # nothing of the endless line is kept
    reader.receive_data(b"ZZZ\r\nSTAT\r\n")
    assert reader.next_event() == Stat()
    assert reader.next_event() is NEED_DATA


def test_clear_drops_buffered_input() -> None:
    reader = Pop3Reader()
    reader.receive_data(b"USER evil\r\nPASS x\r\n")
    reader.clear()
    assert reader.next_event() is NEED_DATA


# --- Hypothesis: hostile bytes ----------------------------------------------------

COMMANDS = [line + b"\r\n" for line in TRANSCRIPT.split(b"\r\n") if line]


@st.composite
def mutated_commands(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.sampled_from(COMMANDS), min_size=1, max_size=8))
    data = bytearray(b"".join(parts))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            data[pos:pos] = draw(st.binary(max_size=20))
        else:
            del data[pos]
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.integers(1, 50), st.booleans())
def test_random_bytes_never_raise_and_split_does_not_matter(data: bytes, step: int, sasl: bool) -> None:
    whole = Pop3Reader(64)
    whole.expect_sasl(sasl)
    whole.receive_data(data)
    expected = []
    while (event := whole.next_event()) is not NEED_DATA:
        expected.append(event)
    pieces = Pop3Reader(64)
    pieces.expect_sasl(sasl)
    got = []
    for i in range(0, len(data), step):
        pieces.receive_data(data[i : i + step])
        while (event := pieces.next_event()) is not NEED_DATA:
            got.append(event)
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(mutated_commands())
def test_mutated_commands_never_raise(data: bytes) -> None:
    events = parse_all(data)
    assert events_fed(data, 1) == events
    for event in events:
        assert type(event).__module__ == "mailgate.protocol.pop3.commands"
