"""Admin operations on the deployment's topology: servers, mailbox
databases, where mailboxes live, and moving a mailbox between databases.
Plain async functions (tested directly); admin/cli_topology.py prints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..directory.move import copy_mailbox
from ..directory.stores import MOVING_SCOPE, TOPOLOGY_SCOPE, MailboxStores, moving_target
from ..directory.topology import default_database
from ..policy.state import DISCONNECT_SCOPE, MOVED_MARK
from ..settings import ImapSettings, PopSettings, from_strings
from ..storage.base import Store
from ..storage.blobs import BlobStore
from ..storage.errors import AlreadyExists, NotFound, StorageError
from ..storage.models import Account, MailboxDatabase, MailServer, Message, Role
from ..storage.urls import check_url, open_store_url
from .ops import OpError, _get, open_store

log = logging.getLogger("mailgate.admin")

SINGLE_NODE_DATABASE = "DB01"  # what `mailgate init` creates
# Between marking a mailbox "moving" and its last copy pass: running servers
# end its sessions within their next settings tick (1 s) and deliveries that
# passed the check before the mark finish.
MOVE_SETTLE_SECONDS = 2.5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@contextlib.asynccontextmanager
async def mailbox_stores(config: Config, directory: Store, blobs: BlobStore) -> AsyncIterator[MailboxStores]:
    stores = MailboxStores(directory, config.store_url, blobs, listen=False)
    try:
        yield stores
    finally:
        await stores.close()


# --- init, mailbox add / remove / deliver ------------------------------------------

async def record_single_node(config: Config, store: Store) -> None:
    """At init: this node as a server, and "DB01" (the directory store itself,
    active here) as the default database."""
    from ..directory.topology import this_server
    from ..runtime import Runtime

    runtime = Runtime(store, BlobStore(config.blob_dir), config.hostname, None,
                      imap=from_strings(ImapSettings, await store.get_settings("imap")),
                      pop=from_strings(PopSettings, await store.get_settings("pop")),
                      node=config.node, site=config.site)
    runtime.backend_address = config.backend_address
    await store.put_server(this_server(runtime, ("frontend", "backend")))
    try:
        await store.create_database(MailboxDatabase(SINGLE_NODE_DATABASE, config.store_url,
                                                    str(config.blob_dir), config.node))
    except AlreadyExists:
        pass
    await store.put_settings(TOPOLOGY_SCOPE, {"default_database": SINGLE_NODE_DATABASE})


async def create_mailbox(config: Config, address: str, password_hash: str, role: Role,
                         database: str | None) -> Account:
    from ..delivery import ensure_default_folders

    async with open_store(config) as (directory, blobs), mailbox_stores(config, directory, blobs) as stores:
        name = database if database is not None else await default_database(directory)
        if name and await directory.get_database(name) is None:
            raise OpError(f"no mailbox database {name}")
        try:
            account = await directory.create_account(address, password_hash, role=role, home_server=config.node)
        except AlreadyExists:
            raise OpError(f"mailbox {address} exists already") from None
        if name:
            account = await directory.update_account(address, database=name)
        store, _ = await stores.for_account(account)
        if store is not directory:
            await store.import_account(account)
        await ensure_default_folders(store, account)
        return account


async def remove_mailbox_data(config: Config, directory: Store, blobs: BlobStore, account: Account) -> None:
    """The mailbox's folders and messages in its database (the directory's
    own rows go with delete_account)."""
    async with mailbox_stores(config, directory, blobs) as stores:
        try:
            store, _ = await stores.for_account(account)
        except StorageError as exc:
            raise OpError(f"cannot reach the database of {account.address}: {exc}") from None
        if store is not directory:
            with contextlib.suppress(NotFound):
                await store.delete_account(account.address)


async def deliver_to_mailbox(config: Config, directory: Store, blobs: BlobStore, account: Account,
                             folder: str, source: Iterable[bytes], *, flags: Iterable[str] = (),
                             internaldate: datetime | None = None) -> Message:
    from ..delivery_routing import deliver_routed

    async with mailbox_stores(config, directory, blobs) as stores:
        store, _ = await stores.for_account(account)
        if await store.get_folder(account.id, folder) is None:
            raise NotFound(f"{account.address}: folder {folder!r}")  # before reading the message
        _blob, (result,) = await deliver_routed(stores, [(account, folder)], source, flags=flags,
                                                internaldate=internaldate)
    if isinstance(result, StorageError):
        raise result
    return result


# --- servers --------------------------------------------------------------------

async def list_servers(config: Config) -> list[MailServer]:
    async with open_store(config) as (directory, _):
        return await directory.list_servers()


@dataclass(frozen=True, slots=True)
class ServerDetails:
    server: MailServer
    databases: list[MailboxDatabase]  # active on it


async def show_server(config: Config, name: str) -> ServerDetails:
    async with open_store(config) as (directory, _):
        server = await directory.get_server(name)
        if server is None:
            raise OpError(f"no server {name} (servers register when `mailgate serve` starts)")
        active = [d for d in await directory.list_databases() if d.server == name]
        return ServerDetails(server, active)


# --- databases --------------------------------------------------------------------

async def add_database(config: Config, name: str, url: str, blob_dir: str | None = None,
                       server: str | None = None) -> MailboxDatabase:
    """Creates the store (schema) at url and records the database, active on
    `server` (default: this node)."""
    if not _NAME.match(name):
        raise OpError(f"{name!r} is not a database name (letters, digits, '.', '_', '-')")
    try:
        check_url(url)
    except StorageError as exc:
        raise OpError(str(exc)) from None
    server = server or config.node
    folder = str(Path(blob_dir).expanduser().resolve()) if blob_dir else str(config.blob_dir)
    async with open_store(config) as (directory, _):
        if await directory.get_server(server) is None:
            raise OpError(f"no server {server} (servers register when `mailgate serve` starts)")
        if await directory.get_database(name) is not None:
            raise OpError(f"database {name} exists already")
        try:  # creates the schema now, so a bad URL is found here, not at a login
            store = await open_store_url(url, listen=False)
            await store.close()
        except (StorageError, OSError) as exc:
            raise OpError(f"cannot open {url}: {exc}") from None
        Path(folder).mkdir(parents=True, exist_ok=True)
        try:
            created = await directory.create_database(MailboxDatabase(name, url, folder, server))
        except AlreadyExists:
            raise OpError(f"database {name} exists already") from None
        if not await default_database(directory):  # a directory set up by hand: the first is the default
            await directory.put_settings(TOPOLOGY_SCOPE, {"default_database": name})
        return created


async def list_databases(config: Config) -> list[tuple[MailboxDatabase, int]]:
    """Each database with its number of mailboxes."""
    async with open_store(config) as (directory, _):
        default = await default_database(directory)
        accounts = await directory.list_accounts()
        return [(d, sum(1 for a in accounts if (a.database or default) == d.name))
                for d in await directory.list_databases()]


async def mount_database(config: Config, name: str, server: str) -> MailboxDatabase:
    """Make the database active on `server` (failover): frontends route its
    mailboxes' next logins there; open sessions elsewhere are told to reconnect."""
    async with open_store(config) as (directory, _):
        if await directory.get_server(server) is None:
            raise OpError(f"no server {server} (servers register when `mailgate serve` starts)")
        try:
            mounted = await directory.mount_database(name, server)
        except NotFound:
            raise OpError(f"no mailbox database {name}") from None
        default = await default_database(directory)
        for account in await directory.list_accounts():
            if (account.database or default) == name:
                await _end_sessions(directory, account.address)
        return mounted


async def _end_sessions(directory: Store, address: str) -> None:
    """Every running server ends the mailbox's sessions with a reconnect
    reply (IMAP * BYE, POP3 -ERR [SYS/TEMP]); policy/state.py."""
    current = (await directory.get_settings(DISCONNECT_SCOPE)).get(address, "0")
    number = current.split(":", 1)[0]
    generation = int(number) + 1 if number.isdigit() else 1
    await directory.put_settings(DISCONNECT_SCOPE, {address: f"{generation}{MOVED_MARK}"})


# --- moving a mailbox -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MoveReport:
    address: str
    source: str
    target: str
    folders: int
    messages: int
    final_pass_folders: int


async def move_mailbox(config: Config, address: str, target: str, *,
                       settle_seconds: float = MOVE_SETTLE_SECONDS) -> MoveReport:
    """Copy everything, mark the mailbox moving (deliveries and logins wait),
    end its sessions, copy what changed, switch its database, then remove
    the old copy."""
    async with open_store(config) as (directory, blobs), mailbox_stores(config, directory, blobs) as stores:
        account = await _get(directory, address)
        address = account.address
        source = account.database or await default_database(directory)
        database = await directory.get_database(target)
        if database is None:
            raise OpError(f"no mailbox database {target}")
        if source == target:
            raise OpError(f"mailbox {address} is in {target} already")
        if await moving_target(directory, address):
            raise OpError(f"mailbox {address} is being moved already")
        try:
            src, src_blobs = await stores.for_account(account)
            dst, dst_blobs = await stores.store_for(database), stores.blobs_for(database)
        except StorageError as exc:
            raise OpError(f"cannot open the databases: {exc}") from None
        first = last = None
        if dst is not src:
            await dst.import_account(account)
            await dst.delete_mailbox_data(account.id)  # what an interrupted move left
            first = await copy_mailbox(src, src_blobs, dst, dst_blobs, account.id)
        await directory.put_settings(MOVING_SCOPE, {address: target})
        try:
            await _end_sessions(directory, address)
            await asyncio.sleep(settle_seconds)
            if first is not None:
                last = await copy_mailbox(src, src_blobs, dst, dst_blobs, account.id, first.heads)
            await directory.update_account(address, database=target)  # the switch
        finally:
            await directory.put_settings(MOVING_SCOPE, {address: ""})
        await _end_sessions(directory, address)  # anything that slipped in: reconnect
        if dst is not src:
            await src.delete_mailbox_data(account.id)
            if src is not directory:
                with contextlib.suppress(NotFound):
                    await src.delete_account(address)
        log.info("moved mailbox %s from %s to %s", address, source or "(directory)", target)
        return MoveReport(address, source, target, first.folders_copied if first else 0,
                          first.messages_copied if first else 0, last.folders_copied if last else 0)
