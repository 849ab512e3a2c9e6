"""Listening sockets: each binding accepts connections and hands a Connection
to a protocol driver coroutine."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .connection import Connection

log = logging.getLogger(__name__)

Driver = Callable[[Connection], Awaitable[None]]


def parse_binding(text: str) -> tuple[str, int]:
    """'0.0.0.0:993', '[::]:993' or '127.0.0.1:10143' -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"binding {text!r} is not ADDRESS:PORT")
    host = host.strip("[]") or "0.0.0.0"
    number = int(port)
    if not 0 <= number < 65536:  # 0: let the kernel choose (tests)
        raise ValueError(f"binding {text!r}: port must be 0-65535")
    return host, number


@dataclass
class Listener:
    """One bound socket for one protocol driver."""

    binding: str
    driver: Driver
    implicit_tls: bool
    tls_context: ssl.SSLContext | None
    server: asyncio.base_events.Server | None = None
    connections: set[asyncio.Task] = field(default_factory=set)

    async def start(self) -> None:
        host, port = parse_binding(self.binding)
        self.server = await asyncio.get_running_loop().create_server(
            self._protocol,
            host,
            port,
            ssl=self.tls_context if self.implicit_tls else None,
            reuse_address=True,
            # A TLS handshake that never finishes must not hold a slot forever.
            ssl_handshake_timeout=30 if self.implicit_tls else None,
            backlog=1024,
        )

    def _protocol(self) -> Connection:
        # The Connection is the socket's protocol (no StreamReader/Writer pair).
        return Connection(implicit_tls=self.implicit_tls, tls_context=self.tls_context, on_open=self._opened)

    @property
    def bound_port(self) -> int:
        """The real port (useful when the binding asked for port 0)."""
        assert self.server is not None and self.server.sockets
        return int(self.server.sockets[0].getsockname()[1])

    def _opened(self, conn: Connection) -> None:
        self.connections.add(asyncio.get_running_loop().create_task(self._serve(conn)))

    async def _serve(self, conn: Connection) -> None:
        task = asyncio.current_task()
        try:
            await self.driver(conn)
        except asyncio.CancelledError:
            raise
        except Exception:  # a driver bug must not take the listener down
            log.exception("connection from %s failed", conn.remote)
        finally:
            self.connections.discard(task)
            await conn.close()

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop accepting; give open connections drain_seconds, then cancel them."""
        if self.server is not None:
            self.server.close()
        if self.connections:
            _done, pending = await asyncio.wait(set(self.connections), timeout=drain_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None
