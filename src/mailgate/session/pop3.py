"""The POP3 session: typed commands in, typed responses out, over the store.

One Pop3Session per connection. The driver feeds it the events of
protocol.pop3.Pop3Reader and writes what it returns; the session never
touches the socket. Which command is allowed when is decided by
protocol.pop3.states.ALLOWED; handlers are looked up in _HANDLERS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..directory.stores import check_not_moving
from ..policy.gate import check_login
from ..policy.login import Protocol, Refusal, credentials_allowed
from ..protocol.pop3 import (
    After,
    Auth,
    Body,
    Capa,
    Challenge,
    Code,
    Dele,
    Err,
    Event,
    Invalid,
    Lines,
    List,
    Noop,
    Xclient,
    Ok,
    Outcome,
    Pass,
    Prepared,
    Quit,
    Retr,
    Rset,
    SaslCancel,
    SaslResponse,
    Stat,
    State,
    Stls,
    Stream,
    Top,
    TopFilter,
    Uidl,
    User,
    allowed,
    capabilities,
    prepare,
)
from ..protocol.sasl import MECHANISMS, Credentials, SaslChallenge, SaslExchange, Step, decode_base64
from ..runtime import Runtime
from ..settings import PopSettings
from ..storage.blobs import BlobStore
from ..storage.errors import StorageError
from .pop3_maildrop import LOCKS, Maildrop, MaildropLocks, load_maildrop
from .pop3_messages import INLINE_READ_MAX, read_whole, stream_chunks

SASL_MECHANISMS = ("PLAIN", "LOGIN")

AUTH_FAILED = "Authentication failed."
ACCOUNT_REFUSED = "This account may not use POP3. Use Outlook or Outlook on the web."
TLS_FIRST = "Plaintext authentication is not allowed on an unencrypted connection; use STLS first."
SASL_TLS_FIRST = "Authentication is not allowed on an unencrypted connection; use STLS first."
NO_SUCH_MESSAGE = "No such message."
UNREADABLE = "The message cannot be read now."


_TOP_STATUS = Ok("Top of message follows.")


def _retr_status(size: int) -> Ok:
    return Ok(f"{size} octets")


def _number_error(drop: Maildrop, number: int) -> Err:
    if drop.exists(number):
        return Err(f"Message {number} is deleted.")
    return Err(NO_SUCH_MESSAGE)


class Pop3Session:
    def __init__(
        self,
        runtime: Runtime,
        *,
        tls_active: bool,
        can_start_tls: bool,
        locks: MaildropLocks = LOCKS,
    ) -> None:
        self.runtime = runtime
        self.tls_active = tls_active
        self.can_start_tls = can_start_tls
        self.state = State.AUTHORIZATION
        self.bad_commands = 0
        self._locks = locks
        self._pending_user: str | None = None
        self._sasl: SaslExchange | None = None
        self._account_id: int | None = None
        self._drop: Maildrop | None = None
        # The tracked connection (policy.connections.Client), set by the driver:
        # throttling by client IP and the per-user limit. None in unit tests.
        self.client: Any = None
        # A frontend checks the login here, then hands the client over to the
        # mailbox's backend instead of opening the maildrop (proxy/frontend.py).
        self.frontend = False
        self.proxied_account: Any = None
        self._origin: tuple[str, int | None] | None = None  # XCLIENT, on backends
        # The mailbox's database (store, blobs), bound at login (directory/stores.py).
        self._mailbox: tuple[Any, BlobStore] | None = None
        # Read-ahead (see read_ahead): the message just answered (number, and
        # whether by RETR), and the next one once read: (number, blob id,
        # its bytes, None) after a TOP, (number, blob id, None, its RETR
        # reply) after a RETR -- one copy held per idle session, not two.
        self._answered: tuple[int, bool] | None = None
        self._ahead: tuple[int, str, bytes | None, Prepared | None] | None = None

    # --- what the driver asks --------------------------------------------------
    @property
    def settings(self) -> PopSettings:
        return self.runtime.pop  # re-read each time: settings change live

    @property
    def awaiting_sasl(self) -> bool:
        return self._sasl is not None

    @property
    def authenticated(self) -> bool:
        return self.state is not State.AUTHORIZATION

    @property
    def idle_timeout(self) -> float:
        settings = self.settings
        if self.authenticated:
            return float(settings.authenticated_connection_timeout)
        return float(settings.pre_authenticated_connection_timeout)

    def greeting(self) -> Ok:
        return Ok(self.settings.banner)

    def timeout_outcome(self) -> Outcome:
        return Outcome.of(Err("Autologout; idle for too long."), after=After.CLOSE)

    def shutdown_outcome(self) -> Outcome:
        return Outcome.of(Err("Server shutting down.", Code.SYS_TEMP), after=After.CLOSE)

    def read_ahead(self) -> None:
        """Called by the driver once it has answered everything it was sent
        and waits for the client. After RETR or TOP of message n, message
        n + 1 is read now: a download is one command after another, each
        waiting for the last reply, so the read happens while the client is
        busy with message n instead of after its next command arrives.
        After a RETR the reply itself is made now too (stuffed, with its
        status line): the next RETR's answer is then only a write."""
        answered, self._answered = self._answered, None
        if answered is None or self._drop is None:
            return
        number = answered[0] + 1
        entry = self._drop.get(number)
        if entry is None or entry.size > INLINE_READ_MAX:
            return
        try:
            data = read_whole(self.blobs, entry)
        except StorageError:
            self._ahead = None  # the command itself will say so
            return
        if answered[1]:  # keep only the reply: a TOP of it reads the file again
            self._ahead = (number, entry.blob_id, None, prepare(Body(_retr_status(entry.size), data)))
        else:
            self._ahead = (number, entry.blob_id, data, None)

    def tls_started(self) -> None:
        """The STLS handshake succeeded: what was said in clear is forgotten."""
        self.tls_active = True
        self.can_start_tls = False
        self._pending_user = None

    async def close(self) -> None:
        """The connection ends without UPDATE (drop, timeout, shutdown):
        nothing is deleted; the maildrop lock goes."""
        self._release()
        self._sasl = None

    # --- dispatch ----------------------------------------------------------------
    async def handle(self, event: Event) -> Outcome:
        if isinstance(event, Invalid):
            self._sasl = None
            return self._bad(Err(event.text))
        if isinstance(event, (SaslResponse, SaslCancel)):
            return await self._sasl_line(event)
        if not allowed(self.state, event):
            return self._bad(Err("Command not valid in this state."))
        handler = _HANDLERS[type(event)]
        return await handler(self, event)

    def _bad(self, reply: Err) -> Outcome:
        self.bad_commands += 1
        if self.bad_commands >= self.settings.max_bad_commands:
            return Outcome.of(Err("Too many bad commands; closing the connection."), after=After.CLOSE)
        return Outcome.of(reply)

    # --- AUTHORIZATION -------------------------------------------------------------
    def _user_login_allowed(self) -> bool:
        return credentials_allowed(self.settings.login_type, self.tls_active, via_sasl=False)

    def _sasl_allowed(self) -> bool:
        return credentials_allowed(self.settings.login_type, self.tls_active, via_sasl=True)

    async def _capa(self, _command: Capa) -> Outcome:
        lines = capabilities(
            state=self.state,
            user_login=self._user_login_allowed(),
            sasl=SASL_MECHANISMS if self._sasl_allowed() else (),
            stls=self.can_start_tls and not self.tls_active,
        )
        return Outcome.of(Lines(Ok("Capability list follows."), lines))

    async def _stls(self, _command: Stls) -> Outcome:
        if self.tls_active:
            return Outcome.of(Err("TLS is already active."))
        if not self.can_start_tls:
            return Outcome.of(Err("TLS is not available.", Code.SYS_PERM))
        return Outcome.of(Ok("Begin TLS negotiation."), after=After.START_TLS)

    async def _user(self, command: User) -> Outcome:
        if not self._user_login_allowed():
            return Outcome.of(Err(TLS_FIRST, Code.AUTH))
        self._pending_user = command.name
        return Outcome.of(Ok("Send your password."))

    async def _pass(self, command: Pass) -> Outcome:
        if not self._user_login_allowed():
            self._pending_user = None
            return Outcome.of(Err(TLS_FIRST, Code.AUTH))
        user, self._pending_user = self._pending_user, None
        if user is None:
            return Outcome.of(Err("Send USER first."))
        return await self._login(user, command.password)

    async def _auth(self, command: Auth) -> Outcome:
        if command.mechanism is None:  # RFC 1734 clients: list the mechanisms
            mechanisms = SASL_MECHANISMS if self._sasl_allowed() else ()
            lines = tuple(m.encode("ascii") for m in mechanisms)
            return Outcome.of(Lines(Ok("Supported mechanisms follow."), lines))
        if not self._sasl_allowed():
            return Outcome.of(Err(SASL_TLS_FIRST, Code.AUTH))
        factory = MECHANISMS.get(command.mechanism)
        if factory is None:
            return Outcome.of(Err("Unsupported authentication mechanism."))
        initial: bytes | None = None
        if command.initial_response is not None:
            initial = decode_base64(command.initial_response)
            if initial is None:
                return Outcome.of(Err("Invalid base64 in the initial response."))
        self._pending_user = None
        exchange = factory()
        return await self._sasl_step(exchange, exchange.start(initial))

    async def _sasl_line(self, event: SaslResponse | SaslCancel) -> Outcome:
        exchange, self._sasl = self._sasl, None
        if exchange is None:  # cannot happen: the reader parses these only on request
            return self._bad(Err("No authentication in progress."))
        if isinstance(event, SaslCancel):
            return Outcome.of(Err("Authentication cancelled."))
        data = decode_base64(event.data)
        if data is None:
            return Outcome.of(Err("Invalid base64 in the SASL response."))
        return await self._sasl_step(exchange, exchange.step(data))

    async def _sasl_step(self, exchange: SaslExchange, step: Step) -> Outcome:
        if isinstance(step, SaslChallenge):
            self._sasl = exchange
            return Outcome.of(Challenge(step.data))
        if isinstance(step, Credentials):
            return await self._login(step.username, step.password, step.authzid)
        return Outcome.of(Err(step.text, Code.AUTH))

    @property
    def store(self) -> Any:
        """Where the maildrop lives: the mailbox's database once logged in."""
        return self._mailbox[0] if self._mailbox is not None else self.runtime.store

    @property
    def blobs(self) -> BlobStore:
        return self._mailbox[1] if self._mailbox is not None else self.runtime.blobs

    async def _login(self, username: str, password: str, authzid: str = "") -> Outcome:
        try:
            decision = await check_login(self.runtime, Protocol.POP3, username, password, self.client,
                                         self.settings, authzid=authzid, origin=self._origin)
        except StorageError:
            return Outcome.of(Err("Temporary failure; try again later.", Code.SYS_TEMP))
        if decision.refusal in (Refusal.ROLE, Refusal.PROTOCOL_DISABLED):
            return Outcome.of(Err(ACCOUNT_REFUSED, Code.AUTH))
        if decision.refusal is Refusal.THROTTLED:
            return Outcome.of(Err("Too many failed logins; try again later.", Code.SYS_TEMP))
        if decision.refusal is Refusal.USER_CONNECTION_LIMIT:
            return Outcome.of(Err("Too many connections for this mailbox; try again later.", Code.SYS_TEMP))
        if not decision.ok or decision.account is None:
            # Failed logins count as bad commands: a connection cannot guess forever.
            self.bad_commands += 1
            ends = self.bad_commands >= self.settings.max_bad_commands
            return Outcome.of(Err(AUTH_FAILED, Code.AUTH), after=After.CLOSE if ends else After.CONTINUE)
        account = decision.account
        if self.frontend:
            self.proxied_account = account
            return Outcome((), after=After.HAND_OVER)
        try:  # the mailbox's database; refused for the time of a move
            await check_not_moving(self.runtime.directory, account)
            self._mailbox = await self.runtime.mailbox_store(account)
        except StorageError:
            return Outcome.of(Err("The mailbox is temporarily unavailable; try again later.", Code.SYS_TEMP))
        store = self.store
        if not self._locks.acquire(store, account.id):
            return Outcome.of(Err("The maildrop is in use by another POP3 session.", Code.IN_USE))
        descending = self.settings.message_retrieval_sort_order.lower() == "descending"
        try:
            drop = await load_maildrop(store, account.id, descending)
        except StorageError:
            self._locks.release(store, account.id)
            return Outcome.of(Err("Cannot open the maildrop; try again later.", Code.SYS_TEMP))
        self._account_id, self._drop = account.id, drop
        self.state = State.TRANSACTION
        count, size = drop.totals()
        return Outcome.of(Ok(f"Logged in: {count} messages ({size} octets)."))

    def _release(self) -> None:
        if self._account_id is not None:
            self._locks.release(self.store, self._account_id)
            self._account_id = None

    # --- TRANSACTION -------------------------------------------------------------
    @property
    def _maildrop(self) -> Maildrop:
        assert self._drop is not None
        return self._drop

    async def _stat(self, _command: Stat) -> Outcome:
        count, size = self._maildrop.totals()
        return Outcome.of(Ok(f"{count} {size}"))

    async def _list(self, command: List) -> Outcome:
        drop = self._maildrop
        if command.msg is not None:
            entry = drop.get(command.msg)
            if entry is None:
                return Outcome.of(_number_error(drop, command.msg))
            return Outcome.of(Ok(f"{command.msg} {entry.size}"))
        count, size = drop.totals()
        lines = tuple(b"%d %d" % item for item in drop.live_sizes())
        return Outcome.of(Lines(Ok(f"{count} messages ({size} octets)"), lines))

    async def _uidl(self, command: Uidl) -> Outcome:
        drop = self._maildrop
        if command.msg is not None:
            entry = drop.get(command.msg)
            if entry is None:
                return Outcome.of(_number_error(drop, command.msg))
            return Outcome.of(Ok(f"{command.msg} {entry.unique_id}"))
        lines = tuple(b"%d %s" % (n, uid.encode("ascii")) for n, uid in drop.live_unique_ids())
        return Outcome.of(Lines(Ok("Unique-id listing follows."), lines))

    async def _retr(self, command: Retr) -> Outcome:
        return self._message(command.msg, None)

    async def _top(self, command: Top) -> Outcome:
        return self._message(command.msg, command.lines)

    def _message(self, number: int, top_lines: int | None) -> Outcome:
        drop = self._maildrop
        entry = drop.get(number)
        if entry is None:
            return Outcome.of(_number_error(drop, number))
        if entry.size <= INLINE_READ_MAX:
            ahead, self._ahead = self._ahead, None
            self._answered = (number, top_lines is None)
            data: bytes | None = None
            if ahead is not None and ahead[0] == number and ahead[1] == entry.blob_id:
                # Blobs never change: what was read ahead is current.
                if top_lines is None and ahead[3] is not None:
                    return Outcome.of(ahead[3])
                data = ahead[2]  # None after a RETR: a TOP reads the file again
            if data is None:
                # Read before answering: a missing blob gets -ERR, not a cut reply.
                try:
                    data = read_whole(self.blobs, entry)
                except StorageError:
                    self._answered = None
                    return Outcome.of(Err(UNREADABLE, Code.SYS_TEMP))
            if top_lines is None:
                return Outcome.of(Body(_retr_status(entry.size), data))
            return Outcome.of(Body(_TOP_STATUS, TopFilter(top_lines).feed(data)))
        try:
            readable = self.blobs.exists(entry.blob_id)
        except StorageError:
            readable = False
        if not readable:
            return Outcome.of(Err(UNREADABLE, Code.SYS_TEMP))
        status = _retr_status(entry.size) if top_lines is None else _TOP_STATUS
        top = None if top_lines is None else TopFilter(top_lines)
        return Outcome.of(Stream(status, stream_chunks(self.blobs, entry, top)))

    async def _dele(self, command: Dele) -> Outcome:
        drop = self._maildrop
        if drop.get(command.msg) is None:
            return Outcome.of(_number_error(drop, command.msg))
        drop.deleted.add(command.msg)
        return Outcome.of(Ok(f"Message {command.msg} deleted."))

    async def _rset(self, _command: Rset) -> Outcome:
        drop = self._maildrop
        drop.deleted.clear()
        count, size = drop.totals()
        return Outcome.of(Ok(f"Maildrop has {count} messages ({size} octets)."))

    async def _xclient(self, command: Xclient) -> Outcome:
        """Only a backend listener takes XCLIENT; it is trusted only together
        with the frontend's proxy credential (policy/gate.py)."""
        if self.client is None or not getattr(self.client, "backend", False):
            return self._bad(Err("Unknown command."))
        self._origin = (command.addr, command.port)
        return Outcome.of(Ok("Client address noted."))

    async def _noop(self, _command: Noop) -> Outcome:
        return Outcome.of(Ok())

    async def _quit(self, _command: Quit) -> Outcome:
        bye = f"{self.runtime.hostname} POP3 server signing off."
        if self.state is State.AUTHORIZATION:
            return Outcome.of(Ok(bye), after=After.CLOSE)
        self.state = State.UPDATE
        drop = self._maildrop
        reply: Ok | Err = Ok(bye)
        uids = drop.deleted_uids()
        if uids and drop.folder_id is not None:
            try:
                await self.store.expunge(drop.folder_id, uids)
            except StorageError:
                reply = Err("Some deleted messages were not removed.", Code.SYS_TEMP)
        self._release()
        return Outcome.of(reply, after=After.CLOSE)


_Handler = Callable[[Pop3Session, Any], Awaitable[Outcome]]
_HANDLERS: dict[type, _Handler] = {
    User: Pop3Session._user,
    Pass: Pop3Session._pass,
    Auth: Pop3Session._auth,
    Capa: Pop3Session._capa,
    Stls: Pop3Session._stls,
    Stat: Pop3Session._stat,
    List: Pop3Session._list,
    Uidl: Pop3Session._uidl,
    Top: Pop3Session._top,
    Retr: Pop3Session._retr,
    Dele: Pop3Session._dele,
    Rset: Pop3Session._rset,
    Noop: Pop3Session._noop,
    Quit: Pop3Session._quit,
    Xclient: Pop3Session._xclient,
}
