"""Shared setup for the FETCH / SEARCH / SORT / THREAD tests: a MemoryStore
with a BlobStore in tmp_path, messages put in with delivery.deliver, and a
SessionContext with the folder selected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mailgate.delivery import deliver, ensure_default_folders
from mailgate.protocol.imap import CommandReader, NeedContinuation, to_bytes
from mailgate.protocol.imap.commands import Command
from mailgate.runtime import Runtime
from mailgate.session.imap.context import SessionContext
from mailgate.session.imap.selected import SelectedFolder
from mailgate.storage.blobs import BlobStore
from mailgate.storage.memory import MemoryStore

DEFAULT_DATE = dt.datetime(2024, 7, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


class Mailbox:
    """One account's INBOX with a session that has it selected."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = MemoryStore()
        self.blobs = BlobStore(tmp_path / "blobs")
        self.runtime = Runtime(self.store, self.blobs, "test.example", None)
        self.ctx = SessionContext(self.runtime)
        self.account = None

    async def setup(self) -> "Mailbox":
        await self.store.open()
        self.account = await self.store.create_account("user@example.com", "x")
        await ensure_default_folders(self.store, self.account)
        self.ctx.account = self.account
        return self

    async def add(self, raw: bytes, *, flags: tuple[str, ...] = (),
                  date: dt.datetime = DEFAULT_DATE, folder: str = "INBOX") -> int:
        msg = await deliver(self.store, self.blobs, self.account, folder, raw,
                            flags=flags, internaldate=date)
        return msg.uid

    async def select(self, *, readonly: bool = False, folder: str = "INBOX") -> SelectedFolder:
        f = await self.store.get_folder(self.account.id, folder)
        self.ctx.selected = await SelectedFolder.open(self.store, f, readonly)
        return self.ctx.selected


def parse(line: str | bytes, tag: str = "A1") -> Command:
    """A command as a client sends it (without tag and final CRLF); literals
    inline as "{n}\r\n" + bytes, the way the corpus writes them."""
    text = line.encode() if isinstance(line, str) else line
    reader = CommandReader()
    reader.feed(tag.encode() + b" " + text + b"\r\n")
    while True:
        ev = reader.next_event()
        if isinstance(ev, NeedContinuation):
            continue
        assert isinstance(ev, Command), ev
        return ev


def wire(responses) -> bytes:
    return b"".join(to_bytes(x) for x in responses)
