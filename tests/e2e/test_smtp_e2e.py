"""SMTP end to end against a real `mailgate serve`: Debian's swaks and
Python's smtplib send; imaplib and poplib read back; an aiosmtpd sink on
127.0.0.1 plays the smart host (also across a server restart)."""

from __future__ import annotations

import imaplib
import os
import poplib
import shutil
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.smtp.sink import Sink

from .conftest import PASSWORD, RunningServer, free_port

pytestmark = pytest.mark.e2e
T = TypeVar("T")

MESSAGE = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: via swaks\r\n"
           b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <swaks-1@client.test>\r\n"
           b"\r\nHello Bob.\r\n.a line starting with a dot\r\n\r\nBye.\r\n")


def tls(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def wait_for(check: Callable[[], T | None], seconds: float = 15.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def set_live(server: RunningServer, *args: str) -> None:
    result = server.cli(*args)
    assert result.returncode == 0, result.stderr.decode()
    time.sleep(1.5)  # the running server re-reads settings every second


def swaks(server: RunningServer, *args: str, data: bytes = MESSAGE) -> subprocess.CompletedProcess:
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed (bash .ci/run installs it)")
    # swaks ends the data with CRLF itself, before the final dot.
    assert data.endswith(b"\r\n")
    return subprocess.run(["swaks", "--helo", "client.test", "--data", "-", "--timeout", "20",
                           *args], input=data[:-2], capture_output=True, timeout=60)


def submission_args(server: RunningServer, user: str = "alice@example.com",
                    password: str = PASSWORD) -> list[str]:
    return ["--server", f"127.0.0.1:{server.ports['submission']}", "--tls",
            "--auth", "PLAIN", "--auth-user", user, "--auth-password", password]


def imap_messages(server: RunningServer, user: str) -> list[bytes]:
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    try:
        imap.starttls(ssl_context=tls(server))
        imap.login(user, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, data = imap.uid("SEARCH", "ALL")
        out = []
        for uid in data[0].split():
            _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(parts[0][1])
        return out
    finally:
        imap.logout()


def pop_messages(server: RunningServer, user: str) -> list[bytes]:
    pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=20)
    try:
        pop.stls(context=tls(server))
        pop.user(user)
        pop.pass_(PASSWORD)
        count, _ = pop.stat()
        return [b"\r\n".join(pop.retr(i + 1)[1]) + b"\r\n" for i in range(count)]
    finally:
        pop.quit()


def test_swaks_submission_then_imap_and_pop3_read_it_byte_for_byte(server: RunningServer) -> None:
    set_live(server, "domain", "add", "example.com")
    result = swaks(server, *submission_args(server), "--from", "alice@example.com",
                   "--to", "bob@example.com")
    out = result.stdout.decode()
    assert result.returncode == 0, out
    assert "STARTTLS" in out and "235 2.7.0" in out and "250 2.6.0" in out
    (via_imap,) = imap_messages(server, "bob@example.com")
    received, sep, rest = via_imap.partition(b"\r\nFrom: Alice")
    assert received.startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with ESMTPSA id" in received and b"for <bob@example.com>" in received
    assert b"From: Alice" + rest == MESSAGE  # the client's bytes, untouched
    (via_pop,) = pop_messages(server, "bob@example.com")
    assert via_pop == via_imap


def test_smtplib_submission_with_login(server: RunningServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as c:
        c.starttls(context=tls(server))
        c.login("alice@example.com", PASSWORD)
        assert c.sendmail("alice@example.com", ["bob@example.com"], MESSAGE) == {}
    (stored,) = imap_messages(server, "bob@example.com")
    assert stored.endswith(MESSAGE)


def test_swaks_refusals(server: RunningServer) -> None:
    set_live(server, "domain", "add", "example.com")
    # AUTH before STARTTLS.
    no_tls = [a for a in submission_args(server) if a != "--tls"]
    r = swaks(server, *no_tls, "--from", "alice@example.com", "--to", "bob@example.com")
    assert r.returncode != 0 and "did not advertise authentication" in r.stderr.decode()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as c:
        c.ehlo()  # a client that sends AUTH anyway
        code, text = c.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHg=")
        assert code == 538 and b"Encryption required" in text
    # A wrong password.
    r = swaks(server, *submission_args(server, password="wrong"), "--from", "alice@example.com",
              "--to", "bob@example.com")
    assert r.returncode != 0 and "535 5.7.3" in r.stdout.decode()
    # A forged sender.
    r = swaks(server, *submission_args(server), "--from", "bob@example.com",
              "--to", "bob@example.com")
    assert r.returncode != 0 and "550 5.7.60" in r.stdout.decode()
    # Relaying without AUTH on the inbound port.
    inbound = ["--server", f"127.0.0.1:{server.ports['smtp']}", "--from", "x@far.example"]
    r = swaks(server, *inbound, "--to", "victim@elsewhere.example")
    assert r.returncode != 0 and "550 5.7.54" in r.stdout.decode()
    # An unknown local user, refused at RCPT.
    r = swaks(server, *inbound, "--to", "nobody@example.com")
    out = r.stdout.decode()
    assert r.returncode != 0 and "550 5.1.1" in out and "RCPT TO" in out
    # Mail for a real user arrives without AUTH.
    r = swaks(server, *inbound, "--to", "bob@example.com")
    assert r.returncode == 0, r.stdout.decode()
    assert len(imap_messages(server, "bob@example.com")) == 1
    assert imap_messages(server, "alice@example.com") == []


def test_swaks_lmtp_per_recipient(server: RunningServer) -> None:
    r = swaks(server, "--protocol", "LMTP", "--server", f"127.0.0.1:{server.ports['lmtp']}",
              "--from", "x@far.example", "--to", "bob@example.com,nobody@example.com,alice@example.com")
    out = r.stdout.decode()
    assert "550 5.1.1 <nobody@example.com>" in out
    assert "250 2.0.0 <bob@example.com> delivered" in out
    assert "250 2.0.0 <alice@example.com> delivered" in out
    assert len(imap_messages(server, "bob@example.com")) == 1


def _serve_again(server: RunningServer) -> RunningServer:
    """`mailgate serve` once more on the same data folder (a restart)."""
    env = {**os.environ, "MAILGATE_DATA": str(server.data), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "mailgate.admin.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("server exited before it was ready:\n" + "".join(output))
        output.append(line)
        if line.startswith("ready in"):
            break
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()  # type: ignore[arg-type]
    return RunningServer(server.data, process, server.ports, 0.0, output)


def _submit(server: RunningServer, recipients: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=20) as c:
        c.starttls(context=tls(server))
        c.login("alice@example.com", PASSWORD)
        c.sendmail("alice@example.com", recipients, MESSAGE)


def test_relay_through_a_smart_host_with_dsn_and_restart(server: RunningServer) -> None:
    port = free_port()
    set_live(server, "smtp", "set", "--smart-host", f"127.0.0.1:{port}", "--smart-host-tls", "none",
             "--relay-retry-interval", "1", "--relay-max-retry-interval", "1")
    # No smart host listening: the message waits in the queue.
    _submit(server, ["far@remote.example"])
    queue = wait_for(lambda: "attempts=1" in (q := server.cli("smtp", "queue").stdout.decode()) and q)
    assert "to=far@remote.example" in queue
    assert server.stop() == 0
    sink = Sink(port).start()
    again = _serve_again(server)
    try:
        got = wait_for(lambda: sink.handler.received)
        assert got[0].recipients == ["far@remote.example"] and got[0].data.endswith(MESSAGE)
        assert wait_for(lambda: "empty" in again.cli("smtp", "queue").stderr.decode())
        # A permanent refusal: the sender finds a DSN in her INBOX.
        sink.handler.refuse["gone@remote.example"] = "550 5.1.1 no such user"
        _submit(again, ["gone@remote.example"])
        (report,) = wait_for(lambda: imap_messages(again, "alice@example.com"))
        assert b"multipart/report" in report and b"Final-Recipient: rfc822; gone@remote.example" in report
        assert b"Status: 5.1.1" in report
    finally:
        assert again.stop() == 0
        sink.stop()
