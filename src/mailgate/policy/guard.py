"""Failed-login throttling for every protocol, per client IP and per account.

Built on the shared `LoginThrottle` counters (policy/throttle.py): one for
client IPs, one for account names. A failure costs a growing delay once the
free attempts are used; past a lockout count the IP (or the account) is
refused outright, before any password is checked, until the failures are
forgotten (`failure_window_seconds` after the last one). Refused attempts are
not counted, so one IP hammering an account locks only itself out: the
account's owner, from another address, still logs in.

Unknown accounts are counted exactly like known ones, so neither the reply nor
its timing tells an attacker which addresses exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..settings import ThrottleSettings
from .throttle import LoginThrottle, client_key


class LoginGuard:
    def __init__(self, settings: Callable[[], ThrottleSettings] = ThrottleSettings,
                 sleep: Callable[[float], object] = asyncio.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        self.by_ip = LoginThrottle()
        self.by_account = LoginThrottle()
        self._apply(settings())

    def _apply(self, s: ThrottleSettings) -> ThrottleSettings:
        for throttle in (self.by_ip, self.by_account):
            throttle.forget_after = float(s.failure_window_seconds)
        return s

    @staticmethod
    def account_key(username: str) -> str:
        return username.strip().lower()

    def locked(self, ip: str, username: str) -> bool:
        """Refuse this attempt without checking the password?"""
        s = self._apply(self._settings())
        return (self.by_ip.failures(client_key(ip)) >= s.ip_lockout_failures
                or self.by_account.failures(self.account_key(username)) >= s.account_lockout_failures)

    def delay_after_failure(self, failures: int) -> float:
        s = self._settings()
        over = failures - s.failed_login_free_attempts
        if over <= 0:
            return 0.0
        delay_ms = s.failed_login_delay_ms * 2 ** min(over - 1, 32)
        return min(s.failed_login_max_delay_ms, delay_ms) / 1000.0

    async def failed(self, ip: str, username: str) -> float:
        """Count a failure and wait its delay before the refusal is sent."""
        self._apply(self._settings())
        n_ip = self.by_ip.failures(client_key(ip)) + 1
        self.by_ip.record_failure(client_key(ip))
        n_account = self.by_account.failures(self.account_key(username)) + 1
        self.by_account.record_failure(self.account_key(username))
        delay = self.delay_after_failure(max(n_ip, n_account))
        if delay > 0:
            await self._sleep(delay)  # type: ignore[misc]
        return delay

    def succeeded(self, ip: str, username: str) -> None:
        # The IP's slate is wiped (a user who mistyped); the account's is
        # not, or an attacker holding one valid login could reset it.
        self.by_ip.succeeded(client_key(ip))
