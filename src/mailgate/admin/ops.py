"""Admin operations: plain async functions, tested directly; the CLI only parses
arguments and prints what these return."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import CONFIG_NAME, Config, load_config, render_config
from ..directory.passwords import hash_password
from ..settings import ImapSettings, PopSettings, SmtpSettings, to_strings
from ..storage.blobs import BlobStore
from ..storage.errors import AlreadyExists, NotFound
from ..storage.models import Account, Message, Role
from ..storage.base import Store
from ..storage.errors import StorageError
from ..storage.urls import store_for_url
from ..transport.certs import describe_certificate, generate_self_signed


class OpError(Exception):
    """A mistake the admin can fix; the CLI prints it without a traceback."""


STANDARD_PORTS = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995,
                  "submission": 587, "smtp": 25, "lmtp": 24}
UNPRIVILEGED_OFFSET = 10000


@dataclass(frozen=True, slots=True)
class InitReport:
    data_dir: Path
    hostname: str
    certificate: str
    generated_certificate: bool
    ports: dict[str, int]
    unprivileged: bool


def choose_ports(unprivileged: bool | None) -> tuple[dict[str, int], bool]:
    if unprivileged is None:
        unprivileged = os.geteuid() != 0 if hasattr(os, "geteuid") else True
    offset = UNPRIVILEGED_OFFSET if unprivileged else 0
    return {name: port + offset for name, port in STANDARD_PORTS.items()}, unprivileged


async def init_data_dir(
    data_dir: Path,
    *,
    hostname: str,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    unprivileged: bool | None = None,
    bind: str = "0.0.0.0",
    force: bool = False,
) -> InitReport:
    if (tls_cert is None) != (tls_key is None):
        raise OpError("--tls-cert and --tls-key go together")
    if data_dir.exists() and any(data_dir.iterdir()):
        if not force:
            raise OpError(f"{data_dir} exists and is not empty; use --force to overwrite it")
        _clear(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    node = hostname.split(".")[0]
    (data_dir / CONFIG_NAME).write_text(render_config(hostname, node), encoding="utf-8")
    config = load_config(data_dir)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    config.blob_dir.mkdir(parents=True, exist_ok=True)
    if tls_cert is not None and tls_key is not None:
        for src in (tls_cert, tls_key):
            if not src.is_file():
                raise OpError(f"{src} does not exist")
        config.tls_cert.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tls_cert, config.tls_cert)
        shutil.copyfile(tls_key, config.tls_key)
        config.tls_key.chmod(0o600)
        generated = False
    else:
        generate_self_signed(hostname, config.tls_cert, config.tls_key)
        generated = True
    ports, unprivileged = choose_ports(unprivileged)
    host = f"[{bind}]" if ":" in bind else bind
    lmtp_host = "127.0.0.1" if bind in ("0.0.0.0", "::") else host
    imap = ImapSettings(ssl_bindings=(f"{host}:{ports['imaps']}",),
                        unencrypted_or_tls_bindings=(f"{host}:{ports['imap']}",))
    pop = PopSettings(ssl_bindings=(f"{host}:{ports['pop3s']}",),
                      unencrypted_or_tls_bindings=(f"{host}:{ports['pop3']}",))
    smtp = SmtpSettings(submission_bindings=(f"{host}:{ports['submission']}",),
                        inbound_bindings=(f"{host}:{ports['smtp']}",),
                        lmtp_bindings=(f"{lmtp_host}:{ports['lmtp']}",))
    async with open_store(config) as (store, _blobs):
        await store.put_settings("imap", to_strings(imap))
        await store.put_settings("pop", to_strings(pop))
        await store.put_settings("smtp", to_strings(smtp))
        from .ops_topology import record_single_node

        await record_single_node(config, store)
    return InitReport(data_dir, hostname, describe_certificate(config.tls_cert), generated, ports, unprivileged)


def _clear(data_dir: Path) -> None:
    for child in data_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextlib.asynccontextmanager
async def open_store(config: Config, *, listen: bool = False) -> AsyncIterator[tuple[Store, BlobStore]]:
    """The directory store ([store] url or path) and this server's blob
    folder. listen: watch for changes (servers; PostgreSQL's LISTEN)."""
    store = store_for_url(config.store_url or "sqlite://" + str(config.store_path), listen=listen)
    try:
        await store.open()
    except StorageError as exc:
        raise OpError(f"cannot open the store: {exc}") from None
    try:
        yield store, BlobStore(config.blob_dir)
    finally:
        await store.close()


def load(data_dir: Path) -> Config:
    return load_config(data_dir)


# --- mailboxes -------------------------------------------------------------

def _check_address(address: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise OpError(f"{address!r} is not an address of the form name@domain")
    return address.lower()


def _check_password(password: str) -> str:
    password = password.rstrip("\r\n")
    if not password:
        raise OpError("the password is empty")
    return password


async def add_mailbox(config: Config, address: str, password: str, role: Role = Role.USER,
                      database: str | None = None) -> Account:
    """database: the mailbox database (default: the directory's default one)."""
    from .ops_topology import create_mailbox

    address = _check_address(address)
    password_hash = hash_password(_check_password(password))
    return await create_mailbox(config, address, password_hash, role, database)


async def list_mailboxes(config: Config, filters: dict[str, object] | None = None) -> list[Account]:
    async with open_store(config) as (store, _):
        accounts = await store.list_accounts()
    for key, value in (filters or {}).items():
        accounts = [a for a in accounts if getattr(a, key) == value]
    return accounts


@dataclass(frozen=True, slots=True)
class MailboxDetails:
    account: Account
    folders: list[tuple[str, int, int]]  # name, messages, octets
    usage: int


async def show_mailbox(config: Config, address: str) -> MailboxDetails:
    from .ops_topology import mailbox_stores

    async with open_store(config) as (directory, blobs), mailbox_stores(config, directory, blobs) as stores:
        account = await _get(directory, address)
        store, _ = await stores.for_account(account)  # folders live in the mailbox's database
        rows = []
        for folder in await store.list_folders(account.id):
            status = await store.folder_status(folder.id)
            rows.append((folder.name, status.messages, status.size))
        return MailboxDetails(account, rows, await store.account_usage(account.id))


async def set_mailbox(config: Config, address: str, changes: dict[str, object]) -> Account:
    """changes: Account field -> new value (None is a value: quota_bytes=None
    means unlimited)."""
    async with open_store(config) as (store, _):
        await _get(store, address)
        if not changes:
            raise OpError("nothing to change: give at least one setting")
        return await store.update_account(address, **changes)


async def set_password(config: Config, address: str, password: str) -> Account:
    new_hash = hash_password(_check_password(password))
    async with open_store(config) as (store, _):
        await _get(store, address)
        return await store.update_account(address, password_hash=new_hash)


async def remove_mailbox(config: Config, address: str) -> None:
    from .ops_topology import remove_mailbox_data

    async with open_store(config) as (store, blobs):
        account = await _get(store, address)
        await remove_mailbox_data(config, store, blobs, account)  # its database's copy
        try:
            await store.delete_account(address)
        except NotFound:
            raise OpError(f"no mailbox {address}") from None


async def _get(store: Store, address: str) -> Account:
    account = await store.get_account(address)
    if account is None:
        raise OpError(f"no mailbox {address}")
    return account


# --- local delivery --------------------------------------------------------

class UnknownRecipient(OpError):
    pass


async def deliver_local(
    config: Config, address: str, source: Iterable[bytes], folder: str = "INBOX",
    flags: Iterable[str] = (), internaldate: datetime | None = None,
) -> Message:
    from .ops_topology import deliver_to_mailbox

    async with open_store(config) as (store, blobs):
        account = await store.get_account(address)
        if account is None:
            raise UnknownRecipient(f"no mailbox {address}")
        # The mailbox's own database (delivery_routing.py); NotFound folder
        # before any byte is read, MailboxInTransit while it moves.
        return await deliver_to_mailbox(config, store, blobs, account, folder, source,
                                        flags=flags, internaldate=internaldate)


# --- protocol settings -------------------------------------------------------

SETTINGS_SCOPES = {"imap": ImapSettings, "pop": PopSettings, "smtp": SmtpSettings}


async def get_protocol_settings(config: Config, scope: str) -> object:
    from ..settings import from_strings

    async with open_store(config) as (store, _):
        return from_strings(SETTINGS_SCOPES[scope], await store.get_settings(scope))


async def set_protocol_settings(config: Config, scope: str, values: dict[str, str]) -> object:
    """Validates the whole resulting settings object before storing anything."""
    from ..settings import SettingsError, from_strings

    async with open_store(config) as (store, _):
        merged = {**await store.get_settings(scope), **values}
        try:
            result = from_strings(SETTINGS_SCOPES[scope], merged)
        except SettingsError as exc:
            raise OpError(str(exc)) from None
        await store.put_settings(scope, values)
        return result
