"""A tiny IMAP value reader for the tests: quoted strings and literals both
become bytes, so answers compare by meaning, not by Dovecot's choice of
quoted string versus literal (corpus README, "The JSON format")."""

from __future__ import annotations

Value = bytes | str | None | list["Value"]


def parse_value(data: bytes, i: int = 0) -> tuple[Value, int]:
    while i < len(data) and data[i] == 0x20:
        i += 1
    c = data[i : i + 1]
    if c == b"(":
        items: list[Value] = []
        i += 1
        while True:
            while data[i] == 0x20:
                i += 1
            if data[i : i + 1] == b")":
                return items, i + 1
            v, i = parse_value(data, i)
            items.append(v)
    if c == b'"':
        out = bytearray()
        i += 1
        while data[i] != 0x22:
            if data[i] == 0x5C:
                i += 1
            out.append(data[i])
            i += 1
        return bytes(out), i + 1
    if c in (b"{", b"~"):
        if c == b"~":
            i += 1
        close = data.index(b"}", i)
        n = int(data[i + 1 : close])
        start = close + 3  # "}\r\n"
        return data[start : start + n], start + n
    j = i
    while j < len(data) and data[j] not in b" ()":
        j += 1
    atom = data[i:j].decode()
    return (None if atom.upper() == "NIL" else atom), j


def value(data: bytes) -> Value:
    v, end = parse_value(data)
    assert end == len(data), f"trailing bytes after IMAP value: {data[end:end + 40]!r}"
    return v
