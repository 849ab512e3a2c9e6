"""One client connection: the only object protocol drivers use to reach a socket.

The connection is its own asyncio.Protocol instead of a StreamReader /
StreamWriter pair: a server holding 10,000 idle IMAP clients pays for one
small object per socket (no second protocol object, no per-stream waiter
deques), and a driver can wait for "bytes arrived" on a future it shares
with other wake-up sources (set_waiter), so an IDLE needs no task per
source (transport/imap_driver.py).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

# Back-pressure: stop reading the socket while this many bytes wait unread
# (a client pipelining faster than its commands run), go on below half.
READ_BUFFER_LIMIT = 256 * 1024
WRITE_BUFFER_HIGH = 1024 * 1024  # bytes queued in the transport before writers wait (drain)
# TLS: asyncio's SSLProtocol reads into a 256 KiB buffer per connection (the
# bulk of a TLS connection's memory); TLS records are at most 16 KiB, so a
# smaller buffer costs no extra system calls per record.
TLS_READ_BUFFER = 64 * 1024


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


_EMPTY = b""


class Connection(asyncio.Protocol):
    """Reads and writes bytes; knows its endpoints and TLS state.

    Made by the listener as the socket's protocol; `on_open(conn)` is called
    once the transport exists (after the handshake for implicit TLS)."""

    __slots__ = ("_transport", "_buffer", "_eof", "_lost", "_waiter", "_write_paused", "_read_paused", "_drain_waiter",
                 "_lost_waiter", "_on_open", "tls_active", "tls_context", "closed", "tap")

    def __init__(self, *, implicit_tls: bool, tls_context: ssl.SSLContext | None,
                 on_open: Any = None) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer: bytes | bytearray = _EMPTY  # received, not yet read (shared b"" while empty)
        self._eof = False
        self._lost = False
        # Resolved (result None) when bytes or EOF arrive: read()'s own future,
        # or one a driver waits on for several things at once.
        self._waiter: asyncio.Future | None = None
        self._write_paused = False
        self._read_paused = False  # by data_received's back-pressure
        self._drain_waiter: asyncio.Future | None = None
        self._lost_waiter: asyncio.Future | None = None
        self._on_open = on_open
        self.tls_active = implicit_tls
        self.tls_context = tls_context
        self.closed = False
        # Sees the bytes and the TLS upgrade (protocol log, metrics): a
        # policy.connections.Client, set by the protocol driver.
        self.tap: Any = None

    # --- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        _tune(transport)
        on_open, self._on_open = self._on_open, None
        if on_open is not None:
            on_open(self)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        if not buffer:
            self._buffer = data  # the common case: no copy
        else:
            if not isinstance(buffer, bytearray):
                buffer = self._buffer = bytearray(buffer)
            buffer += data
        if len(self._buffer) > READ_BUFFER_LIMIT and self._transport is not None:
            try:
                self._transport.pause_reading()
                self._read_paused = True
            except (AttributeError, RuntimeError, NotImplementedError):
                pass
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        # Plain TCP: stay half-open so a last response can still be written.
        return not self.tls_active

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self.closed = True
        self._wake_reader()
        for waiter in (self._drain_waiter, self._lost_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- endpoints -------------------------------------------------------------
    @property
    def local(self) -> Endpoint:
        return _endpoint(self._extra("sockname"))

    @property
    def remote(self) -> Endpoint:
        return _endpoint(self._extra("peername"))

    def _extra(self, name: str) -> object:
        return self._transport.get_extra_info(name) if self._transport is not None else None

    @property
    def can_start_tls(self) -> bool:
        return not self.tls_active and self.tls_context is not None

    # --- reading -----------------------------------------------------------------
    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set_waiter(self, waiter: asyncio.Future | None) -> None:
        """Resolve `waiter` when bytes or EOF arrive (at once if some are
        already there); None stops that."""
        self._waiter = waiter
        if waiter is not None and (self._buffer or self._eof):
            self._wake_reader()

    def read_nowait(self, limit: int = 65536) -> bytes | None:
        """Buffered bytes (at most `limit`), b"" at end of stream or on a reset
        connection, None when nothing has arrived yet."""
        buffer = self._buffer
        if not buffer:
            return _EMPTY if self._eof else None
        if len(buffer) <= limit:
            data = bytes(buffer) if isinstance(buffer, bytearray) else buffer
            self._buffer = _EMPTY
        else:
            data = bytes(buffer[:limit])
            self._buffer = buffer[limit:]
        if self._read_paused and len(self._buffer) <= READ_BUFFER_LIMIT // 2 and not self._lost:
            self._read_paused = False
            try:
                self._transport.resume_reading()  # type: ignore[union-attr]
            except (AttributeError, RuntimeError, NotImplementedError):
                pass
        if self.tap is not None:
            self.tap.received(data)
        return data

    async def read(self, limit: int = 65536) -> bytes:
        """Some bytes, or b"" at end of stream or on a reset connection."""
        while True:
            data = self.read_nowait(limit)
            if data is not None:
                return data
            waiter = asyncio.get_running_loop().create_future()
            self.set_waiter(waiter)
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None

    # --- writing -------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self._transport
        if not self.closed and transport is not None and not transport.is_closing():
            if self.tap is not None:
                self.tap.sent(data)
            transport.write(data)

    def writelines(self, pieces: list[bytes]) -> None:
        """Several buffers in one go: the transport sends them together
        (uvloop: one writev) without joining them first."""
        transport = self._transport
        if not self.closed and transport is not None and not transport.is_closing():
            if self.tap is not None:
                for data in pieces:
                    self.tap.sent(data)
            transport.writelines(pieces)

    @property
    def must_drain(self) -> bool:
        """Whether drain() would wait (or find the connection lost)."""
        return self._write_paused or self._lost

    async def drain(self) -> None:
        """Waits only while the transport's buffer is over its high-water
        mark; returns at once otherwise (the usual case: the kernel took it)."""
        if self._lost:
            self.closed = True
            return
        if not self._write_paused:
            return
        waiter = self._drain_waiter
        if waiter is None or waiter.done():
            waiter = self._drain_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(waiter)  # several writers may wait on it
        if self._lost:
            self.closed = True

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.drain()

    # --- TLS and closing -----------------------------------------------------------
    async def start_tls(self) -> bool:
        """Upgrade in place (STARTTLS/STLS). False when the handshake fails."""
        assert self.tls_context is not None and self._transport is not None
        await self.drain()
        # Bytes pipelined after the STARTTLS command are plaintext: they must
        # never be read as if they had come over TLS (RFC 3501 6.2.1).
        self._buffer = _EMPTY
        if self._read_paused:  # what paused it is gone
            self._read_paused = False
            try:
                self._transport.resume_reading()
            except (AttributeError, RuntimeError, NotImplementedError):
                pass
        try:
            transport = await asyncio.get_running_loop().start_tls(self._transport, self, self.tls_context,
                                                                    server_side=True)
        except (ConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError):
            self.closed = True
            return False
        if transport is None:  # the peer went away during the handshake
            self.closed = True
            return False
        self._transport = transport  # type: ignore[assignment]
        _tune(transport)
        self.tls_active = True
        if self.tap is not None:
            self.tap.tls_started()
        return True

    async def close(self) -> None:
        transport = self._transport
        if transport is None or (self.closed and transport.is_closing() and self._lost):
            self.closed = True
            return
        self.closed = True
        if not transport.is_closing():
            transport.close()
        if self._lost:
            return
        waiter = self._lost_waiter
        if waiter is None:
            waiter = self._lost_waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), 5)
        except asyncio.TimeoutError:
            transport.abort()


def _tune(transport: asyncio.BaseTransport) -> None:
    _shrink_tls_buffer(transport)
    try:
        # A bulk download formats its next batch while the kernel still sends
        # the last one; with asyncio's 64 KiB mark it waited for each batch to
        # drain first. Only a limit: nothing is allocated for it.
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError):
        pass


def _shrink_tls_buffer(transport: asyncio.BaseTransport) -> None:
    """Give an SSL transport's protocol a TLS_READ_BUFFER read buffer instead
    of asyncio's 256 KiB (Python 3.11+ SSLProtocol: get_buffer() sizes reads
    by max_size and reuses _ssl_buffer)."""
    protocol = getattr(transport, "_ssl_protocol", None)
    if protocol is None or not hasattr(protocol, "_ssl_buffer"):
        return
    if getattr(protocol, "max_size", 0) > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER
        protocol._ssl_buffer = bytearray(TLS_READ_BUFFER)
        protocol._ssl_buffer_view = memoryview(protocol._ssl_buffer)
