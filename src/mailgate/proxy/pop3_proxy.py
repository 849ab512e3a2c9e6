"""POP3 frontend: log in to the mailbox's backend with the proxy credential."""

from __future__ import annotations

import base64

from ..policy.connections import Client
from .backend_link import ProxyUnavailable, backend_client_context, open_backend, read_line
from .credentials import PROXY_IDENTITY


async def connect_as(runtime, endpoint: tuple[str, int], address: str, client: Client | None):
    """Backend stream logged in as `address`, and the backend's +OK line."""
    reader, writer = await open_backend(endpoint, runtime.backend_tls or backend_client_context(None))
    try:
        if not (await read_line(reader)).startswith(b"+OK"):
            raise ProxyUnavailable("mailbox server is not ready")
        if client is not None:
            host, _, port = client.remote.rpartition(":")
            writer.write(f"XCLIENT ADDR={host.strip('[]')} PORT={port}\r\n".encode())
            if not (await read_line(reader)).startswith(b"+OK"):
                raise ProxyUnavailable("mailbox server refused the client address")
        token = base64.b64encode(f"{address}\0{PROXY_IDENTITY}\0{runtime.proxy_secret}".encode())
        writer.write(b"AUTH PLAIN " + token + b"\r\n")
        await writer.drain()
        done = await read_line(reader)
        if not done.startswith(b"+OK"):
            raise ProxyUnavailable(done.decode("utf-8", "replace").strip().removeprefix("-ERR").strip()
                                   or "mailbox server refused the proxied login")
        return reader, writer, done
    except BaseException:
        writer.close()
        raise
