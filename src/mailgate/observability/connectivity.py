"""`mailgate test-connectivity`: Test-ImapConnectivity / Test-PopConnectivity.

Connects as a client would (implicit TLS, STARTTLS or plain), logs in and,
unless light, delivers a test message, finds it and deletes it. Each step is a
scenario with a result (Success / Failure / Skipped), its latency and error.
The client side uses the standard library's imaplib / poplib in a thread, so
the test exercises the server exactly as an outside client would.
"""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config


@dataclass(frozen=True, slots=True)
class Probe:
    protocol: str  # "imap4" / "pop3"
    server: str
    port: int
    connection_type: str  # "ssl" / "tls" / "plaintext"
    address: str
    password: str
    hostname: str  # what the certificate must name
    cafile: Path | None  # None: trust any certificate
    light: bool
    timeout: float


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    server: str
    scenario: str
    result: str  # "Success" / "Failure" / "Skipped"
    latency_ms: float
    error: str = ""


def tls_context(probe: Probe) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if probe.cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif probe.cafile.is_file():
        ctx.load_verify_locations(cafile=str(probe.cafile))  # a self-signed certificate
    return ctx


class _Steps:
    def __init__(self, probe: Probe) -> None:
        self.where = f"{probe.server}:{probe.port}"
        self.results: list[ScenarioResult] = []
        self.failed = False

    def run(self, scenario: str, step: Callable[[], Any]) -> Any:
        if self.failed:
            self.results.append(ScenarioResult(self.where, scenario, "Skipped", 0.0))
            return None
        started = time.perf_counter()
        try:
            value = step()
        except Exception as exc:  # any client-side error is this scenario's failure
            self.failed = True
            self.results.append(ScenarioResult(self.where, scenario, "Failure",
                                               (time.perf_counter() - started) * 1000, _describe(exc)))
            return None
        self.results.append(ScenarioResult(self.where, scenario, "Success", (time.perf_counter() - started) * 1000))
        return value


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(text, bytes):  # pragma: no cover - imaplib errors carry bytes sometimes
        text = text.decode("utf-8", "replace")
    return text.replace("\r", " ").replace("\n", " ")[:300]


def _imap(probe: Probe, steps: _Steps, subject: str) -> None:
    ctx = tls_context(probe)

    def connect() -> imaplib.IMAP4:
        if probe.connection_type == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(probe.server, probe.port, ssl_context=ctx,
                                                      timeout=probe.timeout)
        else:
            client = imaplib.IMAP4(probe.server, probe.port, timeout=probe.timeout)
            if probe.connection_type == "tls":
                client.starttls(ssl_context=ctx)
        return client

    client = steps.run("Connect", connect)
    if client is None:
        return
    try:
        steps.run("Logon", lambda: client.login(probe.address, probe.password))
        if not probe.light:
            def find() -> bytes:
                typ, _ = client.select("INBOX")
                if typ != "OK":
                    raise RuntimeError("cannot select INBOX")
                typ, data = client.uid("SEARCH", "HEADER", "Subject", f'"{subject}"')
                uids = data[0].split() if data and data[0] else []
                if typ != "OK" or not uids:
                    raise RuntimeError("the test message was not found")
                return uids[-1]

            uid = steps.run("Find", find)

            def delete() -> None:
                client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                typ, _ = client.expunge()
                if typ != "OK":
                    raise RuntimeError("EXPUNGE failed")

            steps.run("Delete", delete)
        steps.run("Logoff", client.logout)
    finally:
        try:
            client.shutdown()
        except Exception:  # already closed
            pass


def _pop3(probe: Probe, steps: _Steps, subject: str) -> None:
    ctx = tls_context(probe)

    def connect() -> poplib.POP3:
        if probe.connection_type == "ssl":
            client: poplib.POP3 = poplib.POP3_SSL(probe.server, probe.port, context=ctx, timeout=probe.timeout)
        else:
            client = poplib.POP3(probe.server, probe.port, timeout=probe.timeout)
            if probe.connection_type == "tls":
                client.stls(context=ctx)
        return client

    client = steps.run("Connect", connect)
    if client is None:
        return
    try:
        def logon() -> None:
            client.user(probe.address)
            client.pass_(probe.password)

        steps.run("Logon", logon)
        if not probe.light:
            def find() -> int:
                _, listing, _ = client.list()
                for entry in reversed(listing):
                    number = int(entry.split()[0])
                    _, lines, _ = client.top(number, 0)
                    if any(subject.encode() in line for line in lines):
                        return number
                raise RuntimeError("the test message was not found")

            number = steps.run("Find", find)
            steps.run("Delete", lambda: client.dele(number))
        steps.run("Logoff", client.quit)
    finally:
        try:
            client.close()
        except Exception:  # already closed
            pass


def probe_message(address: str, subject: str) -> bytes:
    return (f"From: {address}\r\nTo: {address}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4()}@mailgate.test>\r\n\r\n"
            "Test message from mailgate test-connectivity; it deletes it.\r\n").encode()


async def run_probe(probe: Probe, config: Config) -> list[ScenarioResult]:
    from ..admin.ops import deliver_local

    steps = _Steps(probe)
    subject = f"mailgate connectivity test {uuid.uuid4().hex[:12]}"
    if not probe.light:
        # Delivered first: a POP3 maildrop is a snapshot taken at logon.
        started = time.perf_counter()
        try:
            await deliver_local(config, probe.address, [probe_message(probe.address, subject)])
            steps.results.append(ScenarioResult("local-delivery", "Deliver", "Success",
                                                (time.perf_counter() - started) * 1000))
        except Exception as exc:  # reported as the scenario's failure
            steps.failed = True
            steps.results.append(ScenarioResult("local-delivery", "Deliver", "Failure",
                                                (time.perf_counter() - started) * 1000, _describe(exc)))
    runner = _imap if probe.protocol == "imap4" else _pop3
    await asyncio.to_thread(runner, probe, steps, subject)
    return steps.results
