"""Client commands as typed, frozen values (one class per command).

``name`` is the command word the state table (states.py) is keyed by; UID
variants keep the base name and set ``uid=True``, since they are allowed in
exactly the same states.  Folder names are ``str`` (already decoded from
modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT), "INBOX" normalised.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import ClassVar

from .fetch_items import FetchItem
from .literal import Literal
from .search_keys import SearchKey
from .sequence import SequenceSet

_frozen = dataclass(frozen=True, slots=True)


@_frozen
class Command:
    tag: str
    name: ClassVar[str] = ""


# -- any state ---------------------------------------------------------------------

@_frozen
class Capability(Command):
    name: ClassVar[str] = "CAPABILITY"


@_frozen
class Noop(Command):
    name: ClassVar[str] = "NOOP"


@_frozen
class Logout(Command):
    name: ClassVar[str] = "LOGOUT"


@_frozen
class Id(Command):
    """ID (RFC 2971): field/value pairs, or None for "ID NIL"."""

    params: tuple[tuple[str, str | None], ...] | None = None
    name: ClassVar[str] = "ID"


# -- not authenticated ---------------------------------------------------------------

@_frozen
class StartTLS(Command):
    name: ClassVar[str] = "STARTTLS"


@_frozen
class Authenticate(Command):
    """AUTHENTICATE mech [initial-response] (RFC 4959 SASL-IR).

    ``initial_response`` is decoded base64 (b"" for "="), None when absent.
    Later client answers are raw lines: see ``parser.parse_auth_response``.
    """

    mechanism: str = ""
    initial_response: bytes | None = None
    name: ClassVar[str] = "AUTHENTICATE"


@_frozen
class Login(Command):
    userid: str = ""
    password: bytes = b""
    name: ClassVar[str] = "LOGIN"

    def __repr__(self) -> str:  # never put a password in a log line
        return f"Login(tag={self.tag!r}, userid={self.userid!r}, password=<{len(self.password)} bytes>)"


# -- authenticated ---------------------------------------------------------------------

@_frozen
class Enable(Command):
    capabilities: tuple[str, ...] = ()
    name: ClassVar[str] = "ENABLE"


@_frozen
class QResync:
    """SELECT (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@_frozen
class Select(Command):
    """SELECT, or EXAMINE when ``readonly``; CONDSTORE/QRESYNC parameters."""

    mailbox: str = ""
    readonly: bool = False
    condstore: bool = False
    qresync: QResync | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return "EXAMINE" if self.readonly else "SELECT"


@_frozen
class Create(Command):
    mailbox: str = ""
    special_use: tuple[str, ...] = ()  # CREATE ... (USE (\Drafts)), RFC 6154
    name: ClassVar[str] = "CREATE"


@_frozen
class Delete(Command):
    mailbox: str = ""
    name: ClassVar[str] = "DELETE"


@_frozen
class Rename(Command):
    old: str = ""
    new: str = ""
    name: ClassVar[str] = "RENAME"


@_frozen
class Subscribe(Command):
    mailbox: str = ""
    name: ClassVar[str] = "SUBSCRIBE"


@_frozen
class Unsubscribe(Command):
    mailbox: str = ""
    name: ClassVar[str] = "UNSUBSCRIBE"


@_frozen
class List(Command):
    """LIST, with RFC 5258 selection/return options.

    ``selection``: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE.
    ``returns``: SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS.
    ``status_items``: the items of RETURN (STATUS (...)), RFC 5819.
    ``extended`` tells the session to answer in the extended form (a
    selection option, several patterns, or RETURN was used).
    """

    reference: str = ""
    patterns: tuple[str, ...] = ()
    selection: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()
    extended: bool = False
    name: ClassVar[str] = "LIST"


@_frozen
class Lsub(Command):
    reference: str = ""
    pattern: str = ""
    name: ClassVar[str] = "LSUB"


@_frozen
class Namespace(Command):
    name: ClassVar[str] = "NAMESPACE"


@_frozen
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()  # upper-case: MESSAGES, UIDNEXT, SIZE, ...
    name: ClassVar[str] = "STATUS"


@_frozen
class AppendMessage:
    """One message of an APPEND (several with MULTIAPPEND, RFC 3502)."""

    literal: Literal
    flags: tuple[str, ...] = ()
    date_time: _dt.datetime | None = None
    utf8: bool = False  # sent as UTF8 (~{n}) per RFC 6855


@_frozen
class Append(Command):
    mailbox: str = ""
    messages: tuple[AppendMessage, ...] = ()
    name: ClassVar[str] = "APPEND"


@_frozen
class Idle(Command):
    name: ClassVar[str] = "IDLE"


@_frozen
class Compress(Command):
    mechanism: str = "DEFLATE"
    name: ClassVar[str] = "COMPRESS"


@_frozen
class GetQuota(Command):
    root: str = ""
    name: ClassVar[str] = "GETQUOTA"


@_frozen
class GetQuotaRoot(Command):
    mailbox: str = ""
    name: ClassVar[str] = "GETQUOTAROOT"


@_frozen
class SetQuota(Command):
    root: str = ""
    limits: tuple[tuple[str, int], ...] = ()
    name: ClassVar[str] = "SETQUOTA"


# -- selected ------------------------------------------------------------------------

@_frozen
class Check(Command):
    name: ClassVar[str] = "CHECK"


@_frozen
class Close(Command):
    name: ClassVar[str] = "CLOSE"


@_frozen
class Unselect(Command):
    name: ClassVar[str] = "UNSELECT"


@_frozen
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE set (RFC 4315) when ``uids`` is given."""

    uids: SequenceSet | None = None
    name: ClassVar[str] = "EXPUNGE"


@_frozen
class Search(Command):
    """SEARCH; ``returns`` is None for a plain SEARCH, else the RFC 4731
    RETURN options (an empty RETURN () means ALL)."""

    uid: bool = False
    charset: str | None = None
    key: SearchKey | None = None
    returns: tuple[str, ...] | None = None
    name: ClassVar[str] = "SEARCH"


@_frozen
class SortCriterion:
    key: str  # ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
    reverse: bool = False


@_frozen
class Sort(Command):
    uid: bool = False
    criteria: tuple[SortCriterion, ...] = ()
    charset: str | None = None
    key: SearchKey | None = None
    returns: tuple[str, ...] | None = None  # ESORT (RFC 5267)
    name: ClassVar[str] = "SORT"


@_frozen
class Thread(Command):
    uid: bool = False
    algorithm: str = ""
    charset: str | None = None
    key: SearchKey | None = None
    name: ClassVar[str] = "THREAD"


@_frozen
class Fetch(Command):
    """FETCH; the session adds UID to the answer of a UID FETCH itself."""

    uid: bool = False
    set: SequenceSet = SequenceSet()
    items: tuple[FetchItem, ...] = ()
    changedsince: int | None = None
    vanished: bool = False
    name: ClassVar[str] = "FETCH"


@_frozen
class Store(Command):
    """STORE; ``action`` is "ADD" (+FLAGS), "REMOVE" (-FLAGS) or "REPLACE"."""

    uid: bool = False
    set: SequenceSet = SequenceSet()
    action: str = "REPLACE"
    silent: bool = False
    flags: tuple[str, ...] = ()
    unchangedsince: int | None = None
    name: ClassVar[str] = "STORE"


@_frozen
class Copy(Command):
    uid: bool = False
    set: SequenceSet = SequenceSet()
    mailbox: str = ""
    name: ClassVar[str] = "COPY"


@_frozen
class Move(Command):
    uid: bool = False
    set: SequenceSet = SequenceSet()
    mailbox: str = ""
    name: ClassVar[str] = "MOVE"
