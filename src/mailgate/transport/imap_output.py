"""Writing IMAP responses to a connection: buffering, streamed literals and
COMPRESS=DEFLATE (RFC 4978)."""

from __future__ import annotations

import zlib

from ..protocol.imap import responses as r
from ..protocol.imap.literal import LiteralStream
from ..protocol.imap.serializer import chunks
from .connection import Connection

FLUSH_AT = 64 * 1024
STREAM_BLOCK = 256 * 1024


class ImapOutput:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._pending = bytearray()
        self._compressor: zlib._Compress | None = None  # type: ignore[name-defined]

    def start_compression(self) -> None:
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, -15)

    @property
    def compressing(self) -> bool:
        return self._compressor is not None

    async def send(self, response: r.Response, *, utf8: bool = False) -> None:
        for piece in chunks(response, utf8=utf8):
            if isinstance(piece, LiteralStream):
                await self._copy_stream(piece)
            else:
                self._pending += piece
                if len(self._pending) >= FLUSH_AT:
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
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        if self._compressor is not None:
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        self.conn.write(data)
        await self.conn.drain()
