"""Admin operations for client access: protocol settings, services, the
per-mailbox protocol settings, client settings and connectivity tests.
Plain async functions (tested directly); admin/cli_protocols.py parses
arguments and prints what these return."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..policy import mailbox as per_mailbox
from ..policy.login import LoginType
from ..policy.state import DISCONNECT_SCOPE, SERVICE_SCOPE, SERVICES
from ..settings import (
    ImapSettings,
    MonitoringSettings,
    PopSettings,
    SettingsError,
    SmtpSettings,
    ThrottleSettings,
    from_strings,
    to_strings,
)
from ..storage.models import Account
from .ops import OpError, _get, open_store

SCOPES: dict[str, type] = {"imap": ImapSettings, "pop": PopSettings, "throttle": ThrottleSettings,
                           "monitoring": MonitoringSettings}


async def show_settings(config: Config, scope: str) -> Any:
    async with open_store(config) as (store, _):
        try:
            return from_strings(SCOPES[scope], await store.get_settings(scope))
        except SettingsError as exc:
            raise OpError(f"the stored {scope} settings are invalid: {exc}") from None


async def set_settings(config: Config, scope: str, values: dict[str, str]) -> Any:
    """Validates the whole resulting object before storing anything."""
    if not values:
        raise OpError("nothing to change: give at least one setting")
    async with open_store(config) as (store, _):
        merged = {**await store.get_settings(scope), **values}
        try:
            result = from_strings(SCOPES[scope], merged)
        except SettingsError as exc:
            raise OpError(str(exc)) from None
        # Store the normalised form ("PlainTextLogin" -> "plain-text-login").
        normal = to_strings(result)
        await store.put_settings(scope, {k: normal[k] for k in values})
        return result


# --- services --------------------------------------------------------------------

async def set_service(config: Config, service: str, running: bool) -> None:
    if service not in SERVICES:
        raise OpError(f"unknown service {service!r}: use one of {', '.join(SERVICES)}")
    async with open_store(config) as (store, _):
        await store.put_settings(SERVICE_SCOPE, {service: "running" if running else "stopped"})


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    service: str
    enabled: bool  # the stored state: start / stop
    server_running: bool  # a `mailgate serve` of this node is up
    listeners: list[dict[str, Any]]
    connections: int
    tls_connections: int


async def service_status(config: Config, services: tuple[str, ...] = SERVICES) -> list[ServiceStatus]:
    from ..observability.status import status_path

    async with open_store(config) as (store, _):
        stored = await store.get_settings(SERVICE_SCOPE)
    published: dict[str, Any] = {}
    try:
        data = json.loads(status_path(config).read_text(encoding="utf-8"))
        if _alive(int(data.get("pid", 0))):
            published = data.get("services", {})
    except (OSError, ValueError):
        pass
    out = []
    for service in services:
        live = published.get(service)
        out.append(ServiceStatus(service, stored.get(service, "running") != "stopped", live is not None,
                                 (live or {}).get("listeners", []), (live or {}).get("connections", 0),
                                 (live or {}).get("tls_connections", 0)))
    return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- per-mailbox protocol settings ---------------------------------------------------

async def set_mailbox_protocol(config: Config, address: str, values: dict[str, str]) -> Account:
    """values: CLI option name ("imap_suppress_read_receipt") -> string."""
    overrides: dict[str, str] = {}
    for prefix in per_mailbox.PREFIXES:
        keys = per_mailbox.option_keys(prefix)
        mine = {keys[k]: v for k, v in values.items() if k in keys}
        if mine:
            try:
                overrides.update(per_mailbox.validate(prefix, mine))
            except SettingsError as exc:
                raise OpError(str(exc)) from None
    unknown = set(values) - {k for p in per_mailbox.PREFIXES for k in per_mailbox.option_keys(p)}
    if unknown:
        raise OpError(f"unknown mailbox settings: {', '.join(sorted(unknown))}")
    async with open_store(config) as (store, _):
        account = await _get(store, address)
        return await store.update_account(account.address, overrides={**account.overrides, **overrides})


async def disconnect_mailbox(config: Config, address: str) -> None:
    """Every running server ends this mailbox's POP3 and IMAP4 sessions
    within its next settings tick (policy/state.py)."""
    async with open_store(config) as (store, _):
        account = await _get(store, address)
        current = (await store.get_settings(DISCONNECT_SCOPE)).get(account.address, "0")
        generation = int(current) + 1 if current.isdigit() else 1
        await store.put_settings(DISCONNECT_SCOPE, {account.address: str(generation)})


# --- client settings ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ClientSetting:
    protocol: str  # "IMAP4" / "POP3" / "SMTP"
    scope: str  # "internal" / "external"
    server: str
    port: int
    encryption: str  # "SSL" (implicit TLS), "TLS" (STARTTLS), "" (none)


@dataclass(frozen=True, slots=True)
class ClientSettingsReport:
    address: str
    settings: list[ClientSetting]
    disabled: list[str]  # protocols switched off for this mailbox
    stopped: list[str]  # services an administrator stopped
    notes: list[str]


def connection_settings(hostname: str, settings: ImapSettings | PopSettings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(internal, external) HOST:PORT:METHOD entries; the internal ones, when
    not set, derive from the bindings: FQDN:<ssl port>:SSL, FQDN:<port>:TLS."""
    internal = settings.internal_connection_settings
    if not internal:
        host = settings.x509_certificate_name or hostname
        ports = [(b.rpartition(":")[2], "SSL") for b in settings.ssl_bindings]
        ports += [(b.rpartition(":")[2], "TLS") for b in settings.unencrypted_or_tls_bindings]
        internal = tuple(dict.fromkeys(f"{host}:{port}:{method}" for port, method in ports))
    return internal, settings.external_connection_settings


def _entries(protocol: str, scope: str, entries: tuple[str, ...]) -> list[ClientSetting]:
    out = []
    for entry in entries:
        rest, _, method = entry.rpartition(":")
        host, _, port = rest.rpartition(":")
        out.append(ClientSetting(protocol, scope, host, int(port), method.upper()))
    return out


async def client_settings(config: Config, address: str) -> ClientSettingsReport:
    async with open_store(config) as (store, _):
        account = await _get(store, address)
        imap = from_strings(ImapSettings, await store.get_settings("imap"))
        pop = from_strings(PopSettings, await store.get_settings("pop"))
        smtp = from_strings(SmtpSettings, await store.get_settings("smtp"))
        services = await store.get_settings(SERVICE_SCOPE)
    rows: list[ClientSetting] = []
    disabled, notes = [], []
    for name, service, enabled, settings in (("IMAP4", "imap4", account.imap_enabled, imap),
                                             ("POP3", "pop3", account.pop_enabled, pop)):
        if not enabled:
            disabled.append(name)
            continue
        internal, external = connection_settings(config.hostname, settings)
        rows += _entries(name, "internal", internal) + _entries(name, "external", external)
        if settings.login_type is LoginType.SECURE_LOGIN:
            notes.append(f"{name}: the password is accepted only over an encrypted connection (SSL or TLS).")
    host = imap.x509_certificate_name or config.hostname
    for binding in smtp.submission_bindings:  # reference 6: the same internally and externally
        for scope in ("internal", "external"):
            rows.append(ClientSetting("SMTP", scope, host, int(binding.rpartition(":")[2]), "TLS"))
    stopped = [s for s in SERVICES if services.get(s) == "stopped"]
    return ClientSettingsReport(account.address, rows, disabled, stopped, notes)


# --- connectivity test --------------------------------------------------------------

async def connectivity(config: Config, protocol: str, address: str, password: str, *,
                            light: bool = False, connection_type: str = "ssl", server: str | None = None,
                            port: int | None = None, trust_any_certificate: bool = False,
                            timeout: float = 30.0) -> list[Any]:
    from ..observability.connectivity import Probe, run_probe

    async with open_store(config) as (store, _):
        account = await _get(store, address)
        scope = "imap" if protocol == "imap4" else "pop"
        settings = from_strings(SCOPES[scope], await store.get_settings(scope))
    bindings = settings.ssl_bindings if connection_type == "ssl" else settings.unencrypted_or_tls_bindings
    if port is None or server is None:
        if not bindings:
            raise OpError(f"{protocol} has no {'SSL' if connection_type == 'ssl' else 'unencrypted or TLS'} "
                          "bindings; give --server and --port")
        host, _, bound = bindings[0].rpartition(":")
        host = host.strip("[]")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        server, port = server or host, port or int(bound)
    probe = Probe(protocol, server, port, connection_type, account.address, password, config.hostname,
                  None if trust_any_certificate else config.tls_cert, light, timeout)
    return await run_probe(probe, config)
