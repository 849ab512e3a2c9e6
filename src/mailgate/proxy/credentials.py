"""The proxy credential: how a backend knows a login comes from a frontend.

A frontend that has checked a user's password logs in to the backend with
SASL PLAIN as authzid=<the user>, authcid=PROXY_IDENTITY, password=<the
deployment's shared secret>. The secret lives in the directory (settings
scope "proxy"), which only mailgate servers can read; backends accept no
other kind of login, so a client that reaches a backend port directly with a
user's password is refused.
"""

from __future__ import annotations

import hmac
import secrets

from ..storage.base import Store

PROXY_IDENTITY = "mailgate-proxy"
SCOPE = "proxy"
SECRET_KEY = "secret"


async def ensure_proxy_secret(store: Store) -> str:
    """The deployment's secret, created on first use."""
    values = await store.get_settings(SCOPE)
    secret = values.get(SECRET_KEY, "")
    if not secret:
        secret = secrets.token_urlsafe(32)
        await store.put_settings(SCOPE, {SECRET_KEY: secret})
        # Two servers starting at once: keep whichever was stored first.
        secret = (await store.get_settings(SCOPE)).get(SECRET_KEY, secret)
    return secret


def is_proxy_login(username: str, authzid: str) -> bool:
    return bool(authzid) and username.lower() == PROXY_IDENTITY


def secret_matches(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
