"""Grammar elements of RFC 3501/9051 section 9, one small function each.

Every parser works on a `Cursor` and either returns a value (advancing the
cursor) or raises `ParseError`.  ParseError never leaves this package: the
command parser turns it into an `Invalid` event that carries the BAD text.

The cursor's text is one command as the reader assembled it: the line pieces
with each literal marker ("{5}", "{5+}", "~{5}") kept in place, the CRLF after
a marker removed, and the literal bytes held aside in ``literals``.  Keeping
the marker lets a parser see "a literal goes here" at the right position.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import mutf7
from .literal import Literal
from .sequence import SequenceSet

T = TypeVar("T")

MAX_NESTING = 32  # parenthesised search keys; bounds the recursion depth
MAX_NUMBER = 0xFFFFFFFF
MAX_MODSEQ = (1 << 63) - 1

_CTL = frozenset(range(0x00, 0x20)) | {0x7F}
_ATOM_SPECIALS = frozenset(b'(){ %*"\\]') | _CTL
ATOM_CHARS = frozenset(range(0x01, 0x80)) - _ATOM_SPECIALS
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
TAG_CHARS = ASTRING_CHARS - {ord("+")}
LIST_CHARS = ATOM_CHARS | frozenset(b"%*]")
_DIGITS = frozenset(b"0123456789")

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

SYSTEM_FLAGS = {f.upper(): f for f in
                ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")}


class ParseError(Exception):
    """Input does not match the grammar; ``text`` is meant for a BAD reply."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Cursor:
    """Position in one assembled command (see module docstring)."""

    __slots__ = ("text", "pos", "literals", "breaks", "lit_index", "utf8")

    def __init__(self, text: bytes, literals: Sequence[Literal] = (), breaks: Sequence[int] = (),
                 *, utf8: bool = False) -> None:
        self.text = text
        self.pos = 0
        self.literals = literals
        self.breaks = breaks  # text offset just after each literal marker
        self.lit_index = 0
        self.utf8 = utf8  # UTF8=ACCEPT is enabled (RFC 6855): names are UTF-8

    # -- primitives -------------------------------------------------------------
    def peek(self) -> int | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def startswith_ci(self, word: bytes) -> bool:
        return self.text[self.pos:self.pos + len(word)].upper() == word

    def take(self, word: bytes) -> bool:
        """Consume ``word`` (case-insensitive) if it is next."""
        if self.startswith_ci(word):
            self.pos += len(word)
            return True
        return False

    def expect(self, word: bytes, what: str | None = None) -> None:
        if not self.take(word):
            raise ParseError(f"expected {what or repr(word.decode())}{self._where()}")

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise ParseError(f"expected a space{self._where()}")
        self.pos += 1

    def end(self) -> None:
        if not self.at_end():
            raise ParseError(f"unexpected text at the end{self._where()}")
        if self.lit_index != len(self.literals):
            raise ParseError("literal in an unexpected place")

    def _where(self) -> str:
        if self.at_end():
            return " at end of command"
        snippet = self.text[self.pos:self.pos + 16].decode("ascii", "backslashreplace")
        return f" near {snippet!r}"

    def run(self, chars: frozenset[int]) -> bytes:
        start = self.pos
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] in chars:
            self.pos += 1
        return text[start:self.pos]


# -- atoms and numbers -------------------------------------------------------------

def atom(cur: Cursor, what: str = "an atom") -> bytes:
    value = cur.run(ATOM_CHARS)
    if not value:
        raise ParseError(f"expected {what}{cur._where()}")
    return value


def keyword(cur: Cursor, what: str = "a keyword") -> str:
    """An atom compared case-insensitively: returned upper-cased."""
    return atom(cur, what).decode("ascii").upper()


def tag(cur: Cursor) -> str:
    value = cur.run(TAG_CHARS)
    if not value:
        raise ParseError("missing or invalid tag")
    return value.decode("ascii")


def _digits(cur: Cursor, what: str, max_digits: int) -> int:
    raw = cur.run(_DIGITS)
    if not raw:
        raise ParseError(f"expected {what}{cur._where()}")
    # Check length before int(): CPython refuses to convert very long digit
    # strings and a hostile one must not raise ValueError past us.
    if len(raw.lstrip(b"0")) > max_digits:
        raise ParseError(f"{what} out of range")
    return int(raw)


def number(cur: Cursor, what: str = "a number") -> int:
    n = _digits(cur, what, 10)
    if n > MAX_NUMBER:
        raise ParseError(f"{what} out of range")
    return n


def nz_number(cur: Cursor, what: str = "a non-zero number") -> int:
    n = number(cur, what)
    if n == 0:
        raise ParseError(f"{what} must not be zero")
    return n


def number64(cur: Cursor, what: str = "a mod-sequence") -> int:
    """mod-sequence-value (RFC 7162): 1..2^63-1; zero is accepted too, the
    few places that forbid it check themselves."""
    n = _digits(cur, what, 19)
    if n > MAX_MODSEQ:
        raise ParseError(f"{what} out of range")
    return n


# -- strings -----------------------------------------------------------------------

def quoted(cur: Cursor) -> bytes:
    cur.expect(b'"', "a quoted string")
    out = bytearray()
    text, n = cur.text, len(cur.text)
    while cur.pos < n:
        ch = text[cur.pos]
        cur.pos += 1
        if ch == 0x22:
            return bytes(out)
        if ch == 0x5C:
            if cur.pos >= n or text[cur.pos] not in (0x22, 0x5C):
                raise ParseError("invalid escape in quoted string")
            out.append(text[cur.pos])
            cur.pos += 1
        elif ch in (0x00, 0x0A, 0x0D):
            raise ParseError("invalid character in quoted string")
        else:
            # 8-bit bytes are allowed: RFC 9051/6855 permit UTF-8 here, and
            # callers that need text decode (and reject) it themselves.
            out.append(ch)
    raise ParseError("unterminated quoted string")


def literal(cur: Cursor, *, allow_binary: bool = False) -> Literal:
    """A literal marker at the cursor, returning the bytes the reader kept."""
    binary = cur.take(b"~")
    if binary and not allow_binary:
        raise ParseError("literal8 (~{n}) is only allowed in APPEND")
    cur.expect(b"{", "a literal")
    size = number(cur, "a literal size")
    cur.take(b"+")
    cur.expect(b"}", "'}'")
    if cur.lit_index >= len(cur.literals) or cur.breaks[cur.lit_index] != cur.pos:
        raise ParseError("literal marker must end a line")
    lit = cur.literals[cur.lit_index]
    cur.lit_index += 1
    if lit.size != size or lit.binary != binary:  # the reader guarantees it
        raise ParseError("literal size mismatch")
    return lit


def string(cur: Cursor) -> bytes:
    ch = cur.peek()
    if ch == 0x22:
        return quoted(cur)
    if ch == 0x7B:
        return literal(cur).read()
    raise ParseError(f"expected a string{cur._where()}")


def astring(cur: Cursor, what: str = "a string") -> bytes:
    ch = cur.peek()
    if ch in (0x22, 0x7B):
        return string(cur)
    if cur.startswith_ci(b"~{"):
        literal(cur)  # raises the clear "literal8 only in APPEND" error
    value = cur.run(ASTRING_CHARS)
    if not value:
        raise ParseError(f"expected {what}{cur._where()}")
    return value


def nstring(cur: Cursor) -> bytes | None:
    if cur.take(b"NIL"):
        return None
    return string(cur)


def text_utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"{what} is not valid UTF-8") from None


# -- lists -------------------------------------------------------------------------

def paren_list(cur: Cursor, item: Callable[[Cursor], T], *, allow_empty: bool = True) -> list[T]:
    cur.expect(b"(", "'('")
    out: list[T] = []
    if cur.take(b")"):
        if not allow_empty:
            raise ParseError("empty list")
        return out
    while True:
        out.append(item(cur))
        if cur.take(b")"):
            return out
        cur.sp()


# -- mailboxes -----------------------------------------------------------------------

def decode_mailbox(raw: bytes, utf8: bool) -> str:
    if utf8:
        name = text_utf8(raw, "folder name")
    else:
        try:
            name = mutf7.decode(raw)
        except mutf7.MUTF7Error as exc:
            raise ParseError(f"folder name is not modified UTF-7: {exc}") from None
    # "INBOX" is case-insensitive (RFC 3501 5.1); one spelling downstream.
    return "INBOX" if name.upper() == "INBOX" else name


def mailbox(cur: Cursor) -> str:
    return decode_mailbox(astring(cur, "a folder name"), cur.utf8)


def list_mailbox(cur: Cursor) -> str:
    """A LIST pattern: like a mailbox, but "%", "*" and "]" may be bare."""
    ch = cur.peek()
    raw = string(cur) if ch in (0x22, 0x7B) else cur.run(LIST_CHARS)
    if not raw and ch not in (0x22, 0x7B):
        raise ParseError(f"expected a folder pattern{cur._where()}")
    return decode_mailbox(raw, cur.utf8)


# -- flags ---------------------------------------------------------------------------

def flag(cur: Cursor) -> str:
    if cur.take(b"\\"):
        name = atom(cur, "a flag name")
        text = "\\" + name.decode("ascii")
        # System flags are case-insensitive; keep one canonical spelling.
        return SYSTEM_FLAGS.get(text.upper(), text)
    return atom(cur, "a flag").decode("ascii")


def flag_list(cur: Cursor) -> tuple[str, ...]:
    return tuple(paren_list(cur, flag))


# -- dates ---------------------------------------------------------------------------

def _month(cur: Cursor) -> int:
    raw = cur.text[cur.pos:cur.pos + 3].upper()
    try:
        month = MONTHS.index(raw.decode("ascii", "replace")) + 1
    except ValueError:
        raise ParseError(f"expected a month name{cur._where()}") from None
    cur.pos += 3
    return month


def _date_text(cur: Cursor) -> _dt.date:
    day = cur.run(_DIGITS)
    if not 1 <= len(day) <= 2:
        raise ParseError(f"expected a day of month{cur._where()}")
    cur.expect(b"-")
    month = _month(cur)
    cur.expect(b"-")
    year = cur.run(_DIGITS)
    if len(year) != 4:
        raise ParseError("expected a 4-digit year")
    try:
        return _dt.date(int(year), month, int(day))
    except ValueError:
        raise ParseError("no such date") from None


def date(cur: Cursor) -> _dt.date:
    """search date: 1-Feb-2024, optionally in double quotes."""
    if cur.take(b'"'):
        value = _date_text(cur)
        cur.expect(b'"')
        return value
    return _date_text(cur)


def _fixed(cur: Cursor, width: int, what: str) -> int:
    raw = cur.text[cur.pos:cur.pos + width]
    if len(raw) != width or not all(c in _DIGITS for c in raw):
        raise ParseError(f"expected {what}{cur._where()}")
    cur.pos += width
    return int(raw)


def date_time(cur: Cursor) -> _dt.datetime:
    """APPEND date-time: "17-Jul-1996 02:44:25 -0700" (day may be " 7")."""
    cur.expect(b'"', "a quoted date-time")
    if cur.take(b" "):
        day = _fixed(cur, 1, "a day")
    else:
        day = _fixed(cur, 2, "a day")
    cur.expect(b"-")
    month = _month(cur)
    cur.expect(b"-")
    year = _fixed(cur, 4, "a year")
    cur.sp()
    hour = _fixed(cur, 2, "hours")
    cur.expect(b":")
    minute = _fixed(cur, 2, "minutes")
    cur.expect(b":")
    second = _fixed(cur, 2, "seconds")
    cur.sp()
    sign = cur.peek()
    if sign not in (0x2B, 0x2D):
        raise ParseError("expected a zone (+hhmm or -hhmm)")
    cur.pos += 1
    zh = _fixed(cur, 2, "zone hours")
    zm = _fixed(cur, 2, "zone minutes")
    cur.expect(b'"')
    if zm > 59 or zh > 23:
        raise ParseError("zone out of range")
    offset = _dt.timedelta(hours=zh, minutes=zm) * (-1 if sign == 0x2D else 1)
    try:
        return _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone(offset))
    except ValueError:
        raise ParseError("no such date-time") from None


# -- sequence sets -----------------------------------------------------------------

def _seq_number(cur: Cursor) -> int | None:
    if cur.take(b"*"):
        return None
    return nz_number(cur, "a sequence number")


def sequence_set(cur: Cursor) -> SequenceSet:
    """"1:*", "*:4", "2,4:7,9", or RFC 5182 "$" (the saved search result)."""
    if cur.take(b"$"):
        return SequenceSet(saved=True)
    ranges: list[tuple[int | None, int | None]] = []
    while True:
        lo = _seq_number(cur)
        hi = _seq_number(cur) if cur.take(b":") else lo
        ranges.append((lo, hi))
        if not cur.take(b","):
            return SequenceSet(tuple(ranges))


def known_uids(cur: Cursor) -> SequenceSet:
    """A sequence set without "*" or "$" (QRESYNC known-uids, seq-match)."""
    value = sequence_set(cur)
    if value.saved or any(lo is None or hi is None for lo, hi in value.ranges):
        raise ParseError("'*' and '$' are not allowed here")
    return value
