"""SEARCH keys (RFC 3501 6.4.4, RFC 9051, RFC 7162 MODSEQ, RFC 5032 WITHIN).

Keys parse into a small tree of frozen dataclasses.  Synonyms collapse into
one form (FROM x is Header("FROM", x); UNSEEN is Flag("\\Seen", False)) so
the evaluator has fewer cases.  Text values are decoded with the command's
CHARSET; an unknown charset is a NO [BADCHARSET], not a BAD (RFC 3501).
"""

from __future__ import annotations

import codecs
import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass

from . import grammar as g
from .grammar import Cursor, ParseError
from .sequence import SequenceSet

__all__ = ["SearchKey", "All", "Flag", "Header", "Body", "Date", "Size", "Seq", "Not", "Or",
           "And", "ModSeq", "Age", "BadCharset", "charset_decoder", "search_program",
           "SUPPORTED_CHARSETS"]

SUPPORTED_CHARSETS = ("UTF-8", "US-ASCII")  # advertised in [BADCHARSET (...)]


class BadCharset(ParseError):
    """CHARSET names something we cannot decode: answer NO [BADCHARSET]."""


@dataclass(frozen=True, slots=True)
class All:
    pass


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag or keyword is set (present=True) or not."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Header:
    """Header ``field`` (upper-cased) contains ``value`` (empty: has field)."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Body:
    """BODY (body only) or TEXT (header and body, whole_message=True)."""

    value: str
    whole_message: bool = False


@dataclass(frozen=True, slots=True)
class Date:
    """field "INTERNAL" (BEFORE/ON/SINCE) or "SENT" (SENTBEFORE/...)."""

    field: str
    relation: str  # "BEFORE" | "ON" | "SINCE"
    date: _dt.date


@dataclass(frozen=True, slots=True)
class Size:
    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class Seq:
    """A sequence set of message numbers, or of UIDs with uid=True."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    key: "SearchKey"


@dataclass(frozen=True, slots=True)
class Or:
    left: "SearchKey"
    right: "SearchKey"


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple["SearchKey", ...]


@dataclass(frozen=True, slots=True)
class ModSeq:
    """MODSEQ [entry-name entry-type] n: messages with modseq >= n."""

    modseq: int
    entry_name: str | None = None
    entry_type: str | None = None  # "PRIV" | "SHARED" | "ALL"


@dataclass(frozen=True, slots=True)
class Age:
    """OLDER/YOUNGER seconds (RFC 5032), relative to the internal date."""

    older: bool
    seconds: int


SearchKey = All | Flag | Header | Body | Date | Size | Seq | Not | Or | And | ModSeq | Age

Decoder = Callable[[bytes], str]
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape",
                           "undefined", "mbcs", "oem", "unicode_escape", "raw_unicode_escape"})


def charset_decoder(charset: str | None) -> Decoder:
    name = "UTF-8" if charset is None else charset.upper()
    if name in ("UTF-8", "US-ASCII"):
        # US-ASCII is read as UTF-8: a superset, and clients often mislabel.
        codec = "utf-8"
    else:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            raise BadCharset(f"unsupported charset {charset!r}") from None
        # Only real character sets: not rot13/zlib (not text encodings) nor
        # the escape and IDNA codecs, which are no MIME charsets.
        if not codecs.lookup(codec)._is_text_encoding or codec in _NOT_CHARSETS:
            raise BadCharset(f"unsupported charset {charset!r}")

    def decode(raw: bytes) -> str:
        try:
            return raw.decode(codec)
        except ValueError:  # UnicodeError and kin
            raise ParseError(f"search text is not valid {name}") from None

    return decode


_SIMPLE: dict[str, SearchKey] = {
    "ALL": All(),
    "ANSWERED": Flag("\\Answered"), "UNANSWERED": Flag("\\Answered", False),
    "DELETED": Flag("\\Deleted"), "UNDELETED": Flag("\\Deleted", False),
    "DRAFT": Flag("\\Draft"), "UNDRAFT": Flag("\\Draft", False),
    "FLAGGED": Flag("\\Flagged"), "UNFLAGGED": Flag("\\Flagged", False),
    "SEEN": Flag("\\Seen"), "UNSEEN": Flag("\\Seen", False),
    "RECENT": Flag("\\Recent"), "OLD": Flag("\\Recent", False),
    "NEW": And((Flag("\\Recent"), Flag("\\Seen", False))),
}
_ADDRESS_HEADERS = frozenset({"BCC", "CC", "FROM", "SUBJECT", "TO"})
_DATES = {
    "BEFORE": ("INTERNAL", "BEFORE"), "ON": ("INTERNAL", "ON"), "SINCE": ("INTERNAL", "SINCE"),
    "SENTBEFORE": ("SENT", "BEFORE"), "SENTON": ("SENT", "ON"), "SENTSINCE": ("SENT", "SINCE"),
}
_ENTRY_TYPES = frozenset({"PRIV", "SHARED", "ALL"})
_KEY_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _keyword_flag(cur: Cursor) -> str:
    value = g.flag(cur)
    if value.startswith("\\"):
        raise ParseError("KEYWORD takes a keyword, not a system flag")
    return value


def search_key(cur: Cursor, decode: Decoder, depth: int = 0) -> SearchKey:
    if depth > g.MAX_NESTING:
        raise ParseError("search keys nested too deeply")
    ch = cur.peek()
    if ch == 0x28:  # "("
        keys = g.paren_list(cur, lambda c: search_key(c, decode, depth + 1), allow_empty=False)
        return keys[0] if len(keys) == 1 else And(tuple(keys))
    if ch is not None and (0x30 <= ch <= 0x39 or ch in (0x2A, 0x24)):  # digit, "*", "$"
        return Seq(g.sequence_set(cur))
    word = cur.run(_KEY_CHARS).decode("ascii").upper()
    if not word:
        raise ParseError(f"expected a search key{cur._where()}")
    if word in _SIMPLE:
        return _SIMPLE[word]
    cur.sp()
    if word in _ADDRESS_HEADERS:
        return Header(word, decode(g.astring(cur)))
    if word == "HEADER":
        field = g.astring(cur, "a header field name")
        if not field or any(c <= 0x20 or c >= 0x7F or c == 0x3A for c in field):
            raise ParseError("invalid header field name")
        cur.sp()
        return Header(field.decode("ascii").upper(), decode(g.astring(cur)))
    if word in ("BODY", "TEXT"):
        return Body(decode(g.astring(cur)), whole_message=word == "TEXT")
    if word in _DATES:
        field, relation = _DATES[word]
        return Date(field, relation, g.date(cur))
    if word in ("LARGER", "SMALLER"):
        return Size(word == "LARGER", g.number64(cur, "a size"))
    if word in ("KEYWORD", "UNKEYWORD"):
        return Flag(_keyword_flag(cur), word == "KEYWORD")
    if word == "UID":
        return Seq(g.sequence_set(cur), uid=True)
    if word == "NOT":
        return Not(search_key(cur, decode, depth + 1))
    if word == "OR":
        left = search_key(cur, decode, depth + 1)
        cur.sp()
        return Or(left, search_key(cur, decode, depth + 1))
    if word == "MODSEQ":
        return _modseq(cur)
    if word in ("OLDER", "YOUNGER"):
        return Age(word == "OLDER", g.nz_number(cur, "a number of seconds"))
    raise ParseError(f"unknown search key {word!r}")


def _modseq(cur: Cursor) -> ModSeq:
    # MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    if cur.peek() == 0x22:
        name = g.quoted(cur).decode("ascii", "replace")
        cur.sp()
        kind = g.keyword(cur, "an entry type").upper()
        if kind not in _ENTRY_TYPES:
            raise ParseError("entry type must be priv, shared or all")
        cur.sp()
        return ModSeq(g.number64(cur), name, kind)
    return ModSeq(g.number64(cur))


def charset_and_keys(cur: Cursor, *, charset_required: bool = False) -> tuple[str | None, SearchKey]:
    """[CHARSET name SP] keys (SEARCH), or "name SP keys" (SORT, THREAD)."""
    charset: str | None = None
    if charset_required:
        charset = _charset(cur)
        cur.sp()
    elif cur.take(b"CHARSET "):
        charset = _charset(cur)
        cur.sp()
    decode = charset_decoder(charset)
    keys = [search_key(cur, decode)]
    while not cur.at_end():
        cur.sp()
        keys.append(search_key(cur, decode))
    return charset, keys[0] if len(keys) == 1 else And(tuple(keys))


def _charset(cur: Cursor) -> str:
    raw = g.quoted(cur) if cur.peek() == 0x22 else g.atom(cur, "a charset")
    return raw.decode("ascii", "replace").upper()


def search_program(cur: Cursor) -> tuple[str | None, SearchKey]:
    return charset_and_keys(cur)
