"""What every protocol driver of a running server shares."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from .policy.state import PolicyState
from .session.changes import ChangeHub
from .settings import ImapSettings, PopSettings, SmtpSettings
from .storage.base import Store
from .storage.blobs import BlobStore


@dataclass
class Runtime:
    store: Store
    blobs: BlobStore
    hostname: str
    tls_context: ssl.SSLContext | None
    imap: ImapSettings = field(default_factory=ImapSettings)
    pop: PopSettings = field(default_factory=PopSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    # Limits, throttling, protocol logs, services, disconnects (policy/state.py).
    policy: PolicyState = field(default_factory=PolicyState)
    _hub: ChangeHub | None = None

    @property
    def changes(self) -> ChangeHub:
        """Per-folder change callbacks (created on first use, on the loop)."""
        if self._hub is None:
            self._hub = ChangeHub(self.store)
        return self._hub
