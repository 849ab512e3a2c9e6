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

    async def select(self, *, readonly: bool = False, folder: str = "INBOX",
                     recent: bool = False) -> SelectedFolder:
        """Select; \\Recent claims are process-wide (selected.py), so tests
        leave them alone unless ``recent`` asks for every message recent."""
        f = await self.store.get_folder(self.account.id, folder)
        self.ctx.selected = await SelectedFolder.open(self.store, f, readonly, track_recent=False)
        if recent:
            self.ctx.selected.recent = set(self.ctx.selected.uids)
        return self.ctx.selected

    def record_get_messages(self, monkeypatch) -> list[list[int]]:
        """The UIDs of each store.get_messages call from now on (the calls
        still reach the store)."""
        calls: list[list[int]] = []
        original = self.store.get_messages

        async def recording(folder_id, uids):
            calls.append(list(uids))
            return await original(folder_id, uids)

        monkeypatch.setattr(self.store, "get_messages", recording)
        return calls


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


# -- a small reader for FETCH response bytes (to compare answers semantically) ---------

class _Wire:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def peek(self) -> bytes:
        return self.data[self.pos : self.pos + 1]

    def take(self, token: bytes) -> bool:
        if self.data.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: bytes) -> None:
        assert self.take(token), (token, self.data[self.pos : self.pos + 40])

    def atom(self) -> bytes:
        start = self.pos
        while self.pos < len(self.data) and self.data[self.pos : self.pos + 1] not in (b" ", b"(", b")", b"\r"):
            self.pos += 1
        return self.data[start : self.pos]

    def name(self) -> str:
        """A FETCH item name, with its [section] (which may hold spaces) and <origin>."""
        start = self.pos
        while self.peek() not in (b" ", b"[", b""):
            self.pos += 1
        if self.take(b"["):
            self.pos = self.data.index(b"]", self.pos) + 1
            if self.peek() == b"<":
                self.pos = self.data.index(b">", self.pos) + 1
        return self.data[start : self.pos].decode("ascii")

    def value(self):
        """A value: ("lit", bytes) for strings of any form, int, None for NIL,
        a list for a parenthesized list, ("atom", bytes) otherwise."""
        c = self.peek()
        if c == b"(":
            self.pos += 1
            out = []
            while not self.take(b")"):
                self.take(b" ")
                if self.take(b")"):
                    break
                out.append(self.value())
            return out
        if c == b'"':
            self.pos += 1
            buf = bytearray()
            while True:
                ch = self.data[self.pos : self.pos + 1]
                self.pos += 1
                if ch == b"\\":
                    buf += self.data[self.pos : self.pos + 1]
                    self.pos += 1
                elif ch == b'"':
                    return ("str", bytes(buf))
                else:
                    buf += ch
        if c in (b"{", b"~"):
            self.take(b"~")
            self.expect(b"{")
            end = self.data.index(b"}", self.pos)
            n = int(self.data[self.pos : end].rstrip(b"+"))
            self.pos = end + 1
            self.expect(b"\r\n")
            raw = self.data[self.pos : self.pos + n]
            self.pos += n
            return ("str", raw)
        word = self.atom()
        if word.upper() == b"NIL":
            return None
        if word.isdigit():
            return int(word)
        return ("atom", word)


def parse_fetch(data: bytes) -> list[tuple[int, dict[str, object]]]:
    """Every "* n FETCH (...)" of ``data``: (n, {NAME: value}), names upper-cased."""
    w = _Wire(data)
    out = []
    while w.pos < len(data):
        w.expect(b"* ")
        n = int(w.atom())
        w.expect(b" FETCH (")
        items: dict[str, object] = {}
        while not w.take(b")"):
            w.take(b" ")
            name = w.name().upper()
            w.expect(b" ")
            items[name] = w.value()
        w.expect(b"\r\n")
        out.append((n, items))
    return out
