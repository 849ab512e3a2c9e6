"""Delivery to the recipient's mailbox database: the one helper that SMTP,
LMTP, `mailgate deliver` and DSNs use (IMAP APPEND writes to the session's
own store).

The bytes are written once, to the directory's blob folder (the relay
queue points there too), copied to a database's own blob folder when it
has one, summarized once, and filed per database.

A mailbox being moved (directory/stores.py MOVING_SCOPE) refuses mail for
the time of the move: MailboxInTransit, a temporary failure. A delivery
filed directly checks the mark in the transaction that files it (the
directory's write lock orders it with the mark); one filed in another
database cannot, so if a move started meanwhile it is settled afterwards
(see _settle): it is never lost, and not stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .delivery import Source, StoredBlob, Summary, file_stored
from .directory.stores import MOVING_SCOPE, MailboxInTransit, MailboxStores, moving_target
from .observability.metrics import record_deliveries
from .storage.base import Store
from .storage.blobs import BlobStore
from .storage.errors import GuardFailed, StorageError
from .storage.models import Account, DeliveryGuard, Folder, Message

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
    refused it (NotFound folder, QuotaExceeded, MailboxInTransit, ...).

    Two ways to file a target. Direct (the usual single-node case: its
    database is the directory store itself, whose guard is serialized):
    one Store.file_message job re-checks the account, the move mark and the
    quota in the transaction that inserts the row, so nothing is looked up
    before and nothing settled after. Routed (any other database): fresh
    lookups first, the row, then _settle for a move that raced with it."""
    staged = await mailboxes.blobs.stage(source)
    blob = StoredBlob(staged.blob_id, staged.size)
    # The bytes become durable on a thread (fsync, rename, directory fsync)
    # while we look the recipients up and parse; no row before they are.
    durable = asyncio.ensure_future(staged.install())
    try:
        direct = [await _is_direct(mailboxes, stale) for stale, _ in targets]
        places = {i: await _resolve(mailboxes, stale, name)
                  for i, (stale, name) in enumerate(targets) if not direct[i]}
        summary = Summary(staged.content)
        if any(direct) or any(isinstance(p, _Place) and not isinstance(p.where, StorageError)
                              and p.where[2] for p in places.values()):
            summary.prepare()  # parse while the disk works (small messages, from memory)
    except BaseException:
        await asyncio.gather(durable, return_exceptions=True)  # never left running unawaited
        raise
    path = await durable
    flags = tuple(flags)
    results: list[Message | StorageError | None] = [None] * len(targets)
    if any(direct):
        value = await summary.of(path, blob.size)
        filed = await asyncio.gather(*(
            _file_direct(mailboxes.directory, blob, value, stale, name, flags, internaldate)
            for (stale, name), is_direct in zip(targets, direct) if is_direct))
        record_deliveries([r for r in filed if r is not None])
        at = iter(filed)
        for i, is_direct in enumerate(direct):
            if is_direct:
                result = next(at)
                if result is None:  # the account changed since RCPT: route it afresh
                    stale, name = targets[i]
                    places[i] = await _resolve(mailboxes, stale, name)
                else:
                    results[i] = result
    if places:
        await _file_routed(mailboxes, blob, path, places, flags, internaldate, summary, results)
    return blob, [r if r is not None else StorageError("not delivered") for r in results]


# How long "this database is the directory store" is remembered. Databases
# are added, never re-pointed (their URL and blob folder are fixed), and
# which database an account is in is re-checked by every direct delivery's
# guard, so this only bounds how long a process trusts its first answer.
DIRECT_DATABASE_TTL_S = 10.0
_direct_cache: weakref.WeakKeyDictionary[MailboxStores, dict[str, tuple[float, bool]]] = \
    weakref.WeakKeyDictionary()


async def _is_direct(mailboxes: MailboxStores, account: Account) -> bool:
    """Whether the account's database (as of RCPT) is the directory store
    with the directory's blobs, on a driver whose guard is serialized."""
    if not getattr(mailboxes.directory, "guard_serialized", False):
        return False
    cache = _direct_cache.setdefault(mailboxes, {})
    name = account.database
    now = time.monotonic()
    hit = cache.get(name)
    if hit is not None and now - hit[0] < DIRECT_DATABASE_TTL_S:
        return hit[1]
    if not name:
        answer = True
    else:
        try:
            database = await mailboxes.database(name)
        except StorageError:
            return False  # the routed path reports the error per recipient
        answer = (database is not None and mailboxes.is_directory(database.url)
                  and mailboxes.blobs_for(database) is mailboxes.blobs)
    cache[name] = (now, answer)
    return answer


async def _file_direct(store: Store, blob: StoredBlob, summary: bytes, account: Account,
                       folder_name: str, flags: tuple[str, ...],
                       internaldate: datetime | None) -> Message | StorageError | None:
    """One guarded file_message; None when the guard found the account
    changed (the caller routes it afresh)."""
    guard = DeliveryGuard(account.address, account.database, MOVING_SCOPE)
    try:
        return await store.file_message(
            account.id, folder_name, blob_id=blob.blob_id, size=blob.size, summary=summary,
            flags=flags, internaldate=internaldate, quota_bytes=account.quota_bytes, guard=guard)
    except GuardFailed as exc:
        if exc.held:
            return MailboxInTransit(f"mailbox {account.address} is being moved")
        return None
    except StorageError as exc:  # refuses this target only
        return exc


async def _file_routed(mailboxes: MailboxStores, blob: StoredBlob, path: Path,
                       places: dict[int, _Place | MailboxInTransit], flags: tuple[str, ...],
                       internaldate: datetime | None, summary: Summary,
                       results: list[Message | StorageError | None]) -> None:
    """File the looked-up targets (index -> place) into results: one
    file_stored per database, then each settled against a racing move."""
    groups: dict[int, list[tuple[int, _Place]]] = {}
    for i, place in places.items():
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
    for i, place in places.items():
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
