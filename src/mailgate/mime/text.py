"""Decoded text for SEARCH / SORT: RFC 2047 encoded words and charsets.

Matching is meant to be a case-insensitive substring test with str.lower()
(not casefold(): Dovecot does no ß/ss folding, corpus search answers).
"""

from __future__ import annotations

import binascii
import codecs
import re

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(rb"[ \t\r\n]+\Z")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def codec_for(charset: str | bytes | None) -> str | None:
    """A Python codec name for a MIME charset label, None if unknown."""
    if charset is None:
        return None
    if isinstance(charset, bytes):
        charset = charset.decode("latin-1")
    label = charset.split("*", 1)[0].strip().strip('"').lower()  # RFC 2231 *lang
    try:
        return codecs.lookup(label).name if label else None
    except LookupError:
        return None


def decode_text(data: bytes, charset: str | bytes | None) -> str:
    """Bytes in a declared charset -> str; never raises.

    US-ASCII labels and unknown labels are read as UTF-8 when that works
    (raw 8-bit text mislabelled as ASCII is common), else as Latin-1.
    """
    name = codec_for(charset)
    if name is not None and name != "ascii":
        try:
            return data.decode(name, errors="replace")
        except Exception:  # codecs may fail on odd input in odd ways
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_word(m: re.Match[bytes]) -> str | None:
    charset, enc, text = m.group(1), m.group(2).lower(), m.group(3)
    try:
        if enc == b"b":
            if text.translate(None, _B64_ALPHABET):
                return None  # not base64 at all: keep the word as written
            raw = binascii.a2b_base64(text + b"=" * (-len(text) % 4))
        else:
            raw = re.sub(rb"=([0-9A-Fa-f]{2})", lambda h: bytes([int(h.group(1), 16)]),
                         text.replace(b"_", b" "))
    except (binascii.Error, ValueError):
        return None
    return decode_text(raw, charset)


def decode_header(value: bytes) -> str:
    """An unfolded header value with encoded words decoded (RFC 2047).

    Each word is decoded on its own (RFC 2047 5: a word holds whole
    characters), white space between two encoded words is dropped (6.2),
    and a word that cannot be decoded is kept as written.
    """
    out: list[str] = []
    pos = 0
    prev_was_word = False
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        decoded = _decode_word(m)
        if decoded is None:
            out.append(decode_text(value[pos : m.end()], None))
            prev_was_word = False
        else:
            if not (prev_was_word and _BETWEEN_WORDS.match(gap)):
                out.append(decode_text(gap, None))
            out.append(decoded)
            prev_was_word = True
        pos = m.end()
    out.append(decode_text(value[pos:], None))
    return "".join(out)
