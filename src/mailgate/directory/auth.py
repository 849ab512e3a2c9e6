"""Check a username and password against the store, then the login policy."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from ..policy.login import Decision, Protocol, Refusal, authorize, is_anonymous_identity
from ..storage.base import Store
from .passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password


# Password hashing has its own small pool: argon2 checks (tens of ms each, a
# burst of logins queues many) must not delay the blob fsyncs and file reads
# that share asyncio's default executor. Two threads: this is a 2-core box,
# and argon2 releases the GIL while it works.
_HASH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mailgate-argon2")


async def _in_hash_pool(fn, *args):  # noqa: ANN001, ANN202 - thin executor wrapper
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, fn, *args)


async def authenticate(store: Store, username: str, password: str, protocol: Protocol) -> Decision:
    """The reply and its cost are the same for an unknown account and a wrong
    password: both verify against a hash (a dummy one when there is no account)."""
    if is_anonymous_identity(username) or not password:
        return Decision(None, Refusal.ANONYMOUS)
    account = await store.get_account(username)
    stored = account.password_hash if account is not None else DUMMY_HASH
    # argon2 takes tens of milliseconds: keep it off the event loop.
    matched = await _in_hash_pool(verify_password, stored, password)
    if account is None or not matched:
        return Decision(None, Refusal.BAD_CREDENTIALS)
    if needs_rehash(account.password_hash):
        new_hash = await _in_hash_pool(hash_password, password)
        account = await store.update_account(account.address, password_hash=new_hash)
    refusal = authorize(account, protocol)
    return Decision(account, refusal)
