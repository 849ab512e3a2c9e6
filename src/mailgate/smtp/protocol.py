"""aiosmtpd's SMTP and LMTP state machines, with what mailgate adds:
our envelope (recipients already resolved at RCPT), no AUTH outside
submission, PIPELINING advertised, and connection tracking for draining."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope

from ..storage.models import Account
from . import replies
from .routing import Service


class MailgateEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        # Resolved at RCPT time so DATA neither looks up nor parses again.
        self.local: dict[str, Account] = {}  # recipient as given -> mailbox
        self.remote: list[str] = []  # for the relay queue


@dataclass
class Tracker:
    """Open connections of one listener, for a graceful stop."""

    open: set[MailgateSMTP] = field(default_factory=set)

    def close_all(self) -> None:
        for proto in list(self.open):
            if proto.transport is not None:
                proto.transport.close()


class MailgateSMTP(SMTP):
    def __init__(self, handler: Any, *, service: Service, tracker: Tracker, **kwargs: Any) -> None:
        self.service = service
        self.tracker = tracker
        super().__init__(handler, **kwargs)

    def _create_envelope(self) -> MailgateEnvelope:
        return MailgateEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tracker.open.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.tracker.open.discard(self)
        super().connection_lost(error)

    @property
    def tls_active(self) -> bool:
        return self._tls_protocol is not None

    async def smtp_AUTH(self, arg: str) -> None:
        if self.service is not Service.SUBMISSION:
            await self.push(replies.AUTH_NOT_OFFERED)
            return
        await super().smtp_AUTH(arg)


class MailgateLMTP(LMTP, MailgateSMTP):
    """LHLO instead of EHLO (aiosmtpd's LMTP), everything else as above;
    the handler answers DATA with one reply per recipient (RFC 2033)."""
