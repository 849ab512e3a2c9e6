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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .delivery import Source, StoredBlob, Summary, file_stored
from .directory.stores import MailboxInTransit, MailboxStores, moving_target
from .storage.base import Store
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
    staged = await mailboxes.blobs.stage(source)
    blob = StoredBlob(staged.blob_id, staged.size)
    # The bytes become durable on a thread (fsync, rename, directory fsync)
    # while we look the recipients up; no row is written before they are.
    durable = asyncio.ensure_future(staged.install())
    try:
        places = [await _resolve(mailboxes, stale, name) for stale, name in targets]
        summary = Summary(staged.content)
        if any(isinstance(p, _Place) and not isinstance(p.where, StorageError) and p.where[2]
               for p in places):
            summary.prepare()  # parse while the disk works (small messages, from memory)
    except BaseException:
        await asyncio.gather(durable, return_exceptions=True)  # never left running unawaited
        raise
    path = await durable
    flags = tuple(flags)
    results: list[Message | StorageError | None] = [None] * len(targets)
    # One file_stored per database: one summary, the rows filed together.
    groups: dict[int, list[tuple[int, _Place]]] = {}
    for i, place in enumerate(places):
        if isinstance(place, MailboxInTransit):
            results[i] = place
        elif isinstance(place.where, StorageError):
            results[i] = place.where
        else:
            groups.setdefault(id(place.where[0]), []).append((i, place))
    for members in groups.values():
        store, blobs, _ = members[0][1].where  # type: ignore[misc]
        try:
            local = path
            if blobs is not mailboxes.blobs:
                local = await copy_blob(mailboxes.blobs, blobs, blob.blob_id)
            filed = await file_stored(
                store, blob, local, [(p.account, p.where[2]) for _, p in members],  # type: ignore[index]
                flags, internaldate, summary)
        except StorageError as exc:  # this database is unreachable: its recipients retry
            filed = [exc] * len(members)
        for (i, _), result in zip(members, filed):
            results[i] = result
    for i, place in enumerate(places):
        result = results[i]
        if isinstance(place, MailboxInTransit):
            continue
        if isinstance(result, Message):
            results[i] = await _settle(mailboxes, place.account, place.folder_name, result)
        elif await _moved_since(mailboxes, place.account):
            # Refused by a database the mailbox was leaving (its folder
            # already removed, say): a temporary failure, not a bounce.
            results[i] = MailboxInTransit(
                f"mailbox {place.account.address} moved during delivery")
    return blob, [r if r is not None else StorageError("not delivered") for r in results]


@dataclass(frozen=True, slots=True)
class _Place:
    """Where one target is filed: its fresh account, and its database's
    store, blobs and folder (None: no such folder), or why not."""

    account: Account
    folder_name: str
    where: tuple[Store, BlobStore, Folder | None] | StorageError


async def _resolve(mailboxes: MailboxStores, stale: Account,
                   folder_name: str) -> _Place | MailboxInTransit:
    """The target's fresh account and folder, or MailboxInTransit if its
    mailbox is moving. The three questions (account, move mark, folder) go
    to the stores together, one round trip of waiting: the folder is looked
    up in the database the account had at RCPT, which is still its database
    unless it moved meanwhile, and then it is looked up again."""
    directory = mailboxes.directory
    moving = asyncio.ensure_future(moving_target(directory, stale.address))
    guess = asyncio.ensure_future(_folder(mailboxes, stale, folder_name))
    try:
        # Fresh from the directory: the database may have changed since RCPT.
        account = await directory.get_account(stale.address) or stale
    finally:
        guessed = (await asyncio.gather(guess, return_exceptions=True))[0]
        moving_to = await moving
    if moving_to:
        return MailboxInTransit(f"mailbox {account.address} is being moved")
    if (account.database, account.id) != (stale.database, stale.id):
        guessed = await _folder(mailboxes, account, folder_name)
    elif isinstance(guessed, BaseException) and not isinstance(guessed, StorageError):
        raise guessed
    return _Place(account, folder_name, guessed)


async def _folder(mailboxes: MailboxStores, account: Account,
                  folder_name: str) -> tuple[Store, BlobStore, Folder | None] | StorageError:
    try:
        store, blobs = await mailboxes.for_database(account.database)
        return store, blobs, await store.get_folder(account.id, folder_name)
    except StorageError as exc:  # this database is unreachable: its recipients retry
        return exc


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
    moving_now = asyncio.ensure_future(moving_target(directory, account.address))
    try:
        now = await directory.get_account(account.address)
    finally:
        moving = await moving_now
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
