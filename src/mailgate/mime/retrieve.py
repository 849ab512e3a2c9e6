"""Retrieval transforms over stored bytes: BINARY[] (RFC 3516) and the
decoded text SEARCH matches against."""

from __future__ import annotations

from .headers import split_fields, unfold
from .structure import Buffer
from .summary import LEAF, MESSAGE, MessageSummary, Part, resolve_part
from .text import decode_header, decode_text
from .transfer import NoSuchPart, decode, needs_decoding, rewrite_header


def _descendants(summary: MessageSummary, idx: int) -> list[int]:
    out: list[int] = []
    stack = [idx]
    while stack:
        i = stack.pop()
        out.append(i)
        p = summary.parts[i]
        nxt = list(p.children) + ([p.message] if p.message >= 0 else [])
        stack.extend(reversed(nxt))
    return out


def _rewrite_region(buf: Buffer, summary: MessageSummary, start: int, end: int,
                    indices: list[int]) -> bytes:
    """buf[start:end] with each base64/QP leaf in `indices` decoded."""
    out: list[bytes] = []
    pos = start
    for i in indices:
        p = summary.parts[i]
        if p.kind != LEAF or not needs_decoding(p.cte) or p.hdr_start < start:
            continue
        out.append(buf[pos : p.hdr_start])
        out.append(rewrite_header(buf[p.hdr_start : p.body_start]))
        out.append(decode(buf[p.body_start : p.body_end], p.cte))
        pos = p.body_end
    out.append(buf[pos:end])
    return b"".join(out)


def binary_section(buf: Buffer, summary: MessageSummary, part: str) -> bytes:
    """BINARY[part] content (RFC 3516); len() of it is BINARY.SIZE[part].

    A leaf is decoded by the encoding BODYSTRUCTURE reports (one rule for
    both, corpus README item 2).  A multipart or message part, or "" (the
    whole message), comes back with every base64/QP part inside decoded and
    its header saying `Content-Transfer-Encoding: binary`.
    Raises UnknownCte, DecodeFailed, or NoSuchPart.
    """
    if part.strip() == "":
        return _rewrite_region(buf, summary, 0, summary.size, _descendants(summary, 0))
    idx = resolve_part(summary, part.strip())
    if idx is None:
        raise NoSuchPart(part)
    p = summary.parts[idx]
    if p.kind == LEAF:
        return decode(bytes(buf[p.body_start : p.body_end]), p.cte)
    inner = _descendants(summary, idx)[1:]
    return _rewrite_region(buf, summary, p.body_start, p.body_end, inner)


def _header_text(block: bytes) -> str:
    return "\n".join(
        f"{f.name.decode('latin-1')}: {decode_header(unfold(f.value).strip())}"
        for f in split_fields(block)
    )


def _leaf_text(buf: Buffer, p: Part) -> str:
    if p.ctype not in ("text", "message") or p.body_end <= p.body_start:
        return ""  # binary attachments are not searched as text
    data = bytes(buf[p.body_start : p.body_end])
    return decode_text(decode(data, p.cte, strict=False), p.charset)


def search_text(buf: Buffer, summary: MessageSummary) -> tuple[str, str]:
    """(decoded header text, decoded body text) for SEARCH.

    The header text is the top-level header with encoded words decoded; the
    body text holds every text part decoded from its transfer encoding and
    charset, plus the headers of encapsulated messages.  Match with
    `needle.lower() in text.lower()`.
    """
    parts = summary.parts
    header = _header_text(bytes(buf[0 : summary.header_end]))
    chunks: list[str] = []
    embedded = {p.message for p in parts if p.kind == MESSAGE}
    for i, p in enumerate(parts):
        if i in embedded:
            chunks.append(_header_text(bytes(buf[p.hdr_start : p.body_start])))
        if p.kind == LEAF:
            chunks.append(_leaf_text(buf, p))
    return header, "\n".join(c for c in chunks if c)
