"""PostgresStore: the store on PostgreSQL, shared by every server of a
deployment (asyncpg; install the `postgres` extra).

Same semantics as SqliteStore (MemoryStore is the reference; the
conformance suite runs all three). What differs is how:
- Concurrency: each write is one READ COMMITTED transaction that locks the
  rows it changes (the folder row for UID/MODSEQ assignment, the account row
  for quota checks), so writers from many processes and servers serialise
  per folder instead of per database (postgres_messages).
- Change signal: NOTIFY on commit and one LISTEN connection per store
  instead of a polled change table; other servers hear a write in
  milliseconds (postgres_db).
- Schema: versioned migrations of its own (postgres_schema), run under an
  advisory lock at open().

Import this module only where PostgreSQL is configured: asyncpg is an
optional dependency, and the single-machine default needs only SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import postgres_folders as F
from . import postgres_messages as M
from . import postgres_queue as Q
from .models import (
    MessageColumns,
    Account,
    DeliveryGuard,
    FlagMode,
    Folder,
    FolderChanges,
    FolderStatus,
    Message,
    MessageMeta,
    OutboundMessage,
    Role,
    StoreResult,
)
from .notify import ChangeListener, Listeners
from .postgres_db import PgDb
from .postgres_schema import migrate
from .postgres_topology import PostgresTopology


class PostgresStore(PostgresTopology):
    # READ COMMITTED: file_message's guard may miss a move mark committed
    # while it runs, so deliveries settle afterwards (Store.guard_serialized).
    guard_serialized = False

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        listen: bool = True,
        **connect_kwargs: Any,
    ) -> None:
        """dsn: a libpq URL or keyword string, e.g.
        "postgresql://mailgate@db.example.org/mailgate".

        min_size/max_size bound the connection pool. listen=False skips the
        LISTEN connection, for short-lived processes (`mailgate deliver`)
        that write but never wait for changes. connect_kwargs go to asyncpg
        (e.g. ssl=..., statement_cache_size=0 behind pgbouncer).
        """
        self.dsn = dsn
        self._listeners = Listeners()
        self._db = PgDb(dsn, self._listeners, min_size=min_size, max_size=max_size,
                        listen=listen, connect_kwargs=connect_kwargs)

    # --- lifecycle -------------------------------------------------------
    async def open(self) -> None:
        await self._db.start(migrate)

    async def close(self) -> None:
        await self._db.stop()

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- accounts --------------------------------------------------------
    async def create_account(self, address: str, password_hash: str,
                             role: Role = Role.USER, home_server: str = "") -> Account:
        return await self._db.write(F.create_account, address, password_hash, role, home_server)

    async def get_account(self, address: str) -> Account | None:
        return await self._db.read(F.get_account, address)

    async def get_account_by_id(self, account_id: int) -> Account | None:
        return await self._db.read(F.get_account_by_id, account_id)

    async def list_accounts(self) -> list[Account]:
        return await self._db.read(F.list_accounts)

    async def update_account(self, address: str, **fields: object) -> Account:
        return await self._db.write(F.update_account, address, fields)

    async def delete_account(self, address: str) -> None:
        await self._db.write(F.delete_account, address)

    # --- settings --------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, str]:
        return await self._db.read(F.get_settings, scope)

    async def get_setting(self, scope: str, key: str) -> str | None:
        return await self._db.read(F.get_setting, scope, key)

    async def put_settings(self, scope: str, values: dict[str, str]) -> None:
        await self._db.write(F.put_settings, scope, dict(values))

    # --- folders ---------------------------------------------------------
    async def create_folder(self, account_id: int, name: str,
                            special_use: str | None = None) -> Folder:
        return await self._db.write(F.create_folder, account_id, name, special_use)

    async def get_folder(self, account_id: int, name: str) -> Folder | None:
        return await self._db.read(F.get_folder, account_id, name)

    async def get_folder_by_id(self, folder_id: int) -> Folder | None:
        return await self._db.read(F.get_folder_by_id, folder_id)

    async def list_folders(self, account_id: int) -> list[Folder]:
        return await self._db.read(F.list_folders, account_id)

    async def rename_folder(self, account_id: int, old: str, new: str) -> None:
        await self._db.write(F.rename_folder, account_id, old, new)

    async def delete_folder(self, folder_id: int) -> None:
        await self._db.write(F.delete_folder, folder_id)

    async def set_special_use(self, folder_id: int, special_use: str | None) -> None:
        await self._db.write(F.set_special_use, folder_id, special_use)

    async def subscribe(self, account_id: int, name: str) -> None:
        await self._db.write(F.subscribe, account_id, name)

    async def unsubscribe(self, account_id: int, name: str) -> None:
        await self._db.write(F.unsubscribe, account_id, name)

    async def list_subscriptions(self, account_id: int) -> list[str]:
        return await self._db.read(F.list_subscriptions, account_id)

    # --- messages --------------------------------------------------------
    # Lazy or mutable arguments are materialised before the first await.
    async def append_message(
        self, folder_id: int, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None,
    ) -> Message:
        return await self._db.write(M.append, folder_id, blob_id, size, bytes(summary),
                                    tuple(flags), internaldate, quota_bytes)

    async def file_message(
        self, account_id: int, folder_name: str, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None, guard: DeliveryGuard | None = None,
    ) -> Message:
        return await self._db.write(M.file_message, account_id, folder_name, blob_id, size,
                                    bytes(summary), tuple(flags), internaldate, quota_bytes,
                                    guard)

    async def message_index(self, folder_id: int) -> list[MessageMeta]:
        return await self._db.read(M.message_index, folder_id)

    async def message_columns(self, folder_id: int) -> MessageColumns:
        return await self._db.read(M.message_columns, folder_id)

    async def get_messages(self, folder_id: int, uids: Sequence[int]) -> list[Message]:
        return await self._db.read(M.get_messages, folder_id, list(uids))

    async def get_summaries(self, folder_id: int, uids: Sequence[int], with_internaldate: bool = False,
                            with_summary: bool = True) -> list[tuple[Any, ...]]:
        return await self._db.read(M.get_summaries, folder_id, list(uids), with_internaldate, with_summary)

    async def store_flags(self, folder_id: int, uids: Sequence[int], flags: Iterable[str],
                          mode: FlagMode, unchanged_since: int | None = None) -> StoreResult:
        return await self._db.write(M.store_flags, folder_id, list(uids), tuple(flags), mode,
                                    unchanged_since)

    async def copy_messages(self, folder_id: int, uids: Sequence[int], dest_folder_id: int,
                            quota_bytes: int | None = None) -> list[tuple[int, int]]:
        return await self._db.write(M.copy_messages, folder_id, list(uids), dest_folder_id,
                                    quota_bytes)

    async def move_messages(self, folder_id: int, uids: Sequence[int],
                            dest_folder_id: int) -> list[tuple[int, int]]:
        return await self._db.write(M.move_messages, folder_id, list(uids), dest_folder_id)

    async def expunge(self, folder_id: int, uids: Sequence[int]) -> list[int]:
        return await self._db.write(M.expunge, folder_id, list(uids))

    async def changed_since(self, folder_id: int, modseq: int) -> list[MessageMeta]:
        return await self._db.read(M.changed_since, folder_id, modseq)

    async def changes_since(self, folder_id: int, modseq: int) -> FolderChanges:
        return await self._db.read(M.changes_since, folder_id, modseq)

    async def expunged_since(self, folder_id: int, modseq: int) -> list[int]:
        return await self._db.read(M.expunged_since, folder_id, modseq)

    async def folder_status(self, folder_id: int) -> FolderStatus:
        return await self._db.read(M.folder_status, folder_id)

    async def account_usage(self, account_id: int) -> int:
        return await self._db.read(M.account_usage, account_id)

    async def referenced_blob_ids(self) -> set[str]:
        return await self._db.snapshot(_referenced_blob_ids)

    # --- outbound (relay) queue --------------------------------------------
    async def enqueue_outbound(self, sender: str, recipients: Sequence[str], blob_id: str,
                               size: int, *, not_before: datetime | None = None) -> OutboundMessage:
        return await self._db.write(Q.enqueue, sender, tuple(recipients), blob_id, size,
                                    not_before)

    async def claim_outbound(self, now: datetime, lease_until: datetime,
                             limit: int = 10) -> list[OutboundMessage]:
        return await self._db.write(Q.claim, now, lease_until, limit)

    async def reschedule_outbound(self, queue_id: int, *, recipients: Sequence[str],
                                  next_attempt: datetime, last_error: str) -> OutboundMessage:
        return await self._db.write(Q.reschedule, queue_id, tuple(recipients), next_attempt,
                                    last_error)

    async def delete_outbound(self, queue_id: int) -> None:
        await self._db.write(Q.delete, queue_id)

    async def list_outbound(self) -> list[OutboundMessage]:
        return await self._db.read(Q.list_all)

    # --- change signal ---------------------------------------------------
    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners.remove(listener)

    def __repr__(self) -> str:
        return f"PostgresStore({_redacted(self.dsn)!r})"


async def _referenced_blob_ids(conn: Any) -> set[str]:
    # In one snapshot: a blob moving from the queue to a folder (or back)
    # between two reads must not look unreferenced to the sweep.
    return await M.referenced_blob_ids(conn) | await Q.blob_ids(conn)


def _redacted(dsn: str) -> str:
    """The DSN without its password, for logs and reprs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn if "password" not in dsn else "<dsn>"
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
