"""The DATA body reader (smtp/data.py) against a line-by-line reference
(what aiosmtpd's own loop does), over every way the bytes may arrive."""

from __future__ import annotations

import random
import smtplib

import pytest

from mailgate.smtp.data import TERMINATOR, DataCollector, DataState, boundary
from mailgate.smtp.routing import Service

from .conftest import Env


def _reference(wire: bytes, size_limit: int | None, line_limit: int) -> tuple[DataState, bytes, int]:
    """aiosmtpd's loop, one line at a time: (state, body, bytes consumed)."""
    state, out, size, pos = DataState.NOMINAL, [], 0, 0
    while True:
        end = wire.index(b"\r\n", pos) + 2
        line, pos = wire[pos:end], end
        if line == TERMINATOR:
            return state, b"".join(out), pos
        size += len(line)
        if state is DataState.NOMINAL and size_limit and size > size_limit:
            state, out = DataState.TOO_MUCH, []
        if state is DataState.NOMINAL:
            if len(line) > line_limit:
                state, out = DataState.TOO_LONG, []
            else:
                out.append(line[1:] if line.startswith(b".") else line)


def _collect(wire: bytes, cuts: list[int], size_limit: int | None,
             line_limit: int) -> tuple[DataState, bytes, int]:
    """Drive the collector the way protocol.py does, the bytes arriving in
    pieces cut at `cuts`."""
    body = DataCollector(size_limit, line_limit)
    buffered, taken = bytearray(), 0
    arrivals = iter(sorted(set(cuts)) + [len(wire)])
    last = 0
    while True:
        n, done = boundary(buffered, body.at_line_start)
        if not n:
            nxt = next(arrivals)
            buffered += wire[last:nxt]
            last = nxt
            continue
        chunk = bytes(buffered[:n])
        del buffered[:n]
        taken += n
        if done:
            body.feed(chunk[:n - len(TERMINATOR)])
            content = body.content() if body.state is DataState.NOMINAL else b""
            return body.state, content, taken
        body.feed(chunk)


LINES = [b"", b".", b"..", b".x", b"x.", b"a\r", b"\n", b"plain text", b". .", b"x" * 40,
         b"...", b"\xff\x00bin", b"x" * 70]


@pytest.mark.parametrize("seed", range(40))
def test_matches_the_line_by_line_reader(seed: int) -> None:
    rng = random.Random(seed)
    lines = [rng.choice(LINES) for _ in range(rng.randint(0, 30))]
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]  # the client's
    wire = b"".join(line + b"\r\n" for line in stuffed) + TERMINATOR + b"MAIL FROM:<x@y>\r\n"
    size_limit = rng.choice([None, None, 200, 600])
    line_limit = rng.choice([1001, 1001, 50])
    cuts = [rng.randint(0, len(wire)) for _ in range(rng.randint(0, 8))]
    got = _collect(wire, cuts, size_limit, line_limit)
    want = _reference(wire, size_limit, line_limit)
    if want[0] is not DataState.NOMINAL:
        want = (want[0], b"", want[2])
    assert got == want
    assert wire[got[2]:] == b"MAIL FROM:<x@y>\r\n"  # the next command is left unread
    if got[0] is DataState.NOMINAL:
        assert got[1] == b"".join(line + b"\r\n" for line in lines)


def test_empty_body_and_terminator_only_at_a_line_start() -> None:
    assert boundary(b".\r\nQUIT\r\n", True) == (3, True)
    assert boundary(b".\r\nQUIT\r\n", False) == (9, False)  # the end of a long line
    assert boundary(b"abc", True) == (0, False)
    assert boundary(b"a\r\n.\r\nb", True) == (6, True)
    body = DataCollector(None, 1001)
    assert body.content() == b""


def test_overrun_is_too_long_and_not_at_a_line_start() -> None:
    body = DataCollector(None, 1001)
    body.overrun(70000)
    assert body.state is DataState.TOO_LONG and not body.at_line_start and body.size == 70000


async def test_data_over_the_wire(env: Env) -> None:
    """Dot-stuffed lines, a long line, and the next command pipelined
    behind the terminator."""
    def go(c: smtplib.SMTP) -> tuple[tuple[int, bytes], tuple[int, bytes], tuple[int, bytes]]:
        c.ehlo()
        c.mail("a@far.example")
        c.rcpt("bob@example.com")
        ok = c.data(b"Subject: dots\r\n\r\n.leading\r\n..two\r\nend\r\n")
        c.mail("a@far.example")
        c.rcpt("bob@example.com")
        c.putcmd("data")
        c.getreply()
        c.send(b"Subject: long\r\n\r\n" + b"x" * 2000 + b"\r\n.\r\nNOOP\r\n")
        return ok, c.getreply(), c.getreply()

    ok, long_line, noop = await env.client(Service.INBOUND, go)
    assert ok[0] == 250 and long_line[0] == 500 and noop[0] == 250
    (stored,) = await env.inbox("bob@example.com")
    # smtplib stuffed the dots, the server removed them: the lines as given
    assert stored.endswith(b"\r\n\r\n.leading\r\n..two\r\nend\r\n")
