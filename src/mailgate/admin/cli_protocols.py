"""CLI for client access: `pop`, `imap`, `throttle`, `monitoring` (show/set),
`service`, `client-settings`, `test-connectivity`, and the per-mailbox
protocol options of `mailbox set`. Option names are the kebab-case forms of
the Exchange parameters (README "Protocol settings"): a stable contract.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any

import click

from ..policy import mailbox as per_mailbox
from ..settings import allowed_values, to_strings
from . import ops_protocols as ops
from .cli import BOOL, _config, _read_password, _run, data_option

_GROUPS = {
    "imap": ("IMAP4 protocol settings (Set-ImapSettings).", "imap"),
    "pop": ("POP3 protocol settings (Set-PopSettings).", "pop"),
    "throttle": ("Failed-login throttling for IMAP4, POP3 and SMTP.", "throttle"),
    "monitoring": ("The metrics endpoint (Prometheus text format).", "monitoring"),
}


def _print_settings(settings: object) -> None:
    for name, value in to_strings(settings).items():
        click.echo(f"{name.replace('_', '-'):<40} {value}")


def _settings_group(name: str, help_text: str, scope: str) -> click.Group:
    cls = ops.SCOPES[scope]

    @click.group(name=name, help=help_text)
    def group() -> None:
        pass

    @group.command("show")
    @data_option
    def show(data: str | None) -> None:
        """Print every setting (stored value or default)."""
        _print_settings(_run(ops.show_settings(_config(data), scope)))

    def set_(data: str | None, **values: str | None) -> None:
        given = {k: v for k, v in values.items() if v is not None}
        _run(ops.set_settings(_config(data), scope, given))
        click.echo(f"Updated {name} settings ({', '.join('--' + k.replace('_', '-') for k in given)}); "
                   "a running server applies them within 2 seconds.")

    command = click.Command("set", callback=set_, help="Change settings; every option takes its value as text.",
                            params=[click.Option(["--data", "data"], envvar="MAILGATE_DATA",
                                                 type=click.Path(file_okay=False),
                                                 help="Data folder (default: $MAILGATE_DATA).")])
    for f in dataclasses.fields(cls):
        command.params.append(click.Option(["--" + f.name.replace("_", "-"), f.name], default=None,
                                           metavar="VALUE", help=allowed_values(cls, f.name)))
    group.add_command(command)
    return group


@click.group()
def service() -> None:
    """Start, stop and inspect the POP3 and IMAP4 services (all servers)."""


_SERVICE = click.Choice(["pop3", "imap4"])


@service.command("start")
@data_option
@click.argument("name", type=_SERVICE)
def service_start(data: str | None, name: str) -> None:
    """Start a service: its listeners open within 2 seconds."""
    _run(ops.set_service(_config(data), name, True))
    click.echo(f"{name} started")


@service.command("stop")
@data_option
@click.argument("name", type=_SERVICE)
def service_stop(data: str | None, name: str) -> None:
    """Stop a service: its listeners and connections close within 2 seconds."""
    _run(ops.set_service(_config(data), name, False))
    click.echo(f"{name} stopped")


@service.command("status")
@data_option
@click.argument("name", type=_SERVICE, required=False)
def service_status(data: str | None, name: str | None) -> None:
    """State, listeners and current connections of each service."""
    for st in _run(ops.service_status(_config(data), (name,) if name else ("imap4", "pop3"))):
        state = "running" if st.enabled else "stopped"
        server = "" if st.server_running else " (no server running on this node)"
        click.echo(f"{st.service}: {state}{server}")
        if st.server_running:
            click.echo(f"  connections: {st.connections} ({st.tls_connections} encrypted)")
            for listener in st.listeners:
                kind = "SSL" if listener["implicit_tls"] else "plain/STARTTLS"
                click.echo(f"  listening on {listener['binding']} (port {listener['port']}, {kind})")


@click.command("client-settings")
@data_option
@click.argument("address")
def client_settings(data: str | None, address: str) -> None:
    """What a user needs to set up a mail client."""
    report = _run(ops.client_settings(_config(data), address))
    click.echo(f"Client settings for {report.address} (user name: {report.address})")
    names = {"SSL": "SSL/TLS", "TLS": "STARTTLS", "": "none"}
    for row in report.settings:
        click.echo(f"  {row.protocol:<6} {row.scope:<9} server {row.server}  port {row.port}  "
                   f"encryption {names.get(row.encryption, row.encryption)}")
    for protocol in ("IMAP4", "POP3"):
        if protocol not in report.disabled and not any(r.protocol == protocol and r.scope == "external"
                                                       for r in report.settings):
            click.echo(f"  {protocol:<6} external  (not published: ExternalConnectionSettings is empty)")
    for protocol in report.disabled:
        click.echo(f"  {protocol:<6} disabled for this mailbox")
    for service_name in report.stopped:
        click.echo(f"  note: the {service_name} service is stopped")
    for note in report.notes:
        click.echo(f"  note: {note}")


@click.command("test-connectivity")
@data_option
@click.argument("protocol", type=click.Choice(["imap4", "pop3"]))
@click.option("--mailbox", "address", required=True, help="The mailbox to log in as.")
@click.option("--password-stdin", is_flag=True, help="Read the mailbox's password from standard input.")
@click.option("--light", is_flag=True, help="Log on only; no test message.")
@click.option("--connection-type", type=click.Choice(["ssl", "tls", "plaintext"]), default="ssl",
              show_default=True)
@click.option("--server", default=None, help="Host to connect to (default: from the first binding).")
@click.option("--port", type=click.IntRange(1, 65535), default=None)
@click.option("--trust-any-certificate", is_flag=True)
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=30, show_default=True,
              help="Seconds per network operation.")
def test_connectivity(data: str | None, protocol: str, address: str, password_stdin: bool, light: bool,
                      connection_type: str, server: str | None, port: int | None, trust_any_certificate: bool,
                      timeout: float) -> None:
    """Connect, log on and (unless --light) deliver, find and delete a test message."""
    password = _read_password(password_stdin).rstrip("\r\n")
    results = _run(ops.connectivity(
        _config(data), protocol, address, password, light=light, connection_type=connection_type,
        server=server, port=port, trust_any_certificate=trust_any_certificate, timeout=timeout))
    click.echo(f"{'Server':<22} {'Scenario':<9} {'Result':<8} {'Latency(MS)':>11}  Error")
    for row in results:
        click.echo(f"{row.server:<22} {row.scenario:<9} {row.result:<8} {row.latency_ms:>11.1f}  {row.error}")
    if any(row.result != "Success" for row in results):
        sys.exit(1)


# --- per-mailbox options on `mailbox set` ------------------------------------------------

_MAILBOX_OPTIONS = [key for prefix in per_mailbox.PREFIXES for key in per_mailbox.option_keys(prefix)]


def _extend_mailbox_set(main: click.Group) -> None:
    """Adds the Set-CASMailbox options and --disconnect to `mailbox set`
    (defined in cli.py), so that one command changes a mailbox."""
    group = main.commands.get("mailbox")
    command = group.commands.get("set") if isinstance(group, click.Group) else None
    if command is None or command.callback is None:
        return
    original = command.callback
    own = {p.name for p in command.params}
    for key in _MAILBOX_OPTIONS:
        field = key.split("_", 1)[1]
        kind = BOOL if field != "messages_retrieval_mime_format" else click.Choice(
            [m.value for m in per_mailbox.MimeFormat])
        command.params.append(click.Option(["--" + key.replace("_", "-"), key], type=kind, default=None))
    command.params.append(click.Option(
        ["--disconnect"], is_flag=True,
        help="Also end the mailbox's open POP3 and IMAP4 sessions (after the change)."))

    @functools.wraps(original)
    def callback(**kwargs: Any) -> None:
        disconnect = kwargs.pop("disconnect", False)
        mine = {k: kwargs.pop(k) for k in _MAILBOX_OPTIONS if kwargs.get(k) is not None}
        for k in _MAILBOX_OPTIONS:
            kwargs.pop(k, None)
        config = _config(kwargs.get("data"))
        if any(kwargs.get(name) is not None for name in own - {"data", "address"}) or not (mine or disconnect):
            original(**kwargs)  # its own options (and its "nothing to change" error)
        if mine:
            _run(ops.set_mailbox_protocol(config, kwargs["address"], mine))
            click.echo(f"Updated protocol settings of {kwargs['address']}")
        if disconnect:
            _run(ops.disconnect_mailbox(config, kwargs["address"]))
            click.echo(f"Open sessions of {kwargs['address']} end within 2 seconds")

    command.callback = callback


def register(main: click.Group) -> None:
    for name, (help_text, scope) in _GROUPS.items():
        main.add_command(_settings_group(name, help_text, scope))
    main.add_command(service)
    main.add_command(client_settings)
    main.add_command(test_connectivity)
    _extend_mailbox_set(main)
