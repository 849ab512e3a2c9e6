"""A smart host for the relay tests: aiosmtpd on 127.0.0.1 that records what
it receives, and refuses recipients for good or for now when told to."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or b"")))
        return "250 2.0.0 queued by the sink"


class Sink:
    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        self.handler = SinkHandler()
        self.port = port
        self._credentials = credentials
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs["tls_context"] = tls
        if credentials is not None:
            kwargs.update(authenticator=self._auth, auth_require_tls=False)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port,
                                     ready_timeout=10, **kwargs)

    def _auth(self, server: Any, session: Session, envelope: Envelope, mechanism: str,
              data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        pair = (data.login.decode(), data.password.decode())
        self.handler.logins.append(pair)
        return AuthResult(success=pair == self._credentials)

    def start(self) -> Sink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
