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
    # What this node does: {"all"} (one process, no proxy hop), or any of
    # "frontend" (client listeners, proxying after login) and "backend"
    # (proxied logins only, on the ProxyTargetPort listeners).
    roles: frozenset[str] = frozenset({"all"})
    proxy_secret: str = ""  # the deployment's proxy credential (proxy/credentials.py)
    backend_address: str = "127.0.0.1"  # where this node's backend listeners bind
    backend_tls: ssl.SSLContext | None = None  # how frontends check backends (proxy/backend_link.py)
    _hub: ChangeHub | None = None

    @property
    def changes(self) -> ChangeHub:
        """Per-folder change callbacks (created on first use, on the loop)."""
        if self._hub is None:
            self._hub = ChangeHub(self.store)
        return self._hub
