"""Frozen records that the store hands out.

Words: an *account* is a user's mailbox in the Exchange sense (the address and
everything in it); a *folder* is what the IMAP RFCs call a mailbox.
"""

from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass, field
from datetime import datetime


class Role(str, enum.Enum):
    USER = "user"
    ADMINISTRATOR = "administrator"
    GUEST = "guest"


class FlagMode(str, enum.Enum):
    """How STORE combines the given flags with the message's flags."""

    REPLACE = "replace"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    address: str  # lower-case, UTF-8
    password_hash: str
    role: Role = Role.USER
    pop_enabled: bool = True
    imap_enabled: bool = True
    home_server: str = ""
    quota_bytes: int | None = None  # None: no storage quota
    # Per-mailbox protocol overrides (Set-CASMailbox), free-form key -> value;
    # typed and validated by mailgate.settings.
    overrides: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # The mailbox database holding the folders and messages (topology); ""
    # is the directory store itself (one machine, nothing configured).
    database: str = ""


@dataclass(frozen=True, slots=True)
class Folder:
    id: int
    account_id: int
    name: str  # UTF-8, hierarchy separator "/"
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None = None  # e.g. "\\Sent"


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What a session keeps in memory per message of the selected folder."""

    uid: int
    modseq: int
    flags: frozenset[str]


@dataclass(slots=True)
class MessageColumns:
    """The message index as columns, for SELECT: 20 bytes per message instead
    of a MessageMeta object each (a session keeps these for the whole time a
    folder is selected). Ascending UID; ``flag_ids`` index ``flagsets``."""

    uids: array  # array("Q")
    modseqs: array  # array("Q")
    flag_ids: array  # array("I")
    flagsets: list[frozenset[str]]


@dataclass(frozen=True, slots=True)
class DeliveryGuard:
    """The directory facts a delivery was routed by, checked again inside
    the transaction that files the message (Store.file_message): the
    mailbox `address` is still account `account_id` in mailbox database
    `database`, and it has no non-empty mark in settings scope `hold_scope`
    (a move in progress). Only meaningful on the store that is also the
    directory; see Store.guard_serialized."""

    address: str
    database: str
    hold_scope: str


@dataclass(frozen=True, slots=True)
class Message:
    folder_id: int
    uid: int
    modseq: int
    flags: frozenset[str]
    internaldate: datetime  # timezone-aware
    size: int  # octets of the stored (CRLF) bytes == RFC822.SIZE
    blob_id: str  # sha256 hex of the stored bytes
    summary: bytes  # mailgate.mime summary, serialized once at delivery

    @property
    def meta(self) -> MessageMeta:
        return MessageMeta(self.uid, self.modseq, self.flags)


@dataclass(frozen=True, slots=True)
class FolderStatus:
    messages: int
    unseen: int
    size: int  # sum of message sizes (STATUS=SIZE)
    uidnext: int
    uidvalidity: int
    highestmodseq: int
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """What changed in a folder after a MODSEQ, read in one store job (a
    session's poll, a cached index's catch-up). Every change up to
    ``highestmodseq`` is in ``changed`` (ascending UID) and ``expunged``;
    ``messages`` and ``uidnext`` are as of that read."""

    highestmodseq: int
    messages: int
    uidnext: int
    changed: list[MessageMeta]
    expunged: list[int]


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Outcome of a flag change: what changed, and what UNCHANGEDSINCE refused."""

    changed: tuple[MessageMeta, ...]
    refused: tuple[int, ...] = ()  # UIDs whose modseq exceeded UNCHANGEDSINCE


@dataclass(frozen=True, slots=True)
class Change:
    """A folder changed; listeners re-read it by MODSEQ / UID."""

    folder_id: int


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message waiting in the relay queue for the smart host.

    The bytes live in the blob store (blob_id, shared with any local copy);
    `recipients` are those still to be delivered: each attempt removes the
    ones the smart host accepted or refused for good.
    """

    id: int
    sender: str  # envelope sender; "" for the null reverse-path (a DSN)
    recipients: tuple[str, ...]
    blob_id: str
    size: int
    created: datetime  # timezone-aware
    next_attempt: datetime  # timezone-aware
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class MailServer:
    """A server of the deployment, as it registered itself at `serve`."""

    name: str  # the node name ([server] node)
    site: str = ""
    roles: tuple[str, ...] = ("frontend", "backend")
    imap_backend: tuple[str, int] = ("127.0.0.1", 1993)  # ProxyTargetPort listeners
    pop_backend: tuple[str, int] = ("127.0.0.1", 1995)


@dataclass(frozen=True, slots=True)
class MailboxDatabase:
    """Where mailboxes' folders and messages live, and which server has the
    active copy mounted (the one the frontends proxy to)."""

    name: str
    url: str  # sqlite:///PATH or postgresql://...
    blob_dir: str = ""  # absolute path of its message blobs ("" : the server's own)
    server: str = ""  # the server where it is active
