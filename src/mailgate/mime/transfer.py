"""Content-Transfer-Encoding decoders (RFC 2045 6.7, 6.8).

Strict mode is what BINARY[] needs (RFC 3516 4.2: undecodable data is an
error the client must hear about); lenient mode is what SEARCH needs (find
the words in whatever can be recovered).
"""

from __future__ import annotations

import binascii
import re


class BinaryError(Exception):
    """A section cannot be returned decoded; carries its IMAP response code."""

    response_code = "PARSE"
    text = "Invalid data in MIME part."


class UnknownCte(BinaryError):
    """RFC 3516 4.3: the server does not know the section's encoding."""

    response_code = "UNKNOWN-CTE"
    text = "Unknown Content-Transfer-Encoding."


class DecodeFailed(BinaryError):
    """The section's base64 / quoted-printable data is not valid."""


class NoSuchPart(BinaryError):
    """The part number does not exist in this message."""

    response_code = "NONEXISTENT"
    text = "No such part."


IDENTITY = frozenset({"7bit", "8bit", "binary"})
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_SEGMENT = re.compile(rb"[^=]+=*")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def decode_base64(data: bytes, strict: bool = True) -> bytes:
    compact = data.translate(None, b" \t\r\n")
    if compact.translate(None, _B64 + b"="):
        if strict:
            raise DecodeFailed("characters outside the base64 alphabet")
        compact = compact.translate(None, compact.translate(None, _B64 + b"="))
    out = []
    # Padding may legitimately end one of several concatenated encodings.
    for seg in _B64_SEGMENT.findall(compact):
        core = seg.rstrip(b"=")
        if len(core) % 4 == 1:
            if strict:
                raise DecodeFailed("truncated base64 quantum")
            core = core[:-1]
        try:
            out.append(binascii.a2b_base64(core + b"=" * (-len(core) % 4)))
        except binascii.Error as exc:
            if strict:
                raise DecodeFailed(str(exc)) from None
    return b"".join(out)


def decode_qp(data: bytes, strict: bool = True) -> bytes:
    out = bytearray()
    lines = data.split(b"\n")
    last = len(lines) - 1
    for idx, line in enumerate(lines):
        had_cr = line.endswith(b"\r")
        if had_cr:
            line = line[:-1]
        # RFC 2045 6.7 rule 3: trailing white space is transport padding.
        line = line.rstrip(b" \t")
        soft = False
        i = 0
        while True:
            j = line.find(b"=", i)
            if j < 0:
                out += line[i:]
                break
            out += line[i:j]
            if j == len(line) - 1:
                soft = True  # soft line break
                break
            hx = line[j + 1 : j + 3]
            if len(hx) == 2 and hx[0] in _HEX and hx[1] in _HEX:
                out.append(int(hx, 16))
                i = j + 3
            elif strict:
                raise DecodeFailed("invalid quoted-printable escape")
            else:
                out += b"="
                i = j + 1
        if not soft and idx != last:
            out += b"\r\n" if had_cr else b"\n"
    return bytes(out)


def decode(data: bytes, cte: str, strict: bool = True) -> bytes:
    """Decode by encoding name (lower case); identity encodings pass through."""
    if cte in IDENTITY:
        return data
    if cte == "base64":
        return decode_base64(data, strict)
    if cte == "quoted-printable":
        return decode_qp(data, strict)
    if strict:
        raise UnknownCte(cte)
    return data


def needs_decoding(cte: str) -> bool:
    return cte not in IDENTITY


_CTE_LINE = b"content-transfer-encoding"


def rewrite_header(header: bytes) -> bytes:
    """Drop every Content-Transfer-Encoding field, add `binary` at the end.

    This is what BINARY of a multipart / message part does to each part it
    decoded (Dovecot's answers for 017, 019, 025).
    """
    out = []
    skipping = False
    pos, n = 0, len(header)
    blank = b""
    while pos < n:
        nl = header.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        line = header[pos:end]
        if line in (b"\r\n", b"\n"):
            blank = header[pos:]
            break
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                out.append(line)
        else:
            name = line.split(b":", 1)[0].strip().lower()
            skipping = name == _CTE_LINE and b":" in line
            if not skipping:
                out.append(line)
        pos = end
    if out and not out[-1].endswith(b"\n"):
        out.append(b"\r\n")
    out.append(b"Content-Transfer-Encoding: binary\r\n")
    out.append(blank)
    return b"".join(out)
