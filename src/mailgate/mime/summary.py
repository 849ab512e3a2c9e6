"""The message summary computed once at delivery, and section lookup.

`summarize()` runs over the stored (CRLF-normalised) bytes, given as bytes
or an mmap; it copies header blocks only.  The result is stored with
`to_bytes()` and loaded with `MessageSummary.from_bytes()` on every FETCH.
"""

from __future__ import annotations

import marshal
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from .bodystructure import build
from .envelope import build_envelope, parse_date
from .headers import clean, split_fields, unfold
from .params import get_param
from .structure import Buffer, Node, count_lf, parse_tree
from .text import decode_header

_FORMAT = 1  # format 1: one marshal tuple (rows stored before format 2 still load)
# Format 2: b"MGS2", a fixed head (the lengths of ENVELOPE, BODY and
# BODYSTRUCTURE, size, header_end, has_nul), those three wire forms, then a
# marshal tuple of the rest.  A header-first sync (FETCH ENVELOPE
# BODYSTRUCTURE of thousands of messages) slices three byte strings out of
# each row, and BODY[]/BODY[HEADER]/BODY[TEXT] need only the head, instead
# of unmarshalling the part table.
_MAGIC2 = b"MGS2"
_LENGTHS = struct.Struct("<IIIQQB")
_WIRE_START = len(_MAGIC2) + _LENGTHS.size
LEAF, MULTIPART, MESSAGE = 0, 1, 2


class Part(NamedTuple):
    """Where one MIME entity lies in the stored message.

    The MIME header is [hdr_start, body_start), the body [body_start,
    body_end).  `message` is the index of the encapsulated message's entity
    for message/rfc822 parts, -1 otherwise.
    """

    hdr_start: int
    body_start: int
    body_end: int
    kind: int  # LEAF, MULTIPART or MESSAGE
    children: tuple[int, ...]
    message: int
    cte: str  # as BODYSTRUCTURE reports it, lower case
    ctype: str  # lower case
    csub: str  # lower case
    charset: str | None


@dataclass(frozen=True, slots=True)
class MessageSummary:
    size: int
    envelope: bytes  # ENVELOPE wire form, with parentheses
    body: bytes  # BODY (non-extensible) wire form
    bodystructure: bytes  # BODYSTRUCTURE wire form
    header_end: int  # where the top-level body starts
    parts: tuple[Part, ...]  # parts[0] is the message itself, pre-order
    has_nul: bool
    lines: int  # LF count of the whole message
    date: datetime | None  # sent date (Date header), None if absent/unreadable
    subject: str  # decoded (RFC 2047), unfolded, white space collapsed
    subject_raw: bytes | None
    from_: bytes | None  # raw unfolded values; several fields joined by ", "
    to: bytes | None
    cc: bytes | None
    bcc: bytes | None
    message_id: bytes | None
    in_reply_to: bytes | None
    references: bytes | None

    def to_bytes(self) -> bytes:
        date = None
        if self.date is not None:
            off = self.date.utcoffset() or timedelta(0)
            date = (self.date.timestamp(), int(off.total_seconds()))
        rest = marshal.dumps((
            self.size, self.header_end, tuple(tuple(p) for p in self.parts), self.has_nul,
            self.lines, date, self.subject, self.subject_raw, self.from_, self.to,
            self.cc, self.bcc, self.message_id, self.in_reply_to, self.references,
        ))
        head = _LENGTHS.pack(len(self.envelope), len(self.body), len(self.bodystructure), self.size,
                             self.header_end, self.has_nul)
        return b"".join((_MAGIC2, head,
                         self.envelope, self.body, self.bodystructure, rest))

    @classmethod
    def from_bytes(cls, data: bytes) -> MessageSummary:
        if data[:4] == _MAGIC2:
            envelope, body, bodystructure = wire_items(data)
            t = marshal.loads(memoryview(data)[_WIRE_START + len(envelope) + len(body) + len(bodystructure):])
            (size, header_end, parts, has_nul, lines, date_t), rest = t[:6], t[6:]
        else:
            t = marshal.loads(data)
            if t[0] != _FORMAT:
                raise ValueError(f"unknown summary format {t[0]!r}")
            size, envelope, body, bodystructure, header_end, parts, has_nul, lines, date_t = t[1:10]
            rest = t[10:]
        date = None
        if date_t is not None:
            ts, off = date_t
            date = datetime.fromtimestamp(ts, timezone(timedelta(seconds=off)))
        return cls(size, envelope, body, bodystructure, header_end, tuple(Part._make(p) for p in parts),
                   has_nul, lines, date, *rest)


class SummaryHead(NamedTuple):
    """What whole-message sections need: BODY[] is [0, size), BODY[HEADER]
    [0, header_end), BODY[TEXT] [header_end, size)."""

    size: int
    header_end: int
    has_nul: bool


def summary_head(data: bytes) -> SummaryHead:
    """The head of a stored summary, without loading the rest of it."""
    if data[:4] != _MAGIC2:
        s = MessageSummary.from_bytes(data)
        return SummaryHead(s.size, s.header_end, s.has_nul)
    _, _, _, size, header_end, has_nul = _LENGTHS.unpack_from(data, 4)
    return SummaryHead(size, header_end, bool(has_nul))


def wire_items(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(ENVELOPE, BODY, BODYSTRUCTURE) wire forms of a stored summary,
    without loading the rest of it."""
    if data[:4] != _MAGIC2:
        s = MessageSummary.from_bytes(data)
        return s.envelope, s.body, s.bodystructure
    a, b, c = _LENGTHS.unpack_from(data, 4)[:3]
    e = _WIRE_START + a
    return data[_WIRE_START:e], data[e:e + b], data[e + b:e + b + c]


def _flatten(root: Node) -> tuple[Part, ...]:
    nodes: list[Node] = []
    index: dict[int, int] = {}

    def walk(n: Node) -> None:  # depth bounded by structure.MAX_DEPTH
        index[id(n)] = len(nodes)
        nodes.append(n)
        for c in n.children:
            walk(c)
        if n.message is not None:
            walk(n.message)

    walk(root)
    out = []
    for n in nodes:
        kind = {"multipart": MULTIPART, "message": MESSAGE}.get(n.kind, LEAF)
        charset = get_param(n.params or [], b"charset")
        out.append(Part(
            n.hdr_start, n.body_start, n.body_end, kind,
            tuple(index[id(c)] for c in n.children),
            index[id(n.message)] if n.message is not None else -1,
            n.cte.decode("latin-1").lower(), n.ctype.decode("latin-1").lower(),
            n.csub.decode("latin-1").lower(),
            None if charset is None else charset.decode("latin-1"),
        ))
    return tuple(out)


def _joined(fields: list, key: str, last_only: bool = False) -> bytes | None:
    values = [unfold(f.value).strip(b" \t") for f in fields if f.key == key]
    if not values:
        return None
    return values[-1] if last_only else b", ".join(values)


def _summarize(buf: Buffer) -> MessageSummary:
    size = len(buf)
    root = parse_tree(buf)
    fields = root.fields
    subject_raw = _joined(fields, "subject", last_only=True)
    return MessageSummary(
        size=size,
        envelope=build_envelope(fields),
        body=build(buf, root, False),
        bodystructure=build(buf, root, True),
        header_end=root.body_start,
        parts=_flatten(root),
        has_nul=buf.find(b"\0") >= 0,
        lines=count_lf(buf, 0, size),
        date=parse_date(_joined(fields, "date", last_only=True)),
        subject=clean(decode_header(subject_raw).encode()).decode() if subject_raw else "",
        subject_raw=subject_raw,
        from_=_joined(fields, "from"),
        to=_joined(fields, "to"),
        cc=_joined(fields, "cc"),
        bcc=_joined(fields, "bcc"),
        message_id=_joined(fields, "message-id", last_only=True),
        in_reply_to=_joined(fields, "in-reply-to", last_only=True),
        references=_joined(fields, "references", last_only=True),
    )


_FALLBACK_BODY = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d %d)'


def summarize(buf: Buffer) -> MessageSummary:
    """Summarize a stored message; never raises on any content.

    The parser is written not to fail; the fallback below only guarantees
    that a bug in it cannot stop delivery: the message is then described as
    one opaque text/plain body.
    """
    try:
        return _summarize(buf)
    except Exception:  # noqa: BLE001 - delivery must not fail on bad mail
        size = len(buf)
        lines = count_lf(buf, 0, size)
        body = _FALLBACK_BODY % (size, lines)
        return MessageSummary(
            size, b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", body,
            body[:-1] + b" NIL NIL NIL NIL)", 0,
            (Part(0, 0, size, LEAF, (), -1, "7bit", "text", "plain", "us-ascii"),),
            buf.find(b"\0") >= 0, lines, None, "", None, None, None, None, None,
            None, None, None,
        )


# --- sections ---------------------------------------------------------------

_SECTION = re.compile(r"([1-9]\d*(?:\.[1-9]\d*)*)(?:\.(.*))?\Z", re.S)


def _child(p: Part, n: int) -> int | None:
    return p.children[n - 1] if n <= len(p.children) else None


def resolve_part(summary: MessageSummary, numbers: str) -> int | None:
    """Index in summary.parts of a part number like "2.1.3", or None.

    RFC 3501 6.4.5: inside a message (the message itself, or a
    message/rfc822 part) the numbers count the parts of its multipart body;
    a body that is not multipart is part 1.
    """
    parts = summary.parts
    cur = -1  # -1: the message itself
    for piece in numbers.split("."):
        if not piece.isdigit() or piece.startswith("0"):
            return None
        n = int(piece)
        if cur >= 0 and parts[cur].kind == MULTIPART:
            nxt = _child(parts[cur], n)
        else:
            if cur < 0:
                top = 0
            elif parts[cur].kind == MESSAGE:
                top = parts[cur].message
            else:
                return None  # a leaf has no sub-parts
            if parts[top].kind == MULTIPART:
                nxt = _child(parts[top], n)
            else:
                nxt = top if n == 1 else None
        if nxt is None:
            return None
        cur = nxt
    return cur


def section_range(summary: MessageSummary, section: str) -> tuple[int, int] | None:
    """Byte range of BODY[section] in the stored message, None if absent.

    `section` is the text between the brackets: "", "HEADER", "TEXT", "1",
    "1.2", "1.MIME", "2.HEADER", "2.TEXT".  For HEADER.FIELDS[.NOT] the
    range of the header block is returned; header_fields() selects in it.
    """
    sec = section.strip()
    upper = sec.upper()
    root = summary.parts[0]
    if upper == "":
        return 0, summary.size
    m = _SECTION.match(sec)
    if m is None:
        if upper == "TEXT":
            return root.body_start, summary.size
        if upper.startswith("HEADER"):
            return 0, root.body_start
        return None
    idx = resolve_part(summary, m.group(1))
    if idx is None:
        return None
    p = summary.parts[idx]
    suffix = (m.group(2) or "").upper()
    if suffix == "":
        return p.body_start, p.body_end
    if suffix == "MIME":
        return p.hdr_start, p.body_start
    if p.kind != MESSAGE:
        return None  # HEADER / TEXT of a part exist only for message/rfc822
    e = summary.parts[p.message]
    if suffix == "TEXT":
        return e.body_start, e.body_end
    if suffix.startswith("HEADER"):
        return e.hdr_start, e.body_start
    return None


def nul_to_0x80(data: bytes) -> bytes:
    """BODY[...] content as sent: NUL is not allowed in a literal (RFC 3501
    4.3), Dovecot sends 0x80 instead (055); BINARY sends the real bytes."""
    return data.replace(b"\0", b"\x80")
