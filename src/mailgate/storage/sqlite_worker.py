"""The one thread that owns a SqliteStore's connection.

Every DB call hops to this thread, so the event loop never waits on a lock
or an fsync, and the connection is only ever used from one thread. The hop
is a SimpleQueue put plus one call_soon_threadsafe back: no executor
machinery, no per-call thread.

Db wraps the connection with what every operation needs: write
transactions (BEGIN IMMEDIATE), the change log, the cross-process poll and
the translation of sqlite3 errors into storage errors.

Group commit: with synchronous=FULL every COMMIT is a WAL fsync, and
concurrent deliveries would pay one each, one after the other. Writes
submitted with run_grouped() that are waiting in the queue together run
in ONE transaction, each inside its own SAVEPOINT (a job that fails is
rolled back alone and gets its own exception), and share one COMMIT. No
job hears of its result before that COMMIT: acknowledged still means
durable. Jobs are reordered only among jobs that were all pending at the
same time, which no caller can tell apart from some sequential order.
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
# Most grouped writes one COMMIT covers. Every job of a group waits for the
# group's COMMIT, so this bounds the extra latency a long queue can add.
GROUP_COMMIT_MAX_JOBS = 64


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
        self.grouped = False  # inside a group transaction (see DbThread._run_group)
        self.last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
        self.data_version = self._data_version()

    def _data_version(self) -> int:
        return int(self.c.execute("PRAGMA data_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        if self.grouped:
            # The group's transaction and this job's SAVEPOINT are already
            # open; the group runner commits or rolls back.
            yield self.c
            return
        # IMMEDIATE takes the write lock up front: two processes that each
        # read under a shared lock and then try to upgrade would deadlock
        # (one gets SQLITE_BUSY at once, busy_timeout cannot help).
        self.c.execute("BEGIN IMMEDIATE")
        self._tx_changes.clear()
        try:
            yield self.c
            self.commit(1)
        except BaseException:
            self.rollback()
            raise

    def commit(self, writes: int) -> None:
        """COMMIT the open write transaction (which did `writes` writes) and
        mark its change rows as ours."""
        before = self._writes
        self._writes += writes
        if self._writes // _TRIM_EVERY != before // _TRIM_EVERY:
            self.c.execute(
                "DELETE FROM changes WHERE at < ?", (time.time() - CHANGE_RETENTION_S,)
            )
        self.c.execute("COMMIT")
        for seq, fid in self._tx_changes:
            self._own_seqs.add(seq)
            self.committed.append(fid)
        self._tx_changes.clear()

    def rollback(self) -> None:
        self._tx_changes.clear()
        if self.c.in_transaction:
            self.c.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several statements see one snapshot."""
        if self.grouped:  # already inside the group's transaction
            yield self.c
            return
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
        self._q.put((None, (), fut, loop, False))
        await fut
        if self._thread is not None:
            self._thread.join()  # it has returned already or is about to

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run fn(db, *args) on its own (its transactions are its own)."""
        return self._submit(fn, args, False)

    def run_grouped(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run a write fn(db, *args) that may share its COMMIT with other
        grouped writes queued at the same time (see the module docstring).
        fn must touch nothing but the database, through db.write() (and
        db.read()), so that it can be rolled back and run again."""
        return self._submit(fn, args, True)

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...],
                grouped: bool) -> asyncio.Future[T]:
        if not self._started:
            raise StorageError("store is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._q.put((fn, args, fut, loop, grouped))
        return fut

    # --- worker side -----------------------------------------------------
    def _main(self) -> None:
        db: Db | None = None
        backlog: list[Any] = []  # jobs taken from the queue while forming a group
        while True:
            job = backlog.pop(0) if backlog else self._q.get()
            fn, args, fut, loop, grouped = job
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
            if grouped:
                group = [job]
                # Only what is already queued: never wait for more work.
                while len(group) < GROUP_COMMIT_MAX_JOBS:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    (group if nxt[4] else backlog).append(nxt)
                if len(group) > 1:
                    self._run_group(db, group)
                    continue
            self._run_one(db, job)

    def _run_one(self, db: Db, job: Any) -> None:
        fn, args, fut, loop, _ = job
        try:
            result, error = fn(db, *args), None
        except BaseException as exc:
            result, error = None, translate(exc)
        changed, db.committed = db.committed, []
        loop.call_soon_threadsafe(self._done, fut, result, error, changed)

    def _run_group(self, db: Db, group: list[Any]) -> None:
        """Run grouped writes in one transaction, one SAVEPOINT each, one
        COMMIT; report every job's own outcome after that COMMIT."""
        c = db.c
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            c.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # busy: every job gets the error
            self._report(db, group, [(None, translate(exc))] * len(group))
            return
        db.grouped = True
        writes = 0
        try:
            for fn, args, _fut, _loop, _ in group:
                mark = len(db._tx_changes)
                c.execute("SAVEPOINT grouped_job")
                try:
                    result = fn(db, *args)
                except BaseException as exc:
                    if not c.in_transaction:
                        # SQLite aborted the whole transaction (I/O error,
                        # disk full): the jobs before this one are undone
                        # too. Nothing was committed, so run each alone.
                        raise _GroupLost() from exc
                    c.execute("ROLLBACK TO grouped_job")
                    c.execute("RELEASE grouped_job")
                    del db._tx_changes[mark:]
                    outcomes.append((None, translate(exc)))
                    continue
                c.execute("RELEASE grouped_job")
                writes += 1
                outcomes.append((result, None))
            db.grouped = False
            db.commit(writes)
        except _GroupLost:
            db.grouped = False
            db.rollback()
            for job in group:
                self._run_one(db, job)
            return
        except BaseException as exc:  # COMMIT (or SAVEPOINT bookkeeping) failed
            db.grouped = False
            db.rollback()
            error = translate(exc)
            outcomes = [(None, error)] * len(group)
        self._report(db, group, outcomes)

    def _report(self, db: Db, group: list[Any],
                outcomes: list[tuple[Any, BaseException | None]]) -> None:
        # One wake-up per event loop for the whole group (normally one loop).
        changed, db.committed = db.committed, []
        per_loop: dict[Any, tuple[list[Any], list[Any]]] = {}
        for job, outcome in zip(group, outcomes):
            futs, outs = per_loop.setdefault(job[3], ([], []))
            futs.append(job[2])
            outs.append(outcome)
        for loop, (futs, outs) in per_loop.items():
            loop.call_soon_threadsafe(self._done_group, futs, outs, changed)
            changed = []  # announced once

    def _done_group(self, futs: list[asyncio.Future[Any]],
                    outcomes: list[tuple[Any, BaseException | None]], changed: list[int]) -> None:
        if changed:
            self._listeners.fire(changed)
        for fut, (result, error) in zip(futs, outcomes):
            self._done(fut, result, error, ())

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


class _GroupLost(Exception):
    """The group's transaction was aborted under it; its jobs run again alone."""
