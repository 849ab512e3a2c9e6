"""The admin CLI contract: commands, output, exit codes (README "Admin CLI")."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailgate.admin import ops
from mailgate.admin.cli import main
from mailgate.config import load_config
from mailgate.storage.models import Role


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def data(tmp_path: Path, runner: CliRunner) -> Path:
    d = tmp_path / "data"
    result = runner.invoke(main, ["init", "--data", str(d), "--hostname", "mail.example.test",
                                  "--unprivileged-ports", "--bind", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    return d


def invoke(runner: CliRunner, data: Path, *args: str, input: str | bytes | None = None):
    return runner.invoke(main, list(args), input=input, env={"MAILGATE_DATA": str(data)})


def test_init_creates_the_data_folder(data: Path, runner: CliRunner) -> None:
    assert (data / "mailgate.toml").is_file()
    assert (data / "mailgate.db").is_file()
    assert (data / "blobs").is_dir()
    assert (data / "tls" / "cert.pem").is_file()
    assert (data / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    config = load_config(data)
    assert config.hostname == "mail.example.test" and config.node == "mail"


def test_init_reports_unprivileged_ports(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["init", "--data", str(tmp_path / "d"), "--hostname", "h.example",
                                  "--unprivileged-ports"])
    assert result.exit_code == 0
    assert "unprivileged" in result.output
    for port in ("10143", "10993", "10110", "10995", "10587", "10025", "10024"):
        assert port in result.output


def test_generated_certificate_names_fqdn_and_short_name(data: Path) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((data / "tls" / "cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"mail.example.test", "mail"}
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 5 * 365 <= lifetime.days <= 5 * 366


def test_init_refuses_existing_folder_without_force(data: Path, runner: CliRunner) -> None:
    result = runner.invoke(main, ["init", "--data", str(data), "--hostname", "x.example"])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["init", "--data", str(data), "--hostname", "x.example", "--force",
                                  "--unprivileged-ports"])
    assert result.exit_code == 0, result.output
    assert load_config(data).hostname == "x.example"


def test_init_copies_given_certificate(tmp_path: Path, data: Path, runner: CliRunner) -> None:
    cert, key = data / "tls" / "cert.pem", data / "tls" / "key.pem"
    target = tmp_path / "other"
    result = runner.invoke(main, ["init", "--data", str(target), "--hostname", "o.example",
                                  "--tls-cert", str(cert), "--tls-key", str(key), "--unprivileged-ports"])
    assert result.exit_code == 0, result.output
    assert "copied" in result.output
    assert (target / "tls" / "cert.pem").read_bytes() == cert.read_bytes()


def test_bad_usage_exits_2(runner: CliRunner, data: Path) -> None:
    assert invoke(runner, data, "mailbox", "set", "a@b.example", "--pop-enabled", "maybe").exit_code == 2
    assert invoke(runner, data, "mailbox", "remove", "a@b.example").exit_code == 2
    assert invoke(runner, data, "no-such-command").exit_code == 2


def test_missing_data_folder_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["mailbox", "list", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "mailgate init" in result.output


def test_mailbox_lifecycle(runner: CliRunner, data: Path) -> None:
    r = invoke(runner, data, "mailbox", "add", "Alice@Example.COM", "--password-stdin", input="pw1\n")
    assert r.exit_code == 0, r.output
    assert "alice@example.com" in r.output
    r = invoke(runner, data, "mailbox", "add", "alice@example.com", "--password-stdin", input="pw\n")
    assert r.exit_code == 1 and "exists" in r.output
    r = invoke(runner, data, "mailbox", "add", "admin@example.com", "--password-stdin", "--role",
               "administrator", input="pw\n")
    assert r.exit_code == 0
    r = invoke(runner, data, "mailbox", "list")
    assert r.output.splitlines() == [
        "admin@example.com\trole=administrator\tpop=true\timap=true",
        "alice@example.com\trole=user\tpop=true\timap=true",
    ]
    r = invoke(runner, data, "mailbox", "set", "alice@example.com", "--pop-enabled", "false")
    assert r.exit_code == 0, r.output
    r = invoke(runner, data, "mailbox", "list", "--pop-enabled", "false")
    assert r.output.splitlines() == ["alice@example.com\trole=user\tpop=false\timap=true"]
    r = invoke(runner, data, "mailbox", "show", "alice@example.com")
    assert "PopEnabled:    false" in r.output
    for folder in ("INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert f"  {folder}\t0 messages" in r.output
    r = invoke(runner, data, "mailbox", "set-password", "alice@example.com", "--password-stdin", input="pw2\n")
    assert r.exit_code == 0
    config = load_config(data)
    from mailgate.directory.passwords import verify_password

    account = asyncio.run(_get(config, "alice@example.com"))
    assert verify_password(account.password_hash, "pw2") and not verify_password(account.password_hash, "pw1")
    r = invoke(runner, data, "mailbox", "remove", "alice@example.com", "--yes")
    assert r.exit_code == 0
    r = invoke(runner, data, "mailbox", "show", "alice@example.com")
    assert r.exit_code == 1 and "no mailbox" in r.output


async def _get(config, address):
    async with ops.open_store(config) as (store, _):
        return await store.get_account(address)


def test_invalid_address_and_empty_password(runner: CliRunner, data: Path) -> None:
    r = invoke(runner, data, "mailbox", "add", "not-an-address", "--password-stdin", input="pw\n")
    assert r.exit_code == 1 and "not an address" in r.output
    r = invoke(runner, data, "mailbox", "add", "b@example.com", "--password-stdin", input="\n")
    assert r.exit_code == 1 and "empty" in r.output


def test_deliver(runner: CliRunner, data: Path) -> None:
    invoke(runner, data, "mailbox", "add", "bob@example.com", "--password-stdin", input="pw\n")
    message = b"From: a@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
    r = invoke(runner, data, "deliver", "bob@example.com", input=message)
    assert r.exit_code == 0, r.output
    assert "UID 1" in r.output
    r = invoke(runner, data, "deliver", "bob@example.com", "--folder", "Archive", input=message)
    assert "UID 1" in r.output
    r = invoke(runner, data, "deliver", "bob@example.com", "--folder", "Nope", input=message)
    assert r.exit_code == 0 and "UID 2" in r.output  # fell back to INBOX
    r = invoke(runner, data, "deliver", "nobody@example.com", input=message)
    assert r.exit_code == 67
    config = load_config(data)

    async def read_back():
        async with ops.open_store(config) as (store, blobs):
            account = await store.get_account("bob@example.com")
            inbox = await store.get_folder(account.id, "INBOX")
            [msg, _] = await store.get_messages(inbox.id, [1, 2])
            with blobs.open(msg.blob_id) as fh:
                return fh.read()

    assert asyncio.run(read_back()) == message
    assert hashlib.sha256(message).hexdigest()


def test_deliver_normalises_bare_lf(runner: CliRunner, data: Path) -> None:
    invoke(runner, data, "mailbox", "add", "c@example.com", "--password-stdin", input="pw\n")
    r = invoke(runner, data, "deliver", "c@example.com", input=b"Subject: x\n\nbody\n")
    assert "(20 octets)" in r.output  # 17 bytes, three LFs become CRLF


def test_role_is_stored(runner: CliRunner, data: Path) -> None:
    invoke(runner, data, "mailbox", "add", "g@example.com", "--password-stdin", "--role", "guest", input="pw\n")
    account = asyncio.run(_get(load_config(data), "g@example.com"))
    assert account.role is Role.GUEST
