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
from ..proxy.credentials import is_proxy_login, secret_matches
from .connections import Client, LimitSettings
from .login import Decision, Protocol, Refusal, authorize
from .state import DISCONNECT_SCOPE

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("mailgate.policy")

_FAILURES = (Refusal.BAD_CREDENTIALS, Refusal.ANONYMOUS)


async def check_login(runtime: Runtime, protocol: Protocol, username: str, password: str,
                      client: Client | None, limits: LimitSettings, *, authzid: str = "",
                      origin: tuple[str, int | None] | None = None) -> Decision:
    """client None (sessions driven without a connection, as in unit tests):
    no throttling and no per-user count. authzid: SASL PLAIN's identity to
    act as; origin: the real client a frontend named (IMAP ID / POP3 XCLIENT)."""
    guard = runtime.policy.guard
    ip = client.ip if client is not None else None
    where = client.remote if client is not None else "?"
    if ip is not None and guard.locked(ip, username):
        return _refused(protocol, username, where, Decision(None, Refusal.THROTTLED))
    if authzid or (client is not None and client.backend):
        return await _proxied_login(runtime, protocol, username, password, authzid, client, limits, origin)
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
    if not await _attach(runtime, client, account.address, limits):
        return _refused(protocol, username, where, Decision(account, Refusal.USER_CONNECTION_LIMIT))
    metrics.LOGINS.labels(protocol.value, "ok", "").inc()
    return decision


async def _proxied_login(runtime: Runtime, protocol: Protocol, username: str, password: str, authzid: str,
                         client: Client | None, limits: LimitSettings,
                         origin: tuple[str, int | None] | None) -> Decision:
    """Backends accept only a frontend's proxy credential acting for a user;
    client listeners accept no acting-as-someone-else at all."""
    backend = client is not None and client.backend
    where = client.remote if client is not None else "?"
    if not (backend and is_proxy_login(username, authzid) and secret_matches(runtime.proxy_secret, password)):
        if client is not None:
            await runtime.policy.guard.failed(client.ip, username)
        refusal = Refusal.DIRECT_LOGIN if backend else Refusal.BAD_CREDENTIALS
        metrics.LOGINS.labels(protocol.value, "failed", refusal.value).inc()
        log.warning("%s login as %r refused for %r from %s: %s", protocol.value, authzid, username, where,
                    refusal.value)
        return Decision(None, refusal)
    account = await runtime.store.get_account(authzid)
    if account is None:
        return Decision(None, Refusal.BAD_CREDENTIALS)
    if client is not None and origin is not None:
        client.proxied(*origin)
        where = f"{client.remote} via {client.via}"
    refusal = authorize(account, protocol)
    if refusal is not None:
        return _refused(protocol, account.address, where, Decision(account, refusal))
    if not await _attach(runtime, client, account.address, limits):
        return _refused(protocol, account.address, where, Decision(account, Refusal.USER_CONNECTION_LIMIT))
    metrics.LOGINS.labels(protocol.value, "ok", "").inc()
    log.info("%s proxied login for %s from %s", protocol.value, account.address, where)
    return Decision(account)


async def _attach(runtime: Runtime, client: Client | None, address: str, limits: LimitSettings) -> bool:
    """Counts the session against MaxConnectionsPerUser and notes the
    mailbox's disconnect generation as of this login, read before the
    session locates or opens the mailbox: a disconnect or move that this
    server's settings watcher sees only later ends the session only if it
    came after this read (policy/state.py)."""
    if client is None:
        return True
    client.generation = await runtime.store.get_setting(DISCONNECT_SCOPE, address)
    return client.attach_user(address, limits)


def _refused(protocol: Protocol, username: str, where: str, decision: Decision) -> Decision:
    assert decision.refusal is not None
    metrics.LOGINS.labels(protocol.value, "refused", decision.refusal.value).inc()
    # Right password, wrong account or protocol: worth a warning (Exchange
    # logs these too), unlike a mistyped password.
    level = logging.WARNING if decision.refusal is not Refusal.THROTTLED else logging.INFO
    log.log(level, "%s login refused for %r from %s: %s", protocol.value, username, where, decision.refusal.value)
    return decision
