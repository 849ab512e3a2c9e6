"""The I/O loop of one IMAP connection.

Reads bytes, feeds the sans-I/O reader, hands commands to the session and
writes what it yields. It also runs the conversations that change how bytes
flow: STARTTLS, AUTHENTICATE, IDLE and COMPRESS.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib

from ..observability.metrics import COMMAND_SECONDS
from ..policy.connections import Client, Limited
from ..protocol.imap import commands as c
from ..protocol.imap import responses as r
from ..protocol.imap.events import Invalid, LiteralTooLarge, NeedContinuation, NeedData, RawLine
from ..protocol.imap.parser import is_idle_done, parse_auth_response
from ..protocol.imap.reader import CommandReader
from ..protocol.sasl import Credentials, SaslChallenge
from ..runtime import Runtime
from ..session.imap.login import plaintext_refusal, start_sasl
from ..session.imap.session import ImapSession
from ..session.imap.updates import pending_updates
from . import wakeup
from .connection import Connection
from .imap_output import ImapOutput

log = logging.getLogger("mailgate.imap")


class _Closed(Exception):
    """The peer went away, timed out, or the server is stopping."""


class ImapConnection:
    # Slots: one of these per connection, and a server may hold 10,000 idlers.
    __slots__ = ("conn", "runtime", "settings", "session", "reader", "out", "bad_commands", "client", "frontend",
                 "_decompressor", "_waiter", "_wake_cb", "_timer_slot")

    def __init__(self, conn: Connection, runtime: Runtime) -> None:
        self.conn = conn
        self.runtime = runtime
        self.settings = runtime.imap  # fixed for this connection's life
        self.session = ImapSession(runtime, tls_active=conn.tls_active, can_start_tls=conn.can_start_tls,
                                   remote=str(conn.remote))
        self.reader = self._new_reader()
        self.out = ImapOutput(conn)
        self.bad_commands = 0
        self.client: Client | None = None  # limits, logging, admin disconnects (policy)
        self.frontend = False  # a client access server: proxy after login
        self._decompressor: zlib._Decompress | None = None  # type: ignore[name-defined]
        # Waiting, the connection waits on this one future for everything
        # that may end the wait: bytes, a change of the selected folder, an
        # admin's disconnect, shutdown, a timer (see _sleep).
        self._waiter: asyncio.Future | None = None
        self._wake_cb = self._wake  # one bound method, handed to every source
        self._timer_slot: int | None = None  # armed coarse timer (wakeup.call_at), if any
        self.session.ctx.wake = self._wake_cb

    def _new_reader(self) -> CommandReader:
        return CommandReader(max_line_length=self.settings.max_command_size,
                             max_literal_size=self.settings.max_literal_size,
                             utf8=self.session.ctx.utf8)

    @property
    def utf8(self) -> bool:
        return self.session.ctx.utf8

    async def send(self, response: r.Response) -> None:
        await self.out.send(response, utf8=self.utf8)

    # --- reading -------------------------------------------------------------
    def _timeout(self) -> float:
        if self.session.ctx.account is None:
            return self.settings.pre_authenticated_connection_timeout
        return self.settings.authenticated_connection_timeout

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sleep(self, seconds: float) -> None:
        """Until bytes arrive, a wake-up source calls _wake (folder change,
        kick, shutdown) or about `seconds` pass (a shared coarse timer, up to
        wakeup.TICK late): one future, no task, no timer of its own. Callers
        re-check their deadline: an early wake-up only means sleeping again."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self.conn.set_waiter(waiter)
        now = loop.time()
        # The timer stays armed across wake-ups (re-arming it for each of
        # 10,000 idlers woken by a delivery is wasted work): one still to
        # come, due no later than this deadline, will do.
        slot = self._timer_slot
        if slot is None or wakeup.slot_time(slot) <= now or wakeup.slot_time(slot) > now + seconds + wakeup.TICK:
            if slot is not None:
                wakeup.cancel(slot, self._wake_cb)
            self._timer_slot = wakeup.call_at(now + seconds, self._wake_cb)
        try:
            await waiter
        finally:
            self._waiter = None
            self.conn.set_waiter(None)

    def _disarm(self) -> None:
        if self._timer_slot is not None:
            wakeup.cancel(self._timer_slot, self._wake_cb)
            self._timer_slot = None

    def _take_input(self) -> bool:
        """Feed the reader what has arrived; True if anything did. _Closed at
        end of stream."""
        data = self.conn.read_nowait()
        if data is None:
            return False
        if not data:
            raise _Closed
        if self._decompressor is not None:
            try:
                data = self._decompressor.decompress(data)
            except zlib.error:
                raise _Closed from None
        self.reader.feed(data)
        return True

    async def _bye_and_close(self, text: str) -> None:
        await self.send(r.Condition("BYE", text))
        await self.out.flush()
        raise _Closed

    async def _receive(self, timeout: float) -> None:
        """Feed the reader with the next bytes; _Closed on EOF, timeout or
        server shutdown (after saying BYE)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if (ending := self._end_text()) is not None:
                await self._bye_and_close(ending)
            if self._take_input():
                return
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                await self._bye_and_close("Autologout; idle for too long.")
            await self._sleep(left)

    def _end_text(self) -> str | None:
        if self.runtime.shutting_down.is_set():
            return "Server shutting down."
        if self.client is not None and self.client.is_kicked:
            return self.client.kick_reason
        return None

    async def _raw_line(self) -> RawLine | Invalid:
        while True:
            event = self.reader.next_line()
            if not isinstance(event, NeedData):
                return event
            await self.out.flush()
            await self._receive(self._timeout())

    # --- the loop -------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self.send(self.session.greeting())
            await self.out.flush()
            while not self.session.logged_out:
                if self.runtime.shutting_down.is_set():
                    await self.send(r.Condition("BYE", "Server shutting down."))
                    break
                event = self.reader.next_event()
                if isinstance(event, NeedData):
                    await self.out.flush()
                    await self._receive(self._timeout())
                elif isinstance(event, NeedContinuation):
                    await self.send(event.to_response())
                    await self.out.flush()
                elif isinstance(event, (Invalid, LiteralTooLarge)):
                    await self.send(event.to_response())
                    if not await self._count_bad():
                        break
                else:
                    started = time.perf_counter()
                    await self._command(event)
                    COMMAND_SECONDS.labels("imap4", event.name).observe(time.perf_counter() - started)
            await self.out.flush()
        except _Closed:
            pass
        except Exception:
            log.exception("IMAP session from %s failed", self.conn.remote)
            try:
                await self.send(r.Condition("BYE", "Internal server error."))
                await self.out.flush()
            except Exception:  # the connection may be what failed
                pass
        finally:
            self.session.close()

    async def _count_bad(self) -> bool:
        self.bad_commands += 1
        if self.bad_commands > self.settings.max_bad_commands:
            await self.send(r.Condition("BYE", "Too many invalid commands."))
            return False
        return True

    async def _command(self, cmd: c.Command) -> None:
        from ..protocol.imap.states import allowed

        special = {c.StartTLS: self._starttls, c.Authenticate: self._authenticate,
                   c.Idle: self._idle, c.Compress: self._compress}.get(type(cmd))
        if special is not None and allowed(self.session.state, cmd):
            await special(cmd)
            return
        async for response in self.session.handle(cmd):
            if self.frontend and isinstance(cmd, c.Login) and isinstance(response, r.Tagged):
                await self._login_done(response)
                continue
            await self.send(response)
            if isinstance(response, r.Tagged) and response.status == "BAD":
                if not await self._count_bad():
                    raise _Closed
        self.reader.utf8 = self.utf8  # ENABLE UTF8=ACCEPT changes how names parse

    async def _login_done(self, tagged: r.Tagged) -> None:
        """A login's completion. On a frontend a successful one hands the
        client to the mailbox's backend instead (issue: frontend/backend)."""
        if not (self.frontend and tagged.status == "OK"):
            await self.send(tagged)
            return
        from ..proxy.frontend import hand_over_imap

        await self.out.flush()
        if await hand_over_imap(self, tagged.tag):
            raise _Closed  # the splice ran until one side closed

    # --- conversations ----------------------------------------------------------
    async def _starttls(self, cmd: c.StartTLS) -> None:
        if not self.session.ctx.can_start_tls:
            await self.send(r.Tagged(cmd.tag, "BAD", "TLS is already active or not available."))
            return
        await self.send(r.Tagged(cmd.tag, "OK", "Begin TLS negotiation now."))
        await self.out.flush()
        if not await self.conn.start_tls():
            raise _Closed
        self.session.tls_started()
        # Anything the client pipelined before the handshake is discarded
        # (RFC 3501 6.2.1: no plaintext command injection).
        self.reader = self._new_reader()

    async def _authenticate(self, cmd: c.Authenticate) -> None:
        ctx = self.session.ctx
        refused = plaintext_refusal(ctx, cmd.tag, via_sasl=True)
        if refused is not None:
            await self.send(refused)
            return
        exchange = start_sasl(cmd.mechanism)
        if exchange is None:
            await self.send(r.Tagged(cmd.tag, "NO", f"Unsupported mechanism {cmd.mechanism}.", r.CANNOT))
            return
        step = exchange.start(cmd.initial_response)
        while isinstance(step, SaslChallenge):
            await self.send(r.Continuation(data=step.data))
            line = await self._raw_line()
            if isinstance(line, Invalid):
                await self.send(r.Tagged(cmd.tag, "BAD", line.text))
                return
            answer = parse_auth_response(line.line, cmd.tag)
            if answer is None:
                await self.send(r.Tagged(cmd.tag, "BAD", "Authentication cancelled."))
                return
            if isinstance(answer, Invalid):
                await self.send(answer.to_response())
                return
            step = exchange.step(answer)
        if isinstance(step, Credentials):
            await self._login_done(await self.session.login(cmd.tag, step.username, step.password,
                                                            via_sasl=True, authzid=step.authzid))
        else:
            await self.send(r.Tagged(cmd.tag, "NO", step.text, r.AUTHENTICATIONFAILED))

    async def _compress(self, cmd: c.Compress) -> None:
        if self.out.compressing:
            await self.send(r.Tagged(cmd.tag, "NO", "Compression is already active.", r.COMPRESSIONACTIVE))
            return
        if cmd.mechanism.upper() != "DEFLATE":
            await self.send(r.Tagged(cmd.tag, "BAD", f"Unknown compression mechanism {cmd.mechanism}."))
            return
        await self.send(r.Tagged(cmd.tag, "OK", "DEFLATE active."))
        await self.out.flush()
        self.out.start_compression()
        self._decompressor = zlib.decompressobj(-15)

    async def _idle(self, cmd: c.Idle) -> None:
        """RFC 2177: report changes as they happen until DONE. The idle timeout
        does not apply (clients re-IDLE every 29 minutes); keepalives keep NAT
        mappings alive. Waiting costs one future and one timer (_sleep): with
        10,000 idlers, a delivery must cost each of them as little as possible."""
        ctx = self.session.ctx
        await self.send(r.Continuation("idling"))
        keepalive = max(1, self.settings.idle_keepalive_interval)
        loop = asyncio.get_running_loop()
        quiet_until = loop.time() + keepalive
        while True:
            # Updates carry no streamed literal: queued without a coroutine
            # each, written without waiting unless the socket is backed up.
            for response in await pending_updates(ctx, allow_expunge=True):
                self.out.queue(response, utf8=self.utf8)
            if self.out.flush_nowait():
                await self.conn.drain()
            line = self.reader.next_line()
            if not isinstance(line, NeedData):
                break
            if (ending := self._end_text()) is not None:
                await self._bye_and_close(ending)  # flushed: the BYE must reach the idler
            if self._take_input() or (ctx.selected is not None and ctx.selected.dirty):
                quiet_until = loop.time() + keepalive
                continue
            left = quiet_until - loop.time()
            if left <= 0:
                await self.send(r.Condition("OK", "Still here"))
                quiet_until = loop.time() + keepalive
                continue
            await self._sleep(left)
        if isinstance(line, RawLine) and is_idle_done(line.line):
            await self.send(r.Tagged(cmd.tag, "OK", "IDLE terminated."))
        else:
            await self.send(r.Tagged(cmd.tag, "BAD", "Expected DONE."))


_LIMIT_TEXT = {Limited.SERVER: "Too many connections; try again later.",
               Limited.IP: "Too many connections from your address; try again later."}


async def run_imap(conn: Connection, runtime: Runtime, *, mode: str = "client") -> None:
    """mode: "client" (one node, no proxy hop), "frontend" (proxy after the
    login policy passed) or "backend" (a ProxyTargetPort listener: proxied
    logins only)."""
    imap = ImapConnection(conn, runtime)
    imap.frontend = mode == "frontend"
    client = imap.client = imap.session.ctx.client = runtime.policy.open_connection("imap4", conn, imap.settings)
    client.backend = mode == "backend"
    # Shutdown and an admin's disconnect wake the connection's one waiter
    # (ImapConnection._sleep) without a task each.
    client.on_kick = imap._wake_cb
    wakeup.subscribe(runtime.shutting_down, imap._wake_cb)
    try:
        if client.refused is not None:
            await imap.send(r.Condition("BYE", _LIMIT_TEXT.get(client.refused, "Too many connections.")))
            await imap.out.flush()
            return
        await imap.run()
    finally:
        wakeup.unsubscribe(runtime.shutting_down, imap._wake_cb)
        imap._disarm()
        client.on_kick = None
        client.close()
