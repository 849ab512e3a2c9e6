"""What every protocol driver of a running server shares."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from .directory.stores import MailboxStores
from .policy.state import PolicyState
from .session.changes import ChangeHub
from .settings import ImapSettings, PopSettings, SmtpSettings
from .storage.base import Store
from .storage.blobs import BlobStore
from .storage.models import Account


@dataclass
class Runtime:
    store: Store
    blobs: BlobStore
    hostname: str
    tls_context: ssl.SSLContext | None
    imap: ImapSettings = field(default_factory=ImapSettings)
    pop: PopSettings = field(default_factory=PopSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    # Limits, throttling, protocol logs, services, disconnects (policy/state.py).
    policy: PolicyState = field(default_factory=PolicyState)
    # What this node does: {"all"} (one process, no proxy hop), or any of
    # "frontend" (client listeners, proxying after login) and "backend"
    # (proxied logins only, on the ProxyTargetPort listeners).
    roles: frozenset[str] = frozenset({"all"})
    proxy_secret: str = ""  # the deployment's proxy credential (proxy/credentials.py)
    backend_address: str = "127.0.0.1"  # where this node's backend listeners bind
    backend_tls: ssl.SSLContext | None = None  # how frontends check backends (proxy/backend_link.py)
    _hub: ChangeHub | None = None
    # Topology (directory/): this server's name and site, the directory
    # store's URL (to recognise a database that is the directory store).
    node: str = ""
    site: str = ""
    directory_url: str = ""
    _mailboxes: MailboxStores | None = None
    _hubs: dict[int, ChangeHub] = field(default_factory=dict)

    @property
    def changes(self) -> ChangeHub:
        """Per-folder change callbacks (created on first use, on the loop)."""
        if self._hub is None:
            self._hub = ChangeHub(self.store)
        return self._hub

    @property
    def directory(self) -> Store:
        """The directory store: accounts, settings, topology (== store)."""
        return self.store

    @property
    def mailboxes(self) -> MailboxStores:
        """Opens and caches the mailbox databases' stores (directory/stores.py)."""
        if self._mailboxes is None:
            self._mailboxes = MailboxStores(self.store, self.directory_url, self.blobs)
        return self._mailboxes

    async def mailbox_store(self, account: Account) -> tuple[Store, BlobStore]:
        """The store and blob folder of the account's mailbox database; the
        directory store and `blobs` for the single-machine default."""
        return await self.mailboxes.for_account(account)

    def changes_for(self, store: Store) -> ChangeHub:
        """The change fan-out of one store (folder ids are per store)."""
        if store is self.store:
            return self.changes
        hub = self._hubs.get(id(store))
        if hub is None:
            hub = self._hubs[id(store)] = ChangeHub(store)
        return hub

    async def close_mailbox_stores(self) -> None:
        if self._mailboxes is not None:
            await self._mailboxes.close()
