"""SQLite schema and migrations.

Each entry of MIGRATIONS moves the schema from version i to i+1; add new
steps at the end, never edit old ones. migrate() runs them in one
BEGIN IMMEDIATE transaction, so processes opening the store together agree.
"""

from __future__ import annotations

import sqlite3

from .errors import StorageError

_V1 = """
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,           -- lower-cased
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    pop_enabled   INTEGER NOT NULL DEFAULT 1,
    imap_enabled  INTEGER NOT NULL DEFAULT 1,
    home_server   TEXT NOT NULL DEFAULT '',
    quota_bytes   INTEGER,
    overrides     TEXT NOT NULL DEFAULT '{}'      -- JSON object
);

CREATE TABLE settings (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

-- Store-wide counters (last UIDVALIDITY handed out).
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

-- AUTOINCREMENT: a folder id is never reused, so a session or listener
-- holding the id of a deleted folder can never land in a new one.
-- The n_/total_ counters are kept in step by every message write so STATUS
-- and quota checks read one row instead of scanning messages.
CREATE TABLE folders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL,
    name          TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    special_use   TEXT,
    n_messages    INTEGER NOT NULL DEFAULT 0,
    n_unseen      INTEGER NOT NULL DEFAULT 0,
    n_deleted     INTEGER NOT NULL DEFAULT 0,
    total_size    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, name)
);

-- Small rows only, clustered by (folder, uid): SELECT's index load is one
-- range scan that never touches summaries.
CREATE TABLE messages (
    folder_id   INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    modseq      INTEGER NOT NULL,
    flags       TEXT NOT NULL,                   -- sorted, space separated
    internaldate TEXT NOT NULL,                  -- ISO 8601 with offset
    size        INTEGER NOT NULL,
    blob_id     TEXT NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages (folder_id, modseq);

-- Summaries can be kilobytes: kept apart so index scans stay dense.
CREATE TABLE summaries (
    folder_id INTEGER NOT NULL,
    uid       INTEGER NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (folder_id, uid)
);

-- Expunged UIDs with the MODSEQ of their removal (QRESYNC VANISHED).
CREATE TABLE expunged (
    folder_id INTEGER NOT NULL,
    uid       INTEGER NOT NULL,
    modseq    INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);

-- Names, not folder ids: a client may subscribe to a folder that does not exist.
CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL,
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- Change log read by every process's poller; trimmed by age.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    folder_id INTEGER NOT NULL,
    at        REAL NOT NULL
);
"""

# The relay queue (mail for the smart host). Times are epoch seconds so
# "what is due" is one index range scan; recipients a JSON array.
_V2 = """
CREATE TABLE outbound (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sender       TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    blob_id      TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created      REAL NOT NULL,
    next_attempt REAL NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbound_due ON outbound (next_attempt);
"""

# Topology (the directory's servers and mailbox databases) and each
# account's database. "database" is a plain column name in SQLite.
_V3 = """
ALTER TABLE accounts ADD COLUMN database TEXT NOT NULL DEFAULT '';

CREATE TABLE servers (
    name      TEXT PRIMARY KEY,
    site      TEXT NOT NULL DEFAULT '',
    roles     TEXT NOT NULL DEFAULT '',             -- comma separated
    imap_host TEXT NOT NULL,
    imap_port INTEGER NOT NULL,
    pop_host  TEXT NOT NULL,
    pop_port  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE mailbox_databases (
    name     TEXT PRIMARY KEY,
    url      TEXT NOT NULL,
    blob_dir TEXT NOT NULL DEFAULT '',
    server   TEXT NOT NULL DEFAULT ''               -- where it is active
) WITHOUT ROWID;
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a script into statements. executescript() would COMMIT our
    transaction; sqlite3.complete_statement knows about comments and quotes."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        found = row[0] or 0
        if found > SCHEMA_VERSION:
            raise StorageError(
                f"store schema version {found} is newer than this mailgate ({SCHEMA_VERSION})"
            )
        for step in MIGRATIONS[found:]:
            for stmt in _statements(step):
                conn.execute(stmt)
        if found < SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
