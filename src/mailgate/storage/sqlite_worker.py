"""The one thread that owns a SqliteStore's connection.

Every DB call hops to this thread, so the event loop never waits on a lock
or an fsync, and the connection is only ever used from one thread. The hop
is a SimpleQueue put plus one call_soon_threadsafe back: no executor
machinery, no per-call thread.

Db wraps the connection with what every operation needs: write
transactions (BEGIN IMMEDIATE), the change log, the cross-process poll and
the translation of sqlite3 errors into storage errors.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import AlreadyExists, StorageError
from .notify import Listeners

T = TypeVar("T")

# Rows of the change log older than this are trimmed; a poller stalled for
# longer would miss changes (pollers run every ~0.15 s).
CHANGE_RETENTION_S = 60.0
_TRIM_EVERY = 256  # writes between trims


def translate(exc: BaseException) -> BaseException:
    """Map driver errors to storage errors; leave everything else alone."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return AlreadyExists(str(exc))
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StorageError(f"store busy: {exc}")
    if isinstance(exc, (sqlite3.Error, OSError)):
        return StorageError(f"{type(exc).__name__}: {exc}")
    return exc


class Db:
    """Connection plus per-store bookkeeping; used on the worker thread only."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn
        self._tx_changes: list[tuple[int, int]] = []  # (seq, folder_id) of the open tx
        self.committed: list[int] = []  # folder ids to announce after this op
        self._own_seqs: set[int] = set()  # change rows we wrote, not yet passed by the poller
        self._writes = 0
        self.last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
        self.data_version = self._data_version()

    def _data_version(self) -> int:
        return int(self.c.execute("PRAGMA data_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: two processes that each
        # read under a shared lock and then try to upgrade would deadlock
        # (one gets SQLITE_BUSY at once, busy_timeout cannot help).
        self.c.execute("BEGIN IMMEDIATE")
        self._tx_changes.clear()
        try:
            yield self.c
            self._writes += 1
            if self._writes % _TRIM_EVERY == 0:
                self.c.execute(
                    "DELETE FROM changes WHERE at < ?", (time.time() - CHANGE_RETENTION_S,)
                )
            self.c.execute("COMMIT")
        except BaseException:
            if self.c.in_transaction:
                self.c.execute("ROLLBACK")
            raise
        for seq, fid in self._tx_changes:
            self._own_seqs.add(seq)
            self.committed.append(fid)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several statements see one snapshot."""
        self.c.execute("BEGIN")
        try:
            yield self.c
        finally:
            if self.c.in_transaction:
                self.c.execute("COMMIT")

    def log_change(self, folder_id: int) -> None:
        """Record a folder change inside the current write transaction."""
        cur = self.c.execute(
            "INSERT INTO changes (folder_id, at) VALUES (?, ?)", (folder_id, time.time())
        )
        self._tx_changes.append((int(cur.lastrowid or 0), folder_id))

    def poll(self) -> list[int]:
        """Folder ids changed by other connections since the last poll."""
        dv = self._data_version()
        if dv == self.data_version:
            # No other connection committed: every newer row is one of ours.
            if self._own_seqs:
                self.last_seq = max(self.last_seq, max(self._own_seqs))
                self._own_seqs.clear()
            return []
        self.data_version = dv
        rows = self.c.execute(
            "SELECT seq, folder_id FROM changes WHERE seq > ? ORDER BY seq", (self.last_seq,)
        ).fetchall()
        out = []
        own = self._own_seqs
        for seq, fid in rows:
            if seq in own:
                own.discard(seq)
            else:
                out.append(fid)
        if rows:
            self.last_seq = rows[-1][0]
        own.difference_update([s for s in own if s <= self.last_seq])
        return out


class DbThread:
    """Runs functions f(db, *args) one at a time on a dedicated thread."""

    def __init__(self, connect: Callable[[], Db], listeners: Listeners, name: str) -> None:
        self._connect = connect
        self._listeners = listeners
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._name = name
        self._thread: threading.Thread | None = None
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        # A fresh thread per open(): a store may be closed and opened again.
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        self._started = True
        try:
            await self.run(lambda db: None)  # surfaces connect/migrate errors here
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._q.put((None, (), fut, loop))
        await fut
        if self._thread is not None:
            self._thread.join()  # it has returned already or is about to

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        if not self._started:
            raise StorageError("store is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._q.put((fn, args, fut, loop))
        return fut

    # --- worker side -----------------------------------------------------
    def _main(self) -> None:
        db: Db | None = None
        while True:
            fn, args, fut, loop = self._q.get()
            if db is None and fn is not None:
                try:
                    db = self._connect()
                except BaseException as exc:  # report to the caller, stay alive
                    loop.call_soon_threadsafe(self._done, fut, None, translate(exc), ())
                    continue
            if fn is None:  # stop
                if db is not None:
                    try:
                        db.c.close()
                    except sqlite3.Error:
                        pass
                loop.call_soon_threadsafe(self._done, fut, None, None, ())
                return
            assert db is not None
            try:
                result, error = fn(db, *args), None
            except BaseException as exc:
                result, error = None, translate(exc)
            changed, db.committed = db.committed, []
            loop.call_soon_threadsafe(self._done, fut, result, error, changed)

    def _done(
        self, fut: asyncio.Future[Any], result: Any, error: BaseException | None,
        changed: list[int],
    ) -> None:
        # Announce committed writes even if the caller was cancelled meanwhile:
        # the write happened, and other sessions must hear of it.
        if changed:
            self._listeners.fire(changed)
        if fut.cancelled():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
