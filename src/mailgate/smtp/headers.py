"""What the SMTP services read from and add to a message's header.

Only the header block is looked at (the body is never copied or parsed
here); added fields are prepended, so the client's bytes stay as sent and
one blob serves every recipient.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from ..mime.addresses import parse_address_list
from ..mime.headers import field_values, split_fields

# The header block ends at the first empty line; a header bigger than this
# is looked at only this far (the From check then fails closed: no From).
MAX_HEADER_SCAN = 1024 * 1024
_UNSAFE = re.compile(r"[^\x21-\x7e]")
_UNSAFE_TEXT = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    has_date: bool
    has_message_id: bool
    from_addresses: tuple[str, ...]  # lower-cased addr-specs of every From
    subject: bytes


def header_block(data: bytes) -> bytes:
    """The header block of a message, without the empty line that ends it."""
    if data.startswith((b"\r\n", b"\n")):
        return b""
    end = data.find(b"\n\r\n", 0, MAX_HEADER_SCAN)
    alt = data.find(b"\n\n", 0, MAX_HEADER_SCAN)
    ends = [e for e in (end, alt) if e >= 0]
    if not ends:
        return data[:MAX_HEADER_SCAN]
    return data[: min(ends) + 1]


def inspect(data: bytes) -> HeaderFacts:
    fields = split_fields(header_block(data))
    keys = {f.key for f in fields}
    addresses: list[str] = []
    for value in field_values(fields, "from"):
        for _name, _adl, mailbox, host in parse_address_list(value):
            if mailbox is None or host is None:  # group start / end markers
                continue
            addr = mailbox + b"@" + host
            addresses.append(addr.decode("utf-8", "replace").lower())
    subject = (field_values(fields, "subject") or [b""])[0]
    return HeaderFacts("date" in keys, "message-id" in keys, tuple(addresses), subject)


def sanitize(text: str, limit: int = 255) -> str:
    """A client-chosen word (EHLO name) made safe for a header: printable
    ASCII only, so nothing can fold, break or inject a field."""
    return _UNSAFE.sub("?", text)[:limit] or "unknown"


def received(
    *,
    helo: str,
    peer_ip: str,
    by_host: str,
    protocol: str,
    queue_id: str,
    recipient: str | None,
    tls: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """RFC 5321 4.4 trace field. `protocol` is an RFC 3848 / 6531 keyword
    (ESMTPSA, UTF8SMTPS, LMTP, ...); `recipient` only when there is one, as
    one stored copy serves every recipient."""
    when = format_datetime(now) if now is not None else _now_text()
    lines = [f"Received: from {sanitize(helo)} ([{sanitize(peer_ip)}])",
             f"\tby {sanitize(by_host)} (mailgate) with {protocol} id {queue_id}"]
    if tls:
        lines.append(f"\t({_UNSAFE_TEXT.sub('?', tls)[:200]})")
    if recipient is not None:
        lines.append(f"\tfor <{recipient}>")
    lines[-1] += f"; {when}"
    # A non-ASCII recipient (SMTPUTF8) is written as UTF-8, allowed by RFC 6532.
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def new_queue_id() -> str:
    """16 upper-case hex digits, unique per process: a random prefix drawn
    once per process (again in a forked child) and a counter. It names a
    message in the logs and trace fields; a uuid4 per message cost more
    than the rest of the Received field."""
    return f"{_queue_prefix[0]}{next(_queue_counter) & _COUNTER_MASK:010X}"


# new_queue_id: 6 random hex digits, then 10 of a counter.
_COUNTER_MASK = (1 << 40) - 1
_queue_counter = itertools.count()
_queue_prefix = [""]


def _new_queue_prefix() -> None:
    _queue_prefix[0] = secrets.token_hex(3).upper()


_new_queue_prefix()
os.register_at_fork(after_in_child=_new_queue_prefix)


def _now_text() -> str:
    """RFC 5322 date-time of now; formatted once per second (trace fields
    carry whole seconds), not once per message."""
    second = int(time.time())
    cached = _now_cache
    if cached[0] != second:
        cached[:] = [second, format_datetime(datetime.fromtimestamp(second, timezone.utc))]
    return cached[1]


_now_cache: list = [None, ""]


def message_id(hostname: str) -> bytes:
    return f"Message-ID: <{uuid.uuid4().hex}@{sanitize(hostname)}>\r\n".encode("ascii")


def date_field(now: datetime | None = None) -> bytes:
    return f"Date: {format_datetime(now or datetime.now(timezone.utc))}\r\n".encode("ascii")
