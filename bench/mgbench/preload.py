"""Loading the corpus into a server over IMAP APPEND (pipelined, LITERAL+)."""

from __future__ import annotations

import asyncio
import time

from .corpus import flags_for, message
from .imapc import Imap, ProtocolError
from .servers import PASSWORD, Server

WINDOW = 4
BATCH = 100


async def _append_range(server: Server, address: str, folder: str, kind: str, indexes: range,
                        small: bool) -> None:
    imap = await Imap.connect(server.host, server.ports["imap"])
    await imap.login(address, PASSWORD)
    pending: list[bytes] = []

    async def drain(limit: int) -> None:
        while len(pending) > limit:
            res = await imap.collect(pending.pop(0))
            if res.status != b"OK":
                raise ProtocolError(f"preload APPEND -> {res.status!r} {res.text!r}")

    # MULTIAPPEND (RFC 3502): one transaction per BATCH messages; Dovecot's
    # maildir pays a per-transaction cost that grows with the folder.
    idx = list(indexes)
    for first in range(0, len(idx), BATCH):
        parts = [b"APPEND \"%s\"" % folder.encode()]
        for i in idx[first:first + BATCH]:
            data = message(kind, i, small=small)
            parts.append(b" (%s) {%d+}\r\n" % (" ".join(flags_for(i)).encode(), len(data)) + data)
        tag = imap._tag()
        imap.w.write(tag + b" " + b"".join(parts) + b"\r\n")
        pending.append(tag)
        await drain(WINDOW)
    await drain(0)
    await imap.logout()


async def append_jobs(server: Server, jobs: list[tuple[str, str, str, range, bool]]) -> None:
    """Jobs run concurrently; each job's messages go in order (UID i+1 is
    message i), which the checks rely on."""
    await asyncio.gather(*(_append_range(server, *job) for job in jobs))


def preload_imap(server: Server, jobs) -> float:
    started = time.monotonic()
    asyncio.run(append_jobs(server, jobs))
    return time.monotonic() - started


FOLDERS = ("Sent", "Drafts", "Trash", "Junk", "Archive")  # mailgate creates these for every mailbox


async def _create_folders(server: Server, addresses: list[str]) -> None:
    for address in addresses:
        imap = await Imap.connect(server.host, server.ports["imap"])
        await imap.login(address, PASSWORD)
        for name in FOLDERS:
            res = await imap.command(f"CREATE {name}")
            if res.status != b"OK" and b"ALREADYEXISTS" not in res.text and b"exists" not in res.text:
                raise ProtocolError(f"CREATE {name} -> {res.status!r} {res.text!r}")
            await imap.ok(f"SUBSCRIBE {name}")
        await imap.logout()


def create_default_folders(server: Server, addresses: list[str], parallel: int = 8) -> None:
    """Gives a Dovecot mailbox the folders a new mailgate mailbox has."""
    async def main() -> None:
        chunks = [addresses[i::parallel] for i in range(parallel)]
        await asyncio.gather(*(_create_folders(server, c) for c in chunks if c))
    asyncio.run(main())
