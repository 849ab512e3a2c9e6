"""One client connection: the only object protocol drivers use to reach a socket."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _endpoint(sockname: object) -> Endpoint:
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return Endpoint(str(sockname[0]), int(sockname[1]))
    return Endpoint(str(sockname or "unix"), 0)


class Connection:
    """Reads and writes bytes; knows its endpoints and TLS state."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        implicit_tls: bool,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.tls_active = implicit_tls
        self.tls_context = tls_context
        self.local = _endpoint(writer.get_extra_info("sockname"))
        self.remote = _endpoint(writer.get_extra_info("peername"))
        self.closed = False
        # Sees the bytes and the TLS upgrade (protocol log, metrics): a
        # policy.connections.Client, set by the protocol driver.
        self.tap: Any = None

    @property
    def can_start_tls(self) -> bool:
        return not self.tls_active and self.tls_context is not None

    async def read(self, limit: int = 65536) -> bytes:
        """Some bytes, or b"" at end of stream or on a reset connection."""
        try:
            data = await self._reader.read(limit)
        except (ConnectionError, ssl.SSLError, OSError):
            return b""
        if data and self.tap is not None:
            self.tap.received(data)
        return data

    def write(self, data: bytes) -> None:
        if not self.closed and not self._writer.is_closing():
            if self.tap is not None:
                self.tap.sent(data)
            self._writer.write(data)

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            self.closed = True

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.drain()

    async def start_tls(self) -> bool:
        """Upgrade in place (STARTTLS/STLS). False when the handshake fails."""
        assert self.tls_context is not None
        await self.drain()
        try:
            await self._writer.start_tls(self.tls_context)
        except (ConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError):
            self.closed = True
            return False
        self.tls_active = True
        if self.tap is not None:
            self.tap.tls_started()
        return True

    async def close(self) -> None:
        if self.closed and self._writer.is_closing():
            return
        self.closed = True
        try:
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 5)
        except (ConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError):
            pass
