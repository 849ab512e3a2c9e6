"""The POP3 I/O loop for one connection.

Reads bytes (with the idle timeouts and the shutdown signal), feeds the sans-I/O
reader, hands each event to the session, serializes what it returns and writes.
Pipelined commands (RFC 2449 PIPELINING) are answered in order with one write;
a streamed message is written as it is read, with back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..observability.metrics import COMMAND_SECONDS
from ..policy.connections import Limited
from ..policy.state import MOVED_TEXT
from ..protocol.pop3 import NEED_DATA, After, Code, Err, Outcome, Pop3Reader, Stream, encode, encode_stream
from ..runtime import Runtime
from ..session.pop3 import Pop3Session
from ..storage.errors import StorageError
from .connection import Connection

log = logging.getLogger(__name__)

FLUSH_AT = 256 * 1024  # write and drain once this much output is pending


class _Closed(Exception):
    """The peer went away while we were writing."""


async def run_pop3(conn: Connection, runtime: Runtime, *, mode: str = "client") -> None:
    """mode: "client" (one node), "frontend" (proxy after the login policy
    passed) or "backend" (a ProxyTargetPort listener: proxied logins only)."""
    session = Pop3Session(runtime, tls_active=conn.tls_active, can_start_tls=conn.can_start_tls)
    session.frontend = mode == "frontend"
    reader = Pop3Reader(runtime.pop.max_command_size)
    # Limits, protocol log, metrics, admin disconnects: policy/state.py.
    client = session.client = runtime.policy.open_connection("pop3", conn, runtime.pop)
    client.backend = mode == "backend"
    stop = asyncio.ensure_future(runtime.shutting_down.wait())
    kicked = asyncio.ensure_future(client.kicked.wait())  # `mailbox set --disconnect`
    reads = _Reads(stop, kicked)
    out = _Output()
    # (command, seconds) for the metrics, observed once the replies are sent.
    timed: list[tuple[object, float]] = []
    try:
        if client.refused is not None:
            await _write_outcome(conn, out, Outcome.of(Err(_LIMIT_TEXT[client.refused], Code.SYS_TEMP),
                                                       after=After.CLOSE))
            await _flush(conn, out)
            return
        if runtime.shutting_down.is_set():
            await _write_outcome(conn, out, session.shutdown_outcome())
            await _flush(conn, out)
            return
        await conn.send(encode(session.greeting()))
        while not conn.closed:
            while True:
                reader.max_line = runtime.pop.max_command_size
                reader.expect_sasl(session.awaiting_sasl)
                event = reader.next_event()
                if event is NEED_DATA:
                    break
                started = time.perf_counter()
                outcome = await session.handle(event)
                timed.append((event, time.perf_counter() - started))
                await _write_outcome(conn, out, outcome)
                if outcome.after is After.HAND_OVER:
                    from ..proxy.frontend import hand_over_pop3

                    await _flush(conn, out)
                    _observe(timed)  # the proxied session may last for hours
                    if await hand_over_pop3(conn, runtime, session, reader, client):
                        return
                    continue
                if outcome.after is After.CLOSE:
                    await _flush(conn, out)
                    return
                if outcome.after is After.START_TLS:
                    await _flush(conn, out)
                    if not await conn.start_tls():
                        return
                    # RFC 2595: anything the client sent before the handshake
                    # is discarded, and the session starts afresh.
                    reader.clear()
                    session.tls_started()
                    break
                if runtime.shutting_down.is_set():  # finish this command, then go
                    await _flush(conn, out)
                    return
            await _flush(conn, out)
            # While the client reads what was just sent:
            _observe(timed)
            session.read_ahead()
            data = await reads.read(conn, session.idle_timeout)
            if runtime.shutting_down.is_set():
                data = _SHUTDOWN  # even if a command came in at the same moment
            if data is _TIMEOUT or data is _SHUTDOWN:
                ending = session.timeout_outcome() if data is _TIMEOUT else session.shutdown_outcome()
                if data is _SHUTDOWN and not runtime.shutting_down.is_set():  # an admin's disconnect
                    temporary = Code.SYS_TEMP if client.kick_reason == MOVED_TEXT else None  # reconnect
                    ending = Outcome.of(Err(client.kick_reason, temporary), after=After.CLOSE)
                await _write_outcome(conn, out, ending)
                await _flush(conn, out)
                return
            assert isinstance(data, bytes)
            if not data:
                return  # dropped: no UPDATE, nothing deleted
            reader.receive_data(data)
    except _Closed:
        pass
    except StorageError as exc:  # mid-stream: the reply cannot be finished
        log.warning("POP3 session from %s ended: %s", conn.remote, exc)
    finally:
        reads.close()
        stop.cancel()
        kicked.cancel()
        await session.close()
        client.close()
        await conn.close()
        _observe(timed)


_LIMIT_TEXT = {Limited.SERVER: "Too many connections; try again later.",
               Limited.IP: "Too many connections from your address; try again later.",
               Limited.USER: "Too many connections for this mailbox; try again later."}
_TIMEOUT = object()
_SHUTDOWN = object()


class _Reads:
    """Waits for the client's next bytes until the idle timeout, the server's
    shutdown or an admin's disconnect, which end the pending read by
    cancelling the driver's task (as asyncio.timeout does). The timeout is
    one timer per connection, moved only when it fires before the current
    deadline or a shorter one is asked for: a command costs no task, no
    asyncio.wait over three futures and no timer-heap operations."""

    __slots__ = ("_task", "_loop", "_reading", "_timed_out", "_deadline", "_timer", "fired")

    def __init__(self, *signals: asyncio.Future[Any]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._loop = asyncio.get_running_loop()
        self._reading = False
        self._timed_out = False
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.fired = False  # shutdown or disconnect: no more reads
        for signal in signals:
            signal.add_done_callback(self._signal)

    def _signal(self, signal: asyncio.Future[Any]) -> None:
        if signal.cancelled() or self.fired:  # cancelled: the driver's own clean-up
            return
        self.fired = True
        if self._reading and not self._timed_out:  # else already cancelled
            self._task.cancel()

    def _expire(self) -> None:
        self._timer = None
        if not self._reading or self._timed_out or self.fired:
            return  # the next read() arms a new timer
        if self._loop.time() < self._deadline:  # read again since: wait the rest
            self._timer = self._loop.call_at(self._deadline, self._expire)
            return
        self._timed_out = True
        self._task.cancel()

    async def read(self, conn: Connection, timeout: float) -> bytes | object:
        """Bytes, b"" when the peer closed, or _TIMEOUT / _SHUTDOWN."""
        if self.fired:
            return _SHUTDOWN
        self._deadline = deadline = self._loop.time() + timeout
        timer = self._timer
        if timer is None or timer.when() > deadline:  # none yet, or a shorter timeout now
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._expire)
        self._timed_out = False
        self._reading = True
        try:
            data = await conn.read()
        except asyncio.CancelledError:
            # Ours (timeout or signal) unless someone else cancelled the task too.
            if (self.fired or self._timed_out) and self._task.uncancel() == 0:
                return _SHUTDOWN if self.fired else _TIMEOUT
            raise
        finally:
            self._reading = False
        # Stopping wins over a command that arrived at the same moment: the
        # client gets the -ERR [SYS/TEMP] that tells it to come back later.
        return _SHUTDOWN if self.fired else data

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Output:
    """Replies not yet written: pieces joined once per write, so a RETR's
    one serialized reply goes to the transport without another copy."""

    __slots__ = ("_pieces", "size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        self._pieces.append(data)
        self.size += len(data)

    def take(self) -> bytes:
        pieces = self._pieces
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        self.size = 0
        return data


_TIMERS: dict[type, Any] = {}


def _timer(event: object) -> Any:
    """The command's histogram child, looked up once per command type."""
    kind = type(event)
    child = _TIMERS.get(kind)
    if child is None:
        child = _TIMERS[kind] = COMMAND_SECONDS.labels("pop3", kind.__name__.upper())
    return child


def _observe(timed: list[tuple[object, float]]) -> None:
    if not timed:
        return
    done = timed[:]
    timed.clear()  # each counted once, even if one observation fails
    for event, seconds in done:
        _timer(event).observe(seconds)


async def _write_outcome(conn: Connection, out: _Output, outcome: Outcome) -> None:
    for response in outcome.responses:
        if isinstance(response, Stream):
            async with contextlib.aclosing(encode_stream(response)) as chunks:
                async for chunk in chunks:
                    out.add(chunk)
                    if out.size >= FLUSH_AT:
                        await _flush(conn, out)
        else:
            out.add(encode(response))
    if out.size >= FLUSH_AT:
        await _flush(conn, out)


async def _flush(conn: Connection, out: _Output) -> None:
    if not out.size:
        return
    conn.write(out.take())
    await conn.drain()
    if conn.closed:
        raise _Closed
