"""Small RFC 5322 / RFC 2045 lexer helpers over bytes with an index.

Every function takes (data, index) and returns the new index (plus a value);
none raises on malformed input: unterminated quotes and comments simply run
to the end of the data.
"""

from __future__ import annotations

_WSP = b" \t\r\n"
# RFC 5322 atext, plus 8-bit bytes (RFC 6532 UTF-8 headers).
ATEXT = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
) | frozenset(range(0x80, 0x100))
# RFC 2045 token: CHAR except SPACE, CTLs and tspecials.
_TSPECIALS = frozenset(b'()<>@,;:\\"/[]?=')
TOKEN = frozenset(range(0x21, 0x7F)) - _TSPECIALS


def skip_cfws(data: bytes, i: int, comments: list[bytes] | None = None) -> int:
    """Skip white space and (nested) comments; collect comment texts."""
    n = len(data)
    while i < n:
        c = data[i]
        if c in _WSP:
            i += 1
        elif c == 0x28:  # "("
            i, text = comment(data, i)
            if comments is not None:
                comments.append(text)
        else:
            break
    return i


def comment(data: bytes, i: int) -> tuple[int, bytes]:
    """data[i] == '('; returns index after the matching ')' and the text."""
    depth, n = 0, len(data)
    out = bytearray()
    while i < n:
        c = data[i]
        if c == 0x5C and i + 1 < n:  # quoted-pair
            out.append(data[i + 1])
            i += 2
            continue
        if c == 0x28:
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1, bytes(out)
            out.append(c)
        else:
            out.append(c)
        i += 1
    return i, bytes(out)


def quoted(data: bytes, i: int) -> tuple[int, bytes]:
    """data[i] == '"'; returns index after the closing quote and the content."""
    n = len(data)
    out = bytearray()
    i += 1
    while i < n:
        c = data[i]
        if c == 0x5C and i + 1 < n:
            out.append(data[i + 1])
            i += 2
            continue
        if c == 0x22:
            return i + 1, bytes(out)
        out.append(c)
        i += 1
    return i, bytes(out)


def run(data: bytes, i: int, allowed: frozenset[int]) -> tuple[int, bytes]:
    """The longest run of bytes from `allowed` starting at i."""
    j, n = i, len(data)
    while j < n and data[j] in allowed:
        j += 1
    return j, data[i:j]
