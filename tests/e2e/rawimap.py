"""A minimal raw IMAP client for transcript-style tests: send exact bytes,
read exact lines (literals included), no interpretation."""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class RawImap:
    def __init__(self, port: int, *, tls: bool = False, cafile: Path | None = None, timeout: float = 10) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            sock = client_context(cafile).wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.buf = b""
        self.counter = 0
        self.greeting = self.line()

    def starttls(self, cafile: Path | None) -> bytes:
        lines = self.command(b"STARTTLS")
        assert lines[-1].split(b" ")[1] == b"OK", lines
        self.sock = client_context(cafile).wrap_socket(self.sock, server_hostname="localhost")
        return lines[-1]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def line(self) -> bytes:
        """One response line with any literals it announces, CRLF included."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            i = self.buf.index(b"\r\n") + 2
            piece, self.buf = self.buf[:i], self.buf[i:]
            out += piece
            m = _LITERAL.search(piece)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += self.buf[:size]
            self.buf = self.buf[size:]

    def command(self, text: bytes, tag: bytes | None = None) -> list[bytes]:
        """Send `tag text` and read until the tagged completion (inclusive)."""
        if tag is None:
            self.counter += 1
            tag = b"t%d" % self.counter
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tag(tag)

    def until_tag(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def login(self, user: str, password: str) -> list[bytes]:
        return self.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def client_context(cafile: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
