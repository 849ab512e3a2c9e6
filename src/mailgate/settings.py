"""Typed protocol settings: the Set-PopSettings / Set-ImapSettings model.

Defaults are Exchange's (reference section 2) unless noted. Values live in the
store (scope "pop" / "imap") so every server of a deployment shares them.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass

from .policy.login import LoginType


@dataclass(frozen=True, slots=True)
class ImapSettings:
    ssl_bindings: tuple[str, ...] = ("0.0.0.0:993",)
    unencrypted_or_tls_bindings: tuple[str, ...] = ("0.0.0.0:143",)
    login_type: LoginType = LoginType.SECURE_LOGIN
    banner: str = "The mailgate IMAP4 service is ready."
    authenticated_connection_timeout: int = 1800  # seconds, 30..86400
    pre_authenticated_connection_timeout: int = 60  # seconds, 30..3600
    max_command_size: int = 10240  # bytes, 1024..16384, literals excluded
    max_literal_size: int = 36 * 1024 * 1024  # APPENDLIMIT
    max_bad_commands: int = 20
    idle_keepalive_interval: int = 120  # seconds between "* OK Still here"
    max_connections: int = 2147483647
    max_connection_from_single_ip: int = 2147483647
    max_connections_per_user: int = 16
    show_hidden_folders_enabled: bool = False
    suppress_read_receipt: bool = False
    enable_exact_rfc822_size: bool = True  # always exact here: sizes are stored


@dataclass(frozen=True, slots=True)
class PopSettings:
    ssl_bindings: tuple[str, ...] = ("0.0.0.0:995",)
    unencrypted_or_tls_bindings: tuple[str, ...] = ("0.0.0.0:110",)
    login_type: LoginType = LoginType.SECURE_LOGIN
    banner: str = "The mailgate POP3 service is ready."
    authenticated_connection_timeout: int = 1800
    pre_authenticated_connection_timeout: int = 60
    max_command_size: int = 512  # bytes, 40..1024
    max_bad_commands: int = 20
    message_retrieval_sort_order: str = "ascending"  # or "descending"
    max_connections: int = 2147483647
    max_connection_from_single_ip: int = 2147483647
    max_connections_per_user: int = 16
    suppress_read_receipt: bool = False
    enable_exact_rfc822_size: bool = True


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    submission_bindings: tuple[str, ...] = ("0.0.0.0:587",)
    inbound_bindings: tuple[str, ...] = ("0.0.0.0:25",)
    lmtp_bindings: tuple[str, ...] = ("127.0.0.1:24",)
    max_recipients_per_message: int = 200
    max_message_size: int = 36 * 1024 * 1024


class SettingsError(ValueError):
    """A stored or given setting value is not valid; the text names it."""


T = typing.TypeVar("T")


def from_strings(cls: type[T], values: dict[str, str]) -> T:
    """Build a settings object from the store's string values; unknown keys are
    ignored (a newer server may have written them), bad values raise."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            kwargs[f.name] = _convert(f.name, hints[f.name], values[f.name])
    return cls(**kwargs)


def to_strings(obj: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, tuple):
            out[f.name] = ",".join(value)
        elif isinstance(value, bool):
            out[f.name] = "true" if value else "false"
        elif isinstance(value, enum.Enum):
            out[f.name] = str(value.value)
        else:
            out[f.name] = str(value)
    return out


def _convert(name: str, kind: object, text: str) -> object:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise SettingsError(f"{name}: expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {text!r}") from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(text)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise SettingsError(f"{name}: expected one of {allowed}, got {text!r}") from None
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text
