"""Each protocol setting's effect on a running server, changed with the CLI
while it runs (no restart): banner, login type, limits, sort order, hidden
folders, services, timeouts."""

from __future__ import annotations

import socket
import time

import pytest

from .conftest import PASSWORD
from .test_policy_clients import Imap, Pop3, cli_ok, connect, eventually

pytestmark = pytest.mark.e2e


def _imap(server, tls: bool = True, **kw) -> Imap:
    return Imap(server.ports["imaps" if tls else "imap"], tls=tls, cafile=server.cert, **kw)


def _pop(server, tls: bool = True, **kw) -> Pop3:
    return Pop3(server.ports["pop3s" if tls else "pop3"], tls=tls, cafile=server.cert, **kw)


def _deliver(server, subject: str) -> None:
    message = f"From: x@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    cli_ok(server, "deliver", "alice@example.com", input=message)


def test_banner_changes_while_running(server) -> None:
    assert b"The mailgate IMAP4 service is ready." in _imap(server).greeting
    cli_ok(server, "imap", "set", "--banner", "Welcome to Example IMAP")
    cli_ok(server, "pop", "set", "--banner", "Welcome to Example POP")
    took = eventually(lambda: b"Welcome to Example IMAP" in _imap(server).greeting, what="IMAP banner")
    assert took < 2.5
    eventually(lambda: _pop(server).greeting == b"+OK Welcome to Example POP\r\n", what="POP3 banner")


def test_login_types(server) -> None:
    # SecureLogin (default): nothing before TLS.
    imap = _imap(server, tls=False)
    caps = b"".join(imap.command("CAPABILITY"))
    assert b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps and b"STARTTLS" in caps
    assert b"[PRIVACYREQUIRED]" in imap.login("alice@example.com", PASSWORD)
    pop = _pop(server, tls=False)
    capa = pop.multiline("CAPA")
    assert b"USER\r\n" not in capa and not any(line.startswith(b"SASL") for line in capa)
    assert pop.command("USER alice@example.com").startswith(b"-ERR [AUTH]")

    # PlainTextAuthentication: AUTHENTICATE / AUTH yes, LOGIN / USER no.
    cli_ok(server, "imap", "set", "--login-type", "plain-text-authentication")
    cli_ok(server, "pop", "set", "--login-type", "PlainTextAuthentication")  # Exchange's spelling works too

    def sasl_only() -> bool:
        caps = b"".join(_imap(server, tls=False).command("CAPABILITY"))
        return b"AUTH=PLAIN" in caps and b"LOGINDISABLED" in caps

    eventually(sasl_only, what="plain-text-authentication")
    eventually(lambda: b"SASL PLAIN LOGIN\r\n" in _pop(server, tls=False).multiline("CAPA"), what="POP3 SASL")
    imap = _imap(server, tls=False)
    assert b"[PRIVACYREQUIRED]" in imap.login("alice@example.com", PASSWORD)
    import base64

    token = base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode()).decode()
    assert b" OK " in imap.command(f"AUTHENTICATE PLAIN {token}")[-1]
    pop = _pop(server, tls=False)
    assert b"USER\r\n" not in pop.multiline("CAPA")
    assert pop.command(f"AUTH PLAIN {token}").startswith(b"+OK")

    # PlainTextLogin: everything, in clear.
    cli_ok(server, "imap", "set", "--login-type", "1")
    cli_ok(server, "pop", "set", "--login-type", "plain-text-login")
    eventually(lambda: b"LOGINDISABLED" not in b"".join(_imap(server, tls=False).command("CAPABILITY")),
               what="plain-text-login")
    assert b" OK " in _imap(server, tls=False).login("bob@example.com", PASSWORD)
    eventually(lambda: _pop(server, tls=False).login("bob@example.com", PASSWORD).startswith(b"+OK"),
               what="POP3 USER/PASS in clear")


def test_connection_limits_per_ip_server_and_user(server) -> None:
    cli_ok(server, "imap", "set", "--max-connection-from-single-ip", "2")
    cli_ok(server, "pop", "set", "--max-connection-from-single-ip", "1")
    time.sleep(2.2)
    held = [_imap(server), _imap(server)]
    refused = _imap(server)
    assert refused.greeting.startswith(b"* BYE"), refused.greeting
    assert refused.closed_by_server()
    # Counted per IP: another address still gets in.
    assert _imap(server, source="127.0.0.2").greeting.startswith(b"* OK")
    pop_held = _pop(server)
    pop_refused = _pop(server)
    assert pop_refused.greeting.startswith(b"-ERR [SYS/TEMP]"), pop_refused.greeting
    # Closing one frees its slot.
    held.pop().close()
    eventually(lambda: _imap(server).greeting.startswith(b"* OK"), what="slot freed")
    pop_held.close()

    # Per server (every address), then per user.
    cli_ok(server, "imap", "set", "--max-connection-from-single-ip", "2147483647", "--max-connections", "2")
    for c in held:
        c.close()
    time.sleep(2.2)
    a, b = _imap(server), _imap(server, source="127.0.0.2")
    assert a.greeting.startswith(b"* OK") and b.greeting.startswith(b"* OK")
    assert _imap(server, source="127.0.0.3").greeting.startswith(b"* BYE")
    a.close()
    b.close()
    cli_ok(server, "imap", "set", "--max-connections", "2147483647", "--max-connections-per-user", "1")
    time.sleep(2.2)
    first = _imap(server)
    assert b" OK " in first.login("alice@example.com", PASSWORD)
    second = _imap(server)
    assert b"NO [UNAVAILABLE]" in second.login("alice@example.com", PASSWORD)
    assert b" OK " in _imap(server).login("bob@example.com", PASSWORD)  # per user
    first.close()
    eventually(lambda: b" OK " in second.login("alice@example.com", PASSWORD), what="user slot freed")


def test_pop3_message_retrieval_sort_order(server) -> None:
    for n in (1, 2, 3):
        _deliver(server, f"number {n}")

    def subjects() -> list[bytes]:
        pop = _pop(server)
        assert pop.login("alice@example.com", PASSWORD).startswith(b"+OK")
        found = []
        for line in pop.multiline("LIST"):
            number = line.split()[0].decode()
            found += [h for h in pop.multiline(f"TOP {number} 0") if h.startswith(b"Subject:")]
        pop.command("QUIT")
        return found

    assert subjects() == [b"Subject: number 1\r\n", b"Subject: number 2\r\n", b"Subject: number 3\r\n"]
    cli_ok(server, "pop", "set", "--message-retrieval-sort-order", "descending")
    eventually(lambda: subjects()[0] == b"Subject: number 3\r\n", what="descending order")


def test_hidden_folders(server) -> None:
    imap = _imap(server)
    assert b" OK " in imap.login("alice@example.com", PASSWORD)
    assert b" NO " in imap.command('CREATE ".hidden"')[-1]
    cli_ok(server, "imap", "set", "--show-hidden-folders-enabled", "true")

    def created() -> bool:
        c = _imap(server)
        c.login("alice@example.com", PASSWORD)
        return b" OK " in c.command('CREATE ".hidden"')[-1]

    eventually(created, what="hidden folder creation allowed")
    assert any(b'".hidden"' in line or b" .hidden" in line for line in imap.command('LIST "" "*"'))
    cli_ok(server, "imap", "set", "--show-hidden-folders-enabled", "false")

    def hidden() -> bool:
        c = _imap(server)
        c.login("alice@example.com", PASSWORD)
        return not any(b".hidden" in line for line in c.command('LIST "" "*"'))

    eventually(hidden, what="hidden folder not listed")


def test_service_stop_closes_listeners_and_start_reopens(server) -> None:
    status = cli_ok(server, "service", "status")
    assert "imap4: running" in status and f"127.0.0.1:{server.ports['imaps']}" in status
    held = _pop(server)
    assert held.login("alice@example.com", PASSWORD).startswith(b"+OK")
    eventually(lambda: "connections: 1" in cli_ok(server, "service", "status", "pop3"), what="count shown")
    cli_ok(server, "service", "stop", "pop3")

    def refused() -> bool:
        try:
            connect(server.ports["pop3s"]).close()
        except ConnectionRefusedError:
            return True
        return False

    eventually(refused, what="POP3 listener closed")
    assert held.closed_by_server()
    assert _imap(server).greeting.startswith(b"* OK")  # IMAP4 untouched
    assert "pop3: stopped" in cli_ok(server, "service", "status", "pop3")
    cli_ok(server, "service", "start", "pop3")
    eventually(lambda: _pop(server).greeting.startswith(b"+OK"), what="POP3 listener reopened")


def test_bindings_move_while_running(server) -> None:
    from .conftest import free_port

    port = free_port()
    cli_ok(server, "imap", "set", "--unencrypted-or-tls-bindings", f"127.0.0.1:{port}")
    eventually(lambda: Imap(port).greeting.startswith(b"* OK"), what="new binding")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=2).close()


@pytest.mark.slow
def test_pre_authentication_timeout_fires(server) -> None:
    cli_ok(server, "imap", "set", "--pre-authenticated-connection-timeout", "00:00:30")
    cli_ok(server, "pop", "set", "--pre-authenticated-connection-timeout", "30")
    time.sleep(2.2)
    imap, pop = _imap(server), _pop(server)
    logged_in = _imap(server)
    assert b" OK " in logged_in.login("alice@example.com", PASSWORD)  # the 30 min timeout applies
    started = time.monotonic()
    assert imap.closed_by_server(timeout=40)
    took = time.monotonic() - started
    assert b"* BYE Autologout" in imap.buf
    assert pop.closed_by_server(timeout=10) and pop.buf.startswith(b"-ERR")
    assert 28 < took < 35
    assert b" OK " in logged_in.command("NOOP")[-1]


def test_out_of_range_values_are_refused_with_the_range(server) -> None:
    result = server.cli("pop", "set", "--max-command-size", "2000")
    assert result.returncode == 1
    assert b"--max-command-size" in result.stderr and b"40-1024" in result.stderr
    result = server.cli("imap", "set", "--authenticated-connection-timeout", "10")
    assert result.returncode == 1 and b"30-86400" in result.stderr
    result = server.cli("imap", "set", "--login-type", "kerberos")
    assert result.returncode == 1 and b"secure-login" in result.stderr
