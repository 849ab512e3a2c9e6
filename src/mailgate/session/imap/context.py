"""Per-connection IMAP session state shared by the command handlers.

Handlers are async generators: `async def handle_x(ctx, cmd) -> AsyncIterator[Response]`.
They yield untagged responses as they go (so a FETCH of 100,000 messages
streams) and end with the command's Tagged completion. They never touch the
connection: the driver (transport/imap_driver.py) serializes and writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol.imap.responses import Response
from ...directory.stores import check_not_moving
from ...runtime import Runtime
from ...storage.models import Account
from .selected import SelectedFolder

HIERARCHY_SEPARATOR = "/"


@dataclass(slots=True)  # one per connection: 10,000 idlers
class SessionContext:
    runtime: Runtime
    tls_active: bool = False
    can_start_tls: bool = False
    remote: str = ""  # client address, for logs and limits
    account: Account | None = None
    selected: SelectedFolder | None = None
    # ENABLEd extensions (RFC 5161): "CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4rev2"
    enabled: set[str] = field(default_factory=set)
    # CONDSTORE is also switched on by any command that uses MODSEQ (RFC 7162 3.1).
    condstore_used: bool = False
    client_id: tuple[tuple[str, str | None], ...] | None = None
    # The tracked connection (policy.connections.Client): per-user limit,
    # throttling by client IP. None when driven without a connection (tests).
    client: Any = None
    # Called when the selected folder changes in the store (after the view is
    # marked dirty): the driver's wake-up, so IDLE waits on one future
    # instead of a task per source (transport/imap_driver.py).
    wake: Callable[[], None] | None = None
    watch_callback: Callable[[], None] | None = None
    # The mailbox's database (store, blobs), bound after login: folders and
    # messages live there, accounts and settings in runtime.store.
    mailbox: tuple[Any, Any] | None = None

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4rev2" in self.enabled

    @property
    def condstore(self) -> bool:
        return self.condstore_used or "CONDSTORE" in self.enabled or "QRESYNC" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    @property
    def store(self):
        return self.mailbox[0] if self.mailbox is not None else self.runtime.store

    @property
    def blobs(self):
        return self.mailbox[1] if self.mailbox is not None else self.runtime.blobs

    async def bind_mailbox(self) -> None:
        """Open the logged-in account's mailbox database. Raises StorageError
        (MailboxInTransit while the mailbox is being moved)."""
        assert self.account is not None
        await check_not_moving(self.runtime.directory, self.account)
        self.mailbox = await self.runtime.mailbox_store(self.account)

    @property
    def serves_mail(self) -> bool:
        """Whether this connection reads mail here after login: one-process
        mode and backend listeners do; a frontend hands the client over."""
        return "all" in self.runtime.roles or bool(getattr(self.client, "backend", False))


Handler = Callable[[SessionContext, object], AsyncIterator[Response]]


def canonical_folder_name(name: str) -> str:
    """INBOX is case-insensitive (RFC 3501 5.1), including as a hierarchy root."""
    if name.upper() == "INBOX":
        return "INBOX"
    if name[:6].upper() == "INBOX" + HIERARCHY_SEPARATOR:
        return "INBOX" + name[5:]
    return name
