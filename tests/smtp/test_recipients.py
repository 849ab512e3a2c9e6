"""The RCPT-time cache of found mailboxes (smtp/recipients.py)."""

from __future__ import annotations

from mailgate.smtp import recipients
from mailgate.smtp.recipients import RecipientCache
from mailgate.storage.models import Account


def _account(i: int = 1) -> Account:
    return Account(i, f"u{i}@example.org", "x")


def test_entries_expire_after_the_ttl() -> None:
    now = [0.0]
    cache = RecipientCache(clock=lambda: now[0])
    assert cache.ttl_s == recipients.RCPT_CACHE_TTL_S and 0 < cache.ttl_s <= 5
    cache.put("U1@Example.org", _account(), None)
    assert cache.get("u1@example.ORG") == (_account(), None)  # case-insensitive
    now[0] += recipients.RCPT_CACHE_TTL_S - 0.001
    assert cache.get("u1@example.org") is not None
    now[0] += 0.002
    assert cache.get("u1@example.org") is None  # stale: looked up again


def test_move_mark_is_remembered_with_the_mailbox() -> None:
    cache = RecipientCache()
    cache.put("u1@example.org", _account(), "DB02")
    assert cache.get("u1@example.org") == (_account(), "DB02")


def test_size_is_bounded_oldest_first() -> None:
    cache = RecipientCache(max_entries=3)
    assert recipients.RCPT_CACHE_MAX >= 100
    for i in range(1, 5):
        cache.put(f"u{i}@example.org", _account(i), None)
    assert cache.get("u1@example.org") is None
    assert [cache.get(f"u{i}@example.org") is not None for i in (2, 3, 4)] == [True] * 3


def test_zero_ttl_disables() -> None:
    cache = RecipientCache(ttl_s=0)
    cache.put("u1@example.org", _account(), None)
    assert cache.get("u1@example.org") is None
