"""Typed protocol settings: the Set-PopSettings / Set-ImapSettings model.

Defaults are Exchange's (reference section 2) unless noted. Values live in the
store (scope "pop" / "imap" / ...) so every server of a deployment shares them.
Each field's allowed values are in its metadata; `from_strings` (used by the
server and the admin ops alike) rejects anything else with a message that
names the setting the way the CLI spells it and gives the allowed range.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from dataclasses import dataclass, field

from .policy.login import LoginType

INT32_MAX = 2147483647
UNLIMITED = -1  # log_per_file_size_quota: one file, never rolled over


class SortOrder(str, enum.Enum):
    ASCENDING = "ascending"  # Exchange 0
    DESCENDING = "descending"  # 1


class RollOver(str, enum.Enum):
    HOURLY = "hourly"  # Exchange 1 (the 2016/2019 default)
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class MimeFormat(str, enum.Enum):
    TEXT_ONLY = "text-only"  # Exchange 0
    HTML_ONLY = "html-only"
    HTML_AND_TEXT_ALTERNATIVE = "html-and-text-alternative"
    TEXT_ENRICHED_ONLY = "text-enriched-only"
    TEXT_ENRICHED_AND_TEXT_ALTERNATIVE = "text-enriched-and-text-alternative"
    BEST_BODY_FORMAT = "best-body-format"  # 5, the default
    TNEF = "tnef"


class CalendarOption(str, enum.Enum):
    ICALENDAR = "icalendar"  # Exchange 0
    INTRANET_URL = "intranet-url"
    INTERNET_URL = "internet-url"
    CUSTOM = "custom"


# Exchange's number for an enum's first member; members follow in order, so
# `--login-type 3` means what Set-ImapSettings -LoginType 3 means.
_EXCHANGE_FIRST_NUMBER: dict[type, int] = {LoginType: 1, SortOrder: 0, RollOver: 1, MimeFormat: 0,
                                           CalendarOption: 0}


def _s(default: object, lo: int | None = None, hi: int | None = None, kind: str = "") -> typing.Any:
    """A setting with its allowed range (ints) or value kind ("binding",
    "connection", "timespan", "size", "text", "host")."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "kind": kind})


@dataclass(frozen=True, slots=True)
class ImapSettings:
    ssl_bindings: tuple[str, ...] = _s(("0.0.0.0:993",), kind="binding")
    unencrypted_or_tls_bindings: tuple[str, ...] = _s(("0.0.0.0:143",), kind="binding")
    # Empty: derived from the hostname and the bindings (FQDN:993:SSL, FQDN:143:TLS).
    internal_connection_settings: tuple[str, ...] = _s((), kind="connection")
    external_connection_settings: tuple[str, ...] = _s((), kind="connection")
    x509_certificate_name: str = _s("", kind="host")
    login_type: LoginType = LoginType.SECURE_LOGIN
    banner: str = _s("The mailgate IMAP4 service is ready.", kind="text")
    authenticated_connection_timeout: int = _s(1800, 30, 86400, "timespan")  # seconds
    pre_authenticated_connection_timeout: int = _s(60, 30, 3600, "timespan")
    max_command_size: int = _s(10240, 1024, 16384)  # bytes, literals excluded
    max_literal_size: int = _s(36 * 1024 * 1024, 1024, INT32_MAX)  # mailgate: APPENDLIMIT
    max_bad_commands: int = _s(20, 1, 1000)  # mailgate: then BYE
    idle_keepalive_interval: int = _s(120, 10, 1740)  # mailgate: "* OK Still here" (< 29 min)
    max_connections: int = _s(INT32_MAX, 1, INT32_MAX)
    max_connection_from_single_ip: int = _s(INT32_MAX, 1, INT32_MAX)
    max_connections_per_user: int = _s(16, 1, INT32_MAX)
    show_hidden_folders_enabled: bool = False
    suppress_read_receipt: bool = False
    # Sizes are stored exactly at delivery, so mailgate always reports the
    # exact size; the switch is kept for Exchange compatibility.
    enable_exact_rfc822_size: bool = False
    calendar_item_retrieval_option: CalendarOption = CalendarOption.ICALENDAR
    message_retrieval_mime_format: MimeFormat = MimeFormat.BEST_BODY_FORMAT
    protocol_log_enabled: bool = False
    log_file_location: str = _s("", kind="text")  # empty: <data>/logs/Imap4
    log_file_roll_over_settings: RollOver = RollOver.HOURLY
    log_per_file_size_quota: int = _s(0, UNLIMITED, INT32_MAX, "size")  # 0: roll over by time
    proxy_target_port: int = _s(1993, 1, 65535)


@dataclass(frozen=True, slots=True)
class PopSettings:
    ssl_bindings: tuple[str, ...] = _s(("0.0.0.0:995",), kind="binding")
    unencrypted_or_tls_bindings: tuple[str, ...] = _s(("0.0.0.0:110",), kind="binding")
    internal_connection_settings: tuple[str, ...] = _s((), kind="connection")
    external_connection_settings: tuple[str, ...] = _s((), kind="connection")
    x509_certificate_name: str = _s("", kind="host")
    login_type: LoginType = LoginType.SECURE_LOGIN
    banner: str = _s("The mailgate POP3 service is ready.", kind="text")
    authenticated_connection_timeout: int = _s(1800, 30, 86400, "timespan")
    pre_authenticated_connection_timeout: int = _s(60, 30, 3600, "timespan")
    max_command_size: int = _s(512, 40, 1024)
    max_bad_commands: int = _s(20, 1, 1000)
    message_retrieval_sort_order: SortOrder = SortOrder.ASCENDING
    max_connections: int = _s(INT32_MAX, 1, INT32_MAX)
    max_connection_from_single_ip: int = _s(INT32_MAX, 1, INT32_MAX)
    max_connections_per_user: int = _s(16, 1, INT32_MAX)
    suppress_read_receipt: bool = False
    enable_exact_rfc822_size: bool = False  # see ImapSettings
    calendar_item_retrieval_option: CalendarOption = CalendarOption.ICALENDAR
    message_retrieval_mime_format: MimeFormat = MimeFormat.BEST_BODY_FORMAT
    protocol_log_enabled: bool = False
    log_file_location: str = _s("", kind="text")  # empty: <data>/logs/Pop3
    log_file_roll_over_settings: RollOver = RollOver.HOURLY
    log_per_file_size_quota: int = _s(0, UNLIMITED, INT32_MAX, "size")
    proxy_target_port: int = _s(1995, 1, 65535)


class SmartHostTls(str, enum.Enum):
    """How the relay talks to the smart host."""

    STARTTLS = "starttls"  # STARTTLS required (the default)
    OPPORTUNISTIC = "opportunistic"  # STARTTLS when offered
    TLS = "tls"  # implicit TLS (port 465)
    NONE = "none"  # plain text: a relay on the same host or network only


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Submission, inbound SMTP, LMTP and the relay (scope "smtp"); defaults
    from Exchange's "Client Frontend" connector (reference section 6) unless
    noted. Managed by `mailgate smtp set` and `mailgate domain`."""

    submission_bindings: tuple[str, ...] = _s(("0.0.0.0:587",), kind="binding")
    inbound_bindings: tuple[str, ...] = _s(("0.0.0.0:25",), kind="binding")
    lmtp_bindings: tuple[str, ...] = _s(("127.0.0.1:24",), kind="binding")
    lmtp_socket: str = _s("", kind="text")  # mailgate: a UNIX socket path for LMTP too
    max_recipients_per_message: int = _s(200, 1, INT32_MAX)
    max_message_size: int = _s(36 * 1024 * 1024, 1024, INT32_MAX)  # advertised as SIZE
    # Domains whose recipients are delivered here (accepted domains); a
    # mailbox's own address is always local too.
    local_domains: tuple[str, ...] = ()
    require_tls_for_auth: bool = True  # BasicAuthRequireTLS
    connection_timeout: int = _s(300, 10, 3600, "timespan")  # ConnectionInactivityTimeout
    smart_host: str = _s("", kind="text")  # HOST:PORT; empty: non-local recipients refused
    smart_host_tls: SmartHostTls = SmartHostTls.STARTTLS
    smart_host_verify_certificate: bool = True
    smart_host_username: str = _s("", kind="text")
    smart_host_password: str = _s("", kind="text")
    relay_timeout: int = _s(120, 5, 3600, "timespan")  # per network step
    relay_retry_interval: int = _s(60, 1, 86400, "timespan")  # first retry; doubles
    relay_max_retry_interval: int = _s(3600, 1, 7 * 86400, "timespan")
    relay_message_expiration: int = _s(2 * 86400, 60, 30 * 86400, "timespan")  # then a DSN


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """Failed-login throttling (mailgate's; Exchange leaves it to AD lockout).
    Failures are counted per client IP and per account name over a window."""

    failed_login_free_attempts: int = _s(3, 0, 1000)  # failures answered without delay
    failed_login_delay_ms: int = _s(250, 0, 60000)  # first delay; doubles per failure
    failed_login_max_delay_ms: int = _s(2000, 0, 60000)
    # Failures are forgotten this long after the last one; a locked-out IP or
    # account is refused (before any password check) until then.
    failure_window_seconds: int = _s(300, 1, 86400)
    ip_lockout_failures: int = _s(10, 1, 100000)
    # An account under a distributed attack is refused too; a higher number,
    # since that lockout also locks its owner out.
    account_lockout_failures: int = _s(50, 1, 100000)


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    # Prometheus text format over HTTP; empty: no metrics endpoint.
    metrics_bindings: tuple[str, ...] = _s(("127.0.0.1:9464",), kind="binding")


class SettingsError(ValueError):
    """A stored or given setting value is not valid; the text names it."""


T = typing.TypeVar("T")


def option_name(name: str) -> str:
    """The CLI's (and the error messages') spelling of a field."""
    return "--" + name.replace("_", "-")


def from_strings(cls: type[T], values: dict[str, str]) -> T:
    """Build a settings object from the store's string values; unknown keys are
    ignored (a newer server may have written them), bad values raise."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in values:
            value = _convert(f.name, hints[f.name], values[f.name], f.metadata.get("kind", ""))
            _check(f, hints[f.name], value)
            kwargs[f.name] = value
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
        elif f.metadata.get("kind") == "size" and value == UNLIMITED:
            out[f.name] = "unlimited"
        else:
            out[f.name] = str(value)
    return out


def allowed_values(cls: type, name: str) -> str:
    """Human text for what a field accepts (CLI help, errors)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    kind = typing.get_type_hints(cls)[name]
    return _allowed(f, kind)


def _allowed(f: dataclasses.Field, kind: object) -> str:
    meta = f.metadata
    if kind is bool:
        return "true or false"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in kind)
    if meta.get("kind") == "timespan":
        return f"{meta['lo']}-{meta['hi']} seconds (or hh:mm:ss)"
    if meta.get("kind") == "size":
        return "0 (roll over by time), unlimited, or a size 1-2147483647 bytes (suffix KB, MB, GB)"
    if meta.get("kind") == "binding":
        return "comma-separated ADDRESS:PORT bindings, e.g. 0.0.0.0:993,[::]:993 (empty: none)"
    if meta.get("kind") == "connection":
        return "comma-separated HOST:PORT:SSL|TLS| entries (empty method: unencrypted)"
    if meta.get("lo") is not None:
        return f"a whole number {meta['lo']}-{meta['hi']}"
    return "text"


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.*-]+|[0-9A-Fa-f:]+)$")


def _check(f: dataclasses.Field, hint: object, value: object) -> None:
    meta = f.metadata
    lo, hi, kind = meta.get("lo"), meta.get("hi"), meta.get("kind", "")
    bad = None
    if isinstance(value, int) and not isinstance(value, bool) and lo is not None:
        if not lo <= value <= hi:
            bad = f"{value} is out of range"
    elif kind == "binding":
        for binding in value:  # type: ignore[attr-defined]
            if (err := _binding_error(binding)) is not None:
                bad = err
    elif kind == "connection":
        for entry in value:  # type: ignore[attr-defined]
            host, _, rest = entry.rpartition(":")
            host2, _, port = host.rpartition(":")
            if rest.upper() not in ("SSL", "TLS", "") or not port.isdigit() or not 1 <= int(port) <= 65535 \
                    or not _HOST.match(host2 or "-"):
                bad = f"{entry!r} is not HOST:PORT:SSL, HOST:PORT:TLS or HOST:PORT:"
    elif kind == "text" and isinstance(value, str):
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or len(value) > 1000:
            bad = "it must be one line of at most 1000 characters"
    elif kind == "host" and value and not _HOST.match(str(value)):
        bad = f"{value!r} is not a host name"
    if bad is not None:
        raise SettingsError(f"{option_name(f.name)}: {bad}; allowed: {_allowed(f, hint)}")


def _binding_error(binding: str) -> str | None:
    host, sep, port = binding.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"{binding!r} is not ADDRESS:PORT with a port 0-65535"
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"{binding!r}: {host!r} is not an IPv4 or IPv6 address"
    return None


def _convert(name: str, kind: object, text: str, meta_kind: str = "") -> object:
    label = option_name(name)
    if kind is bool:
        lowered = text.strip().lower().lstrip("$")
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise SettingsError(f"{label}: expected true or false, got {text!r}")
    if kind is int:
        return _convert_int(label, text.strip(), meta_kind)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _convert_enum(label, kind, text)
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text


def _convert_int(label: str, text: str, meta_kind: str) -> int:
    if meta_kind == "timespan" and ":" in text:  # Exchange's EnhancedTimeSpan hh:mm:ss
        parts = text.split(":")
        if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
            h, m, s = (int(p) for p in parts)
            return h * 3600 + m * 60 + s
        raise SettingsError(f"{label}: expected seconds or hh:mm:ss, got {text!r}")
    if meta_kind == "size":
        lowered = text.lower().replace(" ", "")
        if lowered == "unlimited":
            return UNLIMITED
        for suffix, factor in (("kb", 1024), ("mb", 1024**2), ("gb", 1024**3), ("b", 1)):
            if lowered.endswith(suffix) and lowered[: -len(suffix)].isdigit():
                return int(lowered[: -len(suffix)]) * factor
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{label}: expected a whole number, got {text!r}") from None


def _convert_enum(label: str, kind: type[enum.Enum], text: str) -> enum.Enum:
    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower())

    wanted = norm(text)
    members = list(kind)
    for member in members:
        if wanted in (norm(str(member.value)), norm(member.name)):
            return member
    first = _EXCHANGE_FIRST_NUMBER.get(kind)
    if first is not None and wanted.isdigit() and 0 <= int(wanted) - first < len(members):
        return members[int(wanted) - first]
    allowed = ", ".join(str(m.value) for m in members)
    raise SettingsError(f"{label}: expected one of {allowed}, got {text!r}")
