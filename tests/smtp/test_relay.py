"""The relay queue through a smart host (an aiosmtpd sink on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from mailgate.settings import SmartHostTls
from mailgate.smtp import smarthost
from mailgate.transport.certs import server_context

from .conftest import Env
from .sink import Sink
from .test_submission import DATED

from tests.e2e.conftest import free_port  # noqa: E402  (shared helper)


@pytest.fixture
def sink_port() -> int:
    return free_port()


@pytest.fixture
def sink(sink_port: int) -> Iterator[Sink]:
    s = Sink(sink_port).start()
    yield s
    s.stop()


def _relay_to(env: Env, port: int, **more: object) -> None:
    settings: dict[str, object] = dict(smart_host=f"127.0.0.1:{port}",
                                       smart_host_tls=SmartHostTls.NONE,
                                       relay_retry_interval=60, relay_timeout=10)
    env.settings(**{**settings, **more})


async def _send(env: Env, recipients: list[str]) -> dict:
    return await env.submit(lambda c: c.sendmail("alice@example.com", recipients, DATED))


async def test_non_local_mail_is_queued_then_delivered(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    assert await _send(env, ["far@remote.example", "bob@example.com"]) == {}
    (entry,) = await env.runtime.store.list_outbound()
    assert entry.recipients == ("far@remote.example",) and entry.sender == "alice@example.com"
    # The local copy and the queued copy are one blob.
    (local,) = await env.inbox("bob@example.com")
    assert entry.size == len(local)
    assert await env.ctx.relay.process_due() == 1
    (got,) = sink.handler.received
    assert got.sender == "alice@example.com" and got.recipients == ["far@remote.example"]
    assert got.data == local and got.data.endswith(DATED)
    assert await env.runtime.store.list_outbound() == []


async def test_permanent_refusal_sends_a_dsn_to_the_sender(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    sink.handler.refuse["gone@remote.example"] = "550 5.1.1 no such user here"
    await _send(env, ["gone@remote.example", "ok@remote.example"])
    await env.ctx.relay.process_due()
    assert [r.recipients for r in sink.handler.received] == [["ok@remote.example"]]
    assert await env.runtime.store.list_outbound() == []
    (report,) = await env.inbox("alice@example.com")
    msg = email.message_from_bytes(report, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["To"].addresses[0].addr_spec == "alice@example.com" and msg["Subject"] == "Undeliverable: hi"
    text, status, headers = msg.get_payload()
    assert "gone@remote.example" in text.get_content()
    assert status.get_content_type() == "message/delivery-status"
    raw = status.as_bytes()
    assert b"Final-Recipient: rfc822; gone@remote.example" in raw
    assert b"Action: failed" in raw and b"Status: 5.1.1" in raw
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user here" in raw
    assert b"Remote-MTA: dns; 127.0.0.1" in raw
    assert headers.get_content_type() == "text/rfc822-headers"
    assert b"Message-ID: <1@client.test>" in headers.as_bytes()


async def test_smart_host_down_waits_and_retries_with_back_off(env: Env, sink_port: int) -> None:
    _relay_to(env, sink_port)
    await _send(env, ["far@remote.example"])
    relay = env.ctx.relay
    start = datetime.now(timezone.utc)
    assert await relay.process_due() == 1  # connection refused: deferred
    (entry,) = await env.runtime.store.list_outbound()
    assert entry.attempts == 1 and entry.last_error
    assert 55 <= (entry.next_attempt - start).total_seconds() <= 65
    assert await relay.process_due() == 0  # not due yet
    relay.clock = lambda: start + timedelta(seconds=61)
    await relay.process_due()
    (entry,) = await env.runtime.store.list_outbound()
    assert entry.attempts == 2  # doubled: due 120 s after the second try
    assert 115 <= (entry.next_attempt - relay.clock()).total_seconds() <= 125
    sink = Sink(sink_port).start()
    try:
        relay.clock = lambda: start + timedelta(seconds=200)
        assert await relay.process_due() == 1
        assert [r.recipients for r in sink.handler.received] == [["far@remote.example"]]
    finally:
        sink.stop()
    assert await env.runtime.store.list_outbound() == []
    assert await env.inbox("alice@example.com") == []  # no DSN


async def test_temporary_refusal_until_expiry_then_dsn(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port, relay_message_expiration=3600)
    sink.handler.refuse["busy@remote.example"] = "451 4.2.1 mailbox busy"
    await _send(env, ["busy@remote.example"])
    relay = env.ctx.relay
    await relay.process_due()
    (entry,) = await env.runtime.store.list_outbound()
    assert entry.last_error == "451 4.2.1 mailbox busy"
    relay.clock = lambda: datetime.now(timezone.utc) + timedelta(hours=2)
    await relay.process_due()
    assert await env.runtime.store.list_outbound() == []
    (report,) = await env.inbox("alice@example.com")
    assert b"Status: 4.4.7" in report and b"451 4.2.1 mailbox busy" in report


async def test_queued_mail_waits_when_the_smart_host_is_removed(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    await _send(env, ["far@remote.example"])
    env.settings(smart_host="")
    await env.ctx.relay.process_due()
    (entry,) = await env.runtime.store.list_outbound()
    assert entry.last_error == "no smart host is configured"


async def test_smart_host_credentials_and_starttls(env: Env, sink_port: int, tls_files) -> None:
    sink = Sink(sink_port, tls=server_context(*tls_files), credentials=("relay", "pw")).start()
    try:
        _relay_to(env, sink_port, smart_host_tls=SmartHostTls.STARTTLS,
                  smart_host_verify_certificate=False,
                  smart_host_username="relay", smart_host_password="pw")
        await _send(env, ["far@remote.example"])
        await env.ctx.relay.process_due()
        assert sink.handler.logins == [("relay", "pw")]
        assert len(sink.handler.received) == 1
        # A certificate that does not verify is a temporary failure, not a leak.
        env.settings(smart_host_verify_certificate=True)
        await _send(env, ["far@remote.example"])
        await env.ctx.relay.process_due()
        (entry,) = await env.runtime.store.list_outbound()
        assert "CERTIFICATE_VERIFY_FAILED" in entry.last_error
    finally:
        sink.stop()


async def test_starttls_required_but_not_offered(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port, smart_host_tls=SmartHostTls.STARTTLS)
    outcome = await asyncio.to_thread(smarthost.send, env.runtime.smtp, "localhost",
                                      "a@example.com", ["x@remote.example"], DATED)
    assert "does not offer STARTTLS" in outcome.temporary["x@remote.example"]
    env.settings(smart_host_tls=SmartHostTls.OPPORTUNISTIC)
    outcome = await asyncio.to_thread(smarthost.send, env.runtime.smtp, "localhost",
                                      "a@example.com", ["x@remote.example"], DATED)
    assert outcome.delivered == ["x@remote.example"]


async def test_a_failed_dsn_is_not_answered(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    sink.handler.refuse["gone@remote.example"] = "550 5.1.1 no"
    blob_id, size, _ = await env.runtime.blobs.write_stream(DATED)
    await env.runtime.store.enqueue_outbound("", ["gone@remote.example"], blob_id, size)
    await env.ctx.relay.process_due()
    assert await env.runtime.store.list_outbound() == []
    assert await env.inbox("alice@example.com") == []


async def test_dsn_for_a_remote_sender_goes_back_through_the_relay(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    sink.handler.refuse["gone@remote.example"] = "550 5.1.1 no"
    blob_id, size, _ = await env.runtime.blobs.write_stream(DATED)
    await env.runtime.store.enqueue_outbound("someone@other.example", ["gone@remote.example"],
                                             blob_id, size)
    await env.ctx.relay.process_due()
    (dsn_entry,) = await env.runtime.store.list_outbound()
    assert dsn_entry.sender == "" and dsn_entry.recipients == ("someone@other.example",)
    await env.ctx.relay.process_due()
    (got,) = sink.handler.received
    assert got.sender in ("", "<>") and b"multipart/report" in got.data


async def test_runner_sends_new_entries_promptly(env: Env, sink: Sink) -> None:
    _relay_to(env, sink.port)
    runner = asyncio.create_task(env.ctx.relay.run())
    try:
        await _send(env, ["far@remote.example"])
        for _ in range(100):
            if sink.handler.received:
                break
            await asyncio.sleep(0.05)
        assert len(sink.handler.received) == 1
    finally:
        env.runtime.shutting_down.set()
        await asyncio.wait_for(runner, 5)
