"""LOGIN and AUTHENTICATE: credentials in, the login policy applied, a
completion out. The SASL conversation itself is driven by the driver, which
owns the connection; this module decides."""

from __future__ import annotations

import logging

from ...policy.gate import check_login
from ...policy.login import Protocol, Refusal, credentials_allowed
from ...protocol.imap import responses as r
from ...protocol.sasl import MECHANISMS, SaslExchange
from ...storage.errors import StorageError
from .capabilities import for_context
from .context import SessionContext

log = logging.getLogger("mailgate.imap")

_REFUSAL_REPLIES: dict[Refusal, tuple[r.Code, str]] = {
    Refusal.BAD_CREDENTIALS: (r.AUTHENTICATIONFAILED, "Authentication failed."),
    Refusal.ANONYMOUS: (r.AUTHENTICATIONFAILED, "Authentication failed."),
    Refusal.ROLE: (r.AUTHORIZATIONFAILED, "This account may not use IMAP4."),
    Refusal.PROTOCOL_DISABLED: (r.CONTACTADMIN, "IMAP4 is disabled for this mailbox; contact your administrator."),
    Refusal.THROTTLED: (r.UNAVAILABLE, "Too many failed logins; try again later."),
    Refusal.USER_CONNECTION_LIMIT: (r.UNAVAILABLE, "Too many connections for this mailbox; try again later."),
    Refusal.DIRECT_LOGIN: (r.AUTHENTICATIONFAILED, "This is a mailbox server: connect to a client access server."),
}


def plaintext_refusal(ctx: SessionContext, tag: str, via_sasl: bool) -> r.Tagged | None:
    if credentials_allowed(ctx.runtime.imap.login_type, ctx.tls_active, via_sasl):
        return None
    return r.Tagged(tag, "NO", "Use STARTTLS before sending credentials.", r.PRIVACYREQUIRED)


def start_sasl(mechanism: str) -> SaslExchange | None:
    factory = MECHANISMS.get(mechanism.upper())
    return factory() if factory is not None else None


def _origin(ctx: SessionContext) -> tuple[str, int | None] | None:
    """The real client a frontend named in its ID command (Dovecot's
    x-originating-ip convention); trusted only with the proxy credential."""
    params = dict(ctx.client_id or ())
    ip = params.get("x-originating-ip")
    if not ip:
        return None
    port = params.get("x-originating-port")
    return ip, int(port) if port and port.isdigit() else None


async def log_in(ctx: SessionContext, tag: str, username: str, password: str, *,
                 via_sasl: bool = False, authzid: str = "") -> r.Tagged:
    """Checks the credentials and the policy; on success ctx.account is set."""
    refused = plaintext_refusal(ctx, tag, via_sasl)
    if refused is not None:
        return refused
    # Throttling, policy, per-user limit and their logging: policy/gate.py.
    decision = await check_login(ctx.runtime, Protocol.IMAP4, username, password, ctx.client, ctx.runtime.imap,
                                 authzid=authzid, origin=_origin(ctx))
    if not decision.ok:
        assert decision.refusal is not None
        code, text = _REFUSAL_REPLIES.get(decision.refusal, (r.AUTHENTICATIONFAILED, "Authentication failed."))
        return r.Tagged(tag, "NO", text, code)
    ctx.account = decision.account
    if ctx.serves_mail:  # a frontend never opens mailbox data
        try:
            await ctx.bind_mailbox()
        except StorageError as exc:  # moving between databases, or unreachable
            log.info("IMAP4 login of %s deferred: %s", ctx.account.address if ctx.account else "?", exc)
            ctx.account = None
            return r.Tagged(tag, "NO", "The mailbox is temporarily unavailable; try again shortly.", r.UNAVAILABLE)
    return r.Tagged(tag, "OK", "Logged in.", r.capability_code(for_context(ctx)))
