"""Who may log in over which protocol: one place for IMAP4, POP3 and SMTP.

Exchange's rules (reference section 4): anonymous and guest accounts and the
administrator mailbox never log in over POP3/IMAP4; a mailbox whose protocol is
switched off is refused the same way; plaintext credentials wait for TLS unless
LoginType allows them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..storage.models import Account, Role


class Protocol(str, enum.Enum):
    IMAP4 = "imap4"
    POP3 = "pop3"
    SMTP = "smtp"


class LoginType(str, enum.Enum):
    PLAIN_TEXT_LOGIN = "plain-text-login"  # Exchange 1: all credentials before TLS
    PLAIN_TEXT_AUTHENTICATION = "plain-text-authentication"  # 2: SASL only before TLS
    SECURE_LOGIN = "secure-login"  # 3 (default): TLS first


class Refusal(str, enum.Enum):
    BAD_CREDENTIALS = "bad-credentials"
    ANONYMOUS = "anonymous"
    ROLE = "role"  # guest or administrator
    PROTOCOL_DISABLED = "protocol-disabled"
    TLS_REQUIRED = "tls-required"
    THROTTLED = "throttled"  # too many failed logins from this IP or for this account
    USER_CONNECTION_LIMIT = "user-connection-limit"  # MaxConnectionsPerUser reached
    DIRECT_LOGIN = "direct-login"  # a backend port reached without a frontend


ANONYMOUS_NAMES = frozenset({"", "anonymous", "guest"})


def credentials_allowed(login_type: LoginType, tls_active: bool, via_sasl: bool) -> bool:
    """May the client send credentials now? via_sasl: AUTHENTICATE/AUTH rather
    than IMAP LOGIN / POP3 USER+PASS."""
    if tls_active or login_type is LoginType.PLAIN_TEXT_LOGIN:
        return True
    if login_type is LoginType.PLAIN_TEXT_AUTHENTICATION:
        return via_sasl
    return False


def is_anonymous_identity(username: str) -> bool:
    return username.strip().lower() in ANONYMOUS_NAMES


@dataclass(frozen=True, slots=True)
class Decision:
    account: Account | None
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


def authorize(account: Account, protocol: Protocol) -> Refusal | None:
    """After the password matched: may this account use this protocol?"""
    if protocol in (Protocol.IMAP4, Protocol.POP3):
        if account.role in (Role.GUEST, Role.ADMINISTRATOR):
            return Refusal.ROLE
        if protocol is Protocol.IMAP4 and not account.imap_enabled:
            return Refusal.PROTOCOL_DISABLED
        if protocol is Protocol.POP3 and not account.pop_enabled:
            return Refusal.PROTOCOL_DISABLED
    elif account.role is Role.GUEST:
        return Refusal.ROLE
    return None
