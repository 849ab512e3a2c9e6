"""The `mailgate` command: argument parsing and printing only.

Every operation lives in mailgate.admin.ops (or the server module) as a plain
async function. This interface is a contract that admins script against: keep
names, options and exit codes stable (README "Admin CLI").
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from ..config import ConfigError, load_config, resolve_data_dir
from ..storage.models import Role
from . import ops

EX_NOUSER = 67  # sysexits.h: addressee unknown
EX_TEMPFAIL = 75  # sysexits.h: temporary failure, try again
ROLE_CHOICE = click.Choice([r.value for r in Role])
BOOL = click.Choice(["true", "false"])


def _run(coro):
    try:
        return asyncio.run(coro)
    except (ops.OpError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


def _config(data: str | None):
    try:
        return load_config(resolve_data_dir(data))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline()
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask for the password: use --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


data_option = click.option(
    "--data", "data", envvar="MAILGATE_DATA", type=click.Path(file_okay=False),
    help="Data folder (default: $MAILGATE_DATA).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailgate")
def main() -> None:
    """mailgate: POP3, IMAP4 and authenticated SMTP access to mailboxes."""


@main.command()
@data_option
@click.option("--hostname", default=None, help="Fully qualified name clients use (default: this host's name).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="PEM certificate to use.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="PEM private key to use.")
@click.option("--unprivileged-ports", is_flag=True, help="Use ports 10000 above the standard ones.")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address the listeners bind to.")
@click.option("--force", is_flag=True, help="Overwrite an existing data folder.")
def init(data, hostname, tls_cert, tls_key, unprivileged_ports, bind, force) -> None:
    """Create a data folder: configuration, store, blob folder, certificate."""
    import socket

    if not data:
        raise click.UsageError("give --data DIR or set MAILGATE_DATA")
    hostname = hostname or socket.getfqdn() or "localhost"
    report = _run(ops.init_data_dir(
        Path(data).expanduser().resolve(), hostname=hostname,
        tls_cert=Path(tls_cert) if tls_cert else None, tls_key=Path(tls_key) if tls_key else None,
        unprivileged=True if unprivileged_ports else None, bind=bind, force=force,
    ))
    click.echo(f"Created {report.data_dir}")
    click.echo(f"  configuration  {report.data_dir / 'mailgate.toml'}")
    click.echo(f"  store          {report.data_dir / 'mailgate.db'} (SQLite) and {report.data_dir / 'blobs'}")
    how = "generated self-signed" if report.generated_certificate else "copied"
    click.echo(f"  certificate    {how}: {report.certificate}")
    kind = "unprivileged (standard + 10000)" if report.unprivileged else "standard"
    click.echo(f"  ports          {kind}: " + ", ".join(f"{k} {v}" for k, v in report.ports.items()))


def _run_event_loop(coro, choice: str) -> int:
    """Run the server on uvloop when it is installed (libuv's C transports:
    less CPU per read/write and less memory per idle connection), else on
    asyncio's own loop; [server] event_loop = "asyncio" forces the latter."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ConfigError("[server] event_loop = \"uvloop\" but uvloop is not installed") from None
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)


@main.command()
@data_option
@click.option("--role", "role", type=click.Choice(["all", "frontend", "backend"]), default=None,
              help="What this server does (default: [server] roles, else all: one process, no proxy hop).")
def serve(data, role) -> None:
    """Run every role in one process until SIGTERM."""
    import dataclasses

    from ..server import run_server

    config = _config(data)
    if role is not None:
        config = dataclasses.replace(config, roles=(role,))
    try:
        code = _run_event_loop(run_server(config), config.event_loop)
    except (ops.OpError, ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.command()
@data_option
@click.argument("address")
@click.option("--folder", default="INBOX", show_default=True)
def deliver(data, address, folder) -> None:
    """Deliver a message from standard input (like dovecot-lda)."""
    from ..storage.errors import NotFound, QuotaExceeded, StorageError

    config = _config(data)

    def chunks():
        stream = sys.stdin.buffer
        while block := stream.read(65536):
            yield block

    async def go():
        try:
            return await ops.deliver_local(config, address, chunks(), folder=folder)
        except NotFound:
            # Like dovecot-lda: a missing folder falls back to INBOX.
            click.echo(f"mailgate: folder {folder!r} not found, delivered to INBOX", err=True)
            return await ops.deliver_local(config, address, chunks(), folder="INBOX")

    try:
        message = asyncio.run(go())
    except ops.UnknownRecipient as exc:
        click.echo(f"mailgate: {exc}", err=True)
        sys.exit(EX_NOUSER)
    except QuotaExceeded:
        click.echo(f"mailgate: mailbox {address} is over quota", err=True)
        sys.exit(EX_TEMPFAIL)
    except (StorageError, OSError) as exc:
        click.echo(f"mailgate: temporary failure: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"delivered to {address}/{folder} as UID {message.uid} ({message.size} octets)")


@main.group()
def mailbox() -> None:
    """Create, inspect, change and remove mailboxes."""


@mailbox.command("add")
@data_option
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--role", type=ROLE_CHOICE, default="user", show_default=True)
def mailbox_add(data, address, password_stdin, role) -> None:
    """Create a mailbox with the default folders."""
    config = _config(data)
    account = _run(ops.add_mailbox(config, address, _read_password(password_stdin), Role(role)))
    click.echo(f"Created mailbox {account.address} (role {account.role.value})")


@mailbox.command("list")
@data_option
@click.option("--pop-enabled", type=BOOL)
@click.option("--imap-enabled", type=BOOL)
@click.option("--role", type=ROLE_CHOICE)
def mailbox_list(data, pop_enabled, imap_enabled, role) -> None:
    """List mailboxes, optionally filtered by setting."""
    filters: dict[str, object] = {}
    if pop_enabled is not None:
        filters["pop_enabled"] = pop_enabled == "true"
    if imap_enabled is not None:
        filters["imap_enabled"] = imap_enabled == "true"
    if role is not None:
        filters["role"] = Role(role)
    for account in _run(ops.list_mailboxes(_config(data), filters)):
        click.echo(f"{account.address}\trole={account.role.value}\t"
                   f"pop={_yn(account.pop_enabled)}\timap={_yn(account.imap_enabled)}")


def _yn(value: bool) -> str:
    return "true" if value else "false"


@mailbox.command("show")
@data_option
@click.argument("address")
def mailbox_show(data, address) -> None:
    """Show a mailbox's settings and folders."""
    details = _run(ops.show_mailbox(_config(data), address))
    a = details.account
    click.echo(f"Address:       {a.address}")
    click.echo(f"Role:          {a.role.value}")
    click.echo(f"PopEnabled:    {_yn(a.pop_enabled)}")
    click.echo(f"ImapEnabled:   {_yn(a.imap_enabled)}")
    click.echo(f"HomeServer:    {a.home_server}")
    click.echo(f"Database:      {a.database or '(default)'}")
    click.echo(f"Quota:         {a.quota_bytes if a.quota_bytes is not None else 'unlimited'}")
    click.echo(f"Usage:         {details.usage} octets")
    for key, value in sorted(a.overrides.items()):
        click.echo(f"{key}: {value}")
    click.echo("Folders:")
    for name, count, size in details.folders:
        click.echo(f"  {name}\t{count} messages\t{size} octets")


@mailbox.command("set")
@data_option
@click.argument("address")
@click.option("--pop-enabled", type=BOOL)
@click.option("--imap-enabled", type=BOOL)
@click.option("--role", type=ROLE_CHOICE)
@click.option("--quota", type=click.IntRange(min=0), help="Storage quota in octets (0: unlimited).")
def mailbox_set(data, address, pop_enabled, imap_enabled, role, quota) -> None:
    """Change a mailbox's settings."""
    changes: dict[str, object] = {}
    if pop_enabled is not None:
        changes["pop_enabled"] = pop_enabled == "true"
    if imap_enabled is not None:
        changes["imap_enabled"] = imap_enabled == "true"
    if role is not None:
        changes["role"] = Role(role)
    if quota is not None:
        changes["quota_bytes"] = quota or None
    account = _run(ops.set_mailbox(_config(data), address, changes))
    click.echo(f"Updated mailbox {account.address}")


@mailbox.command("set-password")
@data_option
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def mailbox_set_password(data, address, password_stdin) -> None:
    """Replace a mailbox's password."""
    account = _run(ops.set_password(_config(data), address, _read_password(password_stdin)))
    click.echo(f"Password changed for {account.address}")


@mailbox.command("remove")
@data_option
@click.argument("address")
@click.option("--yes", is_flag=True, help="Really remove the mailbox and all its mail.")
def mailbox_remove(data, address, yes) -> None:
    """Remove a mailbox and all its mail."""
    if not yes:
        raise click.UsageError("removing a mailbox deletes all its mail: add --yes to confirm")
    _run(ops.remove_mailbox(_config(data), address))
    click.echo(f"Removed mailbox {address}")


def _register_command_groups() -> None:
    """Command groups that live in their own modules (one per area), so the
    CLI stays small per file. Each module defines `register(main)`."""
    import importlib

    for module in ("cli_protocols", "cli_smtp", "cli_topology"):
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        mod.register(main)


if __name__ == "__main__":  # pragma: no cover
    # `python -m mailgate.admin.cli` runs this file as __main__, while the
    # command-group modules import mailgate.admin.cli: run that module's
    # (fully registered) main rather than registering into this copy.
    from mailgate.admin.cli import main as _main

    _main()
else:
    _register_command_groups()
