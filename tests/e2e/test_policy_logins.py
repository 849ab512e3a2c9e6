"""Login policy against a running server: refused identities over both
protocols, re-enabling without a restart, admin disconnects, brute force."""

from __future__ import annotations

import base64
import threading
import time

import pytest

from .conftest import PASSWORD
from .test_policy_clients import Imap, Pop3, cli_ok, eventually

pytestmark = pytest.mark.e2e


def _add(server, address: str, role: str) -> None:
    cli_ok(server, "mailbox", "add", address, "--password-stdin", "--role", role, input=PASSWORD.encode() + b"\n")


def _imap(server, **kw) -> Imap:
    return Imap(server.ports["imaps"], tls=True, cafile=server.cert, **kw)


def _pop(server, **kw) -> Pop3:
    return Pop3(server.ports["pop3s"], tls=True, cafile=server.cert, **kw)


def test_administrator_guest_and_anonymous_are_refused_over_both_protocols(server) -> None:
    _add(server, "admin@example.com", "administrator")
    _add(server, "guest@example.com", "guest")
    imap, pop = _imap(server), _pop(server)
    try:
        for who in ("admin@example.com", "guest@example.com"):
            reply = imap.login(who, PASSWORD)
            assert b" NO [AUTHORIZATIONFAILED]" in reply, reply
            reply = pop.login(who, PASSWORD)
            assert reply.startswith(b"-ERR [AUTH]"), reply
        # Anonymous: by name, with an empty password, and SASL ANONYMOUS is never offered.
        assert b" NO [AUTHENTICATIONFAILED]" in imap.login("anonymous", "x@example.com")
        caps = b"".join(imap.command("CAPABILITY"))
        assert b"AUTH=ANONYMOUS" not in caps and b"AUTH=PLAIN" in caps
        assert b" NO " in imap.command("AUTHENTICATE ANONYMOUS")[-1]
        assert pop.login("anonymous", "x@example.com").startswith(b"-ERR [AUTH]")
        sasl = b"".join(pop.multiline("CAPA"))
        assert b"SASL PLAIN LOGIN" in sasl and b"ANONYMOUS" not in sasl
        assert pop.command("AUTH ANONYMOUS").startswith(b"-ERR")
    finally:
        imap.close()
        pop.close()
    log = "".join(server.output)
    assert "login refused for 'admin@example.com'" in log and "role" in log


def test_protocol_disabled_mailbox_is_refused_then_logs_in_when_re_enabled(server) -> None:
    cli_ok(server, "mailbox", "set", "alice@example.com", "--imap-enabled", "false", "--pop-enabled", "false")
    listed = cli_ok(server, "mailbox", "list", "--pop-enabled", "false")
    assert "alice@example.com" in listed and "bob@example.com" not in listed
    imap, pop = _imap(server), _pop(server)
    assert b" NO [CONTACTADMIN]" in imap.login("alice@example.com", PASSWORD)
    assert pop.login("alice@example.com", PASSWORD).startswith(b"-ERR [AUTH]")
    cli_ok(server, "mailbox", "set", "alice@example.com", "--imap-enabled", "true", "--pop-enabled", "true")
    # The account is read at each login: the same connections now succeed.
    assert b" OK " in imap.login("alice@example.com", PASSWORD)
    assert pop.login("alice@example.com", PASSWORD).startswith(b"+OK")
    imap.close()
    pop.close()


def test_disconnect_ends_open_sessions_of_both_protocols(server) -> None:
    imap, pop = _imap(server), _pop(server)
    other = _imap(server)
    assert b" OK " in imap.login("alice@example.com", PASSWORD)
    assert pop.login("alice@example.com", PASSWORD).startswith(b"+OK")
    assert b" OK " in other.login("bob@example.com", PASSWORD)
    started = time.monotonic()
    cli_ok(server, "mailbox", "set", "alice@example.com", "--pop-enabled", "false", "--disconnect")
    assert imap.line().startswith(b"* BYE"), "IMAP session was not ended"
    assert pop.line().startswith(b"-ERR"), "POP3 session was not ended"
    assert time.monotonic() - started < 4
    assert imap.closed_by_server() and pop.closed_by_server()
    assert b" OK " in other.command("NOOP")[-1]  # bob's session is untouched
    # POP3 is now refused for alice; IMAP still works.
    assert _pop(server).login("alice@example.com", PASSWORD).startswith(b"-ERR [AUTH]")
    assert b" OK " in _imap(server).login("alice@example.com", PASSWORD)


def test_brute_force_is_throttled_while_other_clients_are_served(server) -> None:
    attacker = _imap(server, source="127.0.0.1")
    replies: list[bytes] = []
    latencies: list[float] = []

    def attack() -> None:
        for i in range(200):
            replies.append(attacker.login("alice@example.com", f"wrong-{i}"))

    thread = threading.Thread(target=attack)
    started = time.monotonic()
    thread.start()
    # Meanwhile, a client from another address is served promptly.
    while thread.is_alive():
        t0 = time.monotonic()
        probe = _imap(server, source="127.0.0.2")
        assert b" OK " in probe.command("NOOP")[-1]
        probe.close()
        latencies.append(time.monotonic() - t0)
        time.sleep(0.3)
    thread.join()
    elapsed = time.monotonic() - started
    assert len(replies) == 200
    assert all(b" NO " in r for r in replies)
    failed = [r for r in replies if b"[AUTHENTICATIONFAILED]" in r]
    throttled = [r for r in replies if b"[UNAVAILABLE]" in r]
    assert len(failed) == 10 and len(throttled) == 190  # ip_lockout_failures = 10
    assert 5 < elapsed < 40  # growing delays, then immediate refusals
    assert max(latencies) < 2.0, latencies
    # The right password from the attacking address is refused for now ...
    assert b"[UNAVAILABLE]" in attacker.login("alice@example.com", PASSWORD)
    assert _pop(server, source="127.0.0.1").login("alice@example.com", PASSWORD).startswith(b"-ERR [SYS/TEMP]")
    attacker.close()
    # ... and accepted from another address, over both protocols.
    assert b" OK " in _imap(server, source="127.0.0.2").login("alice@example.com", PASSWORD)
    assert _pop(server, source="127.0.0.2").login("alice@example.com", PASSWORD).startswith(b"+OK")


def test_unknown_account_and_wrong_password_get_the_same_reply(server) -> None:
    imap, pop = _imap(server), _pop(server)
    assert imap.login("nobody@example.com", "x").split(b" ", 1)[1] == \
        imap.login("alice@example.com", "x").split(b" ", 1)[1]
    assert pop.login("nobody@example.com", "x") == pop.login("alice@example.com", "x")
    plain = base64.b64encode(b"\0nobody@example.com\0x").decode()
    assert pop.command(f"AUTH PLAIN {plain}") == pop.login("alice@example.com", "x")
