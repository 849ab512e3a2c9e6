"""SqliteStore: the embedded default store (stdlib sqlite3, one file).

- WAL, so readers never block the writer and a commit is one append+fsync.
- synchronous=FULL (the default here): in WAL mode NORMAL survives a process
  crash but can lose the last commits on power loss. A delivery that was
  acknowledged to an SMTP client must survive both, so we pay one WAL fsync
  per transaction. Pass synchronous="NORMAL" where that trade is acceptable.
- busy_timeout for waiting on other processes; writes use BEGIN IMMEDIATE.
- All calls run on one worker thread per store (sqlite_worker.DbThread).
  Message writes (append, flags, copy, move, expunge) that are queued at the
  same time share one transaction and one COMMIT (group commit, see there).
- Changes by other processes arrive through the `changes` table: a poller
  asks PRAGMA data_version every `poll_interval` seconds (a no-I/O check
  when nothing happened) and reads the new rows only when it moved.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from . import sqlite_folders as F
from . import sqlite_messages as M
from . import sqlite_queue as Q
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
from .notify import ChangeListener, Listeners, Poller
from .sqlite_schema import migrate
from .sqlite_topology import SqliteTopology
from .sqlite_worker import Db, DbThread


class SqliteStore(SqliteTopology):
    # Writes run under BEGIN IMMEDIATE (the database write lock): see
    # Store.guard_serialized and sqlite_messages.file_message.
    guard_serialized = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 15000,
        poll_interval: float = 0.15,
    ) -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = os.fspath(path)
        self._sync = synchronous.upper()
        self._busy = int(busy_timeout_ms)
        self._listeners = Listeners()
        self._db = DbThread(self._connect, self._listeners, f"sqlite:{self.path}")
        self._poller = Poller(self._poll, self._listeners, poll_interval)

    def _connect(self) -> Db:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=256)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy}")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("cannot switch the store to WAL mode")
            conn.execute(f"PRAGMA synchronous = {self._sync}")
            conn.execute("PRAGMA temp_store = MEMORY")
            migrate(conn)
            return Db(conn)
        except BaseException:
            conn.close()
            raise

    async def _poll(self) -> list[int]:
        if not self._listeners:  # nobody listening: skip the thread hop
            return []
        return await self._db.run(Db.poll)

    # --- lifecycle -------------------------------------------------------
    async def open(self) -> None:
        await self._db.start()
        self._poller.start()

    async def close(self) -> None:
        await self._poller.stop()
        await self._db.stop()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- accounts --------------------------------------------------------
    async def create_account(self, address: str, password_hash: str,
                             role: Role = Role.USER, home_server: str = "") -> Account:
        return await self._db.run(F.create_account, address, password_hash, role, home_server)

    async def get_account(self, address: str) -> Account | None:
        return await self._db.run(F.get_account, address)

    async def get_account_by_id(self, account_id: int) -> Account | None:
        return await self._db.run(F.get_account_by_id, account_id)

    async def list_accounts(self) -> list[Account]:
        return await self._db.run(F.list_accounts)

    async def update_account(self, address: str, **fields: object) -> Account:
        return await self._db.run(F.update_account, address, fields)

    async def delete_account(self, address: str) -> None:
        await self._db.run(F.delete_account, address)

    # --- settings --------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, str]:
        return await self._db.run(F.get_settings, scope)

    async def get_setting(self, scope: str, key: str) -> str | None:
        return await self._db.run(F.get_setting, scope, key)

    async def put_settings(self, scope: str, values: dict[str, str]) -> None:
        await self._db.run(F.put_settings, scope, dict(values))

    # --- folders ---------------------------------------------------------
    async def create_folder(self, account_id: int, name: str,
                            special_use: str | None = None) -> Folder:
        return await self._db.run(F.create_folder, account_id, name, special_use)

    async def get_folder(self, account_id: int, name: str) -> Folder | None:
        return await self._db.run(F.get_folder, account_id, name)

    async def get_folder_by_id(self, folder_id: int) -> Folder | None:
        return await self._db.run(F.get_folder_by_id, folder_id)

    async def list_folders(self, account_id: int) -> list[Folder]:
        return await self._db.run(F.list_folders, account_id)

    async def rename_folder(self, account_id: int, old: str, new: str) -> None:
        await self._db.run(F.rename_folder, account_id, old, new)

    async def delete_folder(self, folder_id: int) -> None:
        await self._db.run(F.delete_folder, folder_id)

    async def set_special_use(self, folder_id: int, special_use: str | None) -> None:
        await self._db.run(F.set_special_use, folder_id, special_use)

    async def subscribe(self, account_id: int, name: str) -> None:
        await self._db.run(F.subscribe, account_id, name)

    async def unsubscribe(self, account_id: int, name: str) -> None:
        await self._db.run(F.unsubscribe, account_id, name)

    async def list_subscriptions(self, account_id: int) -> list[str]:
        return await self._db.run(F.list_subscriptions, account_id)

    # --- messages --------------------------------------------------------
    # Arguments that may be lazy or mutable (iterables, sequences) are
    # materialized here, on the loop, before the hop to the worker thread.
    async def append_message(
        self, folder_id: int, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None,
    ) -> Message:
        return await self._db.run_grouped(M.append, folder_id, blob_id, size, bytes(summary),
                                          tuple(flags), internaldate, quota_bytes)

    async def file_message(
        self, account_id: int, folder_name: str, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None, guard: DeliveryGuard | None = None,
    ) -> Message:
        return await self._db.run_grouped(M.file_message, account_id, folder_name, blob_id,
                                          size, bytes(summary), tuple(flags), internaldate,
                                          quota_bytes, guard)

    async def message_index(self, folder_id: int) -> list[MessageMeta]:
        return await self._db.run(M.message_index, folder_id)

    async def message_columns(self, folder_id: int) -> MessageColumns:
        return await self._db.run(M.message_columns, folder_id)

    async def get_messages(self, folder_id: int, uids: Sequence[int]) -> list[Message]:
        return await self._db.run(M.get_messages, folder_id, list(uids))

    async def get_summaries(self, folder_id: int, uids: Sequence[int], with_internaldate: bool = False,
                            with_summary: bool = True) -> list[tuple[Any, ...]]:
        return await self._db.run(M.get_summaries, folder_id, list(uids), with_internaldate, with_summary)

    async def store_flags(self, folder_id: int, uids: Sequence[int], flags: Iterable[str],
                          mode: FlagMode, unchanged_since: int | None = None) -> StoreResult:
        return await self._db.run_grouped(M.store_flags, folder_id, list(uids), tuple(flags),
                                          mode, unchanged_since)

    async def copy_messages(self, folder_id: int, uids: Sequence[int], dest_folder_id: int,
                            quota_bytes: int | None = None) -> list[tuple[int, int]]:
        return await self._db.run_grouped(M.copy_messages, folder_id, list(uids),
                                          dest_folder_id, quota_bytes)

    async def move_messages(self, folder_id: int, uids: Sequence[int],
                            dest_folder_id: int) -> list[tuple[int, int]]:
        return await self._db.run_grouped(M.move_messages, folder_id, list(uids),
                                          dest_folder_id)

    async def expunge(self, folder_id: int, uids: Sequence[int]) -> list[int]:
        return await self._db.run_grouped(M.expunge, folder_id, list(uids))

    async def changed_since(self, folder_id: int, modseq: int) -> list[MessageMeta]:
        return await self._db.run(M.changed_since, folder_id, modseq)

    async def changes_since(self, folder_id: int, modseq: int) -> FolderChanges:
        return await self._db.run(M.changes_since, folder_id, modseq)

    async def expunged_since(self, folder_id: int, modseq: int) -> list[int]:
        return await self._db.run(M.expunged_since, folder_id, modseq)

    async def folder_status(self, folder_id: int) -> FolderStatus:
        return await self._db.run(M.folder_status, folder_id)

    async def account_usage(self, account_id: int) -> int:
        return await self._db.run(M.account_usage, account_id)

    async def referenced_blob_ids(self) -> set[str]:
        return await self._db.run(_referenced_blob_ids)

    # --- outbound (relay) queue --------------------------------------------
    async def enqueue_outbound(self, sender: str, recipients: Sequence[str], blob_id: str,
                               size: int, *, not_before: datetime | None = None) -> OutboundMessage:
        return await self._db.run(Q.enqueue, sender, tuple(recipients), blob_id, size, not_before)

    async def claim_outbound(self, now: datetime, lease_until: datetime,
                             limit: int = 10) -> list[OutboundMessage]:
        return await self._db.run(Q.claim, now, lease_until, limit)

    async def reschedule_outbound(self, queue_id: int, *, recipients: Sequence[str],
                                  next_attempt: datetime, last_error: str) -> OutboundMessage:
        return await self._db.run(Q.reschedule, queue_id, tuple(recipients), next_attempt,
                                  last_error)

    async def delete_outbound(self, queue_id: int) -> None:
        await self._db.run(Q.delete, queue_id)

    async def list_outbound(self) -> list[OutboundMessage]:
        return await self._db.run(Q.list_all)

    # --- change signal ---------------------------------------------------
    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners.remove(listener)

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


def _referenced_blob_ids(db: Db) -> set[str]:
    with db.read():  # one snapshot of both tables
        return M.referenced_blob_ids(db) | Q.blob_ids(db)
