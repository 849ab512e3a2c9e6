"""The storage interface: what sessions, delivery and admin operations may use.

Every implementation (memory, sqlite, later postgres) passes the conformance
suite in tests/storage/. Methods are async; implementations raise only the
errors of mailgate.storage.errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .models import (
    Account,
    Change,
    DeliveryGuard,
    FlagMode,
    Folder,
    MessageColumns,
    FolderChanges,
    FolderStatus,
    MailboxDatabase,
    MailServer,
    Message,
    MessageMeta,
    OutboundMessage,
    Role,
    StoreResult,
)

ChangeListener = Callable[[Change], None]


@runtime_checkable
class Store(Protocol):
    # --- lifecycle -------------------------------------------------------
    async def open(self) -> None:
        """Create the schema if needed and start the change watcher."""

    async def close(self) -> None: ...

    # --- accounts --------------------------------------------------------
    async def create_account(
        self,
        address: str,
        password_hash: str,
        role: Role = Role.USER,
        home_server: str = "",
    ) -> Account:
        """Raises AlreadyExists. The address is stored lower-cased."""

    async def get_account(self, address: str) -> Account | None:
        """Case-insensitive lookup."""

    async def get_account_by_id(self, account_id: int) -> Account | None: ...

    async def list_accounts(self) -> list[Account]:
        """Ordered by address."""

    async def update_account(self, address: str, **fields: object) -> Account:
        """Changes any Account field but id/address. Raises NotFound."""

    async def delete_account(self, address: str) -> None:
        """Removes the account with its folders and messages. Raises NotFound.
        Blobs are left to the orphan sweep."""

    # --- settings (central key/value, shared by every server) ------------
    async def get_settings(self, scope: str) -> dict[str, str]: ...

    async def get_setting(self, scope: str, key: str) -> str | None:
        """One value of a scope (None when unset): for a per-login read of a
        scope that may hold an entry per mailbox."""

    async def put_settings(self, scope: str, values: dict[str, str]) -> None:
        """Merges values into the scope ("imap", "pop", "smtp", ...)."""

    # --- topology (directory: servers and mailbox databases) -------------
    async def put_server(self, server: MailServer) -> None:
        """Creates or replaces the server of that name (registration at serve)."""

    async def get_server(self, name: str) -> MailServer | None: ...

    async def list_servers(self) -> list[MailServer]:
        """Ordered by name."""

    async def create_database(self, database: MailboxDatabase) -> MailboxDatabase:
        """Raises AlreadyExists."""

    async def get_database(self, name: str) -> MailboxDatabase | None: ...

    async def list_databases(self) -> list[MailboxDatabase]:
        """Ordered by name."""

    async def mount_database(self, name: str, server: str) -> MailboxDatabase:
        """Makes `server` the one where the database is active. NotFound."""

    # --- mailbox import / export (moving a mailbox between databases) -----
    async def import_account(self, account: Account) -> Account:
        """Ensures this store has the account row with the directory's id
        (every database keys a mailbox by the directory's account id).
        Idempotent; AlreadyExists when the address is taken by another id."""

    async def import_folder(
        self, account_id: int, folder: Folder, expunged: Sequence[tuple[int, int]] = ()
    ) -> Folder:
        """Creates the folder with exactly folder's name, UIDVALIDITY, UIDNEXT,
        HIGHESTMODSEQ and special use, replacing (with its messages) any folder
        of that name, plus its expunge log ((uid, modseq) pairs). The store's
        UIDVALIDITY counter is raised past it. Returns it with this store's id."""

    async def import_messages(self, folder_id: int, messages: Sequence[Message]) -> None:
        """Inserts the records as they are: UID, MODSEQ, flags, internal date,
        size, blob id, summary (their folder_id is ignored). UIDNEXT and
        HIGHESTMODSEQ rise to cover them if needed. NotFound; AlreadyExists
        for a UID the folder holds."""

    async def expunge_log(self, folder_id: int) -> list[tuple[int, int]]:
        """Every (uid, modseq) of the expunge log, ascending UID. NotFound."""

    async def delete_mailbox_data(self, account_id: int) -> None:
        """Removes the account's folders, messages and subscriptions but
        keeps the account row. No error when there is nothing."""

    # --- folders ---------------------------------------------------------
    async def create_folder(
        self, account_id: int, name: str, special_use: str | None = None
    ) -> Folder:
        """New UIDVALIDITY (never reused for that name), UIDNEXT 1,
        HIGHESTMODSEQ 1. Raises AlreadyExists."""

    async def get_folder(self, account_id: int, name: str) -> Folder | None:
        """Exact name; the caller maps "inbox" in any case to "INBOX"."""

    async def get_folder_by_id(self, folder_id: int) -> Folder | None: ...

    async def list_folders(self, account_id: int) -> list[Folder]:
        """Ordered by name."""

    async def rename_folder(self, account_id: int, old: str, new: str) -> None:
        """Renames the folder and its inferiors ("old/..." -> "new/...")
        atomically; each gets a new UIDVALIDITY. NotFound / AlreadyExists."""

    async def delete_folder(self, folder_id: int) -> None:
        """Removes the folder and its messages. NotFound."""

    async def set_special_use(self, folder_id: int, special_use: str | None) -> None: ...

    async def subscribe(self, account_id: int, name: str) -> None: ...

    async def unsubscribe(self, account_id: int, name: str) -> None: ...

    async def list_subscriptions(self, account_id: int) -> list[str]: ...

    # --- messages --------------------------------------------------------
    async def append_message(
        self,
        folder_id: int,
        *,
        blob_id: str,
        size: int,
        summary: bytes,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
        quota_bytes: int | None = None,
    ) -> Message:
        """Assigns the next UID and MODSEQ in one transaction. The blob must be
        durable already. With quota_bytes, raises QuotaExceeded when the
        account's usage plus size would pass it (checked in the transaction)."""

    # True when file_message's guard is checked under the same lock that
    # orders the directory's writes (SQLite: the database write lock; memory:
    # one event loop), so a guarded delivery that committed did so before
    # any later mark: nothing to settle afterwards. False for PostgreSQL
    # (READ COMMITTED: a mark committed meanwhile is not seen).
    guard_serialized: bool

    async def file_message(
        self,
        account_id: int,
        folder_name: str,
        *,
        blob_id: str,
        size: int,
        summary: bytes,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
        quota_bytes: int | None = None,
        guard: DeliveryGuard | None = None,
    ) -> Message:
        """A whole delivery's database work in one transaction (one round
        trip): the account's folder by name (NotFound when it has none), the
        quota, the row. With a guard, the guard is checked first in that
        transaction (GuardFailed, nothing written) and the quota is the
        guarded account row's own, not quota_bytes. Grouped with concurrent
        writes where the driver groups commits."""

    async def message_index(self, folder_id: int) -> list[MessageMeta]:
        """UID, MODSEQ and flags of every message, ascending UID. Cheap: no
        summaries. This is what SELECT loads."""

    async def message_columns(self, folder_id: int) -> MessageColumns:
        """The same as message_index, as compact columns: what SELECT loads
        and a session keeps while the folder is selected."""

    async def get_messages(self, folder_id: int, uids: Sequence[int]) -> list[Message]:
        """Full records for the given UIDs that exist, ascending UID."""

    async def get_summaries(self, folder_id: int, uids: Sequence[int], with_internaldate: bool = False,
                            with_summary: bool = True) -> list[tuple[Any, ...]]:
        """(uid, size, summary, blob_id) of the given UIDs that exist,
        ascending UID, plus the INTERNALDATE (a datetime) when asked: what a
        FETCH of sizes, envelopes, structures or whole messages reads (a
        header-first sync of 10,000 messages), as plain tuples -- building a
        Message per row cost as much as the query. Without the summary (None
        in its place; a POP3 maildrop needs only sizes and blob ids) the
        summaries are not read at all. Raises NotFound."""

    async def store_flags(
        self,
        folder_id: int,
        uids: Sequence[int],
        flags: Iterable[str],
        mode: FlagMode,
        unchanged_since: int | None = None,
    ) -> StoreResult:
        """Each message that really changes gets a new MODSEQ. With
        unchanged_since, messages whose MODSEQ is greater are refused."""

    async def copy_messages(
        self, folder_id: int, uids: Sequence[int], dest_folder_id: int,
        quota_bytes: int | None = None,
    ) -> list[tuple[int, int]]:
        """(source UID, new UID) pairs, ascending source UID. The copies share
        the source blobs; flags and internal dates are kept."""

    async def move_messages(
        self, folder_id: int, uids: Sequence[int], dest_folder_id: int
    ) -> list[tuple[int, int]]:
        """Copy then expunge from the source, in one transaction."""

    async def expunge(self, folder_id: int, uids: Sequence[int]) -> list[int]:
        """Removes the messages; each expunged UID is logged with a new MODSEQ.
        Returns the UIDs really removed, ascending."""

    async def changed_since(self, folder_id: int, modseq: int) -> list[MessageMeta]:
        """Messages whose MODSEQ is greater than modseq, ascending UID."""

    async def expunged_since(self, folder_id: int, modseq: int) -> list[int]:
        """UIDs expunged with a MODSEQ greater than modseq, ascending."""

    async def changes_since(self, folder_id: int, modseq: int) -> FolderChanges:
        """The folder's HIGHESTMODSEQ, message count and UIDNEXT read first,
        then changed_since and expunged_since: one job instead of three
        (a poll, a SELECT's catch-up). Raises NotFound."""

    async def folder_status(self, folder_id: int) -> FolderStatus: ...

    async def account_usage(self, account_id: int) -> int:
        """Sum of message sizes over all the account's folders (quota)."""

    # --- blobs bookkeeping -----------------------------------------------
    async def referenced_blob_ids(self) -> set[str]:
        """Every blob id some message or queued outbound message points at
        (for the orphan sweep)."""

    # --- outbound (relay) queue ------------------------------------------
    async def enqueue_outbound(
        self, sender: str, recipients: Sequence[str], blob_id: str, size: int,
        *, not_before: datetime | None = None,
    ) -> OutboundMessage:
        """Durable on return (the blob must be durable already): attempts 0,
        next_attempt = not_before or now. Raises ValueError without recipients."""

    async def claim_outbound(
        self, now: datetime, lease_until: datetime, limit: int = 10
    ) -> list[OutboundMessage]:
        """Entries due at `now` (next_attempt <= now), earliest first. Each
        returned entry gets next_attempt = lease_until in the same
        transaction, so another server sharing the store does not send it
        too; an entry never settled (a crash) comes due again then."""

    async def reschedule_outbound(
        self, queue_id: int, *, recipients: Sequence[str], next_attempt: datetime,
        last_error: str,
    ) -> OutboundMessage:
        """After an attempt that left recipients to retry: keeps only
        `recipients`, counts the attempt. Raises NotFound."""

    async def delete_outbound(self, queue_id: int) -> None:
        """Done with the entry (delivered, or failed for good). A missing
        entry is not an error: another server may have settled it."""

    async def list_outbound(self) -> list[OutboundMessage]:
        """Every queued entry, by id (for `mailgate smtp queue`)."""

    # --- change signal ---------------------------------------------------
    def add_listener(self, listener: ChangeListener) -> None:
        """Called (on the event loop) after any write to a folder, including
        writes by other processes on the same store (within ~0.2 s)."""

    def remove_listener(self, listener: ChangeListener) -> None: ...
