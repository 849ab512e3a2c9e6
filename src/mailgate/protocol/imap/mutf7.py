"""Modified UTF-7 for folder names (RFC 3501 section 5.1.3).

Printable US-ASCII (0x20-0x7e) stands for itself, except "&" which is written
"&-".  Every other run of characters is UTF-16BE, base64-encoded with "," in
place of "/" and no "=" padding, between "&" and "-".

The decoder is strict on purpose: a name has exactly one encoding, so two
spellings can never denote the same folder (a client could otherwise create
look-alike duplicates or dodge a name check).
"""

from __future__ import annotations

import binascii

__all__ = ["encode", "decode", "MUTF7Error"]


class MUTF7Error(ValueError):
    """The bytes are not canonical modified UTF-7."""


def _is_direct(ch: int) -> bool:
    return 0x20 <= ch <= 0x7E


def _b64(chunk: str) -> bytes:
    return _b64_raw(chunk.encode("utf-16-be"))


def _b64_raw(raw: bytes) -> bytes:
    return binascii.b2a_base64(raw, newline=False).rstrip(b"=").replace(b"/", b",")


def encode(name: str) -> bytes:
    """Encode a folder name; raises UnicodeEncodeError on lone surrogates."""
    out = bytearray()
    run: list[str] = []
    for ch in name:
        code = ord(ch)
        if _is_direct(code):
            if run:
                out += b"&" + _b64("".join(run)) + b"-"
                run.clear()
            out += b"&-" if ch == "&" else bytes([code])
        else:
            run.append(ch)
    if run:
        out += b"&" + _b64("".join(run)) + b"-"
    return bytes(out)


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def _decode_run(run: bytes) -> str:
    if any(b not in _B64_ALPHABET for b in run):
        raise MUTF7Error("invalid character in modified base64")
    # 6 bits per character; a UTF-16 unit is 16 bits.  A leftover of 6 bits or
    # more, or non-zero leftover bits, means a non-canonical encoding.
    bits = len(run) * 6
    if bits % 16 >= 6:
        raise MUTF7Error("truncated modified base64 run")
    padded = run.replace(b",", b"/") + b"=" * (-len(run) % 4)
    try:
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise MUTF7Error(f"bad modified base64: {exc}") from None
    if len(raw) % 2:
        raise MUTF7Error("odd number of UTF-16 bytes")
    if _b64_raw(raw) != run:
        raise MUTF7Error("non-canonical modified base64 (trailing bits)")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise MUTF7Error("unpaired UTF-16 surrogate") from None
    if any(_is_direct(ord(c)) for c in text):
        raise MUTF7Error("printable US-ASCII must not be base64-encoded")
    return text


def decode(data: bytes) -> str:
    """Decode a folder name; raises MUTF7Error when it is not canonical."""
    out: list[str] = []
    i, n = 0, len(data)
    prev_was_run = False
    while i < n:
        ch = data[i]
        if ch == 0x26:  # "&"
            end = data.find(b"-", i + 1)
            if end < 0:
                raise MUTF7Error("unterminated '&' shift")
            run = data[i + 1 : end]
            if not run:
                out.append("&")
                prev_was_run = False
            else:
                if prev_was_run:
                    # "&AOQ-&AOQ-" must be written as one run "&AOQA5A-".
                    raise MUTF7Error("adjacent base64 runs")
                out.append(_decode_run(run))
                prev_was_run = True
            i = end + 1
            continue
        if not _is_direct(ch):
            raise MUTF7Error(f"byte 0x{ch:02x} not allowed outside a base64 run")
        out.append(chr(ch))
        prev_was_run = False
        i += 1
    return "".join(out)
