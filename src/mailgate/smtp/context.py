"""What every SMTP listener of one running server shares: the runtime and
the relay queue. Failed AUTH attempts are throttled by the server-wide
login guard (runtime.policy.guard), shared with IMAP4 and POP3, so a
password guesser gains nothing by switching protocols."""

from __future__ import annotations

from dataclasses import dataclass

from ..policy.guard import LoginGuard
from ..runtime import Runtime
from .relay import RelayQueue


@dataclass
class SmtpContext:
    runtime: Runtime
    relay: RelayQueue

    @classmethod
    def create(cls, runtime: Runtime) -> SmtpContext:
        return cls(runtime, RelayQueue(runtime))

    @property
    def guard(self) -> LoginGuard:
        return self.runtime.policy.guard
