"""Failed-login throttling: growing delay, then a temporary refusal, per IP
and per account; the same for unknown and existing accounts."""

from __future__ import annotations

import pytest

from mailgate.policy.guard import LoginGuard
from mailgate.policy.mailbox import effective, validate
from mailgate.settings import CalendarOption, ImapSettings, MimeFormat, PopSettings, SettingsError, ThrottleSettings
from mailgate.storage.models import Account


def _guard(**settings) -> tuple[LoginGuard, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    s = ThrottleSettings(**settings)
    return LoginGuard(lambda: s, sleep=sleep), slept


async def test_delay_grows_after_the_free_attempts_and_is_capped() -> None:
    guard, slept = _guard(ip_lockout_failures=100, account_lockout_failures=100)
    delays = [await guard.failed("192.0.2.1", "a@example.com") for _ in range(8)]
    assert delays == [0, 0, 0, 0.25, 0.5, 1.0, 2.0, 2.0]
    assert slept == [0.25, 0.5, 1.0, 2.0, 2.0]


async def test_ip_lockout_refuses_that_ip_only() -> None:
    guard, _ = _guard()
    for i in range(10):
        assert not guard.locked("192.0.2.1", "a@example.com")
        await guard.failed("192.0.2.1", "a@example.com")
    assert guard.locked("192.0.2.1", "a@example.com")
    assert guard.locked("192.0.2.1", "b@example.com")  # every account from that IP
    assert not guard.locked("192.0.2.2", "a@example.com")  # the owner elsewhere is not


async def test_account_lockout_after_a_distributed_attack() -> None:
    guard, _ = _guard(account_lockout_failures=5, failed_login_free_attempts=100)
    for i in range(5):
        await guard.failed(f"192.0.2.{i}", "A@example.com")
    assert guard.locked("198.51.100.9", "a@example.com")
    assert not guard.locked("198.51.100.9", "b@example.com")


async def test_unknown_and_existing_accounts_are_counted_alike() -> None:
    g1, s1 = _guard(ip_lockout_failures=100)
    g2, s2 = _guard(ip_lockout_failures=100)
    for _ in range(6):
        await g1.failed("192.0.2.1", "nobody@example.com")
        await g2.failed("192.0.2.1", "a@example.com")
    assert s1 == s2


async def test_success_clears_the_ip_but_not_the_account() -> None:
    guard, _ = _guard(account_lockout_failures=4)
    for _ in range(4):
        await guard.failed("192.0.2.1", "a@example.com")
    guard.succeeded("192.0.2.1", "a@example.com")
    assert guard.by_ip.failures("192.0.2.1") == 0
    assert guard.locked("192.0.2.7", "a@example.com")


def test_failures_are_forgotten_after_the_window() -> None:
    now = [0.0]
    guard, _ = _guard(failure_window_seconds=60)
    for throttle in (guard.by_ip, guard.by_account):
        throttle._clock = lambda: now[0]
    for _ in range(10):
        guard.by_ip.record_failure("192.0.2.1")
    assert guard.locked("192.0.2.1", "x")
    now[0] = 61.0
    assert not guard.locked("192.0.2.1", "x")


# --- per-mailbox settings precedence (reference section 3) ---------------------------

def _account(**overrides: str) -> Account:
    return Account(1, "a@example.com", "x", overrides=dict(overrides))


def test_use_protocol_defaults_true_takes_the_server_values() -> None:
    server = ImapSettings(suppress_read_receipt=True, calendar_item_retrieval_option=CalendarOption.INTERNET_URL)
    account = _account(imap_suppress_read_receipt="false", imap_use_protocol_defaults="true")
    got = effective(account, server)
    assert got is not None and got.suppress_read_receipt is True and got.force_ical is False
    assert got.from_mailbox is False


def test_use_protocol_defaults_false_takes_the_mailbox_values() -> None:
    account = _account(pop_use_protocol_defaults="false", pop_force_ical_for_calendar_retrieval_option="true",
                       pop_messages_retrieval_mime_format="text-only")
    got = effective(account, PopSettings(calendar_item_retrieval_option=CalendarOption.CUSTOM))
    assert got is not None and got.force_ical is True and got.mime_format is MimeFormat.TEXT_ONLY
    assert got.from_mailbox is True


def test_disabled_protocol_ignores_the_rest() -> None:
    account = Account(1, "a@example.com", "x", pop_enabled=False, overrides={"pop_use_protocol_defaults": "false"})
    assert effective(account, PopSettings()) is None
    assert effective(account, ImapSettings()) is not None


def test_mailbox_values_are_validated_with_the_cli_name() -> None:
    assert validate("imap", {"suppress_read_receipt": "True"}) == {"imap_suppress_read_receipt": "true"}
    assert validate("pop", {"messages_retrieval_mime_format": "0"}) == \
        {"pop_messages_retrieval_mime_format": "text-only"}
    with pytest.raises(SettingsError, match="--pop-messages-retrieval-mime-format"):
        validate("pop", {"messages_retrieval_mime_format": "rtf"})
