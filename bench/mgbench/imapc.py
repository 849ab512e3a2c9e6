"""A small asyncio IMAP4rev1 client for load generation and checking.

Responses are read whole: a response is its line with every literal replaced
by the marker b"\\x00<index>" and the literals kept beside it, so checks can
parse the line and look at literal bytes without copying them around.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class ProtocolError(Exception):
    """The server said something we did not expect (counted as an error)."""


@dataclass(slots=True)
class Resp:
    line: bytes  # without CRLF; literals replaced by b"\x00<n>"
    literals: list[bytes] = field(default_factory=list)


@dataclass(slots=True)
class Result:
    status: bytes  # OK / NO / BAD
    text: bytes  # rest of the tagged line
    untagged: list[Resp]


class Imap:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r = reader
        self.w = writer
        self.n = 0
        self.greeting: Resp | None = None

    @classmethod
    async def connect(cls, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                      local_addr: tuple[str, int] | None = None) -> "Imap":
        reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=1 << 22,
                                                       local_addr=local_addr,
                                                       server_hostname="localhost" if tls else None)
        self = cls(reader, writer)
        self.greeting = await self.read_response()
        if not self.greeting.line.startswith(b"* OK"):
            raise ProtocolError(f"greeting: {self.greeting.line[:200]!r}")
        return self

    async def read_response(self) -> Resp:
        lits: list[bytes] = []
        parts: list[bytes] = []
        while True:
            line = await self.r.readuntil(b"\r\n")
            m = _LITERAL.search(line)
            if m is None:
                parts.append(line[:-2])
                return Resp(b"".join(parts), lits)
            parts.append(line[: m.start()] + b"\x00" + str(len(lits)).encode())
            lits.append(await self.r.readexactly(int(m.group(1))))

    def _tag(self) -> bytes:
        self.n += 1
        return b"A%d" % self.n

    async def command(self, text: bytes | str, *literals: bytes) -> Result:
        """Sends `text`; each b"{}" in it is replaced by a LITERAL+ literal."""
        if isinstance(text, str):
            text = text.encode()
        tag = self._tag()
        if literals:
            pieces = text.split(b"{}")
            assert len(pieces) == len(literals) + 1
            out = [tag, b" ", pieces[0]]
            for lit, rest in zip(literals, pieces[1:]):
                out += [b"{%d+}\r\n" % len(lit), lit, rest]
            out.append(b"\r\n")
            self.w.write(b"".join(out))
        else:
            self.w.write(tag + b" " + text + b"\r\n")
        return await self.collect(tag)

    async def collect(self, tag: bytes) -> Result:
        untagged: list[Resp] = []
        prefix = tag + b" "
        while True:
            resp = await self.read_response()
            if resp.line.startswith(prefix):
                rest = resp.line[len(prefix):]
                status, _, text = rest.partition(b" ")
                return Result(status, text, untagged)
            if resp.line.startswith(b"+"):
                raise ProtocolError(f"unexpected continuation {resp.line[:100]!r}")
            untagged.append(resp)

    async def ok(self, text: bytes | str, *literals: bytes) -> Result:
        res = await self.command(text, *literals)
        if res.status != b"OK":
            cmd = text if isinstance(text, bytes) else text.encode()
            raise ProtocolError(f"{cmd[:60]!r} -> {res.status.decode()} {res.text[:200]!r}")
        return res

    async def login(self, user: str, password: str) -> Result:
        return await self.ok(f'LOGIN "{user}" "{password}"')

    async def close(self) -> None:
        try:
            self.w.close()
            await self.w.wait_closed()
        except (OSError, ssl.SSLError, ConnectionError):
            pass

    async def logout(self) -> None:
        try:
            res = await self.command(b"LOGOUT")
            if res.status != b"OK" or not any(u.line.startswith(b"* BYE") for u in res.untagged):
                raise ProtocolError(f"LOGOUT -> {res.status!r} {res.text!r}")
        finally:
            await self.close()


# --- parsing of FETCH data ---------------------------------------------------

_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\x00(\d+)|([^\s()"\[\]]+(?:\[[^\]]*\](?:<\d+>)?)?))')


def parse_list(line: bytes, literals: list[bytes], pos: int = 0):
    """Parses one parenthesised s-expression starting at line[pos] == '('.
    Returns (python list, next pos). Atoms are bytes, NIL is None, strings
    and literals are bytes."""
    stack: list[list] = []
    cur: list | None = None
    n = len(line)
    while pos < n:
        m = _TOKEN.match(line, pos)
        if m is None:
            raise ProtocolError(f"cannot parse at {pos}: {line[pos:pos + 60]!r}")
        pos = m.end()
        if m.group(1):
            new: list = []
            if cur is not None:
                cur.append(new)
                stack.append(cur)
            cur = new
        elif m.group(2):
            if cur is None:
                raise ProtocolError("unbalanced )")
            if not stack:
                return cur, pos
            cur = stack.pop()
        elif m.group(3) is not None:
            assert cur is not None
            s = m.group(3)
            cur.append(s.replace(b'\\"', b'"').replace(b"\\\\", b"\\") if b"\\" in s else s)
        elif m.group(4) is not None:
            assert cur is not None
            cur.append(literals[int(m.group(4))])
        else:
            atom = m.group(5)
            assert cur is not None
            cur.append(None if atom == b"NIL" else atom)
    raise ProtocolError(f"unterminated list: {line[:100]!r}")


_FETCH = re.compile(rb"\* (\d+) FETCH ")


def fetch_items(resp: Resp) -> tuple[int, dict[bytes, object]] | None:
    """`* n FETCH (...)` -> (n, {ITEM: value}); None for other responses."""
    m = _FETCH.match(resp.line)
    if m is None:
        return None
    items, _ = parse_list(resp.line, resp.literals, m.end())
    out: dict[bytes, object] = {}
    for k in range(0, len(items) - 1, 2):
        out[items[k].upper()] = items[k + 1]
    return int(m.group(1)), out


_CODE = re.compile(rb"\[([A-Z-]+) ?([^\]]*)\]")


def resp_code(text: bytes) -> tuple[bytes, bytes] | None:
    m = _CODE.match(text)
    return (m.group(1), m.group(2)) if m else None
