"""Responses -> bytes, streaming dot-stuffing and the TOP cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.protocol.pop3 import (
    Body,
    Challenge,
    Code,
    DotStuffer,
    Err,
    Lines,
    Ok,
    Stream,
    TopFilter,
    encode,
    encode_stream,
    unstuff,
)


def test_single_line_replies() -> None:
    assert encode(Ok()) == b"+OK\r\n"
    assert encode(Ok("2 320")) == b"+OK 2 320\r\n"
    assert encode(Err("Authentication failed.", Code.AUTH)) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert encode(Err("busy", Code.IN_USE)) == b"-ERR [IN-USE] busy\r\n"
    assert encode(Err("bye", Code.SYS_TEMP)) == b"-ERR [SYS/TEMP] bye\r\n"
    assert encode(Challenge(b"")) == b"+ \r\n"
    assert encode(Challenge(b"Username:")) == b"+ VXNlcm5hbWU6\r\n"


def test_reply_text_cannot_inject_lines() -> None:
    assert encode(Err("a\r\n+OK b")) == b"-ERR a  +OK b\r\n"


def test_multi_line_in_memory_is_stuffed_and_terminated() -> None:
    assert encode(Lines(Ok("list"), (b"1 10", b".hidden"))) == b"+OK list\r\n1 10\r\n..hidden\r\n.\r\n"
    assert encode(Lines(Ok(), ())) == b"+OK\r\n.\r\n"


def stuff(chunks: list[bytes]) -> bytes:
    stuffer = DotStuffer()
    return b"".join(stuffer.feed(c) for c in chunks) + stuffer.finish()


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"x\r\n.\r\n..y\r\n", b"x\r\n..\r\n...y\r\n.\r\n"),
        (b"x\r\n.", b"x\r\n..\r\n.\r\n"),
    ],
)
def test_dot_stuffing(message: bytes, wire: bytes) -> None:
    assert stuff([message]) == wire
    assert encode(Body(Ok("n octets"), message)) == b"+OK n octets\r\n" + wire
    assert stuff([bytes([b]) for b in message]) == wire
    assert unstuff(wire) == (message if message.endswith(b"\r\n") or not message else message + b"\r\n")


message_bytes = st.lists(
    st.sampled_from([b".", b"\r\n", b"\r", b"\n", b"a", b"..", b"\r\n.\r\n", b"From x"]), max_size=60
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(message_bytes, st.lists(st.integers(0, 40), max_size=20))
def test_unstuffing_our_output_gives_back_the_message(message: bytes, cuts: list[int]) -> None:
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(message[pos : pos + cut])
        pos += cut
    chunks.append(message[pos:])
    wire = stuff(chunks)
    assert wire == stuff([message])  # chunking never matters
    expected = message if (not message or message.endswith(b"\r\n")) else message + b"\r\n"
    assert unstuff(wire) == expected
    # No line of the body is a lone "." before the terminator (for clients
    # that split on LF as well as on CRLF).
    body_lines = wire[: -len(b".\r\n")].split(b"\n")
    assert all(line.rstrip(b"\r") != b"." for line in body_lines)


@settings(max_examples=500, deadline=None)
@given(message_bytes)
def test_in_memory_body_is_byte_identical_to_the_streamed_form(message: bytes) -> None:
    """RETR of a small message (Body, one bytes.replace) and of a large one
    (Stream, DotStuffer chunk by chunk) must put the same bytes on the wire."""
    assert encode(Body(Ok("x"), message)) == b"+OK x\r\n" + stuff([message])


def test_body_without_dot_lines_is_not_copied_by_stuffing() -> None:
    message = b"Subject: a\r\n\r\nno line starts with a dot.\r\n"
    assert message.replace(b"\n.", b"\n..") is message  # what _body relies on for speed
    assert encode(Body(Ok(), message)) == b"+OK\r\n" + message + b".\r\n"


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_encode_stream() -> None:
    out = [c async for c in encode_stream(Stream(Ok("5 octets"), _chunks([b"ab\r\n", b".c"])))]
    assert b"".join(out) == b"+OK 5 octets\r\nab\r\n..c\r\n.\r\n"


async def test_encode_stream_closed_early_closes_the_body() -> None:
    closed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 10
        finally:
            closed.set()

    gen = encode_stream(Stream(Ok(), body()))
    await gen.__anext__()
    await gen.__anext__()
    await gen.aclose()
    assert closed.is_set()


# --- TOP ---------------------------------------------------------------------------

MESSAGE = b"Subject: hi\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\n.line3\r\n"


def top(message: bytes, n: int, chunk: int) -> bytes:
    cut = TopFilter(n)
    out = b""
    for i in range(0, len(message), chunk):
        out += cut.feed(message[i : i + chunk])
        if cut.done:
            break
    return out


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1000])
def test_top_cuts_header_blank_line_and_n_lines(chunk: int) -> None:
    assert top(MESSAGE, 0, chunk) == b"Subject: hi\r\nFrom: a@b\r\n\r\n"
    assert top(MESSAGE, 1, chunk) == b"Subject: hi\r\nFrom: a@b\r\n\r\nline1\r\n"
    assert top(MESSAGE, 3, chunk) == MESSAGE
    assert top(MESSAGE, 99, chunk) == MESSAGE


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_top_edge_cases(chunk: int) -> None:
    assert top(b"Subject: only header\r\n", 0, chunk) == b"Subject: only header\r\n"
    assert top(b"\r\nbody\r\n", 0, chunk) == b"\r\n"
    assert top(b"A: b\r\n\rX: y\r\n\r\nbody\r\n", 0, chunk) == b"A: b\r\n\rX: y\r\n\r\n"
    assert top(b"A: b\n\nbody\n", 1, chunk) == b"A: b\n\nbody\n"
    assert top(b"", 5, chunk) == b""


@settings(max_examples=300, deadline=None)
@given(message_bytes, st.integers(0, 10), st.integers(1, 20))
def test_top_is_independent_of_chunking_and_a_prefix(message: bytes, n: int, chunk: int) -> None:
    whole = top(message, n, len(message) or 1)
    assert top(message, n, chunk) == whole
    assert message.startswith(whole)
