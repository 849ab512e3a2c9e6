"""The settings model: Exchange's defaults, ranges and value syntax."""

from __future__ import annotations

import dataclasses

import pytest

from mailgate.policy.login import LoginType
from mailgate.settings import (
    INT32_MAX,
    UNLIMITED,
    ImapSettings,
    MonitoringSettings,
    PopSettings,
    RollOver,
    SettingsError,
    SortOrder,
    ThrottleSettings,
    from_strings,
    to_strings,
)


def test_exchange_defaults() -> None:
    for s in (ImapSettings(), PopSettings()):
        assert s.login_type is LoginType.SECURE_LOGIN
        assert s.authenticated_connection_timeout == 1800
        assert s.pre_authenticated_connection_timeout == 60
        assert s.max_connections == s.max_connection_from_single_ip == INT32_MAX
        assert s.max_connections_per_user == 16
        assert s.protocol_log_enabled is False and s.log_file_roll_over_settings is RollOver.HOURLY
        assert s.log_per_file_size_quota == 0
        assert s.enable_exact_rfc822_size is False and s.suppress_read_receipt is False
    assert ImapSettings().max_command_size == 10240 and PopSettings().max_command_size == 512
    assert ImapSettings().proxy_target_port == 1993 and PopSettings().proxy_target_port == 1995
    assert PopSettings().message_retrieval_sort_order is SortOrder.ASCENDING
    assert ImapSettings().show_hidden_folders_enabled is False
    assert MonitoringSettings().metrics_bindings == ("127.0.0.1:9464",)


# (settings class, field, lowest, highest)
RANGES = [
    (ImapSettings, "authenticated_connection_timeout", 30, 86400),
    (ImapSettings, "pre_authenticated_connection_timeout", 30, 3600),
    (PopSettings, "authenticated_connection_timeout", 30, 86400),
    (PopSettings, "pre_authenticated_connection_timeout", 30, 3600),
    (ImapSettings, "max_command_size", 1024, 16384),
    (PopSettings, "max_command_size", 40, 1024),
    (ImapSettings, "max_connections", 1, INT32_MAX),
    (ImapSettings, "max_connection_from_single_ip", 1, INT32_MAX),
    (ImapSettings, "max_connections_per_user", 1, INT32_MAX),
    (PopSettings, "max_connections", 1, INT32_MAX),
    (PopSettings, "max_connection_from_single_ip", 1, INT32_MAX),
    (PopSettings, "max_connections_per_user", 1, INT32_MAX),
    (ImapSettings, "proxy_target_port", 1, 65535),
    (PopSettings, "proxy_target_port", 1, 65535),
    (ImapSettings, "max_bad_commands", 1, 1000),
    (ImapSettings, "idle_keepalive_interval", 10, 1740),
    (ThrottleSettings, "ip_lockout_failures", 1, 100000),
    (ThrottleSettings, "failed_login_delay_ms", 0, 60000),
]


@pytest.mark.parametrize(("cls", "name", "lo", "hi"), RANGES)
def test_ranges_are_enforced_with_a_message_naming_the_option(cls, name, lo, hi) -> None:
    assert getattr(from_strings(cls, {name: str(lo)}), name) == lo
    assert getattr(from_strings(cls, {name: str(hi)}), name) == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(SettingsError) as err:
            from_strings(cls, {name: str(bad)})
        text = str(err.value)
        assert text.startswith("--" + name.replace("_", "-") + ":")
        assert f"{lo}-{hi}" in text


def test_every_int_setting_has_a_range() -> None:
    for cls in (ImapSettings, PopSettings, ThrottleSettings):
        for f in dataclasses.fields(cls):
            if isinstance(f.default, int) and not isinstance(f.default, bool):
                assert f.metadata.get("lo") is not None, f.name


def test_enums_take_mailgate_and_exchange_spellings_and_numbers() -> None:
    for text in ("plain-text-login", "PlainTextLogin", "1"):
        assert from_strings(ImapSettings, {"login_type": text}).login_type is LoginType.PLAIN_TEXT_LOGIN
    assert from_strings(PopSettings, {"login_type": "3"}).login_type is LoginType.SECURE_LOGIN
    assert from_strings(PopSettings, {"message_retrieval_sort_order": "1"}).message_retrieval_sort_order \
        is SortOrder.DESCENDING
    assert from_strings(ImapSettings, {"log_file_roll_over_settings": "Daily"}).log_file_roll_over_settings \
        is RollOver.DAILY
    with pytest.raises(SettingsError, match="--login-type: expected one of plain-text-login"):
        from_strings(ImapSettings, {"login_type": "4"})


def test_timespans_sizes_and_booleans() -> None:
    s = from_strings(ImapSettings, {"authenticated_connection_timeout": "01:00:00",
                                    "log_per_file_size_quota": "10MB", "protocol_log_enabled": "$true"})
    assert s.authenticated_connection_timeout == 3600
    assert s.log_per_file_size_quota == 10 * 1024 * 1024 and s.protocol_log_enabled is True
    assert from_strings(ImapSettings, {"log_per_file_size_quota": "unlimited"}).log_per_file_size_quota == UNLIMITED
    assert to_strings(ImapSettings(log_per_file_size_quota=UNLIMITED))["log_per_file_size_quota"] == "unlimited"
    with pytest.raises(SettingsError, match="hh:mm:ss"):
        from_strings(ImapSettings, {"authenticated_connection_timeout": "1:2"})
    with pytest.raises(SettingsError, match="true or false"):
        from_strings(ImapSettings, {"show_hidden_folders_enabled": "maybe"})


@pytest.mark.parametrize("good", ["0.0.0.0:993", "[::]:993,0.0.0.0:993", "127.0.0.2:10993", ""])
def test_good_bindings(good: str) -> None:
    from_strings(ImapSettings, {"ssl_bindings": good})


@pytest.mark.parametrize("bad", ["mail.example.com:993", "0.0.0.0", "0.0.0.0:99999", "[::1]:x"])
def test_bad_bindings(bad: str) -> None:
    with pytest.raises(SettingsError, match="--ssl-bindings: .*ADDRESS:PORT"):
        from_strings(ImapSettings, {"ssl_bindings": bad})


def test_connection_settings_syntax() -> None:
    s = from_strings(PopSettings, {"external_connection_settings": "mail.example.com:995:SSL,mail.example.com:110:TLS"})
    assert s.external_connection_settings == ("mail.example.com:995:SSL", "mail.example.com:110:TLS")
    assert from_strings(PopSettings, {"internal_connection_settings": "m.example.com:110:"})
    for bad in ("mail.example.com:995:KERBEROS", "mail.example.com:SSL", "mail.example.com:0:SSL"):
        with pytest.raises(SettingsError, match="--external-connection-settings"):
            from_strings(PopSettings, {"external_connection_settings": bad})


def test_banner_is_one_line() -> None:
    assert from_strings(ImapSettings, {"banner": "Hello there"}).banner == "Hello there"
    with pytest.raises(SettingsError, match="--banner"):
        from_strings(ImapSettings, {"banner": "a\r\n* BYE"})


def test_round_trip() -> None:
    s = ImapSettings(login_type=LoginType.PLAIN_TEXT_AUTHENTICATION, ssl_bindings=("[::]:993", "0.0.0.0:993"))
    assert from_strings(ImapSettings, to_strings(s)) == s
