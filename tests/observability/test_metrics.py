"""Metrics: the HTTP endpoint and what the connection registry records."""

from __future__ import annotations

import asyncio

from mailgate.observability import metrics
from mailgate.policy.state import PolicyState
from mailgate.settings import ImapSettings
from mailgate.transport.listener import Listener


async def _get(port: int, path: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def test_http_endpoint_serves_prometheus_text() -> None:
    metrics.LOGINS.labels("pop3", "failed", "bad-credentials").inc()
    listener = Listener("127.0.0.1:0", metrics.serve_http, False, None)
    await listener.start()
    try:
        reply = await _get(listener.bound_port, b"/metrics")
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Type: text/plain; version=" in head
        assert b'mailgate_logins_total{protocol="pop3",reason="bad-credentials",result="failed"}' in body
        assert b"# TYPE mailgate_command_duration_seconds histogram" in body
        assert (await _get(listener.bound_port, b"/other")).startswith(b"HTTP/1.1 404")
    finally:
        await listener.stop(0)


class _Conn:
    """Just what PolicyState.open_connection reads from a Connection."""

    class _End:
        def __init__(self, host: str, port: int) -> None:
            self.host, self.port = host, port

        def __str__(self) -> str:
            return f"{self.host}:{self.port}"

    def __init__(self, host: str) -> None:
        self.remote = self._End(host, 4000)
        self.local = self._End("127.0.0.1", 993)
        self.tls_active = False
        self.tap = None


def _gauge(tls: str) -> float:
    return metrics.REGISTRY.get_sample_value("mailgate_connections", {"protocol": "imap4", "tls": tls}) or 0.0


async def test_connection_gauge_follows_tls_and_close() -> None:
    policy = PolicyState()
    before_plain, before_tls = _gauge("false"), _gauge("true")
    conn = _Conn("192.0.2.1")
    client = policy.open_connection("imap4", conn, ImapSettings())  # type: ignore[arg-type]
    assert conn.tap is client and _gauge("false") == before_plain + 1
    client.tls_started()
    assert _gauge("false") == before_plain and _gauge("true") == before_tls + 1
    client.close()
    assert _gauge("true") == before_tls
    refused_before = metrics.REGISTRY.get_sample_value(
        "mailgate_connections_refused_total", {"protocol": "imap4", "limit": "max-connection-from-single-ip"}) or 0
    limits = ImapSettings(max_connection_from_single_ip=1)
    first = policy.open_connection("imap4", _Conn("192.0.2.9"), limits)  # type: ignore[arg-type]
    second = policy.open_connection("imap4", _Conn("192.0.2.9"), limits)  # type: ignore[arg-type]
    assert first.refused is None and second.refused is not None
    assert metrics.REGISTRY.get_sample_value(
        "mailgate_connections_refused_total",
        {"protocol": "imap4", "limit": "max-connection-from-single-ip"}) == refused_before + 1
    first.close()
