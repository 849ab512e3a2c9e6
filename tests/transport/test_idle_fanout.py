"""IDLE fan-out: what an idle connection costs and what wakes it.

An idler waits on one future (no task per wake-up source), shares the
shutdown watch and a coarse timer wheel with the other idlers, and a
delivery's EXISTS reaches every idler."""

from __future__ import annotations

import asyncio

import pytest

from mailgate.protocol.imap import responses as r
from mailgate.session.imap import selected
from mailgate.transport import connection as connection_module
from mailgate.transport import wakeup
from mailgate.transport.connection import READ_BUFFER_LIMIT, Connection
from mailgate.transport.imap_output import ImapOutput

from .conftest import Server, command, login


async def _idler(server: Server):
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    assert (await command(reader, writer, b"s SELECT INBOX", b"s"))[-1].startswith(b"s OK")
    writer.write(b"i IDLE\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"+ ")
    return reader, writer


async def _quiet(reader: asyncio.StreamReader) -> None:
    """Skip keepalives until EXISTS."""
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if line.endswith(b"EXISTS\r\n"):
            return


async def test_idlers_cost_one_task_each_and_all_see_a_delivery(server: Server) -> None:
    before = len(asyncio.all_tasks())
    idlers = [await _idler(server) for _ in range(12)]
    await asyncio.sleep(0.1)
    # one task per connection (its driver), none per wake-up source
    assert len(asyncio.all_tasks()) - before <= 12 + 1  # + the shared shutdown watch
    assert wakeup.subscribers(server.runtime.shutting_down) == 12
    sender_r, sender_w = await server.connect(secure=True)
    await login(sender_r, sender_w)
    sender_w.write(b"x APPEND INBOX {12+}\r\nSubject: x\r\n\r\n")
    await sender_w.drain()
    await asyncio.gather(*(_quiet(reader) for reader, _ in idlers))
    for reader, writer in idlers:
        writer.write(b"DONE\r\n")
        line = await asyncio.wait_for(reader.readline(), 5)
        while line.startswith(b"* "):  # RECENT, keepalives
            line = await asyncio.wait_for(reader.readline(), 5)
        assert line.startswith(b"i OK")


async def test_an_admin_disconnect_wakes_an_idler(server: Server) -> None:
    reader, writer = await _idler(server)
    clients = server.runtime.policy.tracker.sessions_of("ann@example.com")
    assert clients
    for client in clients:
        client.kick("Disconnected by the administrator.")
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"* BYE") and b"administrator" in line


async def test_shutdown_wakes_idlers_and_they_unsubscribe(server: Server) -> None:
    idlers = [await _idler(server) for _ in range(3)]
    server.runtime.shutting_down.set()
    for reader, _ in idlers:
        line = await asyncio.wait_for(reader.readline(), 5)
        assert line.startswith(b"* BYE") and b"shutting down" in line
    await asyncio.sleep(0.1)
    assert wakeup.subscribers(server.runtime.shutting_down) == 0


async def test_wheel_timers_fire_not_early_and_cancel() -> None:
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    start = loop.time()
    wakeup.call_at(start + 0.3, lambda: fired.append(loop.time()))
    cancelled = lambda: fired.append(-1.0)  # noqa: E731
    slot = wakeup.call_at(start + 0.3, cancelled)
    wakeup.cancel(slot, cancelled)
    await asyncio.sleep(0.3 + wakeup.TICK + 0.1)
    assert len(fired) == 1 and fired[0] >= start + 0.3
    assert wakeup.pending_timers() == 0


async def test_fanout_calls_every_subscriber_once_and_forgets_the_event() -> None:
    event = asyncio.Event()
    calls: list[int] = []
    callbacks = [lambda i=i: calls.append(i) for i in range(5)]
    for cb in callbacks:
        wakeup.subscribe(event, cb)
    wakeup.unsubscribe(event, callbacks[0])
    assert wakeup.subscribers(event) == 4
    event.set()
    await asyncio.sleep(0.01)
    assert sorted(calls) == [1, 2, 3, 4]
    assert wakeup.subscribers(event) == 0


async def test_a_cancelled_waiter_does_not_cancel_the_shared_read(monkeypatch) -> None:
    gate = asyncio.Event()

    async def slow_read(store, folder_id, since):
        await gate.wait()
        return (7, [], [])

    monkeypatch.setattr(selected, "_read_changes", slow_read)
    store = object()
    first = asyncio.ensure_future(selected.shared_changes(store, 1, 5, 0))
    second = asyncio.ensure_future(selected.shared_changes(store, 1, 5, 0))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    assert await second == (7, [], [])
    with pytest.raises(asyncio.CancelledError):
        await first


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.9", 4321), "sockname": ("127.0.0.1", 143)}.get(name, default)


async def test_connection_reads_with_back_pressure_and_one_waiter() -> None:
    conn = Connection(implicit_tls=False, tls_context=None)
    transport = _Transport()
    conn.connection_made(transport)
    assert str(conn.remote) == "127.0.0.9:4321" and conn.read_nowait() is None
    waiter = asyncio.get_running_loop().create_future()
    conn.set_waiter(waiter)
    conn.data_received(b"a NOOP\r\n")
    assert waiter.done()
    conn.data_received(b"x" * READ_BUFFER_LIMIT)
    assert transport.paused  # over the limit: the socket is not read
    assert conn.read_nowait(8) == b"a NOOP\r\n"
    assert conn.read_nowait(READ_BUFFER_LIMIT) == b"x" * READ_BUFFER_LIMIT
    assert not transport.paused and conn.read_nowait() is None
    conn.eof_received()
    assert await conn.read() == b""


async def test_queued_updates_are_written_without_waiting() -> None:
    conn = Connection(implicit_tls=False, tls_context=None)
    transport = _Transport()
    conn.connection_made(transport)
    out = ImapOutput(conn)
    out.queue(r.Exists(3))
    out.queue(r.Exists(3))
    assert not out.flush_nowait()
    assert transport.written == [b"* 3 EXISTS\r\n* 3 EXISTS\r\n"]
    assert connection_module.TLS_READ_BUFFER <= 64 * 1024


async def test_big_pieces_go_out_in_order_without_being_copied_and_writers_may_queue_a_batch() -> None:
    from mailgate.protocol.imap.serializer import KEEP_APART

    class _Limited(_Transport):
        def __init__(self) -> None:
            super().__init__()
            self.limits: tuple[int, int | None] | None = None
            self.lines: list[list[bytes]] = []

        def set_write_buffer_limits(self, high=None, low=None) -> None:
            self.limits = (high, low)

        def writelines(self, pieces) -> None:
            self.lines.append(list(pieces))

    conn = Connection(implicit_tls=False, tls_context=None)
    transport = _Limited()
    conn.connection_made(transport)
    assert transport.limits == (connection_module.WRITE_BUFFER_HIGH, None)
    assert connection_module.WRITE_BUFFER_HIGH >= 256 * 1024  # a batch of bodies fits before drain
    out = ImapOutput(conn)
    big = b"x" * KEEP_APART
    rows = r.FetchRows.from_rows(("UID", "BODY[]"), ((1, 1, big), (2, 2, b"small\r\n")))
    out.queue(r.Exists(2))
    await out.send(rows)
    await out.send(r.Tagged("A1", "OK", "Fetch completed."))
    await out.flush()
    assert len(transport.lines) == 1 and transport.written == []
    pieces = transport.lines[0]
    assert any(piece is big for piece in pieces)  # handed over as it is
    assert b"".join(pieces) == (b"* 2 EXISTS\r\n* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(big) + big
                                + b")\r\n* 2 FETCH (UID 2 BODY[] {7}\r\nsmall\r\n)\r\nA1 OK Fetch completed.\r\n")
