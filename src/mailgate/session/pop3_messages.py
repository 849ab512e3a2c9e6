"""Reading one maildrop message for RETR and TOP.

A download is thousands of RETRs of mostly small messages, so a small
message is read whole with one open/read/close on the event loop (it is in
the page cache, and a thread hop or a file object's extra syscalls would cost
more than the read) and answered as one in-memory Body. A large message is
streamed from a worker thread in chunks, with back-pressure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ..protocol.pop3 import TopFilter
from ..storage.blobs import BlobStore
from ..storage.errors import StorageError
from .pop3_maildrop import Entry

INLINE_READ_MAX = 128 * 1024  # messages up to this size are read whole, inline
READ_CHUNK = 256 * 1024  # read size when streaming a larger message



def read_whole(blobs: BlobStore, entry: Entry) -> bytes:
    """The entry's stored bytes (exactly entry.size of them). Raises
    StorageError when the blob is missing, unreadable or shorter."""
    return blobs.read_whole(entry.blob_id, entry.size)


async def stream_chunks(blobs: BlobStore, entry: Entry, top: TopFilter | None) -> AsyncIterator[bytes]:
    """The stored bytes of a large message, read on a worker thread. The file
    is opened on the first read and closed at the end or when the consumer
    stops early (aclose)."""
    remaining = entry.size
    handle = blobs.open(entry.blob_id)
    try:
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK, remaining))
            if not chunk:
                raise StorageError(f"blob {entry.blob_id} is shorter than its size")
            remaining -= len(chunk)
            if top is not None:
                chunk = top.feed(chunk)
            if chunk:
                yield chunk
            if top is not None and top.done:
                return
    finally:
        handle.close()
