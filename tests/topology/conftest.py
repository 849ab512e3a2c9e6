"""A deployment's data folder whose directory is SQLite or PostgreSQL (the
throwaway cluster of tests/storage/pg.py), and helpers to look inside."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mailgate.admin import ops
from mailgate.admin.ops_topology import record_single_node
from mailgate.config import Config, load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from pg import PgServer, PgUnavailable, required  # noqa: E402


class Databases:
    """Fresh PostgreSQL databases for one test (dropped afterwards)."""

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self.names: list[str] = []

    async def new(self) -> str:
        name, dsn = await self.server.create_database()
        self.names.append(name)
        return dsn


async def make_data_dir(path: Path, directory_url: str | None = None) -> Config:
    """`mailgate init`, then (for a PostgreSQL directory) [store] url set and
    the single-node topology recorded there, as an admin would."""
    await ops.init_data_dir(path, hostname="mx1.example.test", unprivileged=True, bind="127.0.0.1")
    if directory_url is not None:
        toml = path / "mailgate.toml"
        toml.write_text(toml.read_text().replace('[store]\n', f'[store]\nurl = "{directory_url}"\n'))
        config = load_config(path)
        async with ops.open_store(config) as (store, _):
            await record_single_node(config, store)
    return load_config(path)


@pytest.fixture(params=["sqlite", "postgres"])
async def config(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Config]:
    """A data folder; its directory on SQLite or on PostgreSQL."""
    url = None
    dbs = None
    if request.param == "postgres":
        # The session fixture by name (sync); databases of our own, dropped at the end.
        dbs = Databases(request.getfixturevalue("pg_server"))
        url = await dbs.new()
    request.node.pg_databases = dbs
    try:
        yield await make_data_dir(tmp_path / "data", url)
    finally:
        if dbs is not None:
            for name in dbs.names:
                await dbs.server.drop_database(name)


@pytest.fixture
async def second_db_url(request: pytest.FixtureRequest, config: Config, tmp_path: Path) -> str:
    """A store URL for a second mailbox database of the same kind as the directory."""
    dbs = request.node.pg_databases
    if dbs is not None:
        return await dbs.new()
    return f"sqlite://{tmp_path / 'db02.sqlite'}"
