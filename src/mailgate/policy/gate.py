"""The one login path of IMAP4, POP3 (and SMTP AUTH): throttling, password
check, account policy, per-user connection limit, logging and metrics.

Sessions call `check_login` with what the client sent and map the refusal to
their protocol's reply; the decision rules live in policy/login.py, the
password check in directory/auth.py.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..directory.auth import authenticate
from ..observability import metrics
from .connections import Client, LimitSettings
from .login import Decision, Protocol, Refusal

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("mailgate.policy")

_FAILURES = (Refusal.BAD_CREDENTIALS, Refusal.ANONYMOUS)


async def check_login(runtime: Runtime, protocol: Protocol, username: str, password: str,
                      client: Client | None, limits: LimitSettings) -> Decision:
    """client None (sessions driven without a connection, as in unit tests):
    no throttling and no per-user count."""
    guard = runtime.policy.guard
    ip = client.ip if client is not None else None
    where = client.remote if client is not None else "?"
    if ip is not None and guard.locked(ip, username):
        return _refused(protocol, username, where, Decision(None, Refusal.THROTTLED))
    decision = await authenticate(runtime.store, username, password, protocol)
    if decision.refusal in _FAILURES:
        if ip is not None:
            await guard.failed(ip, username)  # the delay is paid before the reply
        assert decision.refusal is not None
        metrics.LOGINS.labels(protocol.value, "failed", decision.refusal.value).inc()
        log.info("%s login failed for %r from %s: %s", protocol.value, username, where, decision.refusal.value)
        return decision
    if ip is not None:
        guard.succeeded(ip, username)
    if decision.refusal is not None:
        return _refused(protocol, username, where, decision)
    account = decision.account
    assert account is not None
    if client is not None and not client.attach_user(account.address, limits):
        return _refused(protocol, username, where, Decision(account, Refusal.USER_CONNECTION_LIMIT))
    metrics.LOGINS.labels(protocol.value, "ok", "").inc()
    return decision


def _refused(protocol: Protocol, username: str, where: str, decision: Decision) -> Decision:
    assert decision.refusal is not None
    metrics.LOGINS.labels(protocol.value, "refused", decision.refusal.value).inc()
    # Right password, wrong account or protocol: worth a warning (Exchange
    # logs these too), unlike a mistyped password.
    level = logging.WARNING if decision.refusal is not Refusal.THROTTLED else logging.INFO
    log.log(level, "%s login refused for %r from %s: %s", protocol.value, username, where, decision.refusal.value)
    return decision
