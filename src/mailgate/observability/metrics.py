"""Metrics in Prometheus text format, served over HTTP on the bindings of the
"monitoring" settings (default 127.0.0.1:9464; empty turns it off).

The metric objects are module-level in one registry of our own (one server per
process; the registry holds no third-party collectors beyond the process
ones), so any module records with one import and no plumbing.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

CONNECTIONS = Gauge("mailgate_connections", "Open client connections.", ["protocol", "tls"],
                    registry=REGISTRY)
CONNECTIONS_REFUSED = Counter("mailgate_connections_refused", "Connections refused by a connection limit.",
                              ["protocol", "limit"], registry=REGISTRY)
LOGINS = Counter("mailgate_logins", "Login attempts: result ok, failed (bad credentials) or refused, by reason.",
                 ["protocol", "result", "reason"], registry=REGISTRY)
COMMAND_SECONDS = Histogram("mailgate_command_duration_seconds", "Time to handle one command.",
                            ["protocol", "command"], registry=REGISTRY,
                            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1.0, 2.5, 5.0, 10.0))
DELIVERIES = Counter("mailgate_deliveries", "Messages delivered into mailboxes.", ["result"],
                     registry=REGISTRY)


def tls_label(tls: bool) -> str:
    return "true" if tls else "false"


def render() -> bytes:
    return generate_latest(REGISTRY)


MAX_REQUEST = 8192


async def serve_http(conn) -> None:  # conn: transport.connection.Connection
    """A minimal HTTP/1.0-style responder: GET /metrics (or /) and close."""
    request = b""
    try:
        while b"\r\n\r\n" not in request and b"\n\n" not in request and len(request) < MAX_REQUEST:
            chunk = await asyncio.wait_for(conn.read(4096), 5)
            if not chunk:
                break
            request += chunk
    except asyncio.TimeoutError:
        return
    parts = request.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) >= 2 and parts[0] in (b"GET", b"HEAD") and parts[1].split(b"?")[0] in (b"/metrics", b"/"):
        body = render()
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii")
        await conn.send(head + (body if parts[0] == b"GET" else b""))
    else:
        body = b"Not found; try /metrics\n"
        await conn.send(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n%s" % (len(body), body))


def record_deliveries(results: list[object]) -> None:
    """One count per target of a delivery: ok, or the refusal's class name
    (NotFound, QuotaExceeded, ...)."""
    for result in results:
        DELIVERIES.labels("ok" if not isinstance(result, Exception) else type(result).__name__).inc()
