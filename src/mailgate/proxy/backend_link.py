"""Opening a frontend's connection to a mailbox server's backend port."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

CONNECT_TIMEOUT = 10.0


class ProxyUnavailable(Exception):
    """The mailbox's server cannot be reached or refused the proxy login;
    the text is safe to show the client."""


def backend_client_context(cafile: Path | None) -> ssl.SSLContext:
    """TLS to backends. With the deployment's CA (or the backends' shared
    certificate) the frontend verifies whom it hands the proxy secret to;
    without one the link is encrypted but not authenticated (one-machine
    trials), which the README tells admins to avoid across networks."""
    if cafile is not None:
        ctx = ssl.create_default_context(cafile=str(cafile))
        ctx.check_hostname = False  # backends are addressed by IP in the topology
        return ctx
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def open_backend(endpoint: tuple[str, int], context: ssl.SSLContext
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = endpoint
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host, limit=256 * 1024),
            CONNECT_TIMEOUT)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        raise ProxyUnavailable(f"mailbox server {host}:{port} is not reachable ({exc.__class__.__name__})") from None


async def read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await asyncio.wait_for(reader.readline(), CONNECT_TIMEOUT)
    except (OSError, ssl.SSLError, asyncio.TimeoutError, ValueError):
        raise ProxyUnavailable("mailbox server did not answer") from None
    if not line:
        raise ProxyUnavailable("mailbox server closed the connection")
    return line
