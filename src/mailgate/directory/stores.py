"""Which store holds a mailbox: the directory names each account's mailbox
database; this opens (once, then cached) the database's store and blob
folder. A database whose URL is the directory's own store is the directory
store itself (the single-machine default, "DB01" at init).

Also the directory's marks that delivery and logins consult while a
mailbox moves between databases.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ..storage.base import Store
from ..storage.blobs import BlobStore
from ..storage.errors import StorageError
from ..storage.models import Account, MailboxDatabase
from ..storage.urls import normalize, open_store_url

# Settings scopes in the directory (shared by every server).
MOVING_SCOPE = "moving"  # mailbox address -> target database, while it moves
TOPOLOGY_SCOPE = "topology"  # "default_database": where `mailbox add` puts mailboxes


class MailboxInTransit(StorageError):
    """The mailbox is being moved between databases: try again shortly
    (SMTP/LMTP 451 4.2.0, `mailgate deliver` 75, logins a temporary NO/-ERR)."""


class TopologyError(StorageError):
    """The directory names a database or server that does not exist."""


async def moving_target(directory: Store, address: str) -> str | None:
    """The database a mailbox is moving to, or None when it is not moving."""
    return (await directory.get_settings(MOVING_SCOPE)).get(address.lower()) or None


async def check_not_moving(directory: Store, account: Account) -> None:
    if await moving_target(directory, account.address):
        raise MailboxInTransit(f"mailbox {account.address} is being moved; try again later")


class MailboxStores:
    """Opens and caches the stores of mailbox databases for one process."""

    def __init__(self, directory: Store, directory_url: str, blobs: BlobStore, *,
                 listen: bool = True) -> None:
        self.directory = directory
        self.directory_url = directory_url
        self.blobs = blobs
        self._listen = listen  # False for short-lived CLI processes
        self._stores: dict[str, Store] = {}  # normalized URL -> open store
        self._blobs: dict[str, BlobStore] = {}  # real path -> its BlobStore
        self._lock = asyncio.Lock()

    def is_directory(self, url: str) -> bool:
        return bool(self.directory_url) and normalize(url) == normalize(self.directory_url)

    def blobs_for(self, database: MailboxDatabase) -> BlobStore:
        if not database.blob_dir or _same_dir(database.blob_dir, self.blobs.root):
            return self.blobs
        key = os.path.realpath(database.blob_dir)
        blobs = self._blobs.get(key)
        if blobs is None:
            blobs = self._blobs[key] = BlobStore(database.blob_dir)
        return blobs

    async def store_for(self, database: MailboxDatabase) -> Store:
        if self.is_directory(database.url):
            return self.directory
        key = normalize(database.url)
        async with self._lock:  # two logins at once open one store
            store = self._stores.get(key)
            if store is None:
                store = await open_store_url(database.url, listen=self._listen)
                self._stores[key] = store
        return store

    async def database(self, name: str) -> MailboxDatabase | None:
        return await self.directory.get_database(name) if name else None

    async def for_database(self, name: str) -> tuple[Store, BlobStore]:
        """The store and blobs of a database ("": the directory store)."""
        if not name:
            return self.directory, self.blobs
        database = await self.directory.get_database(name)
        if database is None:
            raise TopologyError(f"no mailbox database {name!r}")
        return await self.store_for(database), self.blobs_for(database)

    async def for_account(self, account: Account) -> tuple[Store, BlobStore]:
        return await self.for_database(account.database)

    async def referenced_blob_ids(self, root: Path) -> set[str] | None:
        """Blob ids referenced by every database whose blobs live in `root`
        (for the orphan sweep of a shared folder); None when one of them
        cannot be read (then nothing may be swept)."""
        seen: set[str] = set(await self.directory.referenced_blob_ids())
        try:
            for database in await self.directory.list_databases():
                blobs = self.blobs_for(database)
                if not _same_dir(blobs.root, root) or self.is_directory(database.url):
                    continue
                seen |= await (await self.store_for(database)).referenced_blob_ids()
        except (StorageError, OSError):
            return None
        return seen

    async def close(self) -> None:
        stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            await store.close()


def _same_dir(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
