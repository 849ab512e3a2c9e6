"""The one way mail enters the store: SMTP, LMTP, `mailgate deliver` and IMAP
APPEND all call deliver().

Order matters for durability: the bytes are written and fsynced (BlobStore)
before the row that points at them commits (append_message). A crash in
between leaves an orphan blob for BlobStore.sweep, never a row without bytes.
"""

from __future__ import annotations

import asyncio
import mmap
from collections.abc import AsyncIterable, Iterable
from datetime import datetime
from pathlib import Path

from .storage.base import Store
from .storage.blobs import BlobStore
from .storage.errors import AlreadyExists, NotFound
from .storage.models import Account, Message

# Summaries of messages above this size are computed on a worker thread so a
# big message does not stall every other session on the event loop; below it
# the thread hop costs more than the parse.
_INLINE_SUMMARY_MAX = 256 * 1024

# (name, special-use) created for every new account, all subscribed.
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)

Source = AsyncIterable[bytes] | Iterable[bytes] | bytes


def _summarize_file(path: Path, size: int) -> bytes:
    # Imported here: mailgate.mime is optional at import time of the storage
    # layer, and this keeps the dependency one-way (mime never sees storage).
    from . import mime

    if size == 0:  # mmap cannot map an empty file
        return bytes(mime.summarize(b"").to_bytes())
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
        # The parser reads through the mapping: the page cache holds the
        # message, not our heap, however large it is.
        return bytes(mime.summarize(view).to_bytes())


async def deliver(
    store: Store,
    blobs: BlobStore,
    account: Account,
    folder_name: str,
    source: Source,
    *,
    flags: Iterable[str] = (),
    internaldate: datetime | None = None,
) -> Message:
    """Store one message in the account's folder and return its record.

    Raises NotFound (no such folder; checked before any bytes are written)
    and QuotaExceeded (checked in the same transaction as the insert).
    """
    folder = await store.get_folder(account.id, folder_name)
    if folder is None:
        raise NotFound(f"{account.address}: folder {folder_name!r}")
    blob_id, size, path = await blobs.write_stream(source)
    if size <= _INLINE_SUMMARY_MAX:
        summary = _summarize_file(path, size)
    else:
        summary = await asyncio.to_thread(_summarize_file, path, size)
    return await store.append_message(
        folder.id,
        blob_id=blob_id,
        size=size,
        summary=summary,
        flags=flags,
        internaldate=internaldate,
        quota_bytes=account.quota_bytes,
    )


async def ensure_default_folders(store: Store, account: Account) -> list[str]:
    """Create the standard folders that are missing and subscribe them all.
    Returns the names created. Safe to run again (and concurrently with
    another process: a folder created meanwhile is not an error)."""
    existing = {f.name for f in await store.list_folders(account.id)}
    created = []
    for name, special in DEFAULT_FOLDERS:
        if name not in existing:
            try:
                await store.create_folder(account.id, name, special)
                created.append(name)
            except AlreadyExists:
                pass
        await store.subscribe(account.id, name)
    return created
