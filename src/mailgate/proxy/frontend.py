"""Hand-over of a logged-in client from a frontend's driver to the mailbox's
backend: locate the mailbox, log in there as the user, then splice."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .backend_link import ProxyUnavailable
from .imap_proxy import client_completion, connect_as, unavailable
from .splice import splice

if TYPE_CHECKING:
    from ..transport.imap_driver import ImapConnection

log = logging.getLogger("mailgate.proxy")


async def _route(runtime, address: str):
    from ..directory.topology import locate_mailbox
    from ..storage.errors import StorageError

    try:
        route = await locate_mailbox(runtime, address)
    except StorageError as exc:  # moving right now, or an unknown database/server
        raise ProxyUnavailable(str(exc) or "mailbox is being moved") from None
    if route is None:
        raise ProxyUnavailable("no mailbox server holds this mailbox")
    return route


async def hand_over_imap(imap: ImapConnection, tag: str) -> bool:
    """True once the client was spliced to its backend and the splice ended;
    False when the backend was not available (the client got NO and stays
    unauthenticated here)."""
    ctx = imap.session.ctx
    account = ctx.account
    assert account is not None
    try:
        route = await _route(imap.runtime, account.address)
        reader, writer, done = await connect_as(imap.runtime, route.imap_backend, account.address, imap.client)
    except ProxyUnavailable as exc:
        log.warning("IMAP4 proxy for %s failed: %s", account.address, exc)
        ctx.account = None
        await imap.conn.send(unavailable(tag, str(exc)))
        return False
    log.info("IMAP4 %s from %s proxied to %s (%s:%d)", account.address, imap.conn.remote, route.server,
             *route.imap_backend)
    imap.conn.write(client_completion(tag, done))
    pending = imap.reader.take_buffered()
    if pending:
        writer.write(pending)
    ends = [imap.runtime.shutting_down] + ([imap.client.kicked] if imap.client is not None else [])
    await splice(imap.conn, reader, writer, *ends)
    return True


async def hand_over_pop3(conn, runtime, session, reader, client) -> bool:
    """POP3 counterpart of hand_over_imap: the backend's own +OK (with its
    message count) is what the client sees."""
    from .pop3_proxy import connect_as as pop3_connect_as

    account = session.proxied_account
    session.proxied_account = None
    try:
        route = await _route(runtime, account.address)
        backend_reader, writer, done = await pop3_connect_as(runtime, route.pop_backend, account.address, client)
    except ProxyUnavailable as exc:
        log.warning("POP3 proxy for %s failed: %s", account.address, exc)
        await conn.send(b"-ERR [SYS/TEMP] Mailbox is not available now: " + str(exc).encode() + b"\r\n")
        return False
    log.info("POP3 %s from %s proxied to %s (%s:%d)", account.address, conn.remote, route.server,
             *route.pop_backend)
    conn.write(done)
    pending = reader.take_buffered()
    if pending:
        writer.write(pending)
    ends = [runtime.shutting_down] + ([client.kicked] if client is not None else [])
    await splice(conn, backend_reader, writer, *ends)
    return True
