"""POP3 end to end: Python's poplib against real listeners (plain + STLS and
implicit TLS) over a SqliteStore and a BlobStore in tmp_path."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import poplib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailgate.delivery import deliver, ensure_default_folders
from mailgate.directory.passwords import hash_password
from mailgate.protocol.pop3 import unstuff
from mailgate.runtime import Runtime
from mailgate.storage.blobs import BlobStore
from mailgate.storage.models import Account
from mailgate.storage.sqlite import SqliteStore
from mailgate.transport.listener import Listener
from mailgate.transport.pop3_driver import run_pop3

pytestmark = pytest.mark.e2e

USER = "alice@example.com"
PASSWORD = "s3cret pass"
HASH = hash_password(PASSWORD)

MESSAGES = [
    b"From: a@example.com\r\nSubject: one\r\n\r\nHello.\r\n",
    b"From: b@example.com\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle.\r\n.\r\nlast\r\n",
    b"Subject: three\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(50)),
]
T = TypeVar("T")


# --- TLS material ------------------------------------------------------------------


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def server_tls(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert_files)
    return context


@pytest.fixture(scope="session")
def client_tls(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_files[0]))


# --- the server ----------------------------------------------------------------------


@dataclasses.dataclass
class Pop3Server:
    runtime: Runtime
    account: Account
    plain_port: int
    tls_port: int
    client_tls: ssl.SSLContext

    async def deliver(self, data: bytes) -> int:
        message = await deliver(self.runtime.store, self.runtime.blobs, self.account, "INBOX", data)
        return message.uid

    async def inbox_uids(self) -> list[int]:
        folder = await self.runtime.store.get_folder(self.account.id, "INBOX")
        assert folder is not None
        return [m.uid for m in await self.runtime.store.message_index(folder.id)]

    def tls_client(self) -> poplib.POP3_SSL:
        return poplib.POP3_SSL("127.0.0.1", self.tls_port, context=self.client_tls, timeout=10)

    def stls_client(self) -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", self.plain_port, timeout=10)
        client.stls(self.client_tls)
        return client

    def logged_in(self) -> poplib.POP3:
        client = self.tls_client()
        client.user(USER)
        client.pass_(PASSWORD)
        return client


def free_port() -> int:
    # transport.listener.parse_binding refuses port 0 (so Listener cannot be
    # asked for an ephemeral port yet): borrow one from the kernel instead.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def server(tmp_path: Path, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext):
    store = SqliteStore(tmp_path / "mailgate.db")
    await store.open()
    blobs = BlobStore(tmp_path / "blobs")
    account = await store.create_account(USER, HASH)
    await ensure_default_folders(store, account)
    runtime = Runtime(store=store, blobs=blobs, hostname="mail.example.com", tls_context=server_tls)

    async def driver(conn):
        await run_pop3(conn, runtime)

    plain = Listener(f"127.0.0.1:{free_port()}", driver, False, server_tls)
    implicit = Listener(f"127.0.0.1:{free_port()}", driver, True, server_tls)
    await plain.start()
    await implicit.start()
    srv = Pop3Server(runtime, account, plain.bound_port, implicit.bound_port, client_tls)
    for data in MESSAGES:
        await srv.deliver(data)
    try:
        yield srv
    finally:
        await plain.stop(drain_seconds=1)
        await implicit.stop(drain_seconds=1)
        await store.close()


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


def message_bytes(lines: list[bytes]) -> bytes:
    """poplib's RETR lines (unstuffed, line ends removed) back to bytes."""
    return b"".join(line + b"\r\n" for line in lines)


# --- tests ---------------------------------------------------------------------------


async def test_stls_session(server: Pop3Server) -> None:
    def session() -> None:
        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=10)
        assert client.getwelcome() == b"+OK The mailgate POP3 service is ready."
        capa = client.capa()
        assert "STLS" in capa and "USER" not in capa and "SASL" not in capa
        for name in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"):
            assert name in capa
        assert capa["IMPLEMENTATION"] == ["mailgate"]
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
            client.user(USER)
        client.stls(server.client_tls)
        capa = client.capa()
        assert "USER" in capa and capa["SASL"] == ["PLAIN", "LOGIN"] and "STLS" not in capa
        client.user(USER)
        assert client.pass_(PASSWORD).startswith(b"+OK")
        count, size = client.stat()
        assert count == 3 and size == sum(map(len, MESSAGES))
        _, listing, _ = client.list()
        assert listing == [b"%d %d" % (i, len(m)) for i, m in enumerate(MESSAGES, 1)]
        assert client.list(2) == b"+OK 2 %d" % len(MESSAGES[1])
        _, uids, _ = client.uidl()
        assert len({u.split()[1] for u in uids}) == 3
        _, top, _ = client.top(3, 0)
        assert top == [b"Subject: three", b""]
        _, top, _ = client.top(3, 2)
        assert top == [b"Subject: three", b"", b"line 0", b"line 1"]
        for number, data in enumerate(MESSAGES, 1):
            _, lines, octets = client.retr(number)
            assert message_bytes(lines) == data
        assert client.quit().startswith(b"+OK")

    await blocking(session)


async def test_implicit_tls_and_byte_exact_retr(server: Pop3Server) -> None:
    def session() -> bytes:
        client = server.tls_client()
        client.user(USER)
        client.pass_(PASSWORD)
        # Raw RETR: the wire form must be the stuffed message and ".\r\n".
        client._putcmd("RETR 2")  # noqa: SLF001 - read the wire bytes ourselves
        status = client.file.readline()
        assert status == b"+OK %d octets\r\n" % len(MESSAGES[1])
        wire = b""
        while not wire.endswith(b"\r\n.\r\n"):
            wire += client.file.readline()
        client.quit()
        return wire

    wire = await blocking(session)
    expected = b"".join(
        (b"." + line if line.startswith(b".") else line) + b"\r\n"
        for line in MESSAGES[1].split(b"\r\n")[:-1]
    )
    assert wire == expected + b".\r\n"


async def test_dele_quit_removes(server: Pop3Server) -> None:
    def session() -> None:
        client = server.logged_in()
        client.dele(1)
        client.dele(3)
        client.quit()

    await blocking(session)
    assert await server.inbox_uids() == [2]


async def test_dele_rset_keeps(server: Pop3Server) -> None:
    def session() -> None:
        client = server.logged_in()
        client.dele(1)
        client.rset()
        client.quit()

    await blocking(session)
    assert await server.inbox_uids() == [1, 2, 3]


async def test_dropped_connection_keeps_and_releases_the_lock(server: Pop3Server) -> None:
    def session() -> None:
        client = server.logged_in()
        client.dele(1)
        client.sock.close()  # no QUIT

    await blocking(session)
    for _ in range(50):  # the server notices the drop asynchronously
        second = await blocking(server.tls_client)
        await blocking(second.user, USER)
        try:
            await blocking(second.pass_, PASSWORD)
            break
        except poplib.error_proto as exc:
            assert b"[IN-USE]" in exc.args[0]
            await blocking(second.quit)
            await asyncio.sleep(0.05)
    await blocking(second.quit)
    assert await server.inbox_uids() == [1, 2, 3]


async def test_second_session_is_in_use(server: Pop3Server) -> None:
    def session() -> None:
        first = server.logged_in()
        second = server.tls_client()
        second.user(USER)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
            second.pass_(PASSWORD)
        first.quit()
        second.user(USER)  # a failed PASS starts the login over
        assert second.pass_(PASSWORD).startswith(b"+OK")
        second.quit()

    await blocking(session)


async def test_new_mail_appears_in_the_next_session(server: Pop3Server) -> None:
    client = await blocking(server.logged_in)
    await server.deliver(b"Subject: late\r\n\r\nlate\r\n")
    assert (await blocking(client.stat))[0] == 3
    await blocking(client.quit)
    client = await blocking(server.logged_in)
    assert (await blocking(client.stat))[0] == 4
    await blocking(client.quit)


async def test_auth_plain_over_tls(server: Pop3Server) -> None:
    import base64

    def session() -> None:
        client = server.tls_client()
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        assert client._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")  # noqa: SLF001
        assert client.stat()[0] == 3
        client.quit()

    await blocking(session)


def raw_exchange(port: int, context: ssl.SSLContext | None, data: bytes, until: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn = context.wrap_socket(sock, server_hostname="localhost") if context else sock
        received = b""
        while b"\r\n" not in received:
            received += conn.recv(4096)
        conn.sendall(data)
        while not received.endswith(until):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


async def test_pipelined_commands_are_answered_in_order(server: Pop3Server) -> None:
    commands = (f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST 1\r\nRETR 1\r\nNOOP\r\nUIDL 1\r\n"
                "QUIT\r\n").encode()
    received = await blocking(raw_exchange, server.tls_port, server.client_tls, commands,
                              b"signing off.\r\n")
    lines = received.split(b"\r\n")
    assert lines[0].startswith(b"+OK The mailgate")
    assert lines[1] == b"+OK Send your password."
    assert lines[2].startswith(b"+OK Logged in: 3 messages")
    assert lines[3] == b"+OK 3 %d" % sum(map(len, MESSAGES))
    assert lines[4] == b"+OK 1 %d" % len(MESSAGES[0])
    assert lines[5] == b"+OK %d octets" % len(MESSAGES[0])
    assert b"\r\n".join(lines[6:10]) + b"\r\n" == MESSAGES[0]
    assert lines[10] == b"."
    assert lines[11] == b"+OK"
    assert lines[12].startswith(b"+OK 1 ")
    assert lines[13] == b"+OK mail.example.com POP3 server signing off."


async def test_overlong_line_then_keep_going(server: Pop3Server) -> None:
    data = b"NOOP " + b"x" * 2000 + b"\r\nCAPA\r\nQUIT\r\n"
    received = await blocking(raw_exchange, server.plain_port, None, data, b"signing off.\r\n")
    lines = received.split(b"\r\n")
    assert lines[1] == b"-ERR Command line too long."
    assert lines[2] == b"+OK Capability list follows."


async def test_large_message_streams_byte_exact(server: Pop3Server) -> None:
    body = b"".join((b"." if i % 7 == 0 else b"") + b"%08d " % i + b"y" * 70 + b"\r\n" for i in range(40000))
    data = b"Subject: big\r\n\r\n" + body
    await server.deliver(data)

    def session() -> bytes:
        client = server.logged_in()
        assert client.list(4) == b"+OK 4 %d" % len(data)
        _, lines, _ = client.retr(4)
        client.quit()
        return message_bytes(lines)

    assert await blocking(session) == data


async def test_pre_login_idle_timeout(server: Pop3Server) -> None:
    server.runtime.pop = dataclasses.replace(server.runtime.pop, pre_authenticated_connection_timeout=1)

    def session() -> bytes:
        with socket.create_connection(("127.0.0.1", server.plain_port), timeout=10) as sock:
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
            return received

    received = await blocking(session)
    assert received.endswith(b"-ERR Autologout; idle for too long.\r\n")


async def test_shutdown_closes_idle_sessions(server: Pop3Server) -> None:
    client = await blocking(server.logged_in)
    server.runtime.shutting_down.set()
    with pytest.raises(poplib.error_proto, match=r"SYS/TEMP"):
        await blocking(client.noop)


async def test_commands_pipelined_behind_stls_are_discarded(server: Pop3Server) -> None:
    """RFC 2595 / the STARTTLS injection class of bugs: bytes sent in clear
    after STLS must not be executed inside the TLS session."""

    def session() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", server.plain_port), timeout=10) as sock:
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"+OK")
            sock.sendall(b"STLS\r\nUSER injected@example.com\r\n")
            assert reader.readline() == b"+OK Begin TLS negotiation.\r\n"
            with server.client_tls.wrap_socket(sock, server_hostname="localhost") as tls:
                tls_reader = tls.makefile("rb")
                tls.sendall(b"PASS whatever\r\nQUIT\r\n")
                return [tls_reader.readline(), tls_reader.readline()]

    first, second = await blocking(session)
    assert first == b"-ERR Send USER first.\r\n"
    assert second.startswith(b"+OK")


async def test_connecting_during_shutdown_gets_sys_temp(server: Pop3Server) -> None:
    server.runtime.shutting_down.set()

    def session() -> bytes:
        with socket.create_connection(("127.0.0.1", server.plain_port), timeout=10) as sock:
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
            return received

    assert await blocking(session) == b"-ERR [SYS/TEMP] Server shutting down.\r\n"


async def test_too_many_bad_commands_close_the_connection(server: Pop3Server) -> None:
    server.runtime.pop = dataclasses.replace(server.runtime.pop, max_bad_commands=3)
    received = await blocking(raw_exchange, server.plain_port, None, b"A\r\nB\r\nC\r\nD\r\n",
                              b"closing the connection.\r\n")
    lines = received.split(b"\r\n")
    assert lines[1:4] == [b"-ERR Unknown command.", b"-ERR Unknown command.",
                          b"-ERR Too many bad commands; closing the connection."]
    assert lines[4:] == [b""]


async def test_activity_keeps_the_session_past_the_idle_timeout_then_it_ends(server: Pop3Server) -> None:
    """The idle timer is armed once and moved only when it fires early: a
    session busy for longer than the timeout must live on, an idle one end."""
    server.runtime.pop = dataclasses.replace(server.runtime.pop, authenticated_connection_timeout=1)

    def session() -> tuple[list[bytes], bytes]:
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=10) as raw, \
                server.client_tls.wrap_socket(raw, server_hostname="localhost") as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
            reader.readline()
            reader.readline()
            replies = []
            for _ in range(5):  # 5 x 0.4 s: twice the timeout, never idle for it
                time.sleep(0.4)
                sock.sendall(b"NOOP\r\n")
                replies.append(reader.readline())
            return replies, reader.read()  # now idle: the server ends it

    replies, rest = await blocking(session)
    assert replies == [b"+OK\r\n"] * 5
    assert rest == b"-ERR Autologout; idle for too long.\r\n"


async def test_many_pipelined_retrs_are_byte_exact(server: Pop3Server) -> None:
    dotted = b"Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nnot.at start\r\n\r\n."
    extra = [await server.deliver(dotted + b"%d\r\n" % i) for i in range(20)]
    numbers = list(range(1, 4 + len(extra)))
    commands = f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode()
    commands += b"".join(b"RETR %d\r\n" % n for n in numbers) + b"QUIT\r\n"
    received = await blocking(raw_exchange, server.tls_port, server.client_tls, commands,
                              b"signing off.\r\n")
    replies = received.split(b"\r\n", 3)[3]  # after the greeting, USER and PASS replies
    expected = MESSAGES + [dotted + b"%d\r\n" % i for i in range(20)]
    for data in expected:
        head, _, replies = replies.partition(b"\r\n")
        assert head == b"+OK %d octets" % len(data)
        body, _, replies = replies.partition(b"\r\n.\r\n")
        assert unstuff(body + b"\r\n.\r\n") == data
    assert replies.startswith(b"+OK mail.example.com POP3 server signing off.")
