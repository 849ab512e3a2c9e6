"""Server responses as typed, frozen values.  serializer.py turns them into
bytes; nothing here does.  Text is ``str``; the serializer strips CR/LF from
it so no value can inject a second response line.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

from .literal import LiteralStream
from .sequence import SequenceSet

_frozen = dataclass(frozen=True, slots=True)

# -- response codes (RFC 3501 7.1, RFC 5530, RFC 4315, RFC 7162, ...) -------------


@_frozen
class Code:
    """A code that is a bare atom: [ALERT], [TRYCREATE], [CLOSED], ..."""

    name: str


@_frozen
class NumberCode:
    """[UIDNEXT n], [UIDVALIDITY n], [UNSEEN n], [HIGHESTMODSEQ n], ..."""

    name: str
    value: int


@_frozen
class FlagsCode:
    """[PERMANENTFLAGS (...)]; "\\*" means new keywords may be created."""

    flags: tuple[str, ...]
    name: str = "PERMANENTFLAGS"


@_frozen
class AtomsCode:
    """[CAPABILITY ...] (space separated) or [BADCHARSET (...)] (a list)."""

    name: str
    atoms: tuple[str, ...]
    parenthesized: bool = False


@_frozen
class AppendUid:
    uidvalidity: int
    uids: SequenceSet


@_frozen
class CopyUid:
    uidvalidity: int
    source: SequenceSet
    dest: SequenceSet


@_frozen
class SetCode:
    """[MODIFIED set] (RFC 7162)."""

    set: SequenceSet
    name: str = "MODIFIED"


ResponseCode = Code | NumberCode | FlagsCode | AtomsCode | AppendUid | CopyUid | SetCode

ALERT = Code("ALERT")
PARSE = Code("PARSE")
READ_ONLY = Code("READ-ONLY")
READ_WRITE = Code("READ-WRITE")
TRYCREATE = Code("TRYCREATE")
CLOSED = Code("CLOSED")
CANNOT = Code("CANNOT")
NONEXISTENT = Code("NONEXISTENT")
ALREADYEXISTS = Code("ALREADYEXISTS")
OVERQUOTA = Code("OVERQUOTA")
AUTHENTICATIONFAILED = Code("AUTHENTICATIONFAILED")
AUTHORIZATIONFAILED = Code("AUTHORIZATIONFAILED")
CONTACTADMIN = Code("CONTACTADMIN")
UNAVAILABLE = Code("UNAVAILABLE")
LIMIT = Code("LIMIT")
UNKNOWN_CTE = Code("UNKNOWN-CTE")
TOOBIG = Code("TOOBIG")
INUSE = Code("INUSE")
EXPIRED = Code("EXPIRED")
PRIVACYREQUIRED = Code("PRIVACYREQUIRED")
NOPERM = Code("NOPERM")
SERVERBUG = Code("SERVERBUG")
CLIENTBUG = Code("CLIENTBUG")
NOMODSEQ = Code("NOMODSEQ")
EXPUNGEISSUED = Code("EXPUNGEISSUED")
HASCHILDREN = Code("HASCHILDREN")
UIDNOTSTICKY = Code("UIDNOTSTICKY")
COMPRESSIONACTIVE = Code("COMPRESSIONACTIVE")
USEATTR = Code("USEATTR")


def uidnext(n: int) -> NumberCode:
    return NumberCode("UIDNEXT", n)


def uidvalidity(n: int) -> NumberCode:
    return NumberCode("UIDVALIDITY", n)


def unseen(n: int) -> NumberCode:
    return NumberCode("UNSEEN", n)


def highestmodseq(n: int) -> NumberCode:
    return NumberCode("HIGHESTMODSEQ", n)


def permanentflags(flags: tuple[str, ...]) -> FlagsCode:
    return FlagsCode(tuple(flags))


def capability_code(caps: tuple[str, ...]) -> AtomsCode:
    return AtomsCode("CAPABILITY", tuple(caps))


def badcharset(charsets: tuple[str, ...]) -> AtomsCode:
    return AtomsCode("BADCHARSET", tuple(charsets), parenthesized=True)


# -- status responses -------------------------------------------------------------------


@_frozen
class Tagged:
    """"tag OK|NO|BAD [code] text": the completion of one command."""

    tag: str
    status: str  # "OK" | "NO" | "BAD"
    text: str = ""
    code: ResponseCode | None = None


@_frozen
class Condition:
    """Untagged "* OK|NO|BAD|BYE|PREAUTH [code] text"."""

    status: str
    text: str = ""
    code: ResponseCode | None = None


@_frozen
class Continuation:
    """"+ text", or "+ base64" of ``data`` (a SASL challenge) when given."""

    text: str = ""
    data: bytes | None = None


# -- untagged data ----------------------------------------------------------------------


@_frozen
class Capabilities:
    capabilities: tuple[str, ...]


@_frozen
class Exists:
    count: int


@_frozen
class Recent:
    count: int


@_frozen
class Expunged:
    """"* n EXPUNGE" (a message sequence number)."""

    seq: int


@_frozen
class Vanished:
    """"* VANISHED [(EARLIER)] uids" (RFC 7162)."""

    uids: SequenceSet
    earlier: bool = False


@_frozen
class Flags:
    flags: tuple[str, ...]


@_frozen
class Enabled:
    capabilities: tuple[str, ...]


@_frozen
class IdData:
    params: tuple[tuple[str, str | None], ...] | None


@_frozen
class SearchResult:
    numbers: tuple[int, ...]
    modseq: int | None = None  # (MODSEQ n) when the search used MODSEQ


@_frozen
class ESearch:
    """"* ESEARCH (TAG "t") [UID] MIN n MAX n ALL set COUNT n" (RFC 4731)."""

    tag: str | None = None
    uid: bool = False
    min: int | None = None
    max: int | None = None
    all: SequenceSet | None = None
    count: int | None = None
    modseq: int | None = None


@_frozen
class SortResult:
    numbers: tuple[int, ...]
    modseq: int | None = None


@_frozen
class ThreadNode:
    """A thread tree node; number None is a dummy parent (RFC 5256)."""

    number: int | None
    children: tuple["ThreadNode", ...] = ()


@_frozen
class ThreadResult:
    threads: tuple[ThreadNode, ...]


@_frozen
class ListItem:
    """"* LIST (attrs) delim name [extended]", or LSUB with kind="LSUB".

    ``childinfo`` (RFC 5258 CHILDINFO) and ``oldname`` (RFC 9051) go in the
    extended data; ``status`` is not here: RFC 5819 sends a STATUS response.
    """

    name: str
    delimiter: str | None = "/"
    attributes: tuple[str, ...] = ()
    childinfo: tuple[str, ...] = ()
    oldname: str | None = None
    kind: str = "LIST"


@_frozen
class StatusData:
    mailbox: str
    items: tuple[tuple[str, int], ...]


@_frozen
class NamespaceData:
    """Each of personal/other/shared: ((prefix, delimiter), ...) or () for NIL."""

    personal: tuple[tuple[str, str | None], ...] = ()
    other: tuple[tuple[str, str | None], ...] = ()
    shared: tuple[tuple[str, str | None], ...] = ()


@_frozen
class Quota:
    """"* QUOTA root (STORAGE usage limit ...)"; usage and limit in the
    resource's units (STORAGE is KiB, RFC 9208)."""

    root: str
    resources: tuple[tuple[str, int, int], ...]


@_frozen
class QuotaRoot:
    mailbox: str
    roots: tuple[str, ...]


# -- FETCH -------------------------------------------------------------------------------


@_frozen
class FetchFlags:
    flags: tuple[str, ...]


@_frozen
class FetchNumber:
    """UID n, RFC822.SIZE n, BINARY.SIZE[1] n."""

    name: str
    value: int


@_frozen
class FetchModSeq:
    modseq: int


@_frozen
class FetchInternalDate:
    date_time: _dt.datetime


@_frozen
class FetchRaw:
    """An item whose value is already in wire form, e.g. ENVELOPE or
    BODYSTRUCTURE as computed once at delivery."""

    name: str
    value: bytes


@_frozen
class FetchSection:
    """BODY[...]/BINARY[...]/RFC822* data: bytes, a stream, or None (NIL).

    ``name`` is the item's response name (``FetchBody.response_name()``).  A
    LiteralStream is handed to the transport untouched, so a large body is
    never concatenated with the rest of the response.
    """

    name: str
    data: bytes | LiteralStream | None


FetchData = FetchFlags | FetchNumber | FetchModSeq | FetchInternalDate | FetchRaw | FetchSection


@_frozen
class FetchResponse:
    seq: int
    items: tuple[FetchData, ...]


# The items a FetchRows column may hold, and the type of its values.
ROW_ITEMS = {
    "UID": int, "RFC822.SIZE": int, "MODSEQ": int,
    "FLAGS": tuple,  # tuple[str, ...]
    "INTERNALDATE": _dt.datetime,
    "ENVELOPE": bytes, "BODY": bytes, "BODYSTRUCTURE": bytes,  # wire forms from delivery
    "BODY[]": bytes, "RFC822": bytes,  # the whole message, sent as a literal (at most one per row)
}


@_frozen
class FetchRows:
    """Many FETCH answers carrying the same items, one per message: a
    header-first sync (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE of
    thousands of messages), a flag resync of a big folder, or the bodies of
    small messages (BODY.PEEK[] one after another), written a batch at a
    time. Column-wise: ``seqs`` are the messages' sequence numbers,
    ``columns[i]`` the values of ``items[i]`` (keys of ROW_ITEMS, in response
    order) for each message, in the same order."""

    items: tuple[str, ...]
    seqs: Sequence[int]
    columns: tuple[Sequence[Any], ...]

    @classmethod
    def from_rows(cls, items: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> FetchRows:
        """From (seq, value per item) rows (tests, small answers)."""
        seqs = [row[0] for row in rows]
        return cls(items, seqs, tuple([row[i + 1] for row in rows] for i in range(len(items))))


Response = (Tagged | Condition | Continuation | Capabilities | Exists | Recent | Expunged | Vanished
            | Flags | Enabled | IdData | SearchResult | ESearch | SortResult | ThreadResult | ListItem
            | StatusData | NamespaceData | Quota | QuotaRoot | FetchResponse | FetchRows)
