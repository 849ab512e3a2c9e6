"""IMAP and POP3 sessions of a mailbox in a second database read and write
that database (runtime.mailbox_store), not the directory; IDLE-style change
notifications come from that database's store."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from mailgate.admin import ops
from mailgate.admin import ops_topology as topo
from mailgate.config import Config
from mailgate.protocol.pop3 import Pop3Reader, encode, encode_stream
from mailgate.protocol.pop3.responses import Stream
from mailgate.runtime import Runtime
from mailgate.session.imap.session import ImapSession
from mailgate.session.pop3 import Pop3Session
from mailgate.session.pop3_maildrop import MaildropLocks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session" / "imap"))
from reading_helpers import parse, wire  # noqa: E402

MESSAGE = b"From: a@example.test\r\nSubject: in db02\r\n\r\nhello\r\n"


@contextlib.asynccontextmanager
async def runtime_for(config: Config):
    async with ops.open_store(config) as (store, blobs):
        runtime = Runtime(store, blobs, config.hostname, None, node=config.node, directory_url=config.store_url)
        try:
            yield runtime
        finally:
            await runtime.close_mailbox_stores()


async def _imap(session: ImapSession, line: str, tag: str = "A1") -> bytes:
    return wire([r async for r in session.handle(parse(line, tag))])


async def test_imap_session_uses_the_mailbox_database(config: Config, second_db_url: str, tmp_path: Path) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    account = await ops.add_mailbox(config, "ann@example.test", "pw", database="DB02")
    await ops.deliver_local(config, "ann@example.test", [MESSAGE])
    async with runtime_for(config) as runtime:
        session = ImapSession(runtime, tls_active=True, can_start_tls=False)
        assert (await session.login("L", "ann@example.test", "pw", via_sasl=False)).status == "OK"
        db02, blobs02 = await runtime.mailbox_store(account)
        assert session.ctx.store is db02 and session.ctx.blobs is blobs02
        assert b"* 1 EXISTS" in await _imap(session, "SELECT INBOX")
        body = await _imap(session, "FETCH 1 BODY[]", "A2")
        assert b"Subject: in db02" in body
        woken = []
        session.ctx.selected.dirty = False
        runtime.changes_for(db02).watch(session.ctx.selected.folder.id, lambda: woken.append(1))
        out = await _imap(session, 'APPEND Sent {%d+}\r\n' % len(MESSAGE) + MESSAGE.decode(), "A3")
        assert b"A3 OK" in out
        sent = await db02.get_folder(account.id, "Sent")
        assert len(await db02.message_index(sent.id)) == 1
        assert await runtime.store.list_folders(account.id) == []  # nothing written to the directory's DB01
        # A delivery into the database wakes the session that has INBOX selected.
        await ops.deliver_local(config, "ann@example.test", [MESSAGE])
        await _wait_for(lambda: session.ctx.selected.dirty)  # what wakes its IDLE (ctx.wake)
        session.close()


async def _wait_for(check, timeout: float = 3.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)


async def _pop(session: Pop3Session, reader: Pop3Reader, line: str) -> bytes:
    reader.receive_data(line.encode() + b"\r\n")
    outcome = await session.handle(reader.next_event())  # type: ignore[arg-type]
    out = b""
    for response in outcome.responses:
        if isinstance(response, Stream):
            out += b"".join([chunk async for chunk in encode_stream(response)])
        else:
            out += encode(response)
    return out


async def test_pop3_session_uses_the_mailbox_database(config: Config, second_db_url: str, tmp_path: Path) -> None:
    await topo.add_database(config, "DB02", second_db_url, str(tmp_path / "blobs02"))
    await ops.add_mailbox(config, "ann@example.test", "pw", database="DB02")
    await ops.deliver_local(config, "ann@example.test", [MESSAGE])
    async with runtime_for(config) as runtime:
        session = Pop3Session(runtime, tls_active=True, can_start_tls=False, locks=MaildropLocks())
        reader = Pop3Reader()
        assert (await _pop(session, reader, "USER ann@example.test")).startswith(b"+OK")
        assert (await _pop(session, reader, "PASS pw")).startswith(b"+OK Logged in: 1 messages")
        assert b"Subject: in db02" in await _pop(session, reader, "RETR 1")
        assert (await _pop(session, reader, "DELE 1")).startswith(b"+OK")
        assert (await _pop(session, reader, "QUIT")).startswith(b"+OK")
    details = await ops.show_mailbox(config, "ann@example.test")
    assert dict((n, c) for n, c, _ in details.folders)["INBOX"] == 0
