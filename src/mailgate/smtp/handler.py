"""mailgate's policy as aiosmtpd handler hooks, one handler per service.

aiosmtpd does the protocol (state, syntax, STARTTLS, SIZE, dot-stuffing);
these hooks decide: who may authenticate (directory + login policy, with
the failed-login throttle), which senders a client may use, where each
recipient goes, and what happens to the message after DATA.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import MISSING, Session

from ..directory.auth import authenticate
from ..directory.stores import moving_target
from ..policy.login import Protocol, Refusal
from ..protocol.sasl import MECHANISMS, Credentials, SaslChallenge, SaslFailure, decode_base64
from ..storage.errors import StorageError
from ..storage.models import Account
from . import headers, replies
from .accept import accept, report_partial_failure
from .context import SmtpContext
from .protocol import MailgateEnvelope, MailgateSMTP
from .recipients import RecipientCache
from .routing import Local, Refused, Relay, Route, Service, route, split_address

log = logging.getLogger("mailgate.smtp")


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else "local"


class Handler:
    def __init__(self, ctx: SmtpContext, service: Service) -> None:
        self.ctx = ctx
        self.service = service
        self.recipients = RecipientCache()

    async def handle_exception(self, error: Exception) -> str:
        """A bug of ours must not reach the client as aiosmtpd's
        "500 Error: (TypeError) ..." (a permanent failure that shows internals)."""
        log.error("smtp: internal error", exc_info=error)
        return "451 4.3.0 Internal error; try again later"

    # --- greeting ----------------------------------------------------------
    async def handle_EHLO(self, server: MailgateSMTP, session: Session, envelope: MailgateEnvelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname  # the hook owns this (aiosmtpd API)
        if self.service is not Service.SUBMISSION:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        # aiosmtpd reads one command at a time, so pipelined commands are
        # simply answered in order; MTAs (Postfix LMTP) go faster with it.
        responses.insert(-1, "250-PIPELINING")
        return responses

    # --- AUTH (submission only; protocol.py refuses it elsewhere) ------------
    async def handle_AUTH(self, server: MailgateSMTP, session: Session, envelope: MailgateEnvelope,
                          args: list[str]) -> str | None:
        # aiosmtpd has checked: EHLO sent, TLS if required, not yet
        # authenticated, mechanism one it advertised.
        factory = MECHANISMS.get(args[0].upper())
        if factory is None:
            return "504 5.5.4 Unrecognized authentication type"
        exchange = factory()
        initial = None
        if len(args) > 1:
            initial = decode_base64(args[1])
            if initial is None:
                return replies.AUTH_MALFORMED
        step = exchange.start(initial)
        while isinstance(step, SaslChallenge):
            answer = await server.challenge_auth(step.data)
            if answer is MISSING:
                return None  # aborted or bad base64: aiosmtpd has replied
            assert isinstance(answer, bytes)
            step = exchange.step(answer)
        if isinstance(step, SaslFailure):
            return f"501 5.5.2 {step.text}"
        assert isinstance(step, Credentials)
        return await self._check(session, step)

    async def _check(self, session: Session, creds: Credentials) -> str:
        guard, ip = self.ctx.guard, _peer_ip(session)
        if guard.locked(ip, creds.username):
            log.info("smtp: AUTH for %r from %s refused: throttled", creds.username[:100], ip)
            return replies.AUTH_THROTTLED
        decision = await authenticate(self.ctx.runtime.store, creds.username, creds.password,
                                      Protocol.SMTP)
        if decision.refusal in (Refusal.BAD_CREDENTIALS, Refusal.ANONYMOUS):
            delay = await guard.failed(ip, creds.username)  # paid before the reply
            log.info("smtp: failed AUTH for %r from %s (delayed %.2f s)",
                     creds.username[:100], ip, delay)
            return replies.AUTH_FAILED
        guard.succeeded(ip, creds.username)
        if not decision.ok or decision.account is None:
            log.warning("smtp: AUTH for %r from %s refused: %s", creds.username[:100], ip,
                        decision.refusal)
            return replies.AUTH_MAY_NOT_SEND
        session.authenticated = True
        session.auth_data = decision.account  # type: ignore[assignment]  # typed None upstream
        log.info("smtp: %s authenticated from %s", decision.account.address, ip)
        return replies.AUTH_OK

    # --- envelope ------------------------------------------------------------
    async def handle_MAIL(self, server: MailgateSMTP, session: Session, envelope: MailgateEnvelope,
                          address: str, mail_options: list[str]) -> str:
        if self.service is Service.SUBMISSION:
            account = session.auth_data if session.authenticated else None
            if not isinstance(account, Account):
                return replies.AUTH_REQUIRED
            if address == "<>":
                return replies.SENDER_NULL_REFUSED
            if address.lower() != account.address:
                return replies.SENDER_NOT_YOURS
        elif address != "<>" and split_address(address) is None:
            return replies.SENDER_SYNTAX
        envelope.mail_from = address  # "<>" stays the null reverse-path
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(self, server: MailgateSMTP, session: Session, envelope: MailgateEnvelope,
                          address: str, rcpt_options: list[str]) -> str:
        limit = self.ctx.runtime.smtp.max_recipients_per_message
        if len(envelope.rcpt_tos) >= limit:
            return replies.TOO_MANY_RECIPIENTS.format(limit=limit)
        if address == "<>":
            return replies.RECIPIENT_SYNTAX
        try:
            where, moving = await self._lookup(address)
        except StorageError as exc:
            log.error("smtp: recipient lookup failed: %s", exc)
            return "451 4.3.0 Temporary failure looking up the recipient; try again later"
        if isinstance(where, Refused):
            return where.reply
        if isinstance(where, Local):
            if moving:
                return replies.MAILBOX_MOVING.format(address=address)  # retried after the move
            envelope.local[address] = where.account
        elif isinstance(where, Relay):
            envelope.remote.append(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def _lookup(self, address: str) -> tuple[Route, bool]:
        """Where the recipient goes and whether its mailbox is being moved;
        found mailboxes come from the short-lived cache (recipients.py)."""
        hit = self.recipients.get(address)
        if hit is not None:
            return Local(hit[0]), bool(hit[1])
        runtime = self.ctx.runtime
        # Both lookups go to the store together (one round trip of
        # waiting); the move mark is keyed by the mailbox's address, which
        # is the recipient's, lower-cased (route finds mailboxes by it).
        moving_task = asyncio.ensure_future(moving_target(runtime.directory, address))
        try:
            where = await route(runtime.store, runtime.smtp, self.service, address)
        finally:
            moving_to = await moving_task
        if not isinstance(where, Local):
            return where, False
        if where.account.address != address.lower():
            moving_to = await moving_target(runtime.directory, where.account.address)
        self.recipients.put(address, where.account, moving_to)
        return where, bool(moving_to)

    # --- DATA ------------------------------------------------------------------
    async def handle_DATA(self, server: MailgateSMTP, session: Session,
                          envelope: MailgateEnvelope) -> str:
        content = envelope.original_content or b""
        sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        prefix = b""
        if self.service is Service.SUBMISSION:
            facts = headers.inspect(content)
            account = session.auth_data
            assert isinstance(account, Account)
            if not facts.from_addresses:
                return replies.FROM_MISSING
            if any(a != account.address for a in facts.from_addresses):
                return replies.FROM_NOT_YOURS.format(address=account.address)
            if not facts.has_date:
                prefix += headers.date_field()
            if not facts.has_message_id:
                prefix += headers.message_id(self.ctx.runtime.hostname)
        queue_id = headers.new_queue_id()
        single = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        trace = headers.received(
            helo=session.host_name or "unknown", peer_ip=_peer_ip(session),
            by_host=self.ctx.runtime.hostname, protocol=self._protocol_word(server, session, envelope),
            queue_id=queue_id, recipient=single, tls=_tls_text(server))
        try:
            result = await accept(self.ctx, queue_id=queue_id, sender=sender, local=envelope.local,
                                  remote=envelope.remote, prefix=trace + prefix, content=content)
        except StorageError as exc:
            log.error("smtp: cannot store a message from <%s>: %s", sender, exc)
            return replies.TEMPORARY
        if self.service is Service.LMTP:
            # RFC 2033 4.2: one reply per accepted RCPT, in order.
            return "\r\n".join(result.per_recipient[r] for r in envelope.rcpt_tos)
        if result.all_failed and not envelope.remote:
            detail = "; ".join(result.per_recipient[r] for r in result.failed_local)
            first = result.per_recipient[result.failed_local[0]]
            return first if len(result.failed_local) == 1 else \
                replies.ALL_LOCAL_FAILED.format(detail=detail)
        try:
            await report_partial_failure(self.ctx, sender, result, content)
        except StorageError as exc:
            log.error("smtp %s: could not report partial failure: %s", queue_id, exc)
        return replies.ACCEPTED.format(queue_id=queue_id)

    def _protocol_word(self, server: MailgateSMTP, session: Session,
                       envelope: MailgateEnvelope) -> str:
        """RFC 3848 / RFC 6531 "with" keyword."""
        if self.service is Service.LMTP:
            base = "LMTP"
        elif envelope.smtp_utf8:
            base = "UTF8SMTP"
        else:
            base = "ESMTP" if session.extended_smtp else "SMTP"
        suffix = ("S" if server.tls_active else "") + ("A" if session.authenticated else "")
        return base + suffix


def _tls_text(server: MailgateSMTP) -> str | None:
    transport: Any = server.transport
    if not server.tls_active or transport is None:
        return None
    obj = transport.get_extra_info("ssl_object")
    if obj is None:
        return None
    cipher = obj.cipher()
    return f"version={obj.version()} cipher={cipher[0] if cipher else 'unknown'}"
