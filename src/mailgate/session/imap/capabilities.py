"""What the server announces, by connection state (RFC 3501 7.2.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...policy.login import LoginType, credentials_allowed

if TYPE_CHECKING:
    from .context import SessionContext

# Announced in every state once logged in; each only when complete.
AUTHENTICATED_CAPABILITIES = (
    "IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ENABLE", "ID", "IDLE", "NAMESPACE",
    "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE",
    "LIST-EXTENDED", "LIST-STATUS", "ESEARCH", "SEARCHRES", "CONDSTORE", "QRESYNC",
    "STATUS=SIZE", "SORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "BINARY",
    "UTF8=ACCEPT", "QUOTA", "QUOTA=RES-STORAGE",
)

PRE_LOGIN_CAPABILITIES = ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ENABLE", "ID", "IDLE")


def capabilities(*, authenticated: bool, tls_active: bool, can_start_tls: bool,
                 login_type: LoginType, append_limit: int, compress_active: bool = False) -> list[str]:
    if authenticated:
        caps = list(AUTHENTICATED_CAPABILITIES)
        caps.append(f"APPENDLIMIT={append_limit}")
        if not compress_active:
            caps.append("COMPRESS=DEFLATE")
        return caps
    caps = list(PRE_LOGIN_CAPABILITIES)
    if can_start_tls and not tls_active:
        caps.append("STARTTLS")
    if credentials_allowed(login_type, tls_active, via_sasl=True):
        caps += ["AUTH=PLAIN", "AUTH=LOGIN"]
    if not credentials_allowed(login_type, tls_active, via_sasl=False):
        caps.append("LOGINDISABLED")
    return caps


def for_context(ctx: SessionContext) -> tuple[str, ...]:
    settings = ctx.runtime.imap
    return tuple(capabilities(
        authenticated=ctx.account is not None, tls_active=ctx.tls_active,
        can_start_tls=ctx.can_start_tls, login_type=settings.login_type,
        append_limit=settings.max_literal_size))
