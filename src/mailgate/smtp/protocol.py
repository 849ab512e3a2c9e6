"""aiosmtpd's SMTP and LMTP state machines, with what mailgate adds:
our envelope (recipients already resolved at RCPT), no AUTH outside
submission, PIPELINING advertised, and connection tracking for draining.

Two costs of aiosmtpd's per message are cut here: plain paths skip the
email package's address parser (addresses.py), and the replies to a
pipelined MAIL/RCPT/RSET wait for the next reply when the client has
already sent its next command (RFC 2920 3.2: the server may hold replies
while more commands are buffered), so MAIL+RCPT+DATA cost one write and one
wake-up of the client instead of three."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, AnyStr

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, Envelope, syntax

from ..storage.models import Account
from . import replies
from .addresses import simple_path
from .data import TERMINATOR, DataCollector, DataState, boundary
from .routing import Service

log = logging.getLogger("mail.log")  # aiosmtpd's logger: its DATA messages stay where they were

# At most this many replies wait for a later one (a client that pipelines a
# long run of commands still gets its answers in bounded batches).
MAX_HELD_REPLIES = 64


def _may_hold(
    command: Callable[[Any, str], Awaitable[None]],
) -> Callable[[Any, str], Awaitable[None]]:
    """Replies of this command may be held (see push); wraps keep aiosmtpd's
    HELP syntax attributes."""

    @functools.wraps(command)
    async def run(self: MailgateSMTP, arg: str) -> None:
        self._may_hold = True
        try:
            await command(self, arg)
        finally:
            self._may_hold = False

    return run


class MailgateEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        # Resolved at RCPT time so DATA neither looks up nor parses again.
        self.local: dict[str, Account] = {}  # recipient as given -> mailbox
        self.remote: list[str] = []  # for the relay queue


@dataclass
class Tracker:
    """Open connections of one listener, for a graceful stop."""

    open: set[MailgateSMTP] = field(default_factory=set)

    def close_all(self) -> None:
        for proto in list(self.open):
            if proto.transport is not None:
                proto.transport.close()


class MailgateSMTP(SMTP):
    def __init__(self, handler: Any, *, service: Service, tracker: Tracker, **kwargs: Any) -> None:
        self.service = service
        self.tracker = tracker
        self._held: list[bytes] = []  # replies not yet written (see push)
        self._may_hold = False
        super().__init__(handler, **kwargs)

    smtp_MAIL = _may_hold(SMTP.smtp_MAIL)
    smtp_RCPT = _may_hold(SMTP.smtp_RCPT)
    smtp_RSET = _may_hold(SMTP.smtp_RSET)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading whole buffered lines at a time (data.py);
        the checks before and the hook after are aiosmtpd's."""
        if self._decode_data:  # not ours (listener.py): aiosmtpd's own
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        body = DataCollector(self.data_size_limit, self.line_length_limit)
        reader = self._reader
        while self.transport is not None:
            buffered = getattr(reader, "_buffer", b"")  # StreamReader's own buffer
            n, done = boundary(buffered, body.at_line_start)
            try:
                if n:
                    chunk = await reader.readexactly(n)  # buffered: returns at once
                else:  # no whole line yet: wait for one, as aiosmtpd does
                    chunk = await reader.readuntil(b"\r\n")
                    done = body.at_line_start and chunk == TERMINATOR
                    n = len(chunk)
            except asyncio.CancelledError:
                log.info("Connection lost during DATA")
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:
                # A line longer than the reader's limit: refused after the
                # terminator (RFC 5321 4.2.5); drain it meanwhile.
                body.overrun(len(await reader.read(exc.consumed)))
                continue
            if done:
                body.feed(chunk[:n - len(TERMINATOR)])
                break
            body.feed(chunk)
        if body.state is DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._set_post_data_state()
            return
        if body.state is DataState.TOO_MUCH:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        content = body.content()
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")  # type: ignore[assignment]
        self._held.append(bytes(status) + b"\r\n")
        if self._may_hold and len(self._held) < MAX_HELD_REPLIES and self._command_waiting():
            return  # sent with the next command's reply, which comes at once
        data = b"".join(self._held)
        self._held.clear()
        self._writer.write(data)
        await self._writer.drain()

    def _command_waiting(self) -> bool:
        """A whole command line is already buffered: aiosmtpd reads it next
        without waiting for the client, so a held reply cannot stall it."""
        buffered = getattr(self._reader, "_buffer", None)  # StreamReader's own buffer
        return buffered is not None and b"\n" in buffered

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        fast = simple_path(arg)
        if fast is None:
            return super()._getaddr(arg)  # type: ignore[no-any-return]
        address, params = fast
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None  # as aiosmtpd's own parser answers
        return address, params

    def _create_envelope(self) -> MailgateEnvelope:
        return MailgateEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tracker.open.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.tracker.open.discard(self)
        super().connection_lost(error)

    @property
    def tls_active(self) -> bool:
        return self._tls_protocol is not None

    async def smtp_AUTH(self, arg: str) -> None:
        if self.service is not Service.SUBMISSION:
            await self.push(replies.AUTH_NOT_OFFERED)
            return
        await super().smtp_AUTH(arg)


class MailgateLMTP(LMTP, MailgateSMTP):
    """LHLO instead of EHLO (aiosmtpd's LMTP), everything else as above;
    the handler answers DATA with one reply per recipient (RFC 2033)."""
