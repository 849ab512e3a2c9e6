"""The one way mail enters the store: SMTP, LMTP, `mailgate deliver` and IMAP
APPEND all call deliver().

Order matters for durability: the bytes are written and fsynced (BlobStore)
before the row that points at them commits (append_message). A crash in
between leaves an orphan blob for BlobStore.sweep, never a row without bytes.
"""

from __future__ import annotations

import asyncio
import mmap
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .observability.metrics import record_deliveries
from .storage.base import Store
from .storage.blobs import BlobStore
from .storage.errors import AlreadyExists, NotFound, StorageError
from .storage.models import Account, Folder, Message

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
    _blob, (result,) = await _store_and_file(store, blobs, [(account, folder)], source,
                                             flags, internaldate)
    if isinstance(result, Exception):
        raise result
    return result


@dataclass(frozen=True, slots=True)
class StoredBlob:
    blob_id: str
    size: int


async def deliver_many(
    store: Store,
    blobs: BlobStore,
    targets: Sequence[tuple[Account, str]],
    source: Source,
    *,
    flags: Iterable[str] = (),
    internaldate: datetime | None = None,
) -> tuple[StoredBlob, list[Message | StorageError]]:
    """One message for many (account, folder name) targets (SMTP, LMTP):
    the bytes are written once and summarized once, then filed into each
    folder. Returns the blob (the relay queue points at it too, even with
    no targets) and, per target in order, its Message or the StorageError
    that refused it (NotFound folder, QuotaExceeded, ...)."""
    resolved = [(account, await store.get_folder(account.id, name)) for account, name in targets]
    return await _store_and_file(store, blobs, resolved, source, flags, internaldate)


async def _store_and_file(
    store: Store,
    blobs: BlobStore,
    targets: Sequence[tuple[Account, Folder | None]],
    source: Source,
    flags: Iterable[str],
    internaldate: datetime | None,
) -> tuple[StoredBlob, list[Message | StorageError]]:
    staged = await blobs.stage(source)
    blob = StoredBlob(staged.blob_id, staged.size)
    durable = asyncio.ensure_future(staged.install())  # fsyncs on a thread, meanwhile:
    summary = Summary(staged.content)
    try:
        if any(folder is not None for _, folder in targets):
            summary.prepare()  # parse while the disk works; no row before `durable`
    except BaseException:
        await asyncio.gather(durable, return_exceptions=True)  # never left running unawaited
        raise
    path = await durable
    return blob, await file_stored(store, blob, path, targets, flags, internaldate, summary)


class Summary:
    """A message's summary, parsed once (on first need) however many
    targets, in however many stores, the message is filed into.

    `content` is the stored bytes when the caller still holds them (small
    messages, see StagedBlob.content): parsed from memory, without reading
    the file back, and before the file is even durable (prepare)."""

    def __init__(self, content: bytes | None = None) -> None:
        self._value: bytes | None = None
        self._content = content

    def prepare(self) -> None:
        """Parse now if the bytes are in memory and small enough to parse
        on the event loop."""
        content = self._content
        if self._value is None and content is not None and len(content) <= _INLINE_SUMMARY_MAX:
            from . import mime  # see _summarize_file

            self._value = bytes(mime.summarize(content).to_bytes())
            self._content = None

    async def of(self, path: Path, size: int) -> bytes:
        if self._value is None:
            self.prepare()
        if self._value is None:
            if size <= _INLINE_SUMMARY_MAX:
                self._value = _summarize_file(path, size)
            else:
                self._value = await asyncio.to_thread(_summarize_file, path, size)
        return self._value


async def file_stored(
    store: Store,
    blob: StoredBlob,
    path: Path,
    targets: Sequence[tuple[Account, Folder | None]],
    flags: Iterable[str],
    internaldate: datetime | None,
    summaries: Summary,
) -> list[Message | StorageError]:
    """File a durable blob (at `path`) into each target folder of one store."""
    blob_id, size = blob.blob_id, blob.size
    flags = tuple(flags)
    results: list[Message | StorageError] = []
    for account, folder in targets:
        if folder is None:
            results.append(NotFound(f"{account.address}: no such folder"))
            continue
        summary = await summaries.of(path, size)  # parsed once, only if some target needs it
        try:
            results.append(await store.append_message(
                folder.id,
                blob_id=blob_id,
                size=size,
                summary=summary,
                flags=flags,
                internaldate=internaldate,
                quota_bytes=account.quota_bytes,
            ))
        except StorageError as exc:  # refuses this target only
            results.append(exc)
    record_deliveries(results)  # metrics (observability/metrics.py)
    return results


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
