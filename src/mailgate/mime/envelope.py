"""IMAP ENVELOPE (RFC 3501 7.4.2) and the sent date used by SEARCH/SORT."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from mailgate.protocol.imap.wire import astring_bytes, nstring_bytes

from .addresses import Address, parse_address_list
from .headers import Field, clean, unfold

_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")


def _last(fields: list[Field], key: str) -> bytes | None:
    value = None
    for f in fields:
        if f.key == key:
            value = f.value
    return value


def _addresses(fields: list[Field], key: str) -> list[Address]:
    # Several fields of one kind (043): their lists are concatenated.
    out: list[Address] = []
    for f in fields:
        if f.key == key:
            out.extend(parse_address_list(unfold(f.value)))
    return out


def _address_list_bytes(addrs: list[Address]) -> bytes:
    if not addrs:
        return b"NIL"
    return b"(%s)" % b"".join(
        b"(%s %s %s %s)" % tuple(nstring_bytes(x) for x in a) for a in addrs
    )


def _raw(value: bytes | None) -> bytes:
    """Date / In-Reply-To / Message-ID: unfolded, trimmed, otherwise raw.

    Trimming includes white space left by a fold right after the colon (060):
    RFC 5322 3.6.4 puts that white space in the CFWS around the msg-id, not
    in the value (Dovecot keeps it; the corpus README lists that as wrong).
    """
    return nstring_bytes(None if value is None else unfold(value).strip(b" \t"))


def build_envelope(fields: list[Field]) -> bytes:
    subject = _last(fields, "subject")
    lists = {k: _addresses(fields, k) for k in _ADDRESS_FIELDS}
    # RFC 3501: absent or empty Sender / Reply-To default to From.
    for k in ("sender", "reply-to"):
        if not lists[k]:
            lists[k] = lists["from"]
    parts = [
        _raw(_last(fields, "date")),
        b"NIL" if subject is None else astring_bytes(clean(subject)),
        *(_address_list_bytes(lists[k]) for k in _ADDRESS_FIELDS),
        _raw(_last(fields, "in-reply-to")),
        _raw(_last(fields, "message-id")),
    ]
    return b"(%s)" % b" ".join(parts)


# --- Date (RFC 5322 3.3 with the obsolete forms of 4.3) -------------------

_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_ZONES = {"ut": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
          "mst": -7, "mdt": -6, "pst": -8, "pdt": -7}
_DATE = re.compile(
    r"^\s*(?:[a-z]+\s*,\s*)?(\d{1,2})\s*([a-z]{3})[a-z]*\s*(\d{2,4})\s+"
    r"(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*([+-]\d{4}|[a-z]+)?",
    re.I,
)


def parse_date(value: bytes | None) -> datetime | None:
    """The sent date as an aware datetime, or None when it cannot be read."""
    if value is None:
        return None
    m = _DATE.match(unfold(value).decode("latin-1"))
    if m is None:
        return None
    day, mon, year, hh, mm, ss, zone = m.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    y = int(year)
    if len(year) == 2:  # RFC 5322 4.3: 00-49 -> 20xx, 50-99 -> 19xx
        y += 2000 if y < 50 else 1900
    elif len(year) == 3:
        y += 1900
    offset = 0
    if zone:
        if zone[0] in "+-":
            mins = int(zone[1:3]) * 60 + int(zone[3:5])
            offset = -mins if zone[0] == "-" else mins
        else:  # named and military zones; unknown ones count as +0000
            offset = _ZONES.get(zone.lower(), 0) * 60
    try:
        return datetime(y, month, int(day), int(hh), int(mm), int(ss or 0),
                        tzinfo=timezone(timedelta(minutes=offset)))
    except (ValueError, OverflowError):
        return None
