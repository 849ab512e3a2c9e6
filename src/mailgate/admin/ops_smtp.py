"""Admin operations for SMTP: local (accepted) domains, the SMTP settings
and the relay queue. Plain async functions, tested directly; cli_smtp.py
only parses and prints. A running server re-reads the settings every
second, so every change here applies without a restart."""

from __future__ import annotations

import dataclasses
import re

from ..config import Config
from ..settings import SettingsError, SmtpSettings, from_strings, to_strings
from ..storage.models import OutboundMessage
from .ops import OpError, open_store

SCOPE = "smtp"
# LDH labels (RFC 1035) or U-labels (any non-ASCII letter: IDN as typed).
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9\u0080-\U0010ffff-]{1,63}(?<!-)$")
SETTABLE = frozenset(f.name for f in dataclasses.fields(SmtpSettings)) - {"local_domains"}


def check_domain(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    labels = d.split(".")
    if len(d) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise OpError(f"{domain!r} is not a domain name such as example.com")
    return d


def check_host_port(text: str) -> str:
    """HOST:PORT with a host name or an IPv4/[IPv6] address; "" clears it."""
    text = text.strip()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise OpError(f"--smart-host: {text!r} is not HOST:PORT (for example smtp.example.net:587)")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not re.fullmatch(r"[A-Za-z0-9.:_-]+", bare):
        raise OpError(f"--smart-host: {host!r} is not a host name or address")
    return f"{host}:{int(port)}"


async def _load(store: object) -> SmtpSettings:
    try:
        return from_strings(SmtpSettings, await store.get_settings(SCOPE))  # type: ignore[attr-defined]
    except SettingsError as exc:
        raise OpError(f"the stored SMTP settings are invalid: {exc}") from None


# --- domains ---------------------------------------------------------------
async def list_domains(config: Config) -> tuple[str, ...]:
    async with open_store(config) as (store, _):
        return (await _load(store)).local_domains


async def add_domain(config: Config, domain: str) -> tuple[str, ...]:
    name = check_domain(domain)
    async with open_store(config) as (store, _):
        current = (await _load(store)).local_domains
        if name in current:
            raise OpError(f"{name} is a local domain already")
        domains = tuple(sorted((*current, name)))
        await store.put_settings(SCOPE, {"local_domains": ",".join(domains)})
        return domains


async def remove_domain(config: Config, domain: str) -> tuple[str, ...]:
    name = domain.strip().lower().rstrip(".")
    async with open_store(config) as (store, _):
        current = (await _load(store)).local_domains
        if name not in current:
            raise OpError(f"{name} is not a local domain")
        domains = tuple(d for d in current if d != name)
        await store.put_settings(SCOPE, {"local_domains": ",".join(domains)})
        return domains


# --- settings --------------------------------------------------------------
async def show_smtp(config: Config) -> SmtpSettings:
    async with open_store(config) as (store, _):
        return await _load(store)


async def set_smtp(config: Config, values: dict[str, str]) -> SmtpSettings:
    """Validates the whole resulting settings before storing anything."""
    unknown = set(values) - SETTABLE
    if unknown:
        raise OpError(f"unknown SMTP settings: {', '.join(sorted(unknown))}")
    values = dict(values)
    if "smart_host" in values:
        values["smart_host"] = check_host_port(values["smart_host"])
    async with open_store(config) as (store, _):
        merged = {**await store.get_settings(SCOPE), **values}
        try:
            result = from_strings(SmtpSettings, merged)
        except SettingsError as exc:
            raise OpError(str(exc)) from None
        if result.relay_max_retry_interval < result.relay_retry_interval:
            raise OpError("--relay-max-retry-interval must not be below --relay-retry-interval")
        if result.smart_host_password and not result.smart_host_username:
            raise OpError("--smart-host-password needs --smart-host-username")
        await store.put_settings(SCOPE, values)
        return result


def describe(settings: SmtpSettings) -> list[tuple[str, str]]:
    """(name, value) lines for `mailgate smtp show`; the password is hidden."""
    out = []
    for name, value in to_strings(settings).items():
        if name == "smart_host_password":
            value = "(set)" if value else ""
        out.append((name, value))
    return out


# --- relay queue -----------------------------------------------------------
async def list_queue(config: Config) -> list[OutboundMessage]:
    async with open_store(config) as (store, _):
        return await store.list_outbound()
