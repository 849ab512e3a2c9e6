"""Copying a mailbox between two mailbox databases, exactly: folders with
their UIDVALIDITY / UIDNEXT / HIGHESTMODSEQ / special use and expunge log,
messages with UID, MODSEQ, flags and keywords, internal date, size,
summary and blob (copied when the databases keep blobs apart), and the
subscriptions. Clients that cached UIDs and MODSEQs resynchronise after a
move as if nothing happened.

The copy runs twice (admin/ops_topology.py move_mailbox): once while the
mailbox is live, and once more under the "moving" mark, when only folders
whose head changed since the first pass are copied again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..delivery_routing import copy_blob
from ..storage.base import Store
from ..storage.blobs import BlobStore
from ..storage.errors import NotFound

BATCH = 500  # messages read and imported per round trip


@dataclass(frozen=True, slots=True)
class FolderHead:
    """What changes whenever a folder's content does (every message write
    bumps HIGHESTMODSEQ; a rename changes UIDVALIDITY)."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None


@dataclass(frozen=True, slots=True)
class CopyResult:
    heads: dict[str, FolderHead]  # folder name -> head as copied
    folders_copied: int
    messages_copied: int


async def copy_mailbox(
    src: Store, src_blobs: BlobStore, dst: Store, dst_blobs: BlobStore, account_id: int,
    previous: dict[str, FolderHead] | None = None,
) -> CopyResult:
    """Make the account's data in dst equal to src. With `previous` (the
    heads of an earlier pass), folders whose head did not change since are
    left alone; folders gone from src are removed from dst."""
    copy_blobs = src_blobs.root.resolve() != dst_blobs.root.resolve()
    heads: dict[str, FolderHead] = {}
    folders = messages = 0
    there = {f.name: f for f in await dst.list_folders(account_id)}
    for folder in await src.list_folders(account_id):
        head = FolderHead(folder.uidvalidity, folder.uidnext, folder.highestmodseq, folder.special_use)
        heads[folder.name] = head
        if previous is not None and previous.get(folder.name) == head and folder.name in there:
            continue
        try:
            # The expunge log and index are read after the head: anything
            # newer raises the copy's UIDNEXT / MODSEQ, and the next pass,
            # seeing a newer head, copies the folder again.
            expunged = await src.expunge_log(folder.id)
            copy = await dst.import_folder(account_id, folder, expunged)
            uids = [m.uid for m in await src.message_index(folder.id)]
        except NotFound:  # deleted meanwhile; the next pass removes it
            heads.pop(folder.name, None)
            continue
        for i in range(0, len(uids), BATCH):
            batch = await src.get_messages(folder.id, uids[i:i + BATCH])
            if copy_blobs:
                for message in batch:
                    await copy_blob(src_blobs, dst_blobs, message.blob_id)
            await dst.import_messages(copy.id, batch)
            messages += len(batch)
        folders += 1
    for name, stale in there.items():
        if name not in heads:
            await dst.delete_folder(stale.id)
    await _copy_subscriptions(src, dst, account_id)
    return CopyResult(heads, folders, messages)


async def _copy_subscriptions(src: Store, dst: Store, account_id: int) -> None:
    want = set(await src.list_subscriptions(account_id))
    have = set(await dst.list_subscriptions(account_id))
    for name in sorted(want - have):
        await dst.subscribe(account_id, name)
    for name in sorted(have - want):
        await dst.unsubscribe(account_id, name)
