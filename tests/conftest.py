"""Fixtures shared by several test folders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "storage"))
from pg import PgServer, PgUnavailable, required  # noqa: E402


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL (tests/storage/pg.py), started once for the
    storage, topology and deployment tests: skipped when there is none, failed
    instead when MAILGATE_REQUIRE_PG=1 (CI)."""
    try:
        import asyncpg  # noqa: F401

        server = PgServer()
    except (PgUnavailable, ImportError) as exc:
        why = str(exc)
    else:
        why = ""
    if why:  # outside the except block: a short report, not a chained traceback
        if required():
            pytest.fail(f"MAILGATE_REQUIRE_PG=1 but PostgreSQL is unavailable: {why}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {why}")
    try:
        yield server
    finally:
        server.close()
