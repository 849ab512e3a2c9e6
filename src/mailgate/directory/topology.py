"""Where a mailbox lives: the route a frontend proxies a login to.

The directory holds the servers (registered by each `mailgate serve`), the
mailbox databases (a store URL and the server where each is active) and,
per account, its database. `locate_mailbox` joins the three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..storage.base import Store
from ..storage.models import MailServer
from .stores import TOPOLOGY_SCOPE, TopologyError, check_not_moving

if TYPE_CHECKING:
    from ..runtime import Runtime


@dataclass(frozen=True, slots=True)
class Route:
    """The server holding the active copy of a mailbox's database, and its
    backend (ProxyTargetPort) endpoints."""

    server: str
    site: str
    imap_backend: tuple[str, int]
    pop_backend: tuple[str, int]
    database: str


async def default_database(directory: Store) -> str:
    """The database `mailbox add` uses without --database ("" if none)."""
    return (await directory.get_settings(TOPOLOGY_SCOPE)).get("default_database", "")


async def locate_mailbox(runtime: Runtime, address: str) -> Route | None:
    """The route to the mailbox's server; None when there is no such mailbox.

    Raises MailboxInTransit (a StorageError) while the mailbox is being
    moved, and TopologyError (a StorageError) when the directory names a
    database or server it does not hold: both mean "try again later".
    """
    directory = runtime.directory
    account = await directory.get_account(address)
    if account is None:
        return None
    await check_not_moving(directory, account)
    name = account.database or await default_database(directory)
    if not name:  # a directory without topology: this server holds everything
        return _route(this_server(runtime), "")
    database = await directory.get_database(name)
    if database is None:
        raise TopologyError(f"mailbox {account.address}: no mailbox database {name!r}")
    server = await directory.get_server(database.server) if database.server else None
    if server is None:
        raise TopologyError(f"database {name}: server {database.server!r} is not registered")
    return _route(server, database.name)


def _route(server: MailServer, database: str) -> Route:
    return Route(server.name, server.site, server.imap_backend, server.pop_backend, database)


def this_server(runtime: Runtime, roles: tuple[str, ...] | None = None) -> MailServer:
    """This node as the directory records it: its backend endpoints are the
    ProxyTargetPort settings on the node's backend address."""
    host = runtime.backend_address
    if roles is None:
        roles = ("frontend", "backend") if "all" in runtime.roles else tuple(sorted(runtime.roles))
    return MailServer(runtime.node, runtime.site, roles, (host, runtime.imap.proxy_target_port),
                      (host, runtime.pop.proxy_target_port))


async def register_server(runtime: Runtime) -> MailServer:
    """At `serve` start (and when the ports change): this node in the directory."""
    me = this_server(runtime)
    await runtime.directory.put_server(me)
    return me
