"""RFC 5322 address lists -> IMAP ENVELOPE address structures.

Matches Dovecot's choices (corpus README): a comment stands in for a missing
display name, quoted local parts are unquoted, source routes go to the adl
field, missing parts become MISSING_MAILBOX / MISSING_DOMAIN, and a syntax
error drops the rest of the list.  Groups follow RFC 3501 7.4.2.
"""

from __future__ import annotations

from . import lex
from .headers import clean

Address = tuple[bytes | None, bytes | None, bytes | None, bytes | None]
GROUP_END: Address = (None, None, None, None)
MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"

_PHRASE_ATOM = lex.ATEXT | frozenset(b".")  # obs-phrase allows "."


class _Error(Exception):
    """Internal: a syntax error ends the list (never escapes this module)."""


def _phrase(data: bytes, i: int) -> tuple[int, list[bytes]]:
    words: list[bytes] = []
    n = len(data)
    while True:
        i = lex.skip_cfws(data, i)
        if i < n and data[i] == 0x22:
            i, w = lex.quoted(data, i)
            words.append(w)
            continue
        j, w = lex.run(data, i, _PHRASE_ATOM)
        if not w:
            return i, words
        words.append(w)
        i = j


def _dot_words(data: bytes, i: int) -> tuple[int, bytes]:
    """local-part: words (atoms / quoted strings) separated by dots."""
    parts: list[bytes] = []
    n = len(data)
    while True:
        i = lex.skip_cfws(data, i)
        if i < n and data[i] == 0x22:
            i, w = lex.quoted(data, i)
        else:
            i, w = lex.run(data, i, lex.ATEXT)
            if not w and not parts:
                return i, b""
        parts.append(w)
        j = lex.skip_cfws(data, i)
        if j < n and data[j] == 0x2E:  # "."
            i = j + 1
            continue
        return i, b".".join(parts)


def _domain(data: bytes, i: int) -> tuple[int, bytes]:
    i = lex.skip_cfws(data, i)
    n = len(data)
    if i < n and data[i] == 0x5B:  # domain literal, kept raw
        j = data.find(b"]", i)
        j = n if j < 0 else j + 1
        return j, data[i:j]
    labels: list[bytes] = []
    while True:
        i, w = lex.run(data, lex.skip_cfws(data, i), lex.ATEXT)
        if not w:
            return i, b".".join(labels) if labels else b""
        labels.append(w)
        j = lex.skip_cfws(data, i)
        if j < n and data[j] == 0x2E:
            i = j + 1
            continue
        return i, b".".join(labels)


def _addr_spec(data: bytes, i: int) -> tuple[int, bytes, bytes, bool]:
    """(index, mailbox, host, ok)."""
    i, local = _dot_words(data, i)
    ok = bool(local)
    j = lex.skip_cfws(data, i)
    if j < len(data) and data[j] == 0x40:  # "@"
        i, host = _domain(data, j + 1)
        if not host:
            ok = False
    else:
        host = b""
    return i, local or MISSING_MAILBOX, host or MISSING_DOMAIN, ok


def _angle_addr(data: bytes, i: int, name: bytes | None, out: list[Address]) -> int:
    """data[i] == '<'."""
    n = len(data)
    i = lex.skip_cfws(data, i + 1)
    route = None
    if i < n and data[i] == 0x40:  # obs-route: @a,@b:
        colon = data.find(b":", i)
        close = data.find(b">", i)
        if colon >= 0 and (close < 0 or colon < close):
            route = bytes(b for b in data[i:colon] if b not in b" \t\r\n")
            i = colon + 1
    i, mailbox, host, ok = _addr_spec(data, i)
    out.append((name, route, mailbox, host))
    i = lex.skip_cfws(data, i)
    if i < n and data[i] == 0x3E:  # ">"
        return i + 1
    raise _Error


def _mailbox(data: bytes, i: int, out: list[Address]) -> int:
    start = i
    i, words = _phrase(data, i)
    i = lex.skip_cfws(data, i)
    if i < len(data) and data[i] == 0x3C:  # name-addr
        name = clean(b" ".join(words)) if words else None
        return _angle_addr(data, i, name, out)
    i, mailbox, host, ok = _addr_spec(data, lex.skip_cfws(data, start))
    comments: list[bytes] = []
    i = lex.skip_cfws(data, i, comments)
    name = clean(comments[-1]) if comments else None
    out.append((name, None, mailbox, host))
    if not ok:
        raise _Error
    return i


def _address(data: bytes, i: int, out: list[Address]) -> int:
    j, words = _phrase(data, i)
    j = lex.skip_cfws(data, j)
    n = len(data)
    if words and j < n and data[j] == 0x3A:  # group
        out.append((None, None, clean(b" ".join(words)), None))
        i = j + 1
        try:
            while True:
                i = lex.skip_cfws(data, i)
                if i >= n:
                    break
                if data[i] == 0x3B:  # ";"
                    i += 1
                    break
                if data[i] == 0x2C:
                    i += 1
                    continue
                i = _mailbox(data, i, out)
        finally:
            out.append(GROUP_END)
        return i
    return _mailbox(data, i, out)


def parse_address_list(data: bytes) -> list[Address]:
    """Addresses of one unfolded header value; never raises."""
    out: list[Address] = []
    i, n = 0, len(data)
    try:
        while True:
            i = lex.skip_cfws(data, i)
            if i >= n:
                break
            if data[i] == 0x2C:
                i += 1
                continue
            i = _address(data, i, out)
            i = lex.skip_cfws(data, i)
            if i < n and data[i] != 0x2C:
                break  # junk after an address: drop the rest
    except _Error:
        pass
    return out
