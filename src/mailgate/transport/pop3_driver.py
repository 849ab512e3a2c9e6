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
    out = bytearray()
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
                COMMAND_SECONDS.labels("pop3", type(event).__name__.upper()).observe(time.perf_counter() - started)
                await _write_outcome(conn, out, outcome)
                if outcome.after is After.HAND_OVER:
                    from ..proxy.frontend import hand_over_pop3

                    await _flush(conn, out)
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
            data = await _read(conn, stop, session.idle_timeout, kicked)
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
        stop.cancel()
        kicked.cancel()
        await session.close()
        client.close()
        await conn.close()


_LIMIT_TEXT = {Limited.SERVER: "Too many connections; try again later.",
               Limited.IP: "Too many connections from your address; try again later.",
               Limited.USER: "Too many connections for this mailbox; try again later."}
_TIMEOUT = object()
_SHUTDOWN = object()


async def _read(conn: Connection, stop: asyncio.Future[object], timeout: float,
                kicked: asyncio.Future[object] | None = None) -> bytes | object:
    """Bytes, b"" when the peer closed, or _TIMEOUT / _SHUTDOWN."""
    read = asyncio.ensure_future(conn.read())
    try:
        done, _pending = await asyncio.wait(
            {read, stop} | ({kicked} if kicked is not None else set()), timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if not read.done():
            read.cancel()
            await asyncio.wait({read})  # let it finish; our own cancellation still propagates
    if stop in done or (kicked is not None and kicked in done):
        # Stopping wins over a command that arrived at the same moment: the
        # client gets the -ERR [SYS/TEMP] that tells it to come back later.
        return _SHUTDOWN
    if read in done:
        return read.result()
    return _TIMEOUT


async def _write_outcome(conn: Connection, out: bytearray, outcome: Outcome) -> None:
    for response in outcome.responses:
        if isinstance(response, Stream):
            async with contextlib.aclosing(encode_stream(response)) as chunks:
                async for chunk in chunks:
                    out += chunk
                    if len(out) >= FLUSH_AT:
                        await _flush(conn, out)
        else:
            out += encode(response)
    if len(out) >= FLUSH_AT:
        await _flush(conn, out)


async def _flush(conn: Connection, out: bytearray) -> None:
    if not out:
        return
    conn.write(bytes(out))
    out.clear()
    await conn.drain()
    if conn.closed:
        raise _Closed
