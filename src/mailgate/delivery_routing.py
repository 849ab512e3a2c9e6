"""Delivery to the recipient's mailbox database: the one helper that SMTP,
LMTP, `mailgate deliver` and DSNs use (IMAP APPEND writes to the session's
own store).

The bytes are written once, to the directory's blob folder (the relay
queue points there too), copied to a database's own blob folder when it
has one, summarized once, and filed per database.

A mailbox being moved (directory/stores.py MOVING_SCOPE) refuses mail for
the time of the move: MailboxInTransit, a temporary failure. A delivery
that committed while a move started is settled afterwards (see _settle):
it is never lost, and not stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from .delivery import Source, StoredBlob, Summary, file_stored
from .directory.stores import MailboxInTransit, MailboxStores, moving_target
from .storage.blobs import BlobStore
from .storage.errors import StorageError
from .storage.models import Account, Folder, Message

log = logging.getLogger("mailgate.delivery")

SETTLE_TIMEOUT_S = 60.0  # how long a delivery waits for a move it raced with
_SETTLE_POLL_S = 0.1


async def deliver_routed(
    mailboxes: MailboxStores,
    targets: Sequence[tuple[Account, str]],
    source: Source,
    *,
    flags: Iterable[str] = (),
    internaldate: datetime | None = None,
) -> tuple[StoredBlob, list[Message | StorageError]]:
    """deliver_many's contract (delivery.py), each target in its own
    database: per target in order, its Message or the StorageError that
    refused it (NotFound folder, QuotaExceeded, MailboxInTransit, ...)."""
    directory = mailboxes.directory
    blob_id, size, path = await mailboxes.blobs.write_stream(source)
    blob = StoredBlob(blob_id, size)
    summary = Summary()
    flags = tuple(flags)
    results: list[Message | StorageError | None] = [None] * len(targets)
    groups: dict[str, list[tuple[int, Account, str]]] = {}
    for i, (stale, folder_name) in enumerate(targets):
        # Fresh from the directory: the database may have changed since RCPT.
        account = await directory.get_account(stale.address) or stale
        if await moving_target(directory, account.address):
            results[i] = MailboxInTransit(f"mailbox {account.address} is being moved")
            continue
        groups.setdefault(account.database, []).append((i, account, folder_name))
    for database, members in groups.items():
        try:
            store, blobs = await mailboxes.for_database(database)
            local = path
            if blobs is not mailboxes.blobs:
                local = await copy_blob(mailboxes.blobs, blobs, blob_id)
            resolved: list[tuple[Account, Folder | None]] = [
                (account, await store.get_folder(account.id, name)) for _, account, name in members]
            filed = await file_stored(store, blob, local, resolved, flags, internaldate, summary)
        except StorageError as exc:  # this database is unreachable: its recipients retry
            filed = [exc] * len(members)
        for (i, account, name), result in zip(members, filed):
            if isinstance(result, Message):
                result = await _settle(mailboxes, account, name, result)
            elif await _moved_since(mailboxes, account):
                # Refused by a database the mailbox was leaving (its folder
                # already removed, say): a temporary failure, not a bounce.
                result = MailboxInTransit(f"mailbox {account.address} moved during delivery")
            results[i] = result
    return blob, [r if r is not None else StorageError("not delivered") for r in results]


async def _moved_since(mailboxes: MailboxStores, account: Account) -> bool:
    try:
        now = await mailboxes.directory.get_account(account.address)
        moving = await moving_target(mailboxes.directory, account.address)
    except StorageError:
        return False
    return bool(moving) or (now is not None and now.database != account.database)


async def _settle(mailboxes: MailboxStores, account: Account, folder_name: str,
                  message: Message) -> Message | StorageError:
    """After the commit: if no move started, the message stays where it is
    (a move that starts later copies it). If one did, it may or may not have
    copied the message; wait for it to end and make sure the message is in
    the database the mailbox ended up in, exactly once."""
    directory = mailboxes.directory
    now = await directory.get_account(account.address)
    moving = await moving_target(directory, account.address)
    if now is not None and not moving and now.database == account.database:
        return message
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while moving and time.monotonic() < deadline:
        await asyncio.sleep(_SETTLE_POLL_S)
        moving = await moving_target(directory, account.address)
    now = await directory.get_account(account.address)
    if moving or now is None:
        # Still moving (or removed meanwhile): report a temporary failure; the
        # sender retries. At worst the mailbox gets the message twice.
        return MailboxInTransit(f"mailbox {account.address} is being moved")
    if now.database == account.database:
        return message  # the move did not happen (failed or was undone)
    store, blobs = await mailboxes.for_database(now.database)
    folder = await store.get_folder(now.id, folder_name)
    if folder is not None:
        copied = await store.get_messages(folder.id, [message.uid])
        if copied and copied[0].blob_id == message.blob_id:
            return copied[0]  # the move's last pass took it along
    if folder is None:
        folder = await store.get_folder(now.id, "INBOX")
        if folder is None:
            return StorageError(f"{account.address}: no INBOX in {now.database}")
    if blobs is not mailboxes.blobs:
        await copy_blob(mailboxes.blobs, blobs, message.blob_id)
    log.info("delivery to %s raced with its move: filed again in %s", account.address, now.database)
    return await store.append_message(
        folder.id, blob_id=message.blob_id, size=message.size, summary=message.summary,
        flags=message.flags, internaldate=message.internaldate, quota_bytes=None)


async def copy_blob(src: BlobStore, dst: BlobStore, blob_id: str) -> Path:
    """Make a blob durable in another blob folder (same id: content-addressed);
    returns its path there."""
    if dst.exists(blob_id):
        return dst.path(blob_id)

    def chunks() -> Iterator[bytes]:
        with src.open(blob_id) as fh:
            while block := fh.read(256 * 1024):
                yield block

    got, _size, path = await dst.write_stream(chunks())
    if got != blob_id:
        raise StorageError(f"blob {blob_id} changed while copying (got {got})")
    return path
