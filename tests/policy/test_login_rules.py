"""Login policy: one rule set for IMAP4, POP3 and SMTP, each rule tested."""

from __future__ import annotations

import statistics
import time

import pytest

from mailgate.directory.auth import authenticate
from mailgate.directory.passwords import hash_password
from mailgate.policy.connections import Client, ConnectionTracker, Limited
from mailgate.policy.gate import check_login
from mailgate.policy.login import LoginType, Protocol, Refusal, authorize, credentials_allowed
from mailgate.policy.state import DISCONNECT_SCOPE, KICK_TEXT, MOVED_MARK, MOVED_TEXT
from mailgate.protocol.sasl import MECHANISMS
from mailgate.runtime import Runtime
from mailgate.session.imap.capabilities import capabilities
from mailgate.settings import ImapSettings, PopSettings
from mailgate.storage.blobs import BlobStore
from mailgate.storage.memory import MemoryStore
from mailgate.storage.models import Account, Role

PW = "pw-123"


def _account(**kw) -> Account:
    return Account(1, "a@example.com", "x", **kw)


@pytest.mark.parametrize("protocol", [Protocol.IMAP4, Protocol.POP3])
def test_roles_and_protocol_switches(protocol: Protocol) -> None:
    assert authorize(_account(), protocol) is None
    assert authorize(_account(role=Role.ADMINISTRATOR), protocol) is Refusal.ROLE
    assert authorize(_account(role=Role.GUEST), protocol) is Refusal.ROLE
    off = {"imap_enabled": False} if protocol is Protocol.IMAP4 else {"pop_enabled": False}
    assert authorize(_account(**off), protocol) is Refusal.PROTOCOL_DISABLED


def test_smtp_refuses_guests_only() -> None:
    assert authorize(_account(role=Role.GUEST), Protocol.SMTP) is Refusal.ROLE
    assert authorize(_account(role=Role.ADMINISTRATOR, imap_enabled=False, pop_enabled=False), Protocol.SMTP) is None


def test_login_type_matrix() -> None:
    # (login type, tls, via sasl) -> allowed
    for tls in (False, True):
        for sasl in (False, True):
            assert credentials_allowed(LoginType.PLAIN_TEXT_LOGIN, tls, sasl)
            assert credentials_allowed(LoginType.PLAIN_TEXT_AUTHENTICATION, tls, sasl) == (tls or sasl)
            assert credentials_allowed(LoginType.SECURE_LOGIN, tls, sasl) == tls


def test_imap_capabilities_follow_the_login_type() -> None:
    def caps(login_type: LoginType, tls: bool) -> list[str]:
        return capabilities(authenticated=False, tls_active=tls, can_start_tls=not tls,
                            login_type=login_type, append_limit=1)

    assert "LOGINDISABLED" in caps(LoginType.SECURE_LOGIN, False)
    assert "AUTH=PLAIN" not in caps(LoginType.SECURE_LOGIN, False)
    assert "AUTH=PLAIN" in caps(LoginType.PLAIN_TEXT_AUTHENTICATION, False)
    assert "LOGINDISABLED" in caps(LoginType.PLAIN_TEXT_AUTHENTICATION, False)
    assert "LOGINDISABLED" not in caps(LoginType.PLAIN_TEXT_LOGIN, False)
    assert "LOGINDISABLED" not in caps(LoginType.SECURE_LOGIN, True)
    assert not any("ANONYMOUS" in c for c in caps(LoginType.PLAIN_TEXT_LOGIN, True))
    assert "ANONYMOUS" not in MECHANISMS  # never offered, never accepted


@pytest.fixture()
async def runtime(tmp_path):
    store = MemoryStore()
    await store.open()
    for address, role in (("a@example.com", Role.USER), ("admin@example.com", Role.ADMINISTRATOR),
                          ("guest@example.com", Role.GUEST)):
        await store.create_account(address, hash_password(PW), role=role)
    rt = Runtime(store=store, blobs=BlobStore(tmp_path / "blobs"), hostname="h", tls_context=None)
    yield rt
    await store.close()


def _client(ip: str = "192.0.2.1") -> Client:
    return Client("imap4", ip, "127.0.0.1:143", f"{ip}:5000", False)


async def test_check_login_refusals(runtime) -> None:
    limits = ImapSettings()
    ok = await check_login(runtime, Protocol.IMAP4, "a@example.com", PW, _client(), limits)
    assert ok.ok and ok.account is not None
    for user, refusal in (("admin@example.com", Refusal.ROLE), ("guest@example.com", Refusal.ROLE),
                          ("anonymous", Refusal.ANONYMOUS), ("", Refusal.ANONYMOUS),
                          ("a@example.com:nopw", Refusal.BAD_CREDENTIALS)):
        password = "" if user == "" else (PW if ":" not in user else "wrong")
        decision = await check_login(runtime, Protocol.POP3, user.split(":")[0], password, _client(), limits)
        assert decision.refusal is refusal, user
    await runtime.store.update_account("a@example.com", pop_enabled=False)
    decision = await check_login(runtime, Protocol.POP3, "a@example.com", PW, _client(), PopSettings())
    assert decision.refusal is Refusal.PROTOCOL_DISABLED
    await runtime.store.update_account("a@example.com", pop_enabled=True)  # no restart needed
    assert (await check_login(runtime, Protocol.POP3, "a@example.com", PW, _client(), PopSettings())).ok


async def test_per_user_connection_limit(runtime) -> None:
    tracker = ConnectionTracker()
    limits = ImapSettings(max_connections_per_user=2)
    clients = [tracker.admit(_client(), limits) for _ in range(3)]
    results = [await check_login(runtime, Protocol.IMAP4, "A@example.com", PW, c, limits) for c in clients]
    assert [r.refusal for r in results] == [None, None, Refusal.USER_CONNECTION_LIMIT]
    clients[0].close()
    assert (await check_login(runtime, Protocol.IMAP4, "a@example.com", PW, clients[2], limits)).ok


def test_server_and_ip_limits_count_per_protocol() -> None:
    tracker = ConnectionTracker()
    limits = ImapSettings(max_connections=3, max_connection_from_single_ip=2)
    a1, a2, a3 = (tracker.admit(_client("192.0.2.1"), limits) for _ in range(3))
    assert a1.refused is None and a2.refused is None and a3.refused is Limited.IP
    b1 = tracker.admit(_client("192.0.2.2"), limits)
    assert b1.refused is None
    assert tracker.admit(_client("192.0.2.3"), limits).refused is Limited.SERVER
    pop = Client("pop3", "192.0.2.1", "l", "r", False)
    assert tracker.admit(pop, limits).refused is None  # another protocol, its own counts
    a1.close()
    assert tracker.admit(_client("192.0.2.1"), limits).refused is None
    assert tracker.count("imap4") == 3 and tracker.count("pop3") == 1


async def test_unknown_account_costs_the_same_as_a_wrong_password(runtime) -> None:
    async def timed(user: str) -> float:
        started = time.perf_counter()
        decision = await authenticate(runtime.store, user, "wrong", Protocol.IMAP4)
        assert decision.refusal is Refusal.BAD_CREDENTIALS
        return time.perf_counter() - started

    unknown = statistics.median([await timed("nobody@example.com") for _ in range(5)])
    wrong = statistics.median([await timed("a@example.com") for _ in range(5)])
    assert 0.4 < unknown / wrong < 2.5


def test_dummy_hash_costs_what_a_real_one_does() -> None:
    """Unknown addresses verify against DUMMY_HASH: it must carry the current
    argon2 parameters, or an unknown user would answer faster than a wrong password."""
    from mailgate.directory.passwords import DUMMY_HASH, needs_rehash, verify_password

    assert not needs_rehash(DUMMY_HASH)
    assert verify_password(DUMMY_HASH, "mailgate-dummy-password")
    assert not verify_password(DUMMY_HASH, "anything else")


async def test_a_disconnect_ends_only_the_sessions_that_logged_in_before_it(runtime) -> None:
    """The settings watcher sees a disconnect or move up to a second late; a
    client that logged in after it (reconnecting at once, as mbsync does after
    a move) must not be ended by that late sighting."""
    policy = runtime.policy
    await policy.refresh(runtime)  # the watcher's first tick: earlier bumps are history
    limits = ImapSettings()
    before = policy.tracker.admit(_client(), limits)
    assert (await check_login(runtime, Protocol.IMAP4, "a@example.com", PW, before, limits)).ok
    await runtime.store.put_settings(DISCONNECT_SCOPE, {"a@example.com": "1" + MOVED_MARK})  # a move's bump
    after = policy.tracker.admit(_client(), limits)
    assert (await check_login(runtime, Protocol.IMAP4, "a@example.com", PW, after, limits)).ok
    await policy.refresh(runtime)
    assert before.is_kicked and before.kick_reason == MOVED_TEXT
    assert not after.is_kicked
    await runtime.store.put_settings(DISCONNECT_SCOPE, {"a@example.com": "2"})  # `mailbox set --disconnect`
    await policy.refresh(runtime)
    assert after.is_kicked and after.kick_reason == KICK_TEXT
