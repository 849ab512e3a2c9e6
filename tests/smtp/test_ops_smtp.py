"""Admin operations and CLI for SMTP: domains, settings, the relay queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mailgate.admin import ops, ops_smtp
from mailgate.admin.cli import main
from mailgate.config import Config, load_config
from mailgate.settings import SmartHostTls


@pytest.fixture
async def config(tmp_path: Path) -> Config:
    await ops.init_data_dir(tmp_path / "data", hostname="mail.example.com", unprivileged=True,
                            bind="127.0.0.1")
    return load_config(tmp_path / "data")


async def test_domains(config: Config) -> None:
    assert await ops_smtp.list_domains(config) == ()
    assert await ops_smtp.add_domain(config, "Example.COM.") == ("example.com",)
    assert await ops_smtp.add_domain(config, "b.example") == ("b.example", "example.com")
    assert await ops_smtp.add_domain(config, "bücher.example") == ("b.example", "bücher.example",
                                                                    "example.com")
    with pytest.raises(ops.OpError, match="already"):
        await ops_smtp.add_domain(config, "example.com")
    for bad in ("localhost", "a..b", "-a.example", "a b.example", "x" * 64 + ".example", ""):
        with pytest.raises(ops.OpError, match="not a domain"):
            await ops_smtp.add_domain(config, bad)
    assert await ops_smtp.remove_domain(config, "B.example") == ("bücher.example", "example.com")
    with pytest.raises(ops.OpError, match="not a local domain"):
        await ops_smtp.remove_domain(config, "b.example")
    assert (await ops_smtp.show_smtp(config)).local_domains == ("bücher.example", "example.com")


async def test_set_and_show(config: Config) -> None:
    s = await ops_smtp.set_smtp(config, {"smart_host": " relay.example.net:587 ",
                                         "smart_host_tls": "opportunistic",
                                         "max_recipients_per_message": "50",
                                         "relay_retry_interval": "00:02:00"})
    assert s.smart_host == "relay.example.net:587" and s.smart_host_tls is SmartHostTls.OPPORTUNISTIC
    assert s.max_recipients_per_message == 50 and s.relay_retry_interval == 120
    shown = await ops_smtp.show_smtp(config)
    assert shown == s
    s = await ops_smtp.set_smtp(config, {"smart_host_username": "u", "smart_host_password": "p"})
    assert ("smart_host_password", "(set)") in ops_smtp.describe(s)
    assert (await ops_smtp.set_smtp(config, {"smart_host": ""})).smart_host == ""


@pytest.mark.parametrize("values,message", [
    ({"smart_host": "relay.example.net"}, "HOST:PORT"),
    ({"smart_host": "relay.example.net:0"}, "HOST:PORT"),
    ({"smart_host": "bad host:25"}, "not a host"),
    ({"smart_host_tls": "maybe"}, "one of starttls"),
    ({"max_message_size": "10"}, "out of range"),
    ({"max_recipients_per_message": "0"}, "out of range"),
    ({"connection_timeout": "5"}, "out of range"),
    ({"relay_retry_interval": "600", "relay_max_retry_interval": "60"}, "must not be below"),
    ({"smart_host_password": "p"}, "needs --smart-host-username"),
    ({"submission_bindings": "localhost:587"}, "not an IPv4"),
    ({"local_domains": "x.example"}, "unknown SMTP settings"),
    ({"bogus": "1"}, "unknown SMTP settings"),
])
async def test_set_refuses_bad_values_and_stores_nothing(config: Config, values: dict[str, str],
                                                         message: str) -> None:
    before = await ops_smtp.show_smtp(config)
    with pytest.raises(ops.OpError, match=message):
        await ops_smtp.set_smtp(config, values)
    assert await ops_smtp.show_smtp(config) == before


async def test_queue_listing(config: Config) -> None:
    assert await ops_smtp.list_queue(config) == []
    async with ops.open_store(config) as (store, _):
        await store.enqueue_outbound("a@example.com", ["x@far.example"], "c" * 64, 12)
    (entry,) = await ops_smtp.list_queue(config)
    assert entry.recipients == ("x@far.example",)


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    env = {"MAILGATE_DATA": data}
    assert runner.invoke(main, ["init", "--hostname", "localhost", "--unprivileged-ports"],
                         env=env).exit_code == 0
    r = runner.invoke(main, ["domain", "add", "Example.com"], env=env)
    assert r.exit_code == 0 and "example.com" in r.output
    assert runner.invoke(main, ["domain", "list"], env=env).output == "example.com\n"
    r = runner.invoke(main, ["domain", "add", "nodots"], env=env)
    assert r.exit_code == 1 and "not a domain name" in r.output
    r = runner.invoke(main, ["smtp", "set", "--submission-bindings", "0.0.0.0:587",
                             "--inbound-bindings", "0.0.0.0:25", "--lmtp-bindings", "127.0.0.1:24",
                             "--smart-host", "relay.example:25", "--smart-host-tls", "none",
                             "--smart-host-username", "me", "--smart-host-password-stdin"],
                      env=env, input="s3cret\n")
    assert r.exit_code == 0, r.output
    shown = runner.invoke(main, ["smtp", "show"], env=env).output
    assert "smart-host: relay.example:25\n" in shown and "smart-host-password: (set)\n" in shown
    assert "s3cret" not in shown and "submission-bindings: 0.0.0.0:587\n" in shown
    assert "local-domains: example.com\n" in shown
    r = runner.invoke(main, ["smtp", "set", "--max-message-size", "12"], env=env)
    assert r.exit_code == 1 and "--max-message-size" in r.output
    assert runner.invoke(main, ["smtp", "set"], env=env).exit_code == 2
    r = runner.invoke(main, ["smtp", "queue"], env=env)
    assert r.exit_code == 0 and "empty" in r.output
    assert runner.invoke(main, ["domain", "remove", "example.com"], env=env).exit_code == 0
    assert runner.invoke(main, ["domain", "list"], env=env).output == ""
