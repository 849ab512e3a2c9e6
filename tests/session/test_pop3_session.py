"""Pop3Session over MemoryStore: states, login policy, maildrop semantics."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from mailgate.directory.passwords import hash_password
from mailgate.policy.login import LoginType
from mailgate.protocol.pop3 import (
    After,
    Outcome,
    Pop3Reader,
    Stream,
    encode,
    encode_stream,
    parse_all,
    unstuff,
)
from mailgate.runtime import Runtime
from mailgate.session.pop3 import Pop3Session
from mailgate.session.pop3_maildrop import MaildropLocks
from mailgate.storage.blobs import BlobStore
from mailgate.storage.memory import MemoryStore
from mailgate.storage.models import Role

PASSWORD = "correct horse"
HASH = hash_password(PASSWORD)

MESSAGES = [
    b"Subject: one\r\nFrom: a@example.com\r\n\r\nfirst body\r\n",
    b"Subject: two\r\n\r\n.leading dot\r\n..two dots\r\nend\r\n",
    b"Subject: three\r\n\r\nl1\r\nl2\r\nl3\r\nl4\r\n",
]


class Client:
    """Drives a session the way the driver does, returning the wire bytes."""

    def __init__(self, runtime: Runtime, locks: MaildropLocks, *, tls: bool = True) -> None:
        self.session = Pop3Session(runtime, tls_active=tls, can_start_tls=not tls, locks=locks)
        self.reader = Pop3Reader()
        self.last: Outcome | None = None

    async def send(self, line: str | bytes) -> bytes:
        data = line.encode() if isinstance(line, str) else line
        self.reader.receive_data(data + b"\r\n")
        self.reader.expect_sasl(self.session.awaiting_sasl)
        event = self.reader.next_event()
        outcome = await self.session.handle(event)  # type: ignore[arg-type]
        self.last = outcome
        out = b""
        for response in outcome.responses:
            if isinstance(response, Stream):
                out += b"".join([chunk async for chunk in encode_stream(response)])
            else:
                out += encode(response)
        return out

    async def login(self, user: str = "alice@example.com", password: str = PASSWORD) -> bytes:
        assert (await self.send(f"USER {user}")).startswith(b"+OK")
        return await self.send(f"PASS {password}")


@pytest.fixture
async def env(tmp_path: Path):
    store = MemoryStore()
    await store.open()
    runtime = Runtime(store=store, blobs=BlobStore(tmp_path / "blobs"), hostname="mail.example.com",
                      tls_context=None)
    account = await store.create_account("alice@example.com", HASH)
    inbox = await store.create_folder(account.id, "INBOX")
    yield runtime, account, inbox.id
    await store.close()


async def put(runtime: Runtime, folder_id: int, data: bytes) -> int:
    blob_id, size, _path = await runtime.blobs.write_stream(data)
    message = await runtime.store.append_message(folder_id, blob_id=blob_id, size=size, summary=b"")
    return message.uid


@pytest.fixture
async def filled(env):
    runtime, account, folder_id = env
    for data in MESSAGES:
        await put(runtime, folder_id, data)
    return runtime, account, folder_id


@pytest.fixture
def locks() -> MaildropLocks:
    return MaildropLocks()


def set_pop(runtime: Runtime, **changes: object) -> None:
    runtime.pop = dataclasses.replace(runtime.pop, **changes)


# --- AUTHORIZATION ----------------------------------------------------------------


async def test_greeting_uses_the_banner(env, locks) -> None:
    runtime, *_ = env
    client = Client(runtime, locks)
    assert encode(client.session.greeting()) == b"+OK The mailgate POP3 service is ready.\r\n"


async def test_state_table_is_enforced(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks)
    for line in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 0", "DELE 1", "RSET", "NOOP"):
        assert await client.send(line) == b"-ERR Command not valid in this state.\r\n"
    assert (await client.login()).startswith(b"+OK Logged in: 3 messages")
    for line in ("USER bob", "PASS x", "AUTH PLAIN", "STLS"):
        assert await client.send(line) == b"-ERR Command not valid in this state.\r\n"
    assert await client.send("NOOP") == b"+OK\r\n"


async def test_capa_before_and_after_tls_under_secure_login(env, locks) -> None:
    runtime, *_ = env
    plain = Client(runtime, locks, tls=False)
    capa = await plain.send("CAPA")
    lines = capa.split(b"\r\n")
    assert lines[0] == b"+OK Capability list follows."
    assert b"STLS" in lines and b"USER" not in lines
    assert not any(line.startswith(b"SASL") for line in lines)
    for expected in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING",
                     b"EXPIRE NEVER", b"LOGIN-DELAY 0", b"IMPLEMENTATION mailgate"):
        assert expected in lines
    assert capa.endswith(b"\r\n.\r\n")
    assert await plain.send("STLS") == b"+OK Begin TLS negotiation.\r\n"
    assert plain.last is not None and plain.last.after is After.START_TLS
    plain.session.tls_started()
    lines = (await plain.send("CAPA")).split(b"\r\n")
    assert b"USER" in lines and b"SASL PLAIN LOGIN" in lines and b"STLS" not in lines
    assert (await plain.send("STLS")).startswith(b"-ERR")


async def test_credentials_refused_before_tls_under_secure_login(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks, tls=False)
    assert (await client.send("USER alice@example.com")).startswith(b"-ERR [AUTH] ")
    assert (await client.send(f"PASS {PASSWORD}")).startswith(b"-ERR [AUTH] ")
    assert (await client.send("AUTH PLAIN")).startswith(b"-ERR [AUTH] ")
    assert await client.send("AUTH") == b"+OK Supported mechanisms follow.\r\n.\r\n"
    assert client.session.state.name == "AUTHORIZATION"


async def test_plain_text_login_allows_user_pass_in_clear(filled, locks) -> None:
    runtime, *_ = filled
    set_pop(runtime, login_type=LoginType.PLAIN_TEXT_LOGIN)
    client = Client(runtime, locks, tls=False)
    assert b"USER" in (await client.send("CAPA")).split(b"\r\n")
    assert (await client.login()).startswith(b"+OK")


async def test_plain_text_authentication_allows_only_sasl_in_clear(filled, locks) -> None:
    runtime, *_ = filled
    set_pop(runtime, login_type=LoginType.PLAIN_TEXT_AUTHENTICATION)
    client = Client(runtime, locks, tls=False)
    lines = (await client.send("CAPA")).split(b"\r\n")
    assert b"USER" not in lines and b"SASL PLAIN LOGIN" in lines
    assert (await client.send("USER alice@example.com")).startswith(b"-ERR [AUTH]")
    token = base64.b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
    assert (await client.send(f"AUTH PLAIN {token}")).startswith(b"+OK")


async def test_bad_password_and_unknown_user_get_the_same_reply(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks)
    wrong = await client.login(password="wrong")
    unknown = await client.login(user="nobody@example.com")
    anonymous = await client.login(user="anonymous")
    assert wrong == unknown == anonymous == b"-ERR [AUTH] Authentication failed.\r\n"
    assert await client.send(f"PASS {PASSWORD}") == b"-ERR Send USER first.\r\n"


@pytest.mark.parametrize("change", [{"role": Role.GUEST}, {"role": Role.ADMINISTRATOR}, {"pop_enabled": False}])
async def test_refused_accounts(filled, locks, change) -> None:
    runtime, account, _ = filled
    await runtime.store.update_account(account.address, **change)
    client = Client(runtime, locks)
    reply = await client.login()
    assert reply.startswith(b"-ERR [AUTH] This account may not use POP3")
    assert client.session.state.name == "AUTHORIZATION"


async def test_auth_plain_with_and_without_initial_response(filled, locks) -> None:
    runtime, *_ = filled
    token = base64.b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
    client = Client(runtime, locks)
    assert await client.send("AUTH PLAIN") == b"+ \r\n"
    assert client.session.awaiting_sasl
    assert (await client.send(token)).startswith(b"+OK Logged in")
    await client.send("QUIT")
    client = Client(runtime, locks)
    assert (await client.send(f"AUTH PLAIN {token}")).startswith(b"+OK Logged in")


async def test_auth_login_and_cancel(filled, locks) -> None:
    runtime, *_ = filled
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    client = Client(runtime, locks)
    assert await client.send("AUTH LOGIN") == b"+ VXNlcm5hbWU6\r\n"
    assert await client.send(b64("alice@example.com")) == b"+ UGFzc3dvcmQ6\r\n"
    assert await client.send("*") == b"-ERR Authentication cancelled.\r\n"
    assert not client.session.awaiting_sasl
    assert await client.send(f"AUTH LOGIN {b64('alice@example.com')}") == b"+ UGFzc3dvcmQ6\r\n"
    assert await client.send(b64("bad")) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert await client.send("AUTH CRAM-MD5") == b"-ERR Unsupported authentication mechanism.\r\n"
    assert await client.send("AUTH PLAIN") == b"+ \r\n"
    assert (await client.send("!!notbase64")).startswith(b"-ERR")
    assert not client.session.awaiting_sasl
    assert await client.send("AUTH") == b"+OK Supported mechanisms follow.\r\nPLAIN\r\nLOGIN\r\n.\r\n"


async def test_quit_in_authorization(env, locks) -> None:
    runtime, *_ = env
    client = Client(runtime, locks)
    assert await client.send("QUIT") == b"+OK mail.example.com POP3 server signing off.\r\n"
    assert client.last is not None and client.last.after is After.CLOSE


async def test_too_many_bad_commands_closes(env, locks) -> None:
    runtime, *_ = env
    set_pop(runtime, max_bad_commands=3)
    client = Client(runtime, locks)
    assert await client.send("BOGUS") == b"-ERR Unknown command.\r\n"
    assert await client.send("STAT") == b"-ERR Command not valid in this state.\r\n"
    assert client.last is not None and client.last.after is After.CONTINUE
    assert (await client.send("RETR x")).startswith(b"-ERR Too many bad commands")
    assert client.last.after is After.CLOSE


async def test_idle_timeout_depends_on_the_state(filled, locks) -> None:
    runtime, *_ = filled
    set_pop(runtime, pre_authenticated_connection_timeout=45, authenticated_connection_timeout=900)
    client = Client(runtime, locks)
    assert client.session.idle_timeout == 45
    await client.login()
    assert client.session.idle_timeout == 900
    assert encode(client.session.timeout_outcome().responses[0]).startswith(b"-ERR")
    assert encode(client.session.shutdown_outcome().responses[0]) == b"-ERR [SYS/TEMP] Server shutting down.\r\n"


async def test_failed_logins_count_toward_the_bad_command_cap(filled, locks) -> None:
    runtime, *_ = filled
    set_pop(runtime, max_bad_commands=2)
    client = Client(runtime, locks)
    assert await client.login(password="x1") == b"-ERR [AUTH] Authentication failed.\r\n"
    assert client.last is not None and client.last.after is After.CONTINUE
    assert await client.login(password="x2") == b"-ERR [AUTH] Authentication failed.\r\n"
    assert client.last.after is After.CLOSE


# --- TRANSACTION ----------------------------------------------------------------


async def test_stat_list_sizes_are_exact(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks)
    total = sum(len(m) for m in MESSAGES)
    assert await client.login() == f"+OK Logged in: 3 messages ({total} octets).\r\n".encode()
    assert await client.send("STAT") == f"+OK 3 {total}\r\n".encode()
    listing = await client.send("LIST")
    assert listing == (
        f"+OK 3 messages ({total} octets)\r\n1 {len(MESSAGES[0])}\r\n2 {len(MESSAGES[1])}\r\n"
        f"3 {len(MESSAGES[2])}\r\n.\r\n"
    ).encode()
    assert await client.send("LIST 2") == f"+OK 2 {len(MESSAGES[1])}\r\n".encode()
    assert await client.send("LIST 4") == b"-ERR No such message.\r\n"
    assert await client.send("LIST 0") == b"-ERR No such message.\r\n"
    for number, data in enumerate(MESSAGES, 1):
        wire = await client.send(f"RETR {number}")
        head, _, body = wire.partition(b"\r\n")
        assert head == f"+OK {len(data)} octets".encode()
        assert unstuff(body) == data


async def test_retr_dot_stuffs(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks)
    await client.login()
    wire = await client.send("RETR 2")
    assert wire == (b"+OK %d octets\r\nSubject: two\r\n\r\n..leading dot\r\n...two dots\r\nend\r\n.\r\n"
                    % len(MESSAGES[1]))


async def test_top(filled, locks) -> None:
    runtime, *_ = filled
    client = Client(runtime, locks)
    await client.login()
    assert await client.send("TOP 3 0") == b"+OK Top of message follows.\r\nSubject: three\r\n\r\n.\r\n"
    assert await client.send("TOP 3 2") == (
        b"+OK Top of message follows.\r\nSubject: three\r\n\r\nl1\r\nl2\r\n.\r\n")
    assert await client.send("TOP 3 100") == b"+OK Top of message follows.\r\n" + MESSAGES[2] + b".\r\n"
    assert await client.send("TOP 9 0") == b"-ERR No such message.\r\n"


async def test_uidl_format_unique_and_stable(filled, locks) -> None:
    runtime, account, folder_id = filled
    folder = await runtime.store.get_folder_by_id(folder_id)
    assert folder is not None
    client = Client(runtime, locks)
    await client.login()
    listing = (await client.send("UIDL")).split(b"\r\n")
    assert listing[0].startswith(b"+OK")
    ids = [line.split(b" ")[1] for line in listing[1:-2]]
    assert ids == [f"{folder.uidvalidity}.{uid}".encode() for uid in (1, 2, 3)]
    assert len(set(ids)) == 3
    assert all(0 < len(i) <= 70 and all(0x21 <= b <= 0x7E for b in i) for i in ids)
    assert await client.send("UIDL 2") == b"+OK 2 " + ids[1] + b"\r\n"
    await client.send("QUIT")
    # Another client (IMAP) expunges message 1; new mail arrives.
    await runtime.store.expunge(folder_id, [1])
    await put(runtime, folder_id, b"Subject: four\r\n\r\nx\r\n")
    client = Client(runtime, locks)
    await client.login()
    listing = (await client.send("UIDL")).split(b"\r\n")
    again = [line.split(b" ")[1] for line in listing[1:-2]]
    assert again[:2] == ids[1:]
    assert again[2] not in ids


async def test_dele_rset_quit(filled, locks) -> None:
    runtime, _, folder_id = filled
    client = Client(runtime, locks)
    await client.login()
    assert await client.send("DELE 1") == b"+OK Message 1 deleted.\r\n"
    assert await client.send("DELE 1") == b"-ERR Message 1 is deleted.\r\n"
    assert await client.send("RETR 1") == b"-ERR Message 1 is deleted.\r\n"
    assert await client.send("LIST 1") == b"-ERR Message 1 is deleted.\r\n"
    assert (await client.send("STAT")).startswith(b"+OK 2 ")
    assert b"\r\n1 " not in await client.send("LIST")
    assert (await client.send("RSET")).startswith(b"+OK Maildrop has 3 messages")
    assert (await client.send("STAT")).startswith(b"+OK 3 ")
    await client.send("DELE 2")
    await client.send("DELE 3")
    assert await client.send("QUIT") == b"+OK mail.example.com POP3 server signing off.\r\n"
    assert client.last is not None and client.last.after is After.CLOSE
    assert [m.uid for m in await runtime.store.message_index(folder_id)] == [1]


async def test_dropped_connection_deletes_nothing(filled, locks) -> None:
    runtime, _, folder_id = filled
    client = Client(runtime, locks)
    await client.login()
    await client.send("DELE 1")
    await client.session.close()  # what the driver does on a drop / timeout
    assert len(await runtime.store.message_index(folder_id)) == 3
    again = Client(runtime, locks)
    assert (await again.login()).startswith(b"+OK")  # the lock went with it


async def test_second_login_is_in_use(filled, locks) -> None:
    runtime, *_ = filled
    first = Client(runtime, locks)
    await first.login()
    second = Client(runtime, locks)
    assert await second.login() == b"-ERR [IN-USE] The maildrop is in use by another POP3 session.\r\n"
    assert second.session.state.name == "AUTHORIZATION"
    await first.send("QUIT")
    assert (await second.login()).startswith(b"+OK")


async def test_mail_delivered_during_the_session_appears_next_time(filled, locks) -> None:
    runtime, _, folder_id = filled
    client = Client(runtime, locks)
    await client.login()
    await put(runtime, folder_id, b"Subject: late\r\n\r\nlate\r\n")
    assert (await client.send("STAT")).startswith(b"+OK 3 ")
    await client.send("QUIT")
    client = Client(runtime, locks)
    await client.login()
    assert (await client.send("STAT")).startswith(b"+OK 4 ")


async def test_descending_sort_order(filled, locks) -> None:
    runtime, *_ = filled
    set_pop(runtime, message_retrieval_sort_order="descending")
    client = Client(runtime, locks)
    await client.login()
    wire = await client.send("RETR 1")
    assert unstuff(wire.partition(b"\r\n")[2]) == MESSAGES[2]
    assert await client.send("LIST 3") == f"+OK 3 {len(MESSAGES[0])}\r\n".encode()
    await client.send("DELE 1")
    await client.send("QUIT")
    remaining = await runtime.store.message_index((await runtime.store.get_folder(1, "INBOX")).id)
    assert [m.uid for m in remaining] == [1, 2]


async def test_no_inbox_is_an_empty_maildrop(env, locks) -> None:
    runtime, *_ = env
    await runtime.store.create_account("bob@example.com", HASH)
    client = Client(runtime, locks)
    assert await client.login("bob@example.com") == b"+OK Logged in: 0 messages (0 octets).\r\n"
    assert await client.send("LIST") == b"+OK 0 messages (0 octets)\r\n.\r\n"
    assert await client.send("QUIT") == b"+OK mail.example.com POP3 server signing off.\r\n"


async def test_empty_message_and_message_without_final_crlf(env, locks) -> None:
    runtime, _, folder_id = env
    await put(runtime, folder_id, b"")
    await put(runtime, folder_id, b"Subject: x\r\n\r\nno final newline")
    client = Client(runtime, locks)
    await client.login()
    assert await client.send("LIST") == b"+OK 2 messages (30 octets)\r\n1 0\r\n2 30\r\n.\r\n"
    assert await client.send("RETR 1") == b"+OK 0 octets\r\n.\r\n"
    assert await client.send("RETR 2") == b"+OK 30 octets\r\nSubject: x\r\n\r\nno final newline\r\n.\r\n"


async def test_pipelined_lines_in_one_buffer(filled, locks) -> None:
    runtime, *_ = filled
    events = parse_all(b"USER alice@example.com\r\nPASS " + PASSWORD.encode() + b"\r\nSTAT\r\nQUIT\r\n")
    session = Pop3Session(runtime, tls_active=True, can_start_tls=False, locks=locks)
    replies = [await session.handle(e) for e in events]
    assert [encode(r.responses[0])[:3] for r in replies] == [b"+OK"] * 4
    assert encode(replies[2].responses[0]) == b"+OK 3 %d\r\n" % sum(map(len, MESSAGES))
    assert replies[3].after is After.CLOSE


async def test_uidl_survives_a_restart_of_a_sqlite_store(tmp_path: Path, locks) -> None:
    from mailgate.storage.sqlite import SqliteStore

    async def uidl_once() -> bytes:
        store = SqliteStore(tmp_path / "mailgate.db")
        await store.open()
        try:
            runtime = Runtime(store=store, blobs=BlobStore(tmp_path / "blobs"), hostname="h",
                              tls_context=None)
            if await store.get_account("alice@example.com") is None:
                account = await store.create_account("alice@example.com", HASH)
                folder = await store.create_folder(account.id, "INBOX")
                for data in MESSAGES:
                    await put(runtime, folder.id, data)
            client = Client(runtime, locks)
            await client.login()
            listing = await client.send("UIDL")
            await client.send("QUIT")
            return listing
        finally:
            await store.close()

    first = await uidl_once()
    assert first.count(b"\r\n") == 5
    assert await uidl_once() == first


# --- reading messages: whole in memory up to INLINE_READ_MAX, streamed above ---------


def _big_message(size: int) -> bytes:
    """size octets of CRLF lines, some starting with "."."""
    head = b"Subject: big\r\n\r\n"
    line = b".dotted line of forty octets padded xx\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    data = head + body
    return data[: size - 2] + b"\r\n"


def test_read_limits_are_named() -> None:
    from mailgate.session import pop3_maildrop, pop3_messages

    assert pop3_messages.INLINE_READ_MAX == 128 * 1024
    assert pop3_messages.READ_CHUNK == 256 * 1024
    assert pop3_maildrop.LOAD_BATCH == 500
    assert pop3_maildrop.DENSE_UIDS_PER_MESSAGE == 2


@pytest.mark.parametrize("extra", [0, 1])
async def test_retr_and_top_around_the_inline_limit(env, locks, extra) -> None:
    from mailgate.protocol.pop3 import Body
    from mailgate.session.pop3_messages import INLINE_READ_MAX

    runtime, _, folder_id = env
    data = _big_message(INLINE_READ_MAX + extra)
    assert len(data) == INLINE_READ_MAX + extra
    await put(runtime, folder_id, data)
    client = Client(runtime, locks)
    await client.login()
    wire = await client.send("RETR 1")
    # Up to the limit the message is one in-memory Body; above it, a Stream.
    kind = Body if extra == 0 else Stream
    assert client.last is not None and isinstance(client.last.responses[0], kind)
    head, _, body = wire.partition(b"\r\n")
    assert head == b"+OK %d octets" % len(data)
    assert body == b"".join(b"." + line if line.startswith(b".") else line
                            for line in data.splitlines(keepends=True)) + b".\r\n"
    assert unstuff(body) == data
    top = await client.send("TOP 1 1")
    assert isinstance(client.last.responses[0], kind)
    assert top == b"+OK Top of message follows.\r\nSubject: big\r\n\r\n..dotted line of forty octets padded xx\r\n.\r\n"


@pytest.mark.parametrize("extra", [0, 1])
async def test_missing_blob_is_refused_before_any_reply(env, locks, extra) -> None:
    from mailgate.session.pop3_messages import INLINE_READ_MAX

    runtime, _, folder_id = env
    await put(runtime, folder_id, _big_message(INLINE_READ_MAX + extra))
    client = Client(runtime, locks)
    await client.login()
    [message] = await runtime.store.get_messages(folder_id, [1])
    runtime.blobs.path(message.blob_id).unlink()
    assert await client.send("RETR 1") == b"-ERR [SYS/TEMP] The message cannot be read now.\r\n"
    assert await client.send("TOP 1 0") == b"-ERR [SYS/TEMP] The message cannot be read now.\r\n"
    assert await client.send("NOOP") == b"+OK\r\n"  # the session goes on


async def test_truncated_blob_is_refused_not_sent_short(filled, locks) -> None:
    runtime, _, folder_id = filled
    client = Client(runtime, locks)
    await client.login()
    [message] = await runtime.store.get_messages(folder_id, [1])
    path = runtime.blobs.path(message.blob_id)
    path.chmod(0o644)
    path.write_bytes(MESSAGES[0][:5])
    assert await client.send("RETR 1") == b"-ERR [SYS/TEMP] The message cannot be read now.\r\n"
    wire = await client.send("RETR 2")  # the others are fine
    assert unstuff(wire.partition(b"\r\n")[2]) == MESSAGES[1]


# --- loading the maildrop at login -------------------------------------------------


class _CountingStore:
    """A store that counts the calls load_maildrop makes."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.index_calls = 0
        self.batches: list[int] = []

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    async def message_index(self, folder_id: int):
        self.index_calls += 1
        return await self._store.message_index(folder_id)

    async def get_summaries(self, folder_id: int, uids, *args, with_summary: bool = True):
        assert not with_summary  # a maildrop needs sizes and blob ids, never the summaries
        self.batches.append(len(uids))
        return await self._store.get_summaries(folder_id, uids, *args, with_summary=with_summary)


async def test_dense_maildrop_loads_by_uid_ranges_in_batches(env, monkeypatch) -> None:
    from mailgate.session import pop3_maildrop

    runtime, account, folder_id = env
    for i in range(7):
        await put(runtime, folder_id, b"Subject: %d\r\n\r\nbody\r\n" % i)
    await runtime.store.expunge(folder_id, [3])  # 6 of 7 UIDs used: dense
    monkeypatch.setattr(pop3_maildrop, "LOAD_BATCH", 3)
    spy = _CountingStore(runtime.store)
    drop = await pop3_maildrop.load_maildrop(spy, account.id, descending=False)  # type: ignore[arg-type]
    assert spy.index_calls == 0
    assert spy.batches == [3, 3, 1]  # UID ranges 1-3, 4-6, 7
    assert drop.uids == [1, 2, 4, 5, 6, 7]
    assert [e.uid for _, e in [(n, drop.get(n)) for n in range(1, 7)] if e] == [1, 2, 4, 5, 6, 7]
    folder = await runtime.store.get_folder(account.id, "INBOX")
    assert drop.live_unique_ids()[0] == (1, f"{folder.uidvalidity}.1")
    assert drop.totals() == (6, sum(drop.sizes))


async def test_sparse_maildrop_loads_by_its_index(env, monkeypatch) -> None:
    from mailgate.session import pop3_maildrop

    runtime, account, folder_id = env
    for i in range(9):
        await put(runtime, folder_id, b"Subject: %d\r\n\r\nbody\r\n" % i)
    await runtime.store.expunge(folder_id, [1, 2, 3, 4, 6, 7, 8])  # 2 left of 9 UIDs: sparse
    monkeypatch.setattr(pop3_maildrop, "LOAD_BATCH", 3)
    spy = _CountingStore(runtime.store)
    drop = await pop3_maildrop.load_maildrop(spy, account.id, descending=True)  # type: ignore[arg-type]
    assert spy.index_calls == 1
    assert spy.batches == [2]
    assert drop.uids == [9, 5]  # descending: message 1 is the newest
    assert drop.deleted_uids() == []
    drop.deleted.add(1)
    assert drop.deleted_uids() == [9]
    assert drop.totals() == (1, drop.sizes[1])
    assert drop.live_sizes() == [(2, drop.sizes[1])]


async def test_read_ahead_serves_the_next_retr_from_memory(filled, locks, monkeypatch) -> None:
    """After RETR n the driver lets the session read n + 1 while the client
    is busy; RETR n + 1 then costs no file read, and answers exactly the
    same bytes as without read-ahead."""
    import mailgate.session.pop3 as pop3_module

    runtime, *_ = filled
    client = Client(runtime, locks)
    await client.login()
    reads: list[str] = []
    real = pop3_module.read_whole
    monkeypatch.setattr(pop3_module, "read_whole", lambda blobs, entry: reads.append(entry.blob_id) or real(blobs, entry))
    first = await client.send("RETR 1")
    client.session.read_ahead()  # what the driver does before waiting for input
    assert len(reads) == 2  # message 1 for RETR, message 2 ahead
    second = await client.send("RETR 2")
    assert len(reads) == 2 and unstuff(second.partition(b"\r\n")[2]) == MESSAGES[1]
    assert unstuff(first.partition(b"\r\n")[2]) == MESSAGES[0]
    client.session.read_ahead()  # message 3's RETR reply ahead (only the reply is kept)
    assert len(reads) == 3
    assert await client.send("TOP 3 0") == b"+OK Top of message follows.\r\nSubject: three\r\n\r\n.\r\n"
    assert len(reads) == 4  # a TOP of it reads the file again
    client.session.read_ahead()  # after the last message: nothing to read
    await client.send("RETR 1")  # nothing was read ahead after message 3: read now
    assert len(reads) == 5
    client.session.read_ahead()  # message 2 ahead
    await client.send("LIST")
    client.session.read_ahead()  # nothing is read after other commands
    assert len(reads) == 6
    assert unstuff((await client.send("RETR 2")).partition(b"\r\n")[2]) == MESSAGES[1]
    assert len(reads) == 6  # still served from what was read ahead


async def test_read_ahead_of_a_missing_blob_leaves_the_error_to_retr(filled, locks) -> None:
    runtime, _, folder_id = filled
    client = Client(runtime, locks)
    await client.login()
    message = (await runtime.store.get_messages(folder_id, [2]))[0]
    await client.send("RETR 1")
    runtime.blobs.path(message.blob_id).unlink()
    client.session.read_ahead()  # the read fails quietly
    assert (await client.send("RETR 2")).startswith(b"-ERR [SYS/TEMP]")


async def test_read_ahead_after_retr_prepares_the_exact_reply(filled, locks) -> None:
    """After a RETR the next message's whole reply is made ahead (status line,
    dot-stuffing, terminator): what goes out is byte for byte what a session
    without read-ahead sends, and a DELE in between still wins."""
    from mailgate.protocol.pop3 import Body, Prepared

    runtime, *_ = filled
    ahead, fresh = Client(runtime, locks), Client(runtime, MaildropLocks())
    await ahead.login()
    await ahead.send("RETR 1")
    ahead.session.read_ahead()
    served = await ahead.send("RETR 2")  # the message with lines starting with "."
    assert isinstance(ahead.last.responses[0], Prepared)
    await ahead.send("QUIT")  # no DELE: nothing changes
    await fresh.login()
    assert served == await fresh.send("RETR 2")
    assert isinstance(fresh.last.responses[0], Body)
    assert served.startswith(b"+OK %d octets\r\n" % len(MESSAGES[1])) and b"\r\n..leading dot\r\n" in served

    await fresh.send("RETR 1")
    fresh.session.read_ahead()  # message 2 ahead, then deleted before it is asked for
    assert (await fresh.send("DELE 2")).startswith(b"+OK")
    assert await fresh.send("RETR 2") == b"-ERR Message 2 is deleted.\r\n"


async def test_read_ahead_after_top_keeps_the_bytes_not_a_retr_reply(filled, locks) -> None:
    from mailgate.protocol.pop3 import Body

    runtime, *_ = filled
    client = Client(runtime, locks)
    await client.login()
    await client.send("TOP 1 0")
    client.session.read_ahead()
    reply = await client.send("RETR 2")
    assert isinstance(client.last.responses[0], Body)  # encoded now, from the bytes read ahead
    assert unstuff(reply.partition(b"\r\n")[2]) == MESSAGES[1]
