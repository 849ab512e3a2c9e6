"""Failed-login throttling: a growing delay per client address.

One small class for every protocol (SMTP AUTH today, IMAP LOGIN/AUTHENTICATE
and POP3 PASS/AUTH can use the same instance):

    throttle = LoginThrottle(base_delay=1.0, max_delay=30.0)
    key = client_key(peer_ip)
    decision = await authenticate(...)
    if decision.ok:
        throttle.succeeded(key)
    else:
        await throttle.failed(key)   # sleeps 1 s, 2 s, 4 s ... up to 30 s
        reply the refusal

The delay is paid before the refusal is sent, so a password-guessing client
gets its answer ever more slowly; the rest of the server is not slowed
(the wait is an asyncio sleep). Memory is bounded: keys are forgotten
`forget_after` seconds after their last failure and at most `max_keys` are
kept (the least recently failed go first).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


def client_key(address: str | None) -> str:
    """The throttling key of a peer address: the address itself for IPv4,
    the /64 for IPv6 (one host usually owns a whole /64, so per-address keys
    would be free to rotate)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address  # a UNIX socket path or similar: one key
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        *,
        forget_after: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._clock = clock
        self._sleep = sleep
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def configure(self, base_delay: float, max_delay: float) -> None:
        """Apply changed settings (a running server re-reads them)."""
        self.base_delay = max(0.0, base_delay)
        self.max_delay = max(self.base_delay, max_delay)

    def failures(self, key: str) -> int:
        entry = self._live(key)
        return entry.failures if entry else 0

    def record_failure(self, key: str) -> float:
        """Count a failure; returns the delay it costs (base * 2^(n-1), capped)."""
        now = self._clock()
        entry = self._live(key)
        if entry is None:
            entry = _Entry(0, now)
        entry.failures += 1
        entry.last = now
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        # Cap the exponent too: 2**failures for a long-running attacker
        # would otherwise grow without bound before min() applies.
        return min(self.max_delay, self.base_delay * 2 ** min(entry.failures - 1, 32))

    async def failed(self, key: str) -> float:
        """Count a failure and wait its delay; returns the delay."""
        delay = self.record_failure(key)
        if delay > 0:
            await self._sleep(delay)
        return delay

    def succeeded(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.last > self.forget_after:
            del self._entries[key]
            return None
        return entry
