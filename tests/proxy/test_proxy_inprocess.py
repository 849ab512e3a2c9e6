"""Frontend -> backend proxying over real sockets, in one process: the
frontend applies the login policy, logs in to the backend with the proxy
credential, names the real client, then splices bytes."""

from __future__ import annotations

import asyncio
import imaplib
import logging
import poplib
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailgate.delivery import deliver, ensure_default_folders
from mailgate.directory.passwords import hash_password
from mailgate.policy.login import LoginType
from mailgate.proxy import frontend
from mailgate.runtime import Runtime
from mailgate.settings import ImapSettings, PopSettings
from mailgate.storage.blobs import BlobStore
from mailgate.storage.sqlite import SqliteStore
from mailgate.transport.certs import generate_self_signed, server_context
from mailgate.transport.imap_driver import run_imap
from mailgate.transport.listener import Listener
from mailgate.transport.pop3_driver import run_pop3

PASSWORD = "pw-proxy-1"
MESSAGE = b"From: a@example.org\r\nSubject: via proxy\r\n\r\nhello through the frontend\r\n"
SECRET = "shared-proxy-secret"


@dataclass
class Route:
    server: str
    site: str
    imap_backend: tuple[str, int]
    pop_backend: tuple[str, int]
    database: str = "DB01"


@pytest.fixture()
async def deployment(tmp_path: Path, monkeypatch):
    generate_self_signed("localhost", tmp_path / "cert.pem", tmp_path / "key.pem")
    tls = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")
    store = SqliteStore(tmp_path / "directory.db")
    await store.open()
    blobs = BlobStore(tmp_path / "blobs")
    account = await store.create_account("alice@example.com", hash_password(PASSWORD))
    await ensure_default_folders(store, account)
    await deliver(store, blobs, account, "INBOX", [MESSAGE])
    await store.create_account("admin@example.com", hash_password(PASSWORD), role="administrator")

    plain = dict(login_type=LoginType.PLAIN_TEXT_LOGIN)
    backend = Runtime(store=store, blobs=blobs, hostname="localhost", tls_context=tls,
                      imap=ImapSettings(**plain), pop=PopSettings(**plain),
                      roles=frozenset({"backend"}), proxy_secret=SECRET)
    front = Runtime(store=store, blobs=blobs, hostname="localhost", tls_context=tls,
                    roles=frozenset({"frontend"}), proxy_secret=SECRET)
    listeners = {
        "imap_backend": Listener("127.0.0.1:0", lambda c: run_imap(c, backend, mode="backend"), True, tls),
        "pop_backend": Listener("127.0.0.1:0", lambda c: run_pop3(c, backend, mode="backend"), True, tls),
        "imaps": Listener("127.0.0.1:0", lambda c: run_imap(c, front, mode="frontend"), True, tls),
        "pop3s": Listener("127.0.0.1:0", lambda c: run_pop3(c, front, mode="frontend"), True, tls),
    }
    for listener in listeners.values():
        await listener.start()
    ports = {name: listener.bound_port for name, listener in listeners.items()}

    async def route(runtime, address):
        return Route("mbx1", "site-a", ("127.0.0.1", ports["imap_backend"]), ("127.0.0.1", ports["pop_backend"]))

    monkeypatch.setattr(frontend, "_route", route)
    yield ports, tmp_path / "cert.pem"
    for rt in (backend, front):
        rt.shutting_down.set()
    for listener in listeners.values():
        await listener.stop(1)
    await store.close()


def _ctx(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


async def test_imap_through_the_frontend(deployment, caplog) -> None:
    ports, cert = deployment

    def client() -> tuple[bytes, bytes, list]:
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=_ctx(cert)) as imap:
            typ, data = imap.login("alice@example.com", PASSWORD)
            assert typ == "OK"
            caps = imap.capability()[1][0]
            imap.select("INBOX")
            body = imap.fetch("1", "(BODY.PEEK[])")[1][0][1]
            imap.append("INBOX", None, None, MESSAGE)
            count = imap.select("INBOX")[1]
            imap.logout()
            return caps, body, count

    with caplog.at_level(logging.INFO):
        caps, body, count = await asyncio.to_thread(client)
    assert body == MESSAGE
    assert count == [b"2"]
    assert b"IDLE" in caps and b"AUTH=PLAIN" not in caps  # the backend's post-login list
    proxied = [r.getMessage() for r in caplog.records if "proxied login for alice@example.com" in r.getMessage()]
    assert proxied and " via " in proxied[0]  # the backend logs the real client and the frontend


async def test_pop3_through_the_frontend(deployment) -> None:
    ports, cert = deployment

    def client() -> tuple[tuple[int, int], bytes]:
        pop = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=_ctx(cert))
        pop.user("alice@example.com")
        pop.pass_(PASSWORD)
        stat = pop.stat()
        lines = pop.retr(1)[1]
        pop.quit()
        return stat, b"\r\n".join(lines) + b"\r\n"

    stat, body = await asyncio.to_thread(client)
    assert stat == (1, len(MESSAGE))
    assert body == MESSAGE


async def test_direct_login_to_a_backend_is_refused(deployment) -> None:
    ports, cert = deployment

    def imap_direct() -> str:
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imap_backend"], ssl_context=_ctx(cert)) as imap:
            with pytest.raises(imaplib.IMAP4.error) as info:
                imap.login("alice@example.com", PASSWORD)
            return str(info.value)

    def pop_direct() -> str:
        pop = poplib.POP3_SSL("127.0.0.1", ports["pop_backend"], context=_ctx(cert))
        pop.user("alice@example.com")
        with pytest.raises(poplib.error_proto) as info:
            pop.pass_(PASSWORD)
        return str(info.value)

    assert "AUTHENTICATIONFAILED" in await asyncio.to_thread(imap_direct)
    assert "[AUTH]" in await asyncio.to_thread(pop_direct)


async def test_a_wrong_password_never_reaches_the_backend(deployment) -> None:
    ports, cert = deployment

    def client() -> str:
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=_ctx(cert)) as imap:
            with pytest.raises(imaplib.IMAP4.error) as info:
                imap.login("alice@example.com", "wrong")
            return str(info.value)

    assert "AUTHENTICATIONFAILED" in await asyncio.to_thread(client)


async def test_policy_is_applied_at_the_frontend(deployment) -> None:
    ports, cert = deployment

    def client() -> str:
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=_ctx(cert)) as imap:
            with pytest.raises(imaplib.IMAP4.error) as info:
                imap.login("admin@example.com", PASSWORD)
            return str(info.value)

    assert "AUTHORIZATIONFAILED" in await asyncio.to_thread(client)


async def test_acting_as_another_user_is_refused_on_client_listeners(deployment) -> None:
    ports, cert = deployment


    def client() -> str:
        with imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=_ctx(cert)) as imap:
            token = b"alice@example.com\0mailgate-proxy\0" + SECRET.encode()
            with pytest.raises(imaplib.IMAP4.error) as info:
                imap.authenticate("PLAIN", lambda _: token)
            return str(info.value)

    assert "AUTHENTICATIONFAILED" in await asyncio.to_thread(client)

