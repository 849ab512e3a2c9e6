"""Raw clients and helpers shared by the settings and policy end-to-end tests
(no tests here): line-level IMAP/POP3 over a socket that may be bound to a
chosen loopback source address, and waiting for a live setting to apply."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from .rawimap import client_context

APPLY_SECONDS = 2.0  # the promise: changes apply within 2 s


def connect(port: int, *, source: str = "127.0.0.1", tls: bool = False, cafile: Path | None = None,
            timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if tls:
        sock = client_context(cafile).wrap_socket(sock, server_hostname="localhost")
    return sock


class Lines:
    """Read CRLF lines from a socket (IMAP literals are not interpreted)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def closed_by_server(self, timeout: float = 5) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


class Imap(Lines):
    def __init__(self, port: int, **kwargs) -> None:
        super().__init__(connect(port, **kwargs))
        self.greeting = self.line()
        self.n = 0

    def command(self, text: str) -> list[bytes]:
        self.n += 1
        tag = b"c%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(tag + b" ") or line.startswith(b"* BYE"):
                return out

    def login(self, user: str, password: str) -> bytes:
        return self.command(f'LOGIN "{user}" "{password}"')[-1]


class Pop3(Lines):
    def __init__(self, port: int, **kwargs) -> None:
        super().__init__(connect(port, **kwargs))
        self.greeting = self.line()

    def command(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.line()

    def multiline(self, text: str) -> list[bytes]:
        first = self.command(text)
        assert first.startswith(b"+OK"), first
        lines = []
        while (line := self.line()) != b".\r\n":
            lines.append(line)
        return lines

    def login(self, user: str, password: str) -> bytes:
        reply = self.command(f"USER {user}")
        if not reply.startswith(b"+OK"):
            return reply
        return self.command(f"PASS {password}")


def eventually(check: Callable[[], bool], seconds: float = APPLY_SECONDS + 1.5, what: str = "") -> float:
    """Poll check() until true; returns how long it took (fails past seconds)."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (OSError, EOFError, AssertionError):
            pass
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


def cli_ok(server, *args: str, input: bytes | None = None) -> str:
    result = server.cli(*args, input=input)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout.decode()
