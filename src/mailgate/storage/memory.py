"""MemoryStore: the whole store in dicts, for tests and as the executable
reference of the semantics (the conformance suite runs it beside SQLite).

Methods never await in the middle of a change, so each one is atomic with
respect to the event loop, as a transaction is in SQLite.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._common import (
    columns_from_rows,
    flags_text,
    DELETED,
    SEEN,
    apply_mode,
    canon_flags,
    is_inferior_or_self,
    next_uidvalidity,
)
from .errors import AlreadyExists, GuardFailed, NotFound, QuotaExceeded, StorageError
from .memory_queue import MemoryQueue
from .memory_topology import MemoryTopology
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
    Role,
    StoreResult,
)
from .notify import ChangeListener, Listeners

_ACCOUNT_FIELDS = {f.name for f in dataclasses.fields(Account)} - {"id", "address"}


@dataclass(slots=True)
class _Msg:
    uid: int
    modseq: int
    flags: frozenset[str]
    internaldate: datetime
    size: int
    blob_id: str
    summary: bytes


@dataclass(slots=True)
class _Folder:
    id: int
    account_id: int
    name: str
    uidvalidity: int
    uidnext: int = 1
    highestmodseq: int = 1
    special_use: str | None = None
    # Insertion order is ascending UID: new UIDs are always the largest.
    msgs: dict[int, _Msg] = field(default_factory=dict)
    expunged: dict[int, int] = field(default_factory=dict)  # uid -> modseq

    def public(self) -> Folder:
        return Folder(
            self.id, self.account_id, self.name, self.uidvalidity,
            self.uidnext, self.highestmodseq, self.special_use,
        )

    def bump(self) -> int:
        self.highestmodseq += 1
        return self.highestmodseq


class MemoryStore(MemoryQueue, MemoryTopology):
    guard_serialized = True  # one event loop, no await inside file_message's checks

    def __init__(self) -> None:
        super().__init__()
        MemoryTopology.__init__(self)
        self._accounts: dict[int, Account] = {}
        self._by_address: dict[str, int] = {}
        self._folders: dict[int, _Folder] = {}
        self._subs: dict[int, set[str]] = {}
        self._settings: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1)
        self._uidvalidity = 0
        self._listeners = Listeners()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    # --- accounts --------------------------------------------------------
    async def create_account(
        self, address: str, password_hash: str, role: Role = Role.USER,
        home_server: str = "",
    ) -> Account:
        address = address.lower()
        if address in self._by_address:
            raise AlreadyExists(address)
        acc = Account(next(self._ids), address, password_hash, Role(role),
                      home_server=home_server)
        self._accounts[acc.id] = acc
        self._by_address[address] = acc.id
        return acc

    async def get_account(self, address: str) -> Account | None:
        aid = self._by_address.get(address.lower())
        return None if aid is None else self._accounts[aid]

    async def get_account_by_id(self, account_id: int) -> Account | None:
        return self._accounts.get(account_id)

    async def list_accounts(self) -> list[Account]:
        return sorted(self._accounts.values(), key=lambda a: a.address)

    async def update_account(self, address: str, **fields: object) -> Account:
        bad = set(fields) - _ACCOUNT_FIELDS
        if bad:
            raise ValueError(f"unknown or read-only account fields: {sorted(bad)}")
        acc = await self.get_account(address)
        if acc is None:
            raise NotFound(address)
        if "role" in fields:
            fields["role"] = Role(fields["role"])  # type: ignore[arg-type]
        if "overrides" in fields:
            fields["overrides"] = dict(fields["overrides"])  # type: ignore[call-overload]
        acc = dataclasses.replace(acc, **fields)  # type: ignore[arg-type]
        self._accounts[acc.id] = acc
        return acc

    async def delete_account(self, address: str) -> None:
        acc = await self.get_account(address)
        if acc is None:
            raise NotFound(address)
        gone = [f.id for f in self._folders.values() if f.account_id == acc.id]
        for fid in gone:
            del self._folders[fid]
        self._subs.pop(acc.id, None)
        del self._by_address[acc.address], self._accounts[acc.id]
        self._listeners.fire(gone)

    # --- settings --------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, str]:
        return dict(self._settings.get(scope, {}))

    async def get_setting(self, scope: str, key: str) -> str | None:
        return self._settings.get(scope, {}).get(key)

    async def put_settings(self, scope: str, values: dict[str, str]) -> None:
        self._settings.setdefault(scope, {}).update(values)

    # --- folders ---------------------------------------------------------
    def _folder(self, folder_id: int) -> _Folder:
        f = self._folders.get(folder_id)
        if f is None:
            raise NotFound(f"folder {folder_id}")
        return f

    def _names(self, account_id: int) -> dict[str, _Folder]:
        return {f.name: f for f in self._folders.values() if f.account_id == account_id}

    def _new_uidvalidity(self) -> int:
        self._uidvalidity = next_uidvalidity(self._uidvalidity)
        return self._uidvalidity

    async def create_folder(
        self, account_id: int, name: str, special_use: str | None = None
    ) -> Folder:
        if account_id not in self._accounts:
            raise NotFound(f"account {account_id}")
        if name in self._names(account_id):
            raise AlreadyExists(name)
        f = _Folder(next(self._ids), account_id, name, self._new_uidvalidity(),
                    special_use=special_use)
        self._folders[f.id] = f
        self._listeners.fire([f.id])
        return f.public()

    async def get_folder(self, account_id: int, name: str) -> Folder | None:
        f = self._names(account_id).get(name)
        return None if f is None else f.public()

    async def get_folder_by_id(self, folder_id: int) -> Folder | None:
        f = self._folders.get(folder_id)
        return None if f is None else f.public()

    async def list_folders(self, account_id: int) -> list[Folder]:
        return [f.public() for _, f in sorted(self._names(account_id).items())]

    async def rename_folder(self, account_id: int, old: str, new: str) -> None:
        names = self._names(account_id)
        if old not in names:
            raise NotFound(old)
        if is_inferior_or_self(new, old):
            raise StorageError(f"cannot rename {old!r} into itself")
        moving = [f for n, f in names.items() if is_inferior_or_self(n, old)]
        targets = {f.id: new + f.name[len(old):] for f in moving}
        staying = set(names) - {f.name for f in moving}
        clash = sorted(set(targets.values()) & staying)
        if clash:
            raise AlreadyExists(clash[0])
        for f in moving:
            f.name = targets[f.id]
            f.uidvalidity = self._new_uidvalidity()
        self._listeners.fire(targets)

    async def delete_folder(self, folder_id: int) -> None:
        self._folder(folder_id)
        del self._folders[folder_id]
        self._listeners.fire([folder_id])

    async def set_special_use(self, folder_id: int, special_use: str | None) -> None:
        self._folder(folder_id).special_use = special_use
        self._listeners.fire([folder_id])

    async def subscribe(self, account_id: int, name: str) -> None:
        self._subs.setdefault(account_id, set()).add(name)

    async def unsubscribe(self, account_id: int, name: str) -> None:
        self._subs.get(account_id, set()).discard(name)

    async def list_subscriptions(self, account_id: int) -> list[str]:
        return sorted(self._subs.get(account_id, ()))

    # --- messages --------------------------------------------------------
    def _usage(self, account_id: int) -> int:
        return sum(
            m.size for f in self._folders.values() if f.account_id == account_id
            for m in f.msgs.values()
        )

    def _check_quota(self, account_id: int, extra: int, quota: int | None) -> None:
        if quota is not None and self._usage(account_id) + extra > quota:
            raise QuotaExceeded(f"account {account_id}: quota {quota} bytes")

    async def append_message(
        self, folder_id: int, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None,
    ) -> Message:
        f = self._folder(folder_id)
        self._check_quota(f.account_id, size, quota_bytes)
        if internaldate is None:
            internaldate = datetime.now(timezone.utc)
        elif internaldate.tzinfo is None:  # as SQLite does: naive means UTC
            internaldate = internaldate.replace(tzinfo=timezone.utc)
        m = _Msg(f.uidnext, f.bump(), canon_flags(flags), internaldate, size, blob_id,
                 bytes(summary))
        f.msgs[m.uid] = m
        f.uidnext += 1
        self._listeners.fire([folder_id])
        return self._public(folder_id, m)

    async def file_message(
        self, account_id: int, folder_name: str, *, blob_id: str, size: int, summary: bytes,
        flags: Iterable[str] = (), internaldate: datetime | None = None,
        quota_bytes: int | None = None, guard: DeliveryGuard | None = None,
    ) -> Message:
        # No await before append_message's body runs: the guard, the folder
        # and the row are one step of the event loop (guard_serialized).
        if guard is not None:
            address = guard.address.lower()
            account = self._accounts.get(self._by_address.get(address, -1))
            if account is None or account.id != account_id or account.database != guard.database:
                raise GuardFailed(f"mailbox {address} changed since it was routed", held=False)
            if self._settings.get(guard.hold_scope, {}).get(address):
                raise GuardFailed(f"mailbox {address} is held ({guard.hold_scope})", held=True)
            quota_bytes = account.quota_bytes
        folder = self._names(account_id).get(folder_name)
        if folder is None:
            raise NotFound(f"account {account_id}: no folder {folder_name!r}")
        return await self.append_message(folder.id, blob_id=blob_id, size=size, summary=summary,
                                         flags=flags, internaldate=internaldate,
                                         quota_bytes=quota_bytes)

    @staticmethod
    def _public(folder_id: int, m: _Msg) -> Message:
        return Message(folder_id, m.uid, m.modseq, m.flags, m.internaldate,
                       m.size, m.blob_id, m.summary)

    @staticmethod
    def _pick(f: _Folder, uids: Sequence[int]) -> list[_Msg]:
        return [f.msgs[u] for u in sorted(set(uids)) if u in f.msgs]

    async def message_index(self, folder_id: int) -> list[MessageMeta]:
        return [MessageMeta(m.uid, m.modseq, m.flags)
                for m in self._folder(folder_id).msgs.values()]

    async def message_columns(self, folder_id: int) -> MessageColumns:
        return columns_from_rows((m.uid, m.modseq, flags_text(m.flags))
                                 for m in self._folder(folder_id).msgs.values())

    async def get_messages(self, folder_id: int, uids: Sequence[int]) -> list[Message]:
        return [self._public(folder_id, m) for m in self._pick(self._folder(folder_id), uids)]

    async def get_summaries(self, folder_id: int, uids: Sequence[int], with_internaldate: bool = False,
                            with_summary: bool = True) -> list[tuple[Any, ...]]:
        return [(m.uid, m.size, m.summary if with_summary else None, m.blob_id,
                 *((m.internaldate,) if with_internaldate else ()))
                for m in self._pick(self._folder(folder_id), uids)]

    async def store_flags(
        self, folder_id: int, uids: Sequence[int], flags: Iterable[str],
        mode: FlagMode, unchanged_since: int | None = None,
    ) -> StoreResult:
        f = self._folder(folder_id)
        given = canon_flags(flags)
        changed: list[MessageMeta] = []
        refused: list[int] = []
        for m in self._pick(f, uids):
            if unchanged_since is not None and m.modseq > unchanged_since:
                refused.append(m.uid)
                continue
            new = apply_mode(m.flags, given, FlagMode(mode))
            if new != m.flags:
                m.flags, m.modseq = new, f.bump()
                changed.append(MessageMeta(m.uid, m.modseq, m.flags))
        if changed:
            self._listeners.fire([folder_id])
        return StoreResult(tuple(changed), tuple(refused))

    def _copy(self, src: _Folder, uids: Sequence[int], dest: _Folder) -> list[tuple[int, int]]:
        pairs = []
        for m in self._pick(src, uids):
            c = dataclasses.replace(m, uid=dest.uidnext, modseq=dest.bump())
            dest.msgs[c.uid] = c
            dest.uidnext += 1
            pairs.append((m.uid, c.uid))
        return pairs

    async def copy_messages(
        self, folder_id: int, uids: Sequence[int], dest_folder_id: int,
        quota_bytes: int | None = None,
    ) -> list[tuple[int, int]]:
        src, dest = self._folder(folder_id), self._folder(dest_folder_id)
        extra = sum(m.size for m in self._pick(src, uids))
        self._check_quota(dest.account_id, extra, quota_bytes)
        pairs = self._copy(src, uids, dest)
        if pairs:
            self._listeners.fire([dest_folder_id])
        return pairs

    async def move_messages(
        self, folder_id: int, uids: Sequence[int], dest_folder_id: int
    ) -> list[tuple[int, int]]:
        src, dest = self._folder(folder_id), self._folder(dest_folder_id)
        pairs = self._copy(src, uids, dest)
        self._expunge(src, [s for s, _ in pairs])
        if pairs:
            self._listeners.fire([folder_id, dest_folder_id])
        return pairs

    @staticmethod
    def _expunge(f: _Folder, uids: Sequence[int]) -> list[int]:
        gone = [u for u in sorted(set(uids)) if u in f.msgs]
        for u in gone:
            del f.msgs[u]
            f.expunged[u] = f.bump()
        return gone

    async def expunge(self, folder_id: int, uids: Sequence[int]) -> list[int]:
        gone = self._expunge(self._folder(folder_id), uids)
        if gone:
            self._listeners.fire([folder_id])
        return gone

    async def changed_since(self, folder_id: int, modseq: int) -> list[MessageMeta]:
        return [MessageMeta(m.uid, m.modseq, m.flags)
                for m in self._folder(folder_id).msgs.values() if m.modseq > modseq]

    async def expunged_since(self, folder_id: int, modseq: int) -> list[int]:
        f = self._folder(folder_id)
        return sorted(u for u, ms in f.expunged.items() if ms > modseq)

    async def changes_since(self, folder_id: int, modseq: int) -> FolderChanges:
        f = self._folder(folder_id)
        return FolderChanges(f.highestmodseq, len(f.msgs), f.uidnext, await self.changed_since(folder_id, modseq),
                             await self.expunged_since(folder_id, modseq))

    async def folder_status(self, folder_id: int) -> FolderStatus:
        f = self._folder(folder_id)
        msgs = f.msgs.values()
        return FolderStatus(
            messages=len(f.msgs),
            unseen=sum(SEEN not in m.flags for m in msgs),
            size=sum(m.size for m in msgs),
            uidnext=f.uidnext,
            uidvalidity=f.uidvalidity,
            highestmodseq=f.highestmodseq,
            deleted=sum(DELETED in m.flags for m in msgs),
        )

    async def account_usage(self, account_id: int) -> int:
        return self._usage(account_id)

    async def referenced_blob_ids(self) -> set[str]:
        in_folders = {m.blob_id for f in self._folders.values() for m in f.msgs.values()}
        return in_folders | self._queued_blob_ids()

    # --- change signal ---------------------------------------------------
    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self._listeners.remove(listener)
