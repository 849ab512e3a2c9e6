"""The PostgresStore's plumbing: pool, transactions, errors, change signal.

- Writes run as functions f(tx, ...) inside one transaction (PgDb.write).
  A deadlock or serialization failure is retried: the function only touches
  the database until it returns, so running it again is safe.
- Writes are shielded from cancellation: like SqliteStore's worker thread,
  a started write runs to its end and is announced even if the caller went
  away, so a cancelled IMAP command never leaves a half-announced change.
- Changes: a write collects the folder ids it touched; before COMMIT one
  pg_notify() per ~1000 ids goes out on CHANNEL (NOTIFY is transactional:
  delivered on commit, dropped on rollback). Each process LISTENs on one
  dedicated connection and fires its listeners for other stores' writes;
  its own writes are fired locally right after COMMIT (the payload carries
  the writing store's random token so it can recognise and skip them).
- Errors: asyncpg and OS errors become storage errors here, nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from .errors import AlreadyExists, NotFound, StorageError
from .notify import Listeners

log = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL = "mailgate_changes"
_IDS_PER_NOTIFY = 1000  # ids of up to 20 digits: well under NOTIFY's 8000-byte payload
_RETRIES = 5
_RECONNECT_S = (0.1, 0.5, 1.0, 2.0, 5.0)


def translate(exc: BaseException) -> BaseException:
    """Map driver errors to storage errors; leave everything else alone."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, asyncpg.UniqueViolationError):
        return AlreadyExists(exc.detail or str(exc))
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        # A write referring to an account or folder deleted meanwhile.
        return NotFound(exc.detail or str(exc))
    if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
                        asyncio.TimeoutError)):
        return StorageError(f"{type(exc).__name__}: {exc}")
    return exc


async def _keep_session(conn: Any) -> None:
    """Pool reset hook. The default runs RESET ALL, UNLISTEN * and friends on
    every release: a round trip per operation, for session state we never
    set (pooled connections never SET, LISTEN or take session locks). asyncpg
    still rolls back a transaction left open by a cancelled caller."""


class Tx:
    """One open write transaction: the connection and the folders it touched."""

    __slots__ = ("c", "changed")

    def __init__(self, conn: Any) -> None:
        self.c = conn
        self.changed: list[int] = []

    def log_change(self, *folder_ids: int) -> None:
        self.changed.extend(folder_ids)


class PgDb:
    def __init__(self, dsn: str, listeners: Listeners, *, min_size: int, max_size: int,
                 listen: bool, connect_kwargs: dict[str, Any]) -> None:
        self.dsn = dsn
        self._listeners = listeners
        self._min, self._max = min_size, max_size
        self._listen = listen
        self._kw = connect_kwargs
        self._pool: Any = None
        self._listen_conn: Any = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False
        # Recognises our own notifications; random so that two stores in one
        # process (or two processes) never share it.
        self.token = secrets.token_hex(8)

    # --- lifecycle -------------------------------------------------------
    async def start(self, setup: Callable[[Any], Awaitable[object]]) -> None:
        """Open the pool, run setup(conn) once (migrations), start LISTEN."""
        self._closing = False
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self._min, max_size=self._max, reset=_keep_session,
                **self._kw,
            )
            async with self._pool.acquire() as conn:
                await setup(conn)
            if self._listen:
                await self._start_listening()
        except BaseException as exc:
            await self.stop()
            err = translate(exc)
            if err is exc:
                raise
            raise err from exc

    async def stop(self) -> None:
        self._closing = True
        task, self._reconnect = self._reconnect, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except Exception:  # a wedged connection must not block shutdown
                pool.terminate()

    # --- running operations ----------------------------------------------
    def _require_pool(self) -> Any:
        if self._pool is None:
            raise StorageError("store is not open")
        return self._pool

    async def read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """fn(conn, *args) on a pooled connection, outside any transaction."""
        pool = self._require_pool()
        try:
            async with pool.acquire() as conn:
                return await fn(conn, *args)
        except Exception as exc:
            err = translate(exc)
            if err is exc:  # ours already, or not a driver error (ValueError...)
                raise
            raise err from exc

    async def snapshot(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """fn(conn, *args) in a read-only REPEATABLE READ transaction: its
        statements see one snapshot."""
        pool = self._require_pool()
        try:
            async with pool.acquire() as conn:
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    return await fn(conn, *args)
        except Exception as exc:
            err = translate(exc)
            if err is exc:  # ours already, or not a driver error (ValueError...)
                raise
            raise err from exc

    async def write(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """fn(tx, *args) in one READ COMMITTED transaction, then announce."""
        pool = self._require_pool()
        task = asyncio.ensure_future(self._write(pool, fn, args))
        # If the caller is cancelled, nobody awaits the task: retrieve its
        # outcome anyway so a late error is not reported as "never retrieved"
        # (it was raised to nobody; the write either committed or did not).
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def _write(self, pool: Any, fn: Callable[..., Awaitable[T]],
                     args: tuple[Any, ...]) -> T:
        try:
            async with pool.acquire() as conn:
                attempt = 0
                while True:
                    tx = Tx(conn)
                    try:
                        async with conn.transaction():
                            result = await fn(tx, *args)
                            if tx.changed:
                                await self._notify(conn, tx.changed)
                        break
                    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                        attempt += 1
                        if attempt == _RETRIES:
                            raise
                        await asyncio.sleep(0.01 * attempt)
        except Exception as exc:
            err = translate(exc)
            if err is exc:  # ours already, or not a driver error (ValueError...)
                raise
            raise err from exc
        if tx.changed:
            self._listeners.fire(tx.changed)
        return result

    async def _notify(self, conn: Any, folder_ids: list[int]) -> None:
        ids = list(dict.fromkeys(folder_ids))
        payloads = [
            self.token + " " + ",".join(map(str, ids[i : i + _IDS_PER_NOTIFY]))
            for i in range(0, len(ids), _IDS_PER_NOTIFY)
        ]
        await conn.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL, payloads
        )

    # --- LISTEN ----------------------------------------------------------
    async def _start_listening(self) -> None:
        conn = await asyncpg.connect(self.dsn, **self._kw)
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._on_lost)
        self._listen_conn = conn

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        token, _, ids = payload.partition(" ")
        if token == self.token or not ids:
            return
        try:
            folder_ids = [int(x) for x in ids.split(",")]
        except ValueError:
            log.warning("ignoring a malformed %s payload: %.100r", CHANNEL, payload)
            return
        self._listeners.fire(folder_ids)

    def _on_lost(self, conn: Any) -> None:
        if self._closing or conn is not self._listen_conn:
            return
        self._listen_conn = None
        log.warning("lost the %s LISTEN connection; reconnecting", CHANNEL)
        self._reconnect = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        # Notifications sent while we were away are lost; sessions still see
        # those changes at their next command (they re-read by MODSEQ), only
        # IDLE learns of them late.
        attempt = 0
        while not self._closing:
            try:
                await self._start_listening()
                log.info("%s LISTEN connection restored", CHANNEL)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = _RECONNECT_S[min(attempt, len(_RECONNECT_S) - 1)]
                log.warning("LISTEN reconnect failed (%s); retrying in %.1fs", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
