"""Store URLs: `sqlite:///ABSOLUTE/PATH` (one machine) or
`postgresql://user@host/db` (shared by several servers), and the factory
that turns one into a Store."""

from __future__ import annotations

import os
from pathlib import Path

from .base import Store
from .errors import StorageError

_PG_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite URL (None for other schemes). Relative paths are
    taken from the current folder; config.py makes them absolute first."""
    if not url.startswith("sqlite:"):
        return None
    rest = url.removeprefix("sqlite:").removeprefix("//")
    if not rest:
        raise StorageError(f"no file in the store URL {url!r}")
    return Path(rest)


def is_postgres(url: str) -> bool:
    return url.startswith(_PG_SCHEMES)


def check_url(url: str) -> str:
    """The URL, or StorageError saying what a store URL looks like."""
    if sqlite_path(url) is None and not is_postgres(url):
        raise StorageError(f"a store URL is sqlite:///PATH or postgresql://..., not {url[:60]!r}")
    return url


def normalize(url: str) -> str:
    """For comparing two spellings of one store (a SQLite file by its real path)."""
    path = sqlite_path(url)
    if path is not None:
        return "sqlite://" + os.path.realpath(path)
    return url.rstrip("/")


def store_for_url(url: str, *, listen: bool = True) -> Store:
    """An unopened store. listen=False: no change listener (PostgreSQL's
    LISTEN connection), for short-lived processes that only write."""
    path = sqlite_path(check_url(url))
    if path is not None:
        from .sqlite import SqliteStore

        return SqliteStore(path)
    try:
        from .postgres import PostgresStore
    except ImportError:
        raise StorageError("PostgreSQL stores need asyncpg: pip install 'mailgate[postgres]'") from None
    return PostgresStore(url, listen=listen)


async def open_store_url(url: str, *, listen: bool = True) -> Store:
    """The store of a URL, opened (schema created or migrated)."""
    store = store_for_url(url, listen=listen)
    await store.open()
    return store


def redacted(url: str) -> str:
    """The URL without its password, for listings and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
