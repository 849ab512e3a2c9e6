"""Connection limits and the live connection registry of one server process.

Counted per protocol as Exchange does: MaxConnections (every connection of
the service, logged in or not), MaxConnectionFromSingleIP, and
MaxConnectionsPerUser (logged-in sessions of one mailbox). Each tracked
connection is a `Client`: the drivers ask it whether they may serve, tell it
who logged in, and wait on it for an administrator's disconnect.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Limited(str, enum.Enum):
    SERVER = "max-connections"
    IP = "max-connection-from-single-ip"
    USER = "max-connections-per-user"


class LimitSettings(Protocol):
    max_connections: int
    max_connection_from_single_ip: int
    max_connections_per_user: int


class Tap(Protocol):
    """What sees a connection's bytes (the protocol log)."""

    def received(self, data: bytes) -> None: ...

    def sent(self, data: bytes) -> None: ...

    def info(self, text: str) -> None: ...

    def closed(self) -> None: ...


@dataclass(eq=False)
class Client:
    protocol: str  # "imap4" / "pop3"
    ip: str
    local: str
    remote: str
    tls: bool
    tracker: ConnectionTracker | None = None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    refused: Limited | None = None
    address: str | None = None  # the mailbox, once logged in
    generation: str | None = None  # the mailbox's disconnect generation at login (policy/gate.py)
    kick_reason: str = ""
    # Called by kick(): wakes an IMAP connection that waits on one future for
    # everything (transport/imap_driver.py) instead of a task on `kicked`.
    on_kick: Callable[[], None] | None = None
    wire: Tap | None = None
    on_tls: Callable[[Client], None] | None = None
    on_close: Callable[[Client], None] | None = None
    # Accepted on a backend (ProxyTargetPort) listener: only a frontend's
    # proxy login is allowed there (policy/gate.py).
    backend: bool = False
    via: str | None = None  # the frontend's address, once a proxied login names the client
    # Made on first use (an Event with its waiter deque is ~0.8 KiB; 10,000
    # idle IMAP clients never wait on it).
    _kicked: asyncio.Event | None = field(default=None, repr=False)

    @property
    def kicked(self) -> asyncio.Event:
        """Set by kick() (`mailbox set --disconnect`)."""
        if self._kicked is None:
            self._kicked = asyncio.Event()
        return self._kicked

    @property
    def is_kicked(self) -> bool:
        return self._kicked is not None and self._kicked.is_set()

    # --- what the Connection reports (transport/connection.py) -------------
    def received(self, data: bytes) -> None:
        if self.wire is not None:
            self.wire.received(data)

    def sent(self, data: bytes) -> None:
        if self.wire is not None:
            self.wire.sent(data)

    def tls_started(self) -> None:
        if self.on_tls is not None:
            self.on_tls(self)
        self.tls = True
        if self.wire is not None:
            self.wire.info("TLS negotiated")

    def proxied(self, origin_ip: str, origin_port: int | None) -> None:
        """A frontend vouched for the real client: log and limit by it."""
        self.via = self.remote
        if self.tracker is not None:
            self.tracker.move_ip(self, origin_ip)
        self.ip = origin_ip
        self.remote = f"[{origin_ip}]:{origin_port}" if ":" in origin_ip else f"{origin_ip}:{origin_port}"
        if self.wire is not None:
            self.wire.info(f"proxied login: client {self.remote} via frontend {self.via}")

    # --- what the drivers ask -------------------------------------------------
    def attach_user(self, address: str, settings: LimitSettings) -> bool:
        """After a successful login: False when the mailbox already has
        MaxConnectionsPerUser sessions of this protocol."""
        if self.tracker is None:
            self.address = address
            return True
        return self.tracker.attach_user(self, address, settings)

    def kick(self, reason: str) -> None:
        self.kick_reason = reason
        self.kicked.set()  # made here if nobody waited on it
        if self.on_kick is not None:
            self.on_kick()

    def close(self) -> None:
        if self.tracker is not None:
            self.tracker.release(self)
            self.tracker = None
            if self.on_close is not None:
                self.on_close(self)
        if self.wire is not None:
            self.wire.closed()
            self.wire = None


class ConnectionTracker:
    def __init__(self) -> None:
        self._clients: dict[str, set[Client]] = {}
        self._per_ip: Counter[tuple[str, str]] = Counter()
        self._per_user: Counter[tuple[str, str]] = Counter()

    def admit(self, client: Client, settings: LimitSettings) -> Client:
        """Count the connection, or mark it refused (it is then not counted)."""
        clients = self._clients.setdefault(client.protocol, set())
        if len(clients) >= settings.max_connections:
            client.refused = Limited.SERVER
        elif self._per_ip[(client.protocol, client.ip)] >= settings.max_connection_from_single_ip:
            client.refused = Limited.IP
        else:
            clients.add(client)
            self._per_ip[(client.protocol, client.ip)] += 1
            client.tracker = self
        return client

    def attach_user(self, client: Client, address: str, settings: LimitSettings) -> bool:
        key = (client.protocol, address.lower())
        if client.address is not None:  # already counted (cannot log in twice)
            return True
        if self._per_user[key] >= settings.max_connections_per_user:
            return False
        self._per_user[key] += 1
        client.address = address.lower()
        return True

    def move_ip(self, client: Client, new_ip: str) -> None:
        """Count a proxied connection under its real client's address."""
        if client in self._clients.get(client.protocol, set()):
            _decrement(self._per_ip, (client.protocol, client.ip))
            self._per_ip[(client.protocol, new_ip)] += 1

    def release(self, client: Client) -> None:
        clients = self._clients.get(client.protocol, set())
        if client not in clients:
            return
        clients.discard(client)
        _decrement(self._per_ip, (client.protocol, client.ip))
        if client.address is not None:
            _decrement(self._per_user, (client.protocol, client.address))

    def count(self, protocol: str, tls: bool | None = None) -> int:
        clients = self._clients.get(protocol, set())
        if tls is None:
            return len(clients)
        return sum(1 for c in clients if c.tls == tls)

    def sessions_of(self, address: str) -> list[Client]:
        address = address.lower()
        return [c for clients in self._clients.values() for c in clients if c.address == address]


def _decrement(counter: Counter[tuple[str, str]], key: tuple[str, str]) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
