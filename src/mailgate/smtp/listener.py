"""One bound socket (TCP, or a UNIX socket for LMTP) serving one SMTP
service with aiosmtpd. aiosmtpd makes its own protocol objects, so this is
our listener with the server's start()/stop() contract."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

from ..transport.listener import parse_binding
from .context import SmtpContext
from .handler import Handler
from .protocol import MailgateLMTP, MailgateSMTP, Tracker
from .routing import Service

# aiosmtpd logs every command at INFO; our own log lines say what matters.
logging.getLogger("mail.log").setLevel(logging.WARNING)

UNIX_PREFIX = "unix:"
_IDENT = {Service.SUBMISSION: "mailgate ESMTP submission service ready",
          Service.INBOUND: "mailgate ESMTP service ready",
          Service.LMTP: "mailgate LMTP service ready"}


def unix_path(binding: str) -> str | None:
    """'unix:/run/mailgate/lmtp' or an absolute path -> the socket path."""
    text = binding.strip()
    if text.startswith(UNIX_PREFIX):
        return text[len(UNIX_PREFIX):]
    if text.startswith("/"):
        return text
    return None


class SmtpListener:
    def __init__(self, binding: str, ctx: SmtpContext, service: Service) -> None:
        self.binding = binding
        self.ctx = ctx
        self.service = service
        self.handler = Handler(ctx, service)
        self.tracker = Tracker()
        self.server: asyncio.base_events.Server | None = None
        self._unix: str | None = None

    def _protocol(self) -> MailgateSMTP:
        # Settings are read per connection: changes apply to new sessions.
        runtime = self.ctx.runtime
        s = runtime.smtp
        cls = MailgateLMTP if self.service is Service.LMTP else MailgateSMTP
        return cls(
            self.handler,
            service=self.service,
            tracker=self.tracker,
            hostname=runtime.hostname,
            ident=_IDENT[self.service],
            data_size_limit=s.max_message_size or None,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=runtime.tls_context if self.service is not Service.LMTP else None,
            timeout=float(s.connection_timeout),
            auth_require_tls=s.require_tls_for_auth,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        path = unix_path(self.binding)
        if path is not None:
            _remove_stale_socket(path)
            self.server = await loop.create_unix_server(self._protocol, path, backlog=1024)
            self._unix = path
            return
        host, port = parse_binding(self.binding)
        self.server = await loop.create_server(self._protocol, host, port, reuse_address=True,
                                               backlog=1024)

    @property
    def bound_port(self) -> int:
        assert self.server is not None and self.server.sockets
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop accepting; give open sessions drain_seconds, then hang up."""
        if self.server is not None:
            self.server.close()
        deadline = asyncio.get_running_loop().time() + drain_seconds
        while self.tracker.open and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self.tracker.close_all()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None
        if self._unix is not None:
            _remove_stale_socket(self._unix)
            self._unix = None


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a previous run would make bind fail; anything
    that is not a socket is left alone (and bind reports it)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            Path(path).unlink()
    except FileNotFoundError:
        pass
