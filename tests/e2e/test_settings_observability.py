"""Protocol log, metrics endpoint, client settings and the connectivity test
against a running server, switched on with the CLI while it runs."""

from __future__ import annotations

import base64
import csv
import urllib.request

import pytest

from .conftest import PASSWORD, free_port
from .test_policy_clients import Imap, Pop3, cli_ok, eventually

pytestmark = pytest.mark.e2e


def _rows(folder) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted(folder.glob("*.LOG")):
        with open(path, newline="", encoding="utf-8") as handle:
            rows += [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    return rows


def test_protocol_log_shows_every_command_and_reply_with_secrets_masked(server, tmp_path) -> None:
    imap_dir, pop_dir = tmp_path / "imaplog", tmp_path / "poplog"
    cli_ok(server, "imap", "set", "--protocol-log-enabled", "true", "--log-file-location", str(imap_dir))
    cli_ok(server, "pop", "set", "--protocol-log-enabled", "true", "--log-file-location", str(pop_dir))

    def logged() -> bool:
        Imap(server.ports["imaps"], tls=True, cafile=server.cert).close()
        return bool(_rows(imap_dir))

    eventually(logged, what="IMAP log written")

    def pop_logged() -> bool:
        # The two settings may be applied by different runs of the server's
        # settings watcher: wait for the POP3 log too.
        Pop3(server.ports["pop3s"], tls=True, cafile=server.cert).close()
        return bool(_rows(pop_dir))

    eventually(pop_logged, seconds=15, what="POP3 log written")
    imap = Imap(server.ports["imaps"], tls=True, cafile=server.cert)
    assert b" OK " in imap.login("alice@example.com", PASSWORD)
    token = base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode()).decode()
    imap.command("SELECT INBOX")
    imap.command("NOOP")
    imap.command("LOGOUT")
    imap.closed_by_server()
    sasl = Imap(server.ports["imaps"], tls=True, cafile=server.cert)
    assert b" OK " in sasl.command(f"AUTHENTICATE PLAIN {token}")[-1]
    sasl.close()
    pop = Pop3(server.ports["pop3s"], tls=True, cafile=server.cert)
    assert pop.login("alice@example.com", PASSWORD).startswith(b"+OK")
    pop.multiline("LIST")
    pop.command("QUIT")
    pop.closed_by_server()

    def complete() -> bool:
        """Both sessions under test (LOGIN and AUTHENTICATE) have ended in
        the log; probe connections of logged() do not count."""
        rows = _rows(imap_dir)
        ended = {r[2] for r in rows if r[6] == "-"}
        login = {r[2] for r in rows if any('LOGIN "alice@example.com" ****' in x for x in r)}
        sasl_ids = {r[2] for r in rows if any("AUTHENTICATE PLAIN ****" in x for x in r)}
        return bool(login) and bool(sasl_ids) and login <= ended and sasl_ids <= ended

    eventually(complete, seconds=15, what="IMAP sessions ended in the log")
    rows = _rows(imap_dir)
    text = "\n".join(",".join(r) for r in rows)
    assert PASSWORD not in text and token not in text
    assert all(len(r) == 9 for r in rows)
    session = [r for r in rows if any('LOGIN "alice@example.com" ****' in x for x in r)][0][2]
    events = [(r[6], r[7]) for r in rows if r[2] == session]
    sequence = [int(r[3]) for r in rows if r[2] == session]
    assert sequence == list(range(len(sequence)))
    assert events[0] == ("+", "") and events[-1] == ("-", "")
    received = [d for e, d in events if e == "<"]
    assert received == ['c1 LOGIN "alice@example.com" ****', "c2 SELECT INBOX", "c3 NOOP", "c4 LOGOUT"]
    sent = [d for e, d in events if e == ">"]
    assert sent[0].startswith("* OK") and any(d.startswith("c1 OK") for d in sent)
    assert any(d.startswith("c2 OK") for d in sent) and any(d.startswith("* BYE") for d in sent)
    assert any("AUTHENTICATE PLAIN ****" in d for _, d in [(r[6], r[7]) for r in rows])
    assert rows[0][0].endswith("Z") and "T" in rows[0][0]

    # A loaded CI machine may take a while to write the closing rows.
    eventually(lambda: any(r[6] == "<" and r[7] == "QUIT" for r in _rows(pop_dir)), seconds=15,
               what="POP3 session in the log")
    pop_events = [(r[6], r[7]) for r in _rows(pop_dir)]
    assert ("<", "PASS ****") in pop_events and ("<", "USER alice@example.com") in pop_events
    assert ("<", "LIST") in pop_events and ("<", "QUIT") in pop_events
    assert PASSWORD not in str(pop_events)


def test_metrics_endpoint(server) -> None:
    port = free_port()
    cli_ok(server, "monitoring", "set", "--metrics-bindings", f"127.0.0.1:{port}")

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            return response.read().decode()

    eventually(lambda: bool(scrape()), what="metrics endpoint up")
    held = Imap(server.ports["imaps"], tls=True, cafile=server.cert)
    assert b" OK " in held.login("alice@example.com", PASSWORD)
    held.command("NOOP")
    assert b" OK " in held.command("APPEND INBOX {16+}\r\nSubject: x\r\n\r\nhi")[-1]
    Imap(server.ports["imaps"], tls=True, cafile=server.cert).login("alice@example.com", "wrong")
    cli_ok(server, "mailbox", "set", "bob@example.com", "--imap-enabled", "false")
    Imap(server.ports["imaps"], tls=True, cafile=server.cert).login("bob@example.com", PASSWORD)
    text = scrape()
    assert 'mailgate_connections{protocol="imap4",tls="true"}' in text
    assert 'mailgate_logins_total{protocol="imap4",reason="",result="ok"} 1.0' in text
    assert 'mailgate_logins_total{protocol="imap4",reason="bad-credentials",result="failed"} 1.0' in text
    assert 'mailgate_logins_total{protocol="imap4",reason="protocol-disabled",result="refused"} 1.0' in text
    assert 'mailgate_command_duration_seconds_count{command="NOOP",protocol="imap4"} 1.0' in text
    assert 'mailgate_deliveries_total{result="ok"} 1.0' in text  # the APPEND
    cli_ok(server, "monitoring", "set", "--metrics-bindings", "")

    def closed() -> bool:
        try:
            scrape()
        except OSError:
            return True
        return False

    eventually(closed, what="metrics endpoint closed")


def test_client_settings(server) -> None:
    out = cli_ok(server, "client-settings", "alice@example.com")
    assert f"IMAP4  internal  server localhost  port {server.ports['imaps']}  encryption SSL/TLS" in out
    assert f"POP3   internal  server localhost  port {server.ports['pop3']}  encryption STARTTLS" in out
    assert f"SMTP   external  server localhost  port {server.ports['submission']}  encryption STARTTLS" in out
    cli_ok(server, "imap", "set", "--external-connection-settings", "mail.example.com:993:SSL")
    cli_ok(server, "mailbox", "set", "alice@example.com", "--pop-enabled", "false")
    out = cli_ok(server, "client-settings", "alice@example.com")
    assert "IMAP4  external  server mail.example.com  port 993  encryption SSL/TLS" in out
    assert "POP3   disabled for this mailbox" in out


@pytest.mark.parametrize("protocol", ["imap4", "pop3"])
def test_test_connectivity(server, protocol: str) -> None:
    out = cli_ok(server, "test-connectivity", protocol, "--mailbox", "alice@example.com", "--password-stdin",
                 input=PASSWORD.encode() + b"\n")
    scenarios = {line.split()[1]: line.split()[2] for line in out.splitlines()[1:]}
    assert scenarios == {"Deliver": "Success", "Connect": "Success", "Logon": "Success", "Find": "Success",
                         "Delete": "Success", "Logoff": "Success"}, out
    # The test message is gone again.
    pop = Pop3(server.ports["pop3s"], tls=True, cafile=server.cert)
    assert pop.login("alice@example.com", PASSWORD).startswith(b"+OK Logged in: 0 messages")
    pop.command("QUIT")
    light = cli_ok(server, "test-connectivity", protocol, "--mailbox", "alice@example.com", "--light",
                   "--connection-type", "tls", "--password-stdin", input=PASSWORD.encode())
    assert "Find" not in light and "Logon" in light
    failed = server.cli("test-connectivity", protocol, "--mailbox", "alice@example.com", "--password-stdin",
                        input=b"wrong\n")
    assert failed.returncode == 1
    lines = failed.stdout.decode().splitlines()
    assert any(" Logon " in line and "Failure" in line for line in lines)
    assert any(" Find " in line and "Skipped" in line for line in lines)
