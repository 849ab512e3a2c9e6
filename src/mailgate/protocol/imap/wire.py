"""IMAP string forms shared by the serializer and the stored message summary.

RFC 3501 section 4.3: a quoted string holds 7-bit characters other than CR,
LF and NUL, with '"' and '\\' escaped; anything else must go as a literal.
"""

from __future__ import annotations

_QUOTABLE = frozenset(range(0x01, 0x80)) - {0x0A, 0x0D}


def is_quotable(value: bytes) -> bool:
    return all(b in _QUOTABLE for b in value) if len(value) < 1024 else False


def astring_bytes(value: bytes) -> bytes:
    """A quoted string when RFC 3501 allows one, else a synchronizing literal."""
    if is_quotable(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n%s" % (len(value), value)


def nstring_bytes(value: bytes | None) -> bytes:
    return b"NIL" if value is None else astring_bytes(value)


def literal_bytes(value: bytes) -> bytes:
    return b"{%d}\r\n%s" % (len(value), value)
