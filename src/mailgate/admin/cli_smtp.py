"""`mailgate domain ...` and `mailgate smtp ...`: argument parsing and printing
only; the operations are in ops_smtp.py. A stable contract (README "SMTP")."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import click

from ..settings import SmtpSettings, allowed_values, option_name
from . import ops_smtp
from .cli import _config, _run, data_option

# Every setting but these gets a `mailgate smtp set --name VALUE` option;
# the password is read from standard input, never from the command line
# (where `ps` would show it).
_NOT_OPTIONS = {"local_domains", "smart_host_password"}
_SET_FIELDS = [f.name for f in dataclasses.fields(SmtpSettings) if f.name not in _NOT_OPTIONS]


_HELP = {
    "lmtp_socket": "A UNIX socket path for LMTP as well (empty: none).",
    "smart_host": "HOST:PORT of the relay for non-local recipients (empty: refuse them).",
    "smart_host_username": "User name for AUTH at the smart host (empty: no AUTH).",
}


def _label(name: str) -> str:
    return option_name(name)[2:]


@click.group()
def domain() -> None:
    """Local (accepted) domains: mail for them is delivered here."""


@domain.command("add")
@data_option
@click.argument("name")
def domain_add(data: str | None, name: str) -> None:
    """Accept mail for NAME; unknown users there are refused (550 5.1.1)."""
    domains = _run(ops_smtp.add_domain(_config(data), name))
    click.echo(f"Added local domain {ops_smtp.check_domain(name)} ({len(domains)} in all)")


@domain.command("list")
@data_option
def domain_list(data: str | None) -> None:
    """One local domain per line."""
    for name in _run(ops_smtp.list_domains(_config(data))):
        click.echo(name)


@domain.command("remove")
@data_option
@click.argument("name")
def domain_remove(data: str | None, name: str) -> None:
    """Stop accepting mail for NAME (its mailboxes' own addresses still get mail)."""
    _run(ops_smtp.remove_domain(_config(data), name))
    click.echo(f"Removed local domain {name.strip().lower().rstrip('.')}")


@click.group()
def smtp() -> None:
    """Submission (587), inbound SMTP (25), LMTP (24) and the smart host."""


@smtp.command("show")
@data_option
def smtp_show(data: str | None) -> None:
    """Every SMTP setting, one `name: value` line each (the password hidden)."""
    for name, value in ops_smtp.describe(_run(ops_smtp.show_smtp(_config(data)))):
        click.echo(f"{_label(name)}: {value}")


def _set_options(fn: Any) -> Any:
    for name in reversed(_SET_FIELDS):
        fn = click.option(option_name(name), name, default=None, metavar="VALUE",
                          help=_HELP.get(name) or allowed_values(SmtpSettings, name))(fn)
    return fn


@smtp.command("set")
@data_option
@_set_options
@click.option("--smart-host-password-stdin", is_flag=True,
              help="Read the smart host password from standard input (an empty line clears it).")
def smtp_set(data: str | None, smart_host_password_stdin: bool, **options: str | None) -> None:
    """Change SMTP settings; a running server applies them within a second."""
    values = {name: value for name, value in options.items() if value is not None}
    if smart_host_password_stdin:
        values["smart_host_password"] = sys.stdin.readline().rstrip("\r\n")
    if not values:
        raise click.UsageError("give at least one setting to change (see --help)")
    _run(ops_smtp.set_smtp(_config(data), values))
    click.echo("Updated SMTP settings: " + ", ".join(_label(n) for n in sorted(values)))


@smtp.command("queue")
@data_option
def smtp_queue(data: str | None) -> None:
    """Messages waiting for the smart host, one per line."""
    entries = _run(ops_smtp.list_queue(_config(data)))
    for e in entries:
        click.echo(f"{e.id}\tfrom=<{e.sender}>\tto={','.join(e.recipients)}\tsize={e.size}\t"
                   f"attempts={e.attempts}\tnext={e.next_attempt.isoformat(timespec='seconds')}\t"
                   f"last-error={e.last_error}")
    if not entries:
        click.echo("The relay queue is empty.", err=True)


def register(main: click.Group) -> None:
    main.add_command(domain)
    main.add_command(smtp)
