"""PostgreSQL schema and migrations.

Same rules as sqlite_schema: each entry of MIGRATIONS moves the schema from
version i to i+1; add new steps at the end, never edit old ones. migrate()
runs the missing steps in one transaction under an advisory lock, so
servers starting together against one database agree on who migrates.

The tables mirror the SQLite ones; where PostgreSQL does better the
differences are noted below.
"""

from __future__ import annotations

from typing import Any

from .errors import StorageError

# Any constant works; it only has to be the same in every mailgate process.
_MIGRATION_LOCK = 0x6D61696C67617465  # "mailgate"

_V1 = """
CREATE TABLE accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address       text NOT NULL UNIQUE,             -- lower-cased
    password_hash text NOT NULL,
    role          text NOT NULL,
    pop_enabled   boolean NOT NULL DEFAULT true,
    imap_enabled  boolean NOT NULL DEFAULT true,
    home_server   text NOT NULL DEFAULT '',
    quota_bytes   bigint,
    overrides     jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE settings (
    scope text NOT NULL,
    key   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Store-wide counters (last UIDVALIDITY handed out); the row is locked while
-- a folder is created or renamed, so every server draws from one sequence.
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO counters VALUES ('uidvalidity', 0);

-- Identity ids come from a sequence and are never reused (as SQLite's
-- AUTOINCREMENT). The unique name is DEFERRABLE so that it is checked at the
-- end of a statement, not row by row: a rename moves a folder onto a name
-- another moving folder is leaving, in one UPDATE.
CREATE TABLE folders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name          text NOT NULL,
    uidvalidity   bigint NOT NULL,
    uidnext       bigint NOT NULL DEFAULT 1,
    highestmodseq bigint NOT NULL DEFAULT 1,
    special_use   text,
    n_messages    bigint NOT NULL DEFAULT 0,
    n_unseen      bigint NOT NULL DEFAULT 0,
    n_deleted     bigint NOT NULL DEFAULT 0,
    total_size    bigint NOT NULL DEFAULT 0,
    CONSTRAINT folders_account_name UNIQUE (account_id, name) DEFERRABLE INITIALLY IMMEDIATE
);

-- internaldate keeps the instant; tz_offset (seconds east of UTC) keeps the
-- zone the client gave, which timestamptz alone would drop.
CREATE TABLE messages (
    folder_id    bigint NOT NULL REFERENCES folders ON DELETE CASCADE,
    uid          bigint NOT NULL,
    modseq       bigint NOT NULL,
    flags        text NOT NULL,                     -- sorted, space separated
    internaldate timestamptz NOT NULL,
    tz_offset    integer NOT NULL,
    size         bigint NOT NULL,
    blob_id      text NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX messages_modseq ON messages (folder_id, modseq);
CREATE INDEX messages_blob ON messages (blob_id);

-- Summaries apart, so index loads read narrow rows only.
CREATE TABLE summaries (
    folder_id bigint NOT NULL REFERENCES folders ON DELETE CASCADE,
    uid       bigint NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (folder_id, uid)
);

-- Expunged UIDs with the MODSEQ of their removal (QRESYNC VANISHED).
CREATE TABLE expunged (
    folder_id bigint NOT NULL REFERENCES folders ON DELETE CASCADE,
    uid       bigint NOT NULL,
    modseq    bigint NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);

-- Names, not folder ids: a client may subscribe to a folder that does not exist.
CREATE TABLE subscriptions (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name       text NOT NULL,
    PRIMARY KEY (account_id, name)
);
"""
# No change table: changes travel by NOTIFY (see postgres_db).

# The relay queue (mail for the smart host); "what is due" is one index scan.
_V2 = """
CREATE TABLE outbound (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender       text NOT NULL,
    recipients   text[] NOT NULL,
    blob_id      text NOT NULL,
    size         bigint NOT NULL,
    created      timestamptz NOT NULL,
    next_attempt timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX outbound_due ON outbound (next_attempt, id);
CREATE INDEX outbound_blob ON outbound (blob_id);
"""

# Topology (the directory's servers and mailbox databases) and each
# account's database ("database" is a non-reserved word: a plain column).
_V3 = """
ALTER TABLE accounts ADD COLUMN database text NOT NULL DEFAULT '';

CREATE TABLE servers (
    name      text PRIMARY KEY,
    site      text NOT NULL DEFAULT '',
    roles     text[] NOT NULL DEFAULT '{}',
    imap_host text NOT NULL,
    imap_port integer NOT NULL,
    pop_host  text NOT NULL,
    pop_port  integer NOT NULL
);

CREATE TABLE mailbox_databases (
    name     text PRIMARY KEY,
    url      text NOT NULL,
    blob_dir text NOT NULL DEFAULT '',
    server   text NOT NULL DEFAULT ''               -- where it is active
);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(conn: Any) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found.

    conn is an asyncpg connection (typed Any: asyncpg ships no stubs).
    """
    async with conn.transaction():
        # Transaction-scoped: released by COMMIT/ROLLBACK, even on a crash.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
        )
        found = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if found > SCHEMA_VERSION:
            raise StorageError(
                f"store schema version {found} is newer than this mailgate ({SCHEMA_VERSION})"
            )
        for step in MIGRATIONS[found:]:
            await conn.execute(step)  # no arguments: simple protocol, many statements
        if found < SCHEMA_VERSION:
            await conn.execute("DELETE FROM schema_version")
            await conn.execute("INSERT INTO schema_version VALUES ($1)", SCHEMA_VERSION)
    return int(found)
