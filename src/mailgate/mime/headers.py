"""Header blocks: splitting into fields, unfolding, HEADER.FIELDS selection.

Everything here works on a header block that was copied out of the stored
message (headers are small; bodies are never copied).  Offsets returned are
relative to the block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WSP_RUN = re.compile(rb"[ \t\r\n]+")


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its name and the raw bytes of its whole line(s)."""

    name: bytes  # as written, trailing white space before the colon removed
    raw: bytes  # the full field including continuation lines and line ends
    value_offset: int  # index in `raw` just after the colon
    # The name in lower case, made once: a summary looks fields up by name
    # some twenty times per message.
    key: str

    @property
    def value(self) -> bytes:
        """Raw value after the colon, folding still in place."""
        return self.raw[self.value_offset :]


def split_fields(block: bytes) -> list[Field]:
    """Fields of a header block, in order.

    A line without a colon is not a field (RFC 5322 has no such line; Dovecot
    keeps reading the header after it, so do we) and continuation lines that
    follow it are dropped with it.  The block ends at the first empty line.
    """
    fields: list[Field] = []
    pos, n = 0, len(block)
    cur_start = -1
    cur_name = b""
    cur_voff = 0

    def close(end: int) -> None:
        if cur_start >= 0:
            fields.append(Field(cur_name, block[cur_start:end], cur_voff, cur_name.decode("latin-1").lower()))

    while pos < n:
        nl = block.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        first = block[pos : pos + 1]
        if block[pos:end] in (b"\r\n", b"\n"):
            break
        if first in (b" ", b"\t"):
            pos = end  # continuation: stays part of the current field (if any)
            continue
        close(pos)
        colon = block.find(b":", pos, end)
        name = block[pos:colon].rstrip(b" \t") if colon > pos else b""
        if name:
            cur_start, cur_name, cur_voff = pos, name, colon + 1 - pos
        else:
            cur_start = -1
        pos = end
    close(pos)
    return fields


def unfold(value: bytes) -> bytes:
    """RFC 5322 2.2.3: unfolding removes the CRLF, keeps the white space."""
    return value.replace(b"\r\n", b"").replace(b"\n", b"")


def clean(value: bytes) -> bytes:
    """Unfolded, runs of white space collapsed, trimmed (for humans)."""
    return _WSP_RUN.sub(b" ", value).strip(b" ")


def field_values(fields: Iterable[Field], key: str) -> list[bytes]:
    """Unfolded, trimmed values of every field named `key` (lower case)."""
    return [unfold(f.value).strip(b" \t") for f in fields if f.key == key]


def header_fields(header_block: bytes, names: list[str], exclude: bool) -> bytes:
    """BODY[HEADER.FIELDS (...)] / HEADER.FIELDS.NOT: selected fields + CRLF.

    RFC 3501 6.4.5: the subset keeps the fields' original order and form and
    always ends with the blank line.  Names compare case-insensitively.
    """
    wanted = {n.strip().lower() for n in names}
    out = []
    for f in split_fields(bytes(header_block)):
        if (f.key in wanted) != exclude:
            raw = f.raw
            if not raw.endswith(b"\n"):
                raw += b"\r\n"  # last field of an unterminated header (033)
            out.append(raw)
    out.append(b"\r\n")
    return b"".join(out)
