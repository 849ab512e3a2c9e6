"""Turn a session's raw bytes into protocol-log lines, secrets masked.

One scanner per connection sees what the client sent and what the server
sent (after TLS, before COMPRESS). It splits lines, skips literal and message
bodies (their announcing line is logged, the bytes are not) and masks
credentials: the IMAP LOGIN password, POP3 PASS, and every SASL exchange
(initial responses, challenges, client answers) until the server's verdict.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

Emit = Callable[[str, str], None]  # (event "<" / ">" / "*", data)

MASK = "****"
MAX_LINE = 64 * 1024  # longer "lines" are cut: the protocol readers reject them anyway
MAX_LOGGED = 1000  # characters of one logged line
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


def _text(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= MAX_LOGGED else text[:MAX_LOGGED] + "..."


class _Lines:
    """A line splitter; with literals on (IMAP), the bytes a line announces
    with {n} / {n+} are skipped, not returned."""

    def __init__(self, literals: bool = False) -> None:
        self.buf = bytearray()
        self.skip = 0
        self.literals = literals

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        lines: list[bytes] = []
        while True:
            if self.skip:
                take = min(self.skip, len(self.buf))
                del self.buf[:take]
                self.skip -= take
                if self.skip:
                    break
            i = self.buf.find(b"\n")
            if i < 0:
                if len(self.buf) > MAX_LINE:
                    lines.append(bytes(self.buf[:MAX_LINE]))
                    self.buf.clear()
                break
            line = bytes(self.buf[:i]).rstrip(b"\r")
            del self.buf[: i + 1]
            lines.append(line)
            if self.literals:
                self.skip = literal_size(line)
        return lines


def literal_size(line: bytes) -> int:
    m = _LITERAL.search(line)
    return int(m.group(1)) if m else 0


class ImapScanner:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.client = _Lines(literals=True)
        self.server = _Lines(literals=True)
        self.secret_tag: str | None = None  # LOGIN with literals, AUTHENTICATE
        self.compress_tag: str | None = None
        self.literal_tag: str | None = None
        self.compressed = False

    def received(self, data: bytes) -> None:
        if self.compressed:
            return
        for line in self.client.feed(data):
            if not line:
                continue
            if self.secret_tag is not None:
                self.emit("<", MASK)
                continue
            parts = line.split(b" ", 2)
            tag = parts[0].decode("ascii", "replace")
            command = parts[1].upper() if len(parts) > 1 else b""
            if literal_size(line):
                self.literal_tag = tag
            if command == b"LOGIN":
                self.emit("<", _mask_login(tag, parts[2] if len(parts) > 2 else b""))
                if self.client.skip:
                    self.secret_tag = tag
                continue
            if command == b"AUTHENTICATE":
                mechanism = (parts[2] if len(parts) > 2 else b"").split(b" ", 1)
                shown = f"{tag} AUTHENTICATE {_text(mechanism[0])}" + (f" {MASK}" if len(mechanism) > 1 else "")
                self.emit("<", shown)
                self.secret_tag = tag
                continue
            if command == b"COMPRESS":
                self.compress_tag = tag
            self.emit("<", _text(line))

    def sent(self, data: bytes) -> None:
        if self.compressed:
            return
        for line in self.server.feed(data):
            if not line:
                continue
            tag = line.split(b" ", 1)[0].decode("ascii", "replace")
            if self.secret_tag is not None and line.startswith(b"+"):
                self.emit(">", "+ " + MASK)
                continue
            self.emit(">", _text(line))
            if tag == self.secret_tag:
                self.secret_tag = None
            if tag == self.literal_tag:  # a refused literal is never sent
                self.literal_tag, self.client.skip = None, 0
            if tag == self.compress_tag and line.split(b" ")[1:2] == [b"OK"]:
                self.compressed = True
                self.emit("*", "COMPRESS=DEFLATE active; the rest of the session is not logged")

    def tls_started(self) -> None:
        self.client = _Lines(literals=True)  # what was pipelined before the handshake is discarded


def _mask_login(tag: str, rest: bytes) -> str:
    """`tag LOGIN user ****`: the user name stays (it is what an admin looks
    for), everything after it goes."""
    if rest.startswith(b'"'):
        i, escaped = 1, False
        while i < len(rest):
            ch = rest[i : i + 1]
            if ch == b'"' and not escaped:
                break
            escaped = ch == b"\\" and not escaped
            i += 1
        user = rest[: i + 1]
    elif rest.startswith(b"{"):
        return f"{tag} LOGIN {MASK}"
    else:
        user = rest.split(b" ", 1)[0]
    return f"{tag} LOGIN {_text(user)} {MASK}"


_MULTILINE = {b"CAPA", b"RETR", b"TOP"}
_MULTILINE_WITHOUT_ARGUMENT = {b"LIST", b"UIDL", b"AUTH"}


class Pop3Scanner:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.client = _Lines()
        self.server = _Lines()
        self.pending: deque[tuple[bytes, bool]] = deque()  # (command, multi-line answer)
        self.in_sasl = False
        self.in_body = False

    def received(self, data: bytes) -> None:
        for line in self.client.feed(data):
            if self.in_sasl:
                self.emit("<", MASK)
                continue
            parts = line.split(b" ", 2)
            command = parts[0].upper()
            has_argument = len(parts) > 1 and parts[1] != b""
            multiline = command in _MULTILINE or (command in _MULTILINE_WITHOUT_ARGUMENT and not has_argument)
            self.pending.append((command, multiline))
            if command == b"PASS":
                self.emit("<", f"PASS {MASK}")
            elif command == b"AUTH" and has_argument:
                self.in_sasl = True
                self.emit("<", f"AUTH {_text(parts[1])}" + (f" {MASK}" if len(parts) > 2 else ""))
            else:
                self.emit("<", _text(line))

    def sent(self, data: bytes) -> None:
        for line in self.server.feed(data):
            if self.in_body:
                if line == b".":
                    self.in_body = False
                continue
            if self.in_sasl and line.startswith(b"+") and not line.startswith(b"+OK"):
                self.emit(">", "+ " + MASK)
                continue
            command, multiline = self.pending.popleft() if self.pending else (b"", False)
            if self.in_sasl and (line.startswith(b"+OK") or line.startswith(b"-ERR")):
                self.in_sasl = False
            if multiline and line.startswith(b"+OK"):
                self.in_body = True
            self.emit(">", _text(line))

    def tls_started(self) -> None:
        self.client = _Lines()
        self.pending.clear()
