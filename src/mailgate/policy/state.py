"""The client-access policy state of one running server (`runtime.policy`).

Holds what the drivers consult per connection (limits, throttling, protocol
logs) and what the settings watcher refreshes every second from the store:
the throttle and monitoring settings, which services run, and the
per-mailbox "disconnect generations" that `mailgate mailbox set --disconnect`
bumps so that every running server ends that mailbox's sessions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..observability import metrics
from ..observability.protocol_log import LogConfig, ProtocolLog
from ..settings import MonitoringSettings, SettingsError, ThrottleSettings, from_strings
from .connections import Client, ConnectionTracker, LimitSettings
from .guard import LoginGuard

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..transport.connection import Connection

log = logging.getLogger("mailgate.policy")

SERVICES = ("imap4", "pop3")
SERVICE_SCOPE = "service"  # key: service name -> "running" / "stopped"
DISCONNECT_SCOPE = "disconnect"  # key: mailbox address -> generation number
KICK_TEXT = "Your session was ended by an administrator."
# A generation ending in MOVED_MARK: the mailbox moved to another database
# (admin/ops_topology.py); clients are told to reconnect (POP3 [SYS/TEMP]).
MOVED_MARK = ":moved"
MOVED_TEXT = "The mailbox has moved; please reconnect."
LOG_FOLDERS = {"imap4": "Imap4", "pop3": "Pop3"}


@dataclass
class PolicyState:
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    stopped: set[str] = field(default_factory=set)  # services an admin stopped
    tracker: ConnectionTracker = field(default_factory=ConnectionTracker)
    logs: dict[str, ProtocolLog] = field(default_factory=lambda: {p: ProtocolLog(p) for p in SERVICES})
    log_dir: Path = Path("logs")
    guard: LoginGuard = field(init=False)
    # Kept here for observability/status.py: the metrics endpoint's listeners
    # by binding, bindings that failed (logged once), the last status written.
    metrics_listeners: dict[str, Any] = field(default_factory=dict)
    metrics_failed: set[str] = field(default_factory=set)
    published: str | None = None
    _generations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.guard = LoginGuard(lambda: self.throttle)

    def service_running(self, service: str) -> bool:
        return service not in self.stopped

    # --- per connection ---------------------------------------------------------
    def open_connection(self, protocol: str, conn: Connection, settings: LimitSettings) -> Client:
        """Admit (or refuse, see client.refused) a new connection; the caller
        closes the client when the connection ends."""
        client = Client(protocol, conn.remote.host, str(conn.local), str(conn.remote), conn.tls_active)
        self.tracker.admit(client, settings)
        if client.refused is not None:
            metrics.CONNECTIONS_REFUSED.labels(protocol, client.refused.value).inc()
            log.info("%s connection from %s refused: %s reached", protocol, conn.remote, client.refused.value)
            return client
        metrics.CONNECTIONS.labels(protocol, metrics.tls_label(client.tls)).inc()
        client.on_tls = _tls_changed
        client.on_close = _closed
        client.wire = self.logs[protocol].session(client.session_id, client.local, client.remote)
        conn.tap = client
        return client

    # --- refreshed by the settings watcher ------------------------------------------
    async def refresh(self, runtime: Runtime) -> None:
        store = runtime.store
        try:
            self.throttle = from_strings(ThrottleSettings, await store.get_settings("throttle"))
            self.monitoring = from_strings(MonitoringSettings, await store.get_settings("monitoring"))
        except SettingsError as exc:
            log.error("stored policy settings are invalid, keeping the previous ones: %s", exc)
        services = await store.get_settings(SERVICE_SCOPE)
        self.stopped = {s for s in SERVICES if services.get(s, "running") == "stopped"}
        for protocol, settings in (("imap4", runtime.imap), ("pop3", runtime.pop)):
            where = Path(settings.log_file_location) if settings.log_file_location else \
                self.log_dir / LOG_FOLDERS[protocol]
            self.logs[protocol].configure(LogConfig(settings.protocol_log_enabled, where,
                                                    settings.log_file_roll_over_settings,
                                                    settings.log_per_file_size_quota))
        await self._disconnects(runtime)

    async def _disconnects(self, runtime: Runtime) -> None:
        current = await runtime.store.get_settings(DISCONNECT_SCOPE)
        if self._generations is None:  # bumps from before this server started are history
            self._generations = current
            return
        for address, generation in current.items():
            if self._generations.get(address) != generation:
                moved = generation.endswith(MOVED_MARK)
                for client in self.tracker.sessions_of(address):
                    if client.generation == generation:
                        continue  # logged in after the bump, so after the move or the disconnect
                    log.info("ending %s session of %s from %s: %s", client.protocol, address, client.remote,
                             "mailbox moved" if moved else "administrator's request")
                    client.kick(MOVED_TEXT if moved else KICK_TEXT)
        self._generations = current

    def close(self) -> None:
        for protocol_log in self.logs.values():
            protocol_log.close()


def _tls_changed(client: Client) -> None:
    metrics.CONNECTIONS.labels(client.protocol, metrics.tls_label(client.tls)).dec()
    metrics.CONNECTIONS.labels(client.protocol, metrics.tls_label(True)).inc()


def _closed(client: Client) -> None:
    metrics.CONNECTIONS.labels(client.protocol, metrics.tls_label(client.tls)).dec()
