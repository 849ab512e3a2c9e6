"""Writing IMAP responses to a connection: buffering, streamed literals and
COMPRESS=DEFLATE (RFC 4978)."""

from __future__ import annotations

import zlib

from ..protocol.imap import responses as r
from ..protocol.imap.literal import LiteralStream
from ..protocol.imap.serializer import KEEP_APART, chunks, to_bytes
from .connection import Connection

FLUSH_AT = 256 * 1024
STREAM_BLOCK = 256 * 1024

# Untagged updates that many sessions send alike (10,000 idlers each told
# "* 5 EXISTS" after one delivery) are serialized once; they contain no
# folder names, so UTF8=ACCEPT does not change their bytes.
_SHARED_TYPES = frozenset({r.Exists, r.Recent, r.Expunged})
SHARED_CACHE_SIZE = 1024  # entries; cleared when full (a few per delivery)
_shared_bytes: dict[r.Response, bytes] = {}


class ImapOutput:
    __slots__ = ("conn", "_pending", "_held", "_held_size", "_compressor")  # one per connection

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending = bytearray()
        # Big pieces (serializer.KEEP_APART: the messages of a batch of
        # bodies) wait here as they are, in order after what was pending
        # before them, and go out with one writelines: never copied here.
        self._held: list[bytes] | None = None
        self._held_size = 0
        self._compressor: zlib._Compress | None = None  # type: ignore[name-defined]

    def start_compression(self) -> None:
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, -15)

    @property
    def compressing(self) -> bool:
        return self._compressor is not None

    def queue(self, response: r.Response, *, utf8: bool = False) -> None:
        """Buffer a response that has no streamed literal (untagged updates,
        completions) without a coroutine; flush() or flush_nowait() sends."""
        if type(response) in _SHARED_TYPES:
            data = _shared_bytes.get(response)
            if data is None:
                if len(_shared_bytes) >= SHARED_CACHE_SIZE:
                    _shared_bytes.clear()
                data = _shared_bytes[response] = to_bytes(response)
            self._pending += data
            return
        for piece in chunks(response, utf8=utf8):
            if isinstance(piece, LiteralStream):
                piece.source.close()
                raise TypeError(f"{type(response).__name__} streams a literal: use send()")
            self._pending += piece

    def _hold(self, piece: bytes) -> None:
        held = self._held
        if held is None:
            held = self._held = []
        if self._pending:
            held.append(bytes(self._pending))
            self._held_size += len(self._pending)
            self._pending.clear()
        held.append(piece)
        self._held_size += len(piece)

    def flush_nowait(self) -> bool:
        """Hand the buffer to the transport; True when the caller should
        await drain() (the transport's buffer is over its high-water mark)."""
        if self._held is not None:
            pieces, self._held, self._held_size = self._held, None, 0
            if self._pending:
                pieces.append(bytes(self._pending))
                self._pending.clear()
            self.conn.writelines(pieces)
            return self.conn.must_drain
        if not self._pending:
            return False
        data = bytes(self._pending)
        self._pending.clear()
        if self._compressor is not None:
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        self.conn.write(data)
        return self.conn.must_drain

    async def send(self, response: r.Response, *, utf8: bool = False) -> None:
        if type(response) in _SHARED_TYPES:
            self.queue(response)
            if len(self._pending) >= FLUSH_AT:
                await self.flush()
            return
        for piece in chunks(response, utf8=utf8):
            if isinstance(piece, LiteralStream):
                await self._copy_stream(piece)
                continue
            if len(piece) >= KEEP_APART and self._compressor is None:
                self._hold(piece)
            else:
                self._pending += piece
            if len(self._pending) + self._held_size >= FLUSH_AT:
                await self.flush()

    async def _copy_stream(self, stream: LiteralStream) -> None:
        remaining = stream.size
        try:
            while remaining > 0:
                block = stream.source.read(min(STREAM_BLOCK, remaining))
                if not block:
                    raise OSError("message file ended before its announced size")
                remaining -= len(block)
                self._pending += block
                if len(self._pending) >= FLUSH_AT:
                    await self.flush()
        finally:
            stream.source.close()

    async def flush(self) -> None:
        if self.flush_nowait():
            await self.conn.drain()
