"""In-process SMTP services on free loopback ports over a real SqliteStore
and BlobStore; clients are Python's smtplib, run on threads."""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mailgate.delivery import ensure_default_folders
from mailgate.directory.passwords import hash_password
from mailgate.runtime import Runtime
from mailgate.settings import SmtpSettings, ThrottleSettings
from mailgate.smtp.endpoints import context_for
from mailgate.smtp.listener import SmtpListener
from mailgate.smtp.routing import Service
from mailgate.storage.blobs import BlobStore
from mailgate.storage.models import Role
from mailgate.storage.sqlite import SqliteStore
from mailgate.transport.certs import generate_self_signed, server_context

PASSWORD = "Secret-pw1"
HASH = hash_password(PASSWORD)
T = TypeVar("T")


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    generate_self_signed("localhost", d / "cert.pem", d / "key.pem")
    return d / "cert.pem", d / "key.pem"


@dataclass
class Env:
    runtime: Runtime
    cert: Path
    tmp: Path
    listeners: dict[Service, SmtpListener] = field(default_factory=dict)

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return context_for(self.runtime)

    def port(self, service: Service) -> int:
        return self.listeners[service].bound_port

    def client_tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def settings(self, **changes: Any) -> None:
        self.runtime.smtp = dataclasses.replace(self.runtime.smtp, **changes)

    async def client(self, service: Service, fn: Callable[[smtplib.SMTP], T]) -> T:
        """Run fn(client) on a thread with a connected smtplib client."""
        port = self.port(service)

        def go() -> T:
            cls = smtplib.LMTP if service is Service.LMTP else smtplib.SMTP
            with cls("127.0.0.1", port, local_hostname="client.test", timeout=20) as c:
                return fn(c)

        return await asyncio.to_thread(go)

    async def submit(self, fn: Callable[[smtplib.SMTP], T], user: str = "alice@example.com",
                     password: str = PASSWORD) -> T:
        """fn(client) after EHLO, STARTTLS and AUTH on the submission port."""
        tls = self.client_tls()

        def wrapped(c: smtplib.SMTP) -> T:
            c.ehlo()
            c.starttls(context=tls)
            c.ehlo()
            c.login(user, password)
            return fn(c)

        return await self.client(Service.SUBMISSION, wrapped)

    async def inbox(self, address: str, folder: str = "INBOX") -> list[bytes]:
        store = self.runtime.store
        account = await store.get_account(address)
        assert account is not None
        f = await store.get_folder(account.id, folder)
        assert f is not None
        index = await store.message_index(f.id)
        messages = await store.get_messages(f.id, [m.uid for m in index])
        out = []
        for m in messages:
            with self.runtime.blobs.open(m.blob_id) as fh:
                out.append(fh.read())
        return out


async def add_mailbox(runtime: Runtime, address: str, role: Role = Role.USER,
                      quota: int | None = None) -> None:
    account = await runtime.store.create_account(address, HASH, role)
    if quota is not None:
        account = await runtime.store.update_account(address, quota_bytes=quota)
    await ensure_default_folders(runtime.store, account)


@pytest.fixture
async def env(tmp_path: Path, tls_files: tuple[Path, Path]) -> AsyncIterator[Env]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    runtime = Runtime(store=store, blobs=BlobStore(tmp_path / "blobs"), hostname="localhost",
                      tls_context=server_context(*tls_files))
    runtime.smtp = SmtpSettings(local_domains=("example.com",))
    # Fast, visible throttling for the tests: no free attempts, 50 ms doubling.
    runtime.policy.throttle = ThrottleSettings(failed_login_free_attempts=0,
                                               failed_login_delay_ms=50,
                                               failed_login_max_delay_ms=400,
                                               ip_lockout_failures=6)
    for address in ("alice@example.com", "bob@example.com", "carol@example.com"):
        await add_mailbox(runtime, address)
    e = Env(runtime, tls_files[0], tmp_path)
    ctx = context_for(runtime)
    for service in Service:
        listener = SmtpListener("127.0.0.1:0", ctx, service)
        await listener.start()
        e.listeners[service] = listener
    try:
        yield e
    finally:
        for listener in e.listeners.values():
            await listener.stop(drain_seconds=1)
        await store.close()
