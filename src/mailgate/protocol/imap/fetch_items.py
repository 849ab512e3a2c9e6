"""FETCH data items (RFC 3501 6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).

Items are typed values; the session answers each from the stored message
summary.  ``response_name()`` gives the name the FETCH response must use for
an item ("BODY.PEEK[1]<0.10>" is answered as "BODY[1]<0>").
"""

from __future__ import annotations

from dataclasses import dataclass

from . import grammar as g
from .grammar import Cursor, ParseError

__all__ = ["FetchAttr", "Section", "FetchBody", "FetchBinary", "FetchBinarySize", "FetchItem",
           "SIMPLE_ATTRS", "MACROS", "fetch_items"]

SIMPLE_ATTRS = frozenset({
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
    "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ",
})

# Partial: (offset, count) as requested, count > 0.
Partial = tuple[int, int]


@dataclass(frozen=True, slots=True)
class FetchAttr:
    """A named attribute without a section, e.g. FLAGS or RFC822.SIZE."""

    name: str


@dataclass(frozen=True, slots=True)
class Section:
    """section-spec: a part path and what of it (None means the whole part).

    ``text`` is one of None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
    "TEXT", "MIME"; ``fields`` the header names for HEADER.FIELDS(.NOT), as
    the client wrote them (matching is case-insensitive; the reply echoes).
    """

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        pieces = [".".join(map(str, self.part))] if self.part else []
        if self.text:
            pieces.append(self.text)
        spec = ".".join(pieces)
        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            spec += " (" + " ".join(_astring_text(f) for f in self.fields) + ")"
        return spec


def _astring_text(value: str) -> str:
    raw = value.encode("ascii", "replace")
    if raw and all(c in g.ASTRING_CHARS for c in raw):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _origin(partial: Partial | None) -> str:
    return f"<{partial[0]}>" if partial else ""


@dataclass(frozen=True, slots=True)
class FetchBody:
    """BODY[section]<partial> or BODY.PEEK[...] (PEEK leaves \\Seen alone)."""

    section: Section = Section()
    peek: bool = False
    partial: Partial | None = None

    def response_name(self) -> str:
        return f"BODY[{self.section}]{_origin(self.partial)}"


@dataclass(frozen=True, slots=True)
class FetchBinary:
    """BINARY[part]<partial> (RFC 3516): the part with its CTE removed."""

    part: tuple[int, ...] = ()
    peek: bool = False
    partial: Partial | None = None

    def response_name(self) -> str:
        return f"BINARY[{'.'.join(map(str, self.part))}]{_origin(self.partial)}"


@dataclass(frozen=True, slots=True)
class FetchBinarySize:
    part: tuple[int, ...] = ()

    def response_name(self) -> str:
        return f"BINARY.SIZE[{'.'.join(map(str, self.part))}]"


FetchItem = FetchAttr | FetchBody | FetchBinary | FetchBinarySize

_FAST = (FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE"))
_ALL = _FAST + (FetchAttr("ENVELOPE"),)
MACROS: dict[str, tuple[FetchItem, ...]] = {
    "FAST": _FAST,
    "ALL": _ALL,
    "FULL": _ALL + (FetchAttr("BODY"),),
}

_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.")
_DIGITS = frozenset(b"0123456789")
_MSGTEXT = ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT")


def _part_path(cur: Cursor) -> tuple[int, ...]:
    """section-part: nz-number *("." nz-number); stops before ".HEADER" etc."""
    parts: list[int] = []
    while cur.peek() in _DIGITS:
        parts.append(g.nz_number(cur, "a part number"))
        if cur.peek() == 0x2E and cur.pos + 1 < len(cur.text) and cur.text[cur.pos + 1] in _DIGITS:
            cur.pos += 1
            continue
        break
    return tuple(parts)


def _header_field(cur: Cursor) -> str:
    raw = g.astring(cur, "a header field name")
    if not raw or any(c <= 0x20 or c >= 0x7F or c == 0x3A for c in raw):
        raise ParseError("invalid header field name")
    return raw.decode("ascii")


def _msgtext(cur: Cursor) -> str:
    for name in _MSGTEXT:
        if cur.take(name.encode()):
            return name
    raise ParseError(f"unknown section{cur._where()}")


def _section(cur: Cursor) -> Section:
    cur.expect(b"[")
    part = _part_path(cur)
    text: str | None = None
    fields: tuple[str, ...] = ()
    if part and cur.peek() == 0x2E:
        cur.pos += 1
        text = "MIME" if cur.take(b"MIME") else _msgtext(cur)
    elif not part and cur.peek() != 0x5D:
        text = _msgtext(cur)
    if text is not None and text.startswith("HEADER.FIELDS"):
        cur.sp()
        fields = tuple(g.paren_list(cur, _header_field, allow_empty=False))
    cur.expect(b"]", "']'")
    return Section(part, text, fields)


def _binary_part(cur: Cursor) -> tuple[int, ...]:
    cur.expect(b"[")
    part = _part_path(cur)
    cur.expect(b"]", "']'")
    return part


def _partial(cur: Cursor) -> Partial | None:
    if not cur.take(b"<"):
        return None
    offset = g.number(cur, "a partial offset")
    cur.expect(b".")
    count = g.nz_number(cur, "a partial length")
    cur.expect(b">")
    return (offset, count)


def fetch_att(cur: Cursor) -> FetchItem:
    name = cur.run(_NAME_CHARS).decode("ascii").upper()
    if cur.peek() == 0x5B:  # "["
        if name in ("BODY", "BODY.PEEK"):
            section = _section(cur)
            return FetchBody(section, name == "BODY.PEEK", _partial(cur))
        if name in ("BINARY", "BINARY.PEEK"):
            part = _binary_part(cur)
            return FetchBinary(part, name == "BINARY.PEEK", _partial(cur))
        if name == "BINARY.SIZE":
            return FetchBinarySize(_binary_part(cur))
        raise ParseError(f"unexpected '[' after {name or 'nothing'}")
    if name in SIMPLE_ATTRS:
        return FetchAttr(name)
    if name in ("BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        raise ParseError(f"{name} needs a section")
    raise ParseError(f"unknown FETCH item {name!r}" if name else f"expected a FETCH item{cur._where()}")


def fetch_items(cur: Cursor) -> tuple[FetchItem, ...]:
    """A macro, a single item, or a parenthesised list of items."""
    if cur.peek() == 0x28:
        return tuple(g.paren_list(cur, fetch_att, allow_empty=False))
    start = cur.pos
    word = cur.run(_NAME_CHARS).decode("ascii").upper()
    if word in MACROS and cur.peek() != 0x5B:
        return MACROS[word]
    cur.pos = start
    return (fetch_att(cur),)
