"""IMAP string forms shared by the serializer and the stored message summary.

RFC 3501 section 4.3: a quoted string holds 7-bit characters other than CR,
LF and NUL, with '"' and '\\' escaped; anything else must go as a literal.
"""

from __future__ import annotations

_QUOTABLE = bytes(b for b in range(0x01, 0x80) if b not in (0x0A, 0x0D))


def is_quotable(value: bytes) -> bool:
    # translate() deletes every quotable byte in C: what is left must not be.
    return len(value) < 1024 and not value.translate(None, _QUOTABLE)


def astring_bytes(value: bytes) -> bytes:
    """A quoted string when RFC 3501 allows one, else a synchronizing literal."""
    if is_quotable(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n%s" % (len(value), value)


def nstring_bytes(value: bytes | None) -> bytes:
    return b"NIL" if value is None else astring_bytes(value)


def literal_bytes(value: bytes) -> bytes:
    return b"{%d}\r\n%s" % (len(value), value)
