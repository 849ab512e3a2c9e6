"""A throwaway PostgreSQL for the storage tests, and a fresh database per test.

Where the server comes from:
- MAILGATE_TEST_PG_DSN (a postgresql:// URL of a role that may CREATE
  DATABASE): an existing server is used as is;
- otherwise a private cluster is made from Debian's binaries
  (/usr/lib/postgresql/<version>/bin/initdb, pg_ctl) in a temporary folder,
  listening on 127.0.0.1 and a free port with trust auth, once per session.
  PostgreSQL refuses to run as root, so as root the cluster belongs to the
  `postgres` system user (the Debian package creates it; we create it if
  not) and its binaries run through `runuser -u postgres --`.

When neither is possible the PostgreSQL tests skip, unless
MAILGATE_REQUIRE_PG=1 (set by .ci/run): then they fail, saying why, so CI can
never pass without having run them.

Run as a script, this file is also the child process of the cross-process
tests (see main() at the bottom).
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DSN_ENV = "MAILGATE_TEST_PG_DSN"
REQUIRE_ENV = "MAILGATE_REQUIRE_PG"
_PG_USER = "postgres"


class PgUnavailable(RuntimeError):
    """No PostgreSQL for the tests; the message says what is missing."""


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _bindir() -> Path:
    """The newest installed major version's bin folder."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise PgUnavailable(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
            "install Debian's `postgresql` package or set " + DSN_ENV
        )
    best = max(found, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    return Path(best).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise PgUnavailable(f"{DSN_ENV} must be a postgresql:// URL, not {dsn!r}")
    return urlunsplit(parts._replace(path="/" + name))


@dataclass
class PgCluster:
    """A private cluster in a temporary folder, owned by this test session."""

    root: Path
    bindir: Path
    port: int
    as_user: str | None  # run binaries as this user (we are root)

    def _cmd(self, *argv: str) -> list[str]:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        return [*prefix, *argv]

    def _run(self, *argv: str) -> None:
        # cwd: the postgres user may not be allowed into the caller's folder.
        proc = subprocess.run(self._cmd(*argv), capture_output=True, text=True, timeout=120,
                              cwd=self.root)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise PgUnavailable(
                f"{' '.join(argv[:2])} failed ({proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}{tail}"
            )

    @classmethod
    def start(cls) -> PgCluster:
        bindir = _bindir()
        as_user = None
        if os.geteuid() == 0:
            as_user = _PG_USER
            _ensure_user(as_user)
        # As root, under /tmp: a TMPDIR such as /root/... may be closed to
        # the postgres user, /tmp never is.
        root = Path(tempfile.mkdtemp(prefix="mailgate-pg-", dir="/tmp" if as_user else None))
        if as_user:
            pw = pwd.getpwnam(as_user)
            os.chown(root, pw.pw_uid, pw.pw_gid)
        cluster = cls(root, bindir, 0, as_user)
        try:
            cluster._run(str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
            for attempt in range(3):  # the free port may be taken before we bind it
                cluster.port = _free_port()
                try:
                    cluster._start()
                    break
                except PgUnavailable:
                    if attempt == 2:
                        raise
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def _start(self) -> None:
        # Durability settings off: a test cluster dies with the session.
        opts = " ".join([
            f"-p {self.port}", "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.root}", "-c fsync=off",
            "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c max_connections=300", "-c shared_buffers=32MB",
        ])
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-l",
                  str(self.root / "server.log"), "-o", opts, "-w", "-t", "60", "start")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            subprocess.run(
                self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                          "-m", "immediate", "-w", "stop"),
                capture_output=True, timeout=60,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise PgUnavailable(f"cannot create the {name!r} user to run PostgreSQL: {proc.stderr}")


class PgServer:
    """The session's PostgreSQL: an admin DSN plus per-test databases."""

    def __init__(self) -> None:
        self.cluster: PgCluster | None = None
        given = os.environ.get(DSN_ENV)
        if given:
            _with_database(given, "x")  # validates the form early
            self.admin_dsn = given
        else:
            self.cluster = PgCluster.start()
            self.admin_dsn = self.cluster.dsn
            atexit.register(self.close)  # also when pytest exits past its finalizers

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    async def create_database(self) -> tuple[str, str]:
        """(name, dsn) of a new empty database."""
        import asyncpg

        name = "mailgate_test_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await conn.close()
        return name, _with_database(self.admin_dsn, name)

    async def drop_database(self, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn)
        try:  # FORCE: a failed test may leave connections open (PostgreSQL 13+)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# --- child process for the cross-process tests --------------------------------
#   append DSN FOLDER_ID COUNT   append COUNT messages, print each UID once stored
async def _append(dsn: str, folder_id: int, count: int) -> None:
    from mailgate.storage.postgres import PostgresStore

    store = PostgresStore(dsn, listen=False)
    await store.open()
    try:
        for i in range(count):
            m = await store.append_message(
                folder_id, blob_id=f"{i:064x}", size=i, summary=b"",
                flags=["\\Seen"] if i % 2 else [],
            )
            print(m.uid, flush=True)
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    if argv[:1] == ["append"]:
        asyncio.run(_append(argv[1], int(argv[2]), int(argv[3])))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} append DSN FOLDER_ID COUNT")


if __name__ == "__main__":
    main(sys.argv[1:])
