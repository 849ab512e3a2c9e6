"""The MIME part tree, parsed once over the stored bytes.

One pass, top-down, with the stack of active boundaries (like Dovecot's
parser): a line that starts with "--" + an active boundary ends whatever is
being read (RFC 2046 5.1.1 prefix rule; the longest matching boundary wins,
so an inner boundary that is a prefix of an outer one is handled, 046).
Only header blocks are copied out of `buf`; bodies are located, not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .headers import Field, field_values, split_fields
from .params import Params, get_param, parse_content_type, parse_cte, parse_disposition

MAX_DEPTH = 32  # deeper multiparts / messages are kept as opaque leaves
# More parts than this (hostile mail: 10 MB of empty parts) are not split
# out; what follows the last one counts as that multipart's epilogue.
MAX_PARTS = 10_000
_CHUNK = 1 << 16


class Buffer(Protocol):
    def find(self, sub: bytes, start: int = ..., end: int = ...) -> int: ...
    def __getitem__(self, key: slice) -> bytes: ...
    def __len__(self) -> int: ...


@dataclass(slots=True)
class Delim:
    """A delimiter line found in the data."""

    line_start: int
    line_end: int  # after its LF (or the end of the data)
    level: int  # index into the boundary stack
    close: bool


@dataclass(slots=True)
class Node:
    hdr_start: int
    body_start: int
    body_end: int = 0
    fields: list[Field] = field(default_factory=list)
    ctype: bytes = b"text"  # as written (for BODYSTRUCTURE)
    csub: bytes = b"plain"
    params: Params | None = None
    kind: str = "leaf"  # "leaf" | "multipart" | "message"
    cte: bytes = b"7bit"
    children: list[Node] = field(default_factory=list)
    message: Node | None = None  # the encapsulated message of message/rfc822

    def first(self, key: str) -> bytes | None:
        values = field_values(self.fields, key)
        return values[0] if values else None

    @property
    def disposition(self) -> tuple[bytes, Params] | None:
        value = self.first("content-disposition")
        return None if value is None else parse_disposition(value)


MAX_HEADER_PARSE = 256 * 1024


def count_lf(buf: Buffer, start: int, end: int) -> int:
    """LF count in buf[start:end] without copying a big body at once."""
    if isinstance(buf, bytes):
        return buf.count(b"\n", start, end)
    total = 0
    for pos in range(start, end, _CHUNK):
        total += buf[pos : min(pos + _CHUNK, end)].count(b"\n")
    return total


class _Parser:
    def __init__(self, buf: Buffer) -> None:
        self.buf = buf
        self.size = len(buf)
        self.count = 0  # entities parsed so far

    # -- delimiter lines ---------------------------------------------------
    def _match(self, p: int, bounds: tuple[bytes, ...]) -> Delim | None:
        """Is there a delimiter line starting at p (which starts a line)?"""
        best = -1
        longest = max(len(b) for b in bounds)
        head = self.buf[p + 2 : p + 2 + longest + 2]
        for level, b in enumerate(bounds):
            if head.startswith(b) and (best < 0 or len(b) > len(bounds[best])):
                best = level
        if best < 0:
            return None
        b = bounds[best]
        close = head[len(b) : len(b) + 2] == b"--"
        nl = self.buf.find(b"\n", p)
        return Delim(p, self.size if nl < 0 else nl + 1, best, close)

    def find_delim(self, pos: int, end: int, bounds: tuple[bytes, ...]) -> Delim | None:
        """First delimiter line starting in [pos, end]; pos starts a line."""
        if not bounds:
            return None
        buf = self.buf
        if buf[pos : pos + 2] == b"--":
            d = self._match(pos, bounds)
            if d is not None:
                return d
        while True:
            hit = buf.find(b"\n--", pos, min(end + 3, self.size))
            if hit < 0 or hit + 1 > end:
                return None
            d = self._match(hit + 1, bounds)
            if d is not None:
                return d
            pos = hit + 1

    @staticmethod
    def before(d: Delim | None, start: int, fallback: int, buf: Buffer) -> int:
        """End of the content before a delimiter: its CRLF belongs to it."""
        if d is None:
            return fallback
        end = d.line_start
        if end > start and buf[end - 1 : end] == b"\n":
            end -= 1
            if end > start and buf[end - 1 : end] == b"\r":
                end -= 1
        return end

    # -- entities ----------------------------------------------------------
    def entity(self, start: int, bounds: tuple[bytes, ...], depth: int,
               digest: bool) -> tuple[Node, Delim | None]:
        """Parse the entity starting at `start`; also return the delimiter
        line (of any active boundary) that ended it, None at end of data."""
        buf, size = self.buf, self.size
        self.count += 1
        # The first delimiter bounds everything the header search looks at,
        # so a part without a blank line costs O(part), not O(message).
        d = self.find_delim(start, size, bounds)
        region_end = self.before(d, start, size, buf)
        node = Node(start, region_end, region_end)
        if buf[start : start + 2] == b"\r\n" or buf[start : start + 1] == b"\n":
            blank = start
        else:
            crlf = buf.find(b"\n\r\n", start, region_end)
            lf = buf.find(b"\n\n", start, region_end if crlf < 0 else crlf + 1)
            if lf >= 0:
                blank = lf + 1
            elif crlf >= 0:
                blank = crlf + 1
            else:
                blank = -1
        if blank >= 0:  # body starts after the empty line
            nl = buf.find(b"\n", blank, region_end)
            node.body_start = region_end if nl < 0 else nl + 1
        # else: everything up to the part's end is header (032, 048)
        # Only the first MAX_HEADER_PARSE bytes of a header are parsed: a
        # "header" of megabytes (no blank line, 032/048 style) must not be
        # copied whole into memory; offsets stay exact either way.
        node.fields = split_fields(buf[start : min(node.body_start, start + MAX_HEADER_PARSE)])
        self._content(node, digest, depth)
        body = node.body_start
        if node.kind == "multipart":
            boundary = get_param(node.params or [], b"boundary") or b""
            inner = bounds + (boundary,)
            d = self.find_delim(body, size, inner)
            level = len(bounds)
            is_digest = node.csub.lower() == b"digest"
            while (d is not None and d.level == level and not d.close
                   and self.count < MAX_PARTS):
                child, d = self.entity(d.line_end, inner, depth + 1, is_digest)
                node.children.append(child)
            content_start = body
            if d is not None and d.level == level and not d.close:  # MAX_PARTS hit
                d = self.find_delim(d.line_end, size, bounds)
            elif d is not None and d.level == level:  # close delimiter: epilogue
                # The close line's own CRLF is not the CRLF before the next
                # delimiter (Dovecot: 018 BODY[2.1] ends "--L4--\r\n").
                content_start = d.line_end
                d = self.find_delim(d.line_end, size, bounds)
            node.body_end = self.before(d, content_start, size, buf)
        elif node.kind == "message":
            node.message, d = self.entity(body, bounds, depth + 1, False)
            node.body_end = node.message.body_end
        else:
            node.body_end = region_end
        if node.kind.startswith("multipart"):
            node.kind = "multipart"
            if not node.children:  # 045: boundary never used (or none given)
                node.children.append(self._empty(node.body_end))
        return node, d

    @staticmethod
    def _empty(at: int) -> Node:
        return Node(at, at, at, params=[(b"charset", b"us-ascii")])

    @staticmethod
    def _content(node: Node, digest: bool, depth: int) -> None:
        """Type, parameters and encoding from the first fields (043)."""
        node.cte = parse_cte(node.first("content-transfer-encoding"))
        raw = node.first("content-type")
        parsed = None if raw is None else parse_content_type(raw)
        if parsed is None:
            if raw is None and digest:  # RFC 2046 5.1.5
                node.ctype, node.csub, node.params = b"message", b"rfc822", []
            else:
                # RFC 2045 5.2: absent or invalid -> text/plain; charset=us-ascii
                node.ctype, node.csub = b"text", b"plain"
                node.params = [(b"charset", b"us-ascii")]
        else:
            node.ctype, node.csub, node.params = parsed
        t, s = node.ctype.lower(), node.csub.lower()
        if t == b"text" and get_param(node.params, b"charset") is None:
            node.params.append((b"charset", b"us-ascii"))
        if depth >= MAX_DEPTH:
            if t in (b"multipart", b"message"):
                node.ctype, node.csub, node.params = b"application", b"octet-stream", []
            return
        if t == b"multipart" and get_param(node.params, b"boundary"):
            node.kind = "multipart"
        elif t == b"multipart":
            node.kind = "multipart-empty"
        elif t == b"message" and s == b"rfc822":
            node.ctype, node.csub = b"message", b"rfc822"
            node.kind = "message"


def parse_tree(buf: Buffer) -> Node:
    node, _ = _Parser(buf).entity(0, (), 0, False)
    return node
