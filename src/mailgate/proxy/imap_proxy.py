"""IMAP frontend: after the login policy passed here, log in to the mailbox's
backend with the proxy credential and hand the client over."""

from __future__ import annotations

import base64

from ..policy.connections import Client
from ..protocol.imap import responses as r
from ..protocol.imap.serializer import to_bytes
from .backend_link import ProxyUnavailable, backend_client_context, open_backend, read_line
from .credentials import PROXY_IDENTITY


def _quote(value: str) -> bytes:
    return b'"' + value.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


async def _until_tag(reader, tag: bytes) -> bytes:
    while True:
        line = await read_line(reader)
        if line.startswith(tag + b" "):
            return line


async def connect_as(runtime, endpoint: tuple[str, int], address: str, client: Client | None):
    """Backend stream logged in as `address`, and its tagged OK line (which
    carries the backend's CAPABILITY code)."""
    reader, writer = await open_backend(endpoint, runtime.backend_tls or backend_client_context(None))
    try:
        greeting = await read_line(reader)
        if not greeting.startswith(b"* OK"):
            raise ProxyUnavailable("mailbox server is not ready")
        if client is not None:
            host, _, port = client.remote.rpartition(":")
            fields = [("x-originating-ip", host.strip("[]")), ("x-originating-port", port),
                      ("x-session-id", client.session_id)]
            writer.write(b"P1 ID (" + b" ".join(_quote(k) + b" " + _quote(v) for k, v in fields) + b")\r\n")
            await _until_tag(reader, b"P1")
        token = base64.b64encode(f"{address}\0{PROXY_IDENTITY}\0{runtime.proxy_secret}".encode())
        writer.write(b"P2 AUTHENTICATE PLAIN " + token + b"\r\n")
        await writer.drain()
        done = await _until_tag(reader, b"P2")
        if not done.startswith(b"P2 OK"):
            raise ProxyUnavailable("mailbox server refused the proxied login")
        return reader, writer, done
    except BaseException:
        writer.close()
        raise


def client_completion(tag: str, backend_ok: bytes) -> bytes:
    """The backend's "P2 OK [CAPABILITY ...] ..." with the client's tag: the
    capabilities the client sees after login are the backend's."""
    return tag.encode() + backend_ok[2:]


def unavailable(tag: str, text: str) -> bytes:
    return to_bytes(r.Tagged(tag, "NO", f"Mailbox is not available now: {text}", r.UNAVAILABLE))
