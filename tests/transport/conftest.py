"""In-process IMAP server fixtures: the real driver over real sockets with a
memory store and short limits."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from mailgate.delivery import ensure_default_folders
from mailgate.directory.passwords import hash_password
from mailgate.runtime import Runtime
from mailgate.settings import ImapSettings
from mailgate.storage.blobs import BlobStore
from mailgate.storage.memory import MemoryStore
from mailgate.transport.certs import generate_self_signed, server_context
from mailgate.transport.imap_driver import run_imap
from mailgate.transport.listener import Listener

PASSWORD = "pw-123"


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[ssl.SSLContext, Path]:
    d = tmp_path_factory.mktemp("tls")
    generate_self_signed("localhost", d / "cert.pem", d / "key.pem")
    return server_context(d / "cert.pem", d / "key.pem"), d / "cert.pem"


class Server:
    def __init__(self, runtime: Runtime, plain: Listener, secure: Listener, cafile: Path) -> None:
        self.runtime, self.plain, self.secure, self.cafile = runtime, plain, secure, cafile

    async def connect(self, *, secure: bool = False):
        ctx = ssl.create_default_context(cafile=str(self.cafile)) if secure else None
        port = (self.secure if secure else self.plain).bound_port
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                       server_hostname="localhost" if secure else None)
        greeting = await reader.readline()
        assert greeting.startswith(b"* OK")
        return reader, writer


@pytest.fixture()
async def server(tmp_path: Path, tls):
    store = MemoryStore()
    await store.open()
    account = await store.create_account("ann@example.com", hash_password(PASSWORD))
    await ensure_default_folders(store, account)
    settings = ImapSettings(pre_authenticated_connection_timeout=1, authenticated_connection_timeout=2,
                            max_command_size=1024, max_literal_size=4096, max_bad_commands=3,
                            idle_keepalive_interval=1)
    runtime = Runtime(store=store, blobs=BlobStore(tmp_path / "blobs"), hostname="localhost",
                      tls_context=tls[0], imap=settings)
    plain = Listener("127.0.0.1:0", lambda c: run_imap(c, runtime), False, tls[0])
    secure = Listener("127.0.0.1:0", lambda c: run_imap(c, runtime), True, tls[0])
    await plain.start()
    await secure.start()
    yield Server(runtime, plain, secure, tls[1])
    runtime.shutting_down.set()
    await plain.stop(1)
    await secure.stop(1)
    await store.close()


async def command(reader, writer, line: bytes, tag: bytes = b"a") -> list[bytes]:
    writer.write(line + b"\r\n")
    await writer.drain()
    out = []
    while True:
        got = await asyncio.wait_for(reader.readline(), 5)
        assert got, out
        out.append(got)
        if got.startswith(tag + b" "):
            return out


async def login(reader, writer) -> None:
    lines = await command(reader, writer, b'a LOGIN ann@example.com "%s"' % PASSWORD.encode())
    assert lines[-1].startswith(b"a OK"), lines


