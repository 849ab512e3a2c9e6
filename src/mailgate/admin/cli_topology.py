"""CLI for the deployment's topology: `server list|show`, `database
add|list|mount`, `mailbox move`, and `--database` on `mailbox add`
(README "Deployment: frontends, backends, databases": a stable contract)."""

from __future__ import annotations

import functools
from typing import Any

import click

from ..storage.models import MailServer, Role
from . import ops
from . import ops_topology as topo
from .cli import _config, _read_password, _run, data_option


def _endpoint(host_port: tuple[str, int]) -> str:
    host, port = host_port
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _server_line(s: MailServer) -> str:
    return (f"{s.name}\tsite={s.site or '-'}\troles={','.join(s.roles)}\t"
            f"imap={_endpoint(s.imap_backend)}\tpop={_endpoint(s.pop_backend)}")


@click.group()
def server() -> None:
    """The servers of the deployment (each registers at `mailgate serve`)."""


@server.command("list")
@data_option
def server_list(data: str | None) -> None:
    """One line per server: name, site, roles, backend endpoints."""
    for s in _run(topo.list_servers(_config(data))):
        click.echo(_server_line(s))


@server.command("show")
@data_option
@click.argument("name")
def server_show(data: str | None, name: str) -> None:
    """A server's site, roles, backend endpoints and active databases."""
    details = _run(topo.show_server(_config(data), name))
    s = details.server
    click.echo(f"Name:          {s.name}")
    click.echo(f"Site:          {s.site}")
    click.echo(f"Roles:         {','.join(s.roles)}")
    click.echo(f"ImapBackend:   {_endpoint(s.imap_backend)}")
    click.echo(f"PopBackend:    {_endpoint(s.pop_backend)}")
    click.echo("Databases:     " + (", ".join(d.name for d in details.databases) or "(none)"))


@click.group()
def database() -> None:
    """Mailbox databases: where mailboxes' folders and messages live."""


@database.command("add")
@data_option
@click.argument("name")
@click.option("--url", required=True, help="sqlite:///PATH (one machine) or postgresql://... (shared).")
@click.option("--blob-dir", default=None, help="Folder of its message blobs (default: this server's).")
@click.option("--server", "server_name", default=None, help="Server where it is active (default: this node).")
def database_add(data: str | None, name: str, url: str, blob_dir: str | None, server_name: str | None) -> None:
    """Create a mailbox database (its schema is created now)."""
    d = _run(topo.add_database(_config(data), name, url, blob_dir, server_name))
    click.echo(f"Created database {d.name} on {d.server} ({d.blob_dir})")


@database.command("list")
@data_option
def database_list(data: str | None) -> None:
    """One line per database: name, active server, mailboxes, store, blobs."""
    for d, count in _run(topo.list_databases(_config(data))):
        click.echo(f"{d.name}\tserver={d.server}\tmailboxes={count}\turl={_redacted(d.url)}\tblobs={d.blob_dir}")


@database.command("mount")
@data_option
@click.argument("name")
@click.option("--server", "server_name", required=True, help="The server to make it active on.")
def database_mount(data: str | None, name: str, server_name: str) -> None:
    """Make a database active on another server (failover)."""
    d = _run(topo.mount_database(_config(data), name, server_name))
    click.echo(f"Database {d.name} is active on {d.server}; its mailboxes' next logins go there")


def _redacted(url: str) -> str:
    from ..storage.urls import redacted

    return redacted(url)


@click.command("move")
@data_option
@click.argument("address")
@click.option("--database", "target", required=True, help="The database to move the mailbox to.")
def mailbox_move(data: str | None, address: str, target: str) -> None:
    """Move a mailbox to another database, keeping UIDs, flags and MODSEQs."""
    report = _run(topo.move_mailbox(_config(data), address, target))
    click.echo(f"Moved mailbox {report.address} from {report.source or '(directory)'} to {report.target}: "
               f"{report.folders} folders, {report.messages} messages")


def _extend_mailbox_add(main: click.Group) -> None:
    """Adds --database to `mailbox add` (defined in cli.py)."""
    group = main.commands.get("mailbox")
    command = group.commands.get("add") if isinstance(group, click.Group) else None
    if command is None or command.callback is None:
        return
    original = command.callback
    command.params.append(click.Option(
        ["--database"], default=None, help="Mailbox database to create it in (default: DB01 / the default)."))

    @functools.wraps(original)
    def callback(**kwargs: Any) -> None:
        name = kwargs.pop("database", None)
        if name is None:
            original(**kwargs)
            return
        password = _read_password(kwargs["password_stdin"])
        account = _run(ops.add_mailbox(_config(kwargs.get("data")), kwargs["address"], password,
                                       Role(kwargs["role"]), name))
        click.echo(f"Created mailbox {account.address} (role {account.role.value}) in database {name}")

    command.callback = callback


def register(main: click.Group) -> None:
    main.add_command(server)
    main.add_command(database)
    group = main.commands.get("mailbox")
    if isinstance(group, click.Group):
        group.add_command(mailbox_move)
    _extend_mailbox_add(main)
