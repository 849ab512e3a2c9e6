"""RCPT-time lookups of local mailboxes, remembered for a moment.

A bulk LMTP/SMTP feed names the same few mailboxes over and over; each RCPT
would otherwise cost two store round trips (the account, the move mark)
before the reply. What RCPT learns is only a first answer: delivery checks
again when it files the message (delivery_routing: the guarded
file_message, or fresh lookups plus _settle), so an entry that went stale
within its lifetime cannot misfile or lose mail; at worst a message for a
mailbox that started moving is refused at DATA instead of RCPT, or one for
a mailbox whose move just ended is deferred a moment longer.

Only found mailboxes are remembered: an address without a mailbox is
looked up every time, so a mailbox created a moment ago is never refused
as unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..storage.models import Account

# How long a found mailbox (and its move mark) is trusted at RCPT.
RCPT_CACHE_TTL_S = 1.0
# Entries kept at most (one listener's); the oldest go first.
RCPT_CACHE_MAX = 4096


class RecipientCache:
    def __init__(self, ttl_s: float = RCPT_CACHE_TTL_S, max_entries: int = RCPT_CACHE_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        # address as given, lower-cased -> (expires, account, moving_to)
        self._entries: dict[str, tuple[float, Account, str | None]] = {}

    def get(self, address: str) -> tuple[Account, str | None] | None:
        key = address.lower()
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            del self._entries[key]
            return None
        return hit[1], hit[2]

    def put(self, address: str, account: Account, moving_to: str | None) -> None:
        if self.ttl_s <= 0:
            return
        key = address.lower()
        self._entries.pop(key, None)  # re-inserted last: dict order is age order
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + self.ttl_s, account, moving_to)
