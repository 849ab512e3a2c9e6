"""One IMAP session: the state, the dispatch table and the simple commands.

STARTTLS, AUTHENTICATE, IDLE and COMPRESS change how bytes flow, so the
driver (transport/imap_driver.py) runs those conversations and calls back
into this session for the decisions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from ... import __version__
from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...protocol.imap.states import State, allowed
from ...runtime import Runtime
from ...storage.errors import StorageError
from .capabilities import for_context
from .context import SessionContext
from .login import log_in
from .messages import handle_append, handle_copy, handle_store
from .selection import handle_close, handle_expunge, handle_noop, handle_select, leave_folder

Handler = Callable[[SessionContext, Any], AsyncIterator[r.Response]]
ENABLEABLE = {"CONDSTORE": "CONDSTORE", "QRESYNC": "QRESYNC", "UTF8=ACCEPT": "UTF8=ACCEPT",
              "IMAP4REV2": "IMAP4rev2"}


class ImapSession:
    __slots__ = ("ctx", "logged_out", "_handlers")  # one per connection: 10,000 idlers

    def __init__(self, runtime: Runtime, *, tls_active: bool, can_start_tls: bool, remote: str = "") -> None:
        self.ctx = SessionContext(runtime, tls_active=tls_active, can_start_tls=can_start_tls, remote=remote)
        self.logged_out = False
        self._handlers = _shared_handler_table()

    # --- state -------------------------------------------------------------
    @property
    def state(self) -> State:
        if self.logged_out:
            return State.LOGOUT
        if self.ctx.account is None:
            return State.NOT_AUTHENTICATED
        return State.SELECTED if self.ctx.selected is not None else State.AUTHENTICATED

    def capabilities(self) -> tuple[str, ...]:
        return for_context(self.ctx)

    def greeting(self) -> r.Condition:
        return r.Condition("OK", self.ctx.runtime.imap.banner, r.capability_code(self.capabilities()))

    def tls_started(self) -> None:
        self.ctx.tls_active = True
        self.ctx.can_start_tls = False

    def close(self) -> None:
        leave_folder(self.ctx)

    # --- commands ------------------------------------------------------------
    async def handle(self, cmd: c.Command) -> AsyncIterator[r.Response]:
        if not allowed(self.state, cmd):
            yield r.Tagged(cmd.tag, "BAD", f"{cmd.name} is not allowed in the {self.state.value} state.")
            return
        handler = self._handlers.get(type(cmd))
        if handler is None:
            yield r.Tagged(cmd.tag, "BAD", f"{cmd.name} is not supported here.")
            return
        if self.ctx.account is not None and self.ctx.mailbox is None and not isinstance(cmd, c.Logout):
            try:  # logged in without a bound mailbox database (set directly, as tests do)
                await self.ctx.bind_mailbox()
            except StorageError:
                yield r.Tagged(cmd.tag, "NO", "The mailbox is temporarily unavailable.", r.UNAVAILABLE)
                return
        async for response in handler(self.ctx, cmd):
            yield response
        if isinstance(cmd, c.Logout):
            self.logged_out = True
            leave_folder(self.ctx)

    async def login(self, tag: str, username: str, password: str, *, via_sasl: bool,
                    authzid: str = "") -> r.Tagged:
        return await log_in(self.ctx, tag, username, password, via_sasl=via_sasl, authzid=authzid)


async def _capability(ctx: SessionContext, cmd: c.Capability) -> AsyncIterator[r.Response]:
    yield r.Capabilities(for_context(ctx))
    yield r.Tagged(cmd.tag, "OK", "Capability completed.")


async def _logout(ctx: SessionContext, cmd: c.Logout) -> AsyncIterator[r.Response]:
    yield r.Condition("BYE", "Logging out.")
    yield r.Tagged(cmd.tag, "OK", "Logout completed.")


async def _id(ctx: SessionContext, cmd: c.Id) -> AsyncIterator[r.Response]:
    ctx.client_id = cmd.params
    yield r.IdData((("name", "mailgate"), ("version", __version__)))
    yield r.Tagged(cmd.tag, "OK", "ID completed.")


async def _login(ctx: SessionContext, cmd: c.Login) -> AsyncIterator[r.Response]:
    password = cmd.password.decode("utf-8", "replace")
    yield await log_in(ctx, cmd.tag, cmd.userid, password, via_sasl=False)


async def _enable(ctx: SessionContext, cmd: c.Enable) -> AsyncIterator[r.Response]:
    newly: list[str] = []
    for name in cmd.capabilities:
        known = ENABLEABLE.get(name.upper())
        if known is None or known in ctx.enabled:
            continue
        ctx.enabled.add(known)
        newly.append(known)
        if known == "QRESYNC":
            ctx.enabled.add("CONDSTORE")  # RFC 7162 3.2.3: QRESYNC implies CONDSTORE
    yield r.Enabled(tuple(newly))
    yield r.Tagged(cmd.tag, "OK", "ENABLE completed.")


_TABLE: dict[type, Handler] | None = None


def _shared_handler_table() -> dict[type, Handler]:
    """Built once per process: a session holds a reference, not a copy."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _handler_table()
    return _TABLE


def _handler_table() -> dict[type, Handler]:
    from .folders import FOLDER_HANDLERS
    from .reading import READING_HANDLERS

    table: dict[type, Handler] = {
        c.Capability: _capability,
        c.Login: _login,
        c.Logout: _logout,
        c.Id: _id,
        c.Enable: _enable,
        c.Noop: handle_noop,
        c.Check: handle_noop,
        c.Select: handle_select,
        c.Close: handle_close,
        c.Unselect: handle_close,
        c.Expunge: handle_expunge,
        c.Store: handle_store,
        c.Copy: handle_copy,
        c.Move: handle_copy,
        c.Append: handle_append,
    }
    table.update(FOLDER_HANDLERS)
    table.update(READING_HANDLERS)
    return table
