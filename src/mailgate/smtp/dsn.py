"""Delivery status notifications (RFC 3464, RFC 3462 multipart/report).

Built as bytes (CRLF) so it can go through deliver() like any message.
Only failures are reported: mailgate does not send delay or success DSNs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from .headers import header_block, inspect, sanitize

# The returned original headers are capped: a DSN must stay small.
MAX_RETURNED_HEADER = 64 * 1024


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str
    status: str  # RFC 3463 code, e.g. "5.1.1"
    diagnostic: str  # the remote reply or our own explanation
    remote_mta: str = ""  # the host that refused, if any


def _address_type(address: str) -> str:
    # RFC 6533: non-ASCII addresses are reported with the utf-8 type.
    return "rfc822" if address.isascii() else "utf-8"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:900]


def build(
    *,
    reporting_host: str,
    sender: str,
    failures: Sequence[Failure],
    original: bytes,
    arrival: datetime,
    now: datetime | None = None,
) -> bytes:
    now = now or datetime.now(timezone.utc)
    host = sanitize(reporting_host)
    boundary = f"=_mailgate_dsn_{uuid.uuid4().hex}"
    subject = inspect(original).subject
    shown = subject.decode("ascii") if subject.isascii() and subject else ""
    title = f"Undeliverable: {_one_line(shown)}" if shown else "Undeliverable message"
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{host}>",
        f"To: <{sender}>",
        f"Subject: {title}",
        f"Date: {format_datetime(now)}",
        f"Message-ID: <{uuid.uuid4().hex}@{host}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a delivery status notification in MIME format.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Your message could not be delivered to these recipients:",
        "",
    ]
    for f in failures:
        lines.append(f"  {f.recipient}")
        lines.append(f"    {_one_line(f.diagnostic)}")
    lines += [
        "",
        "The headers of your message are attached.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {host}",
        f"Arrival-Date: {format_datetime(arrival)}",
    ]
    for f in failures:
        lines += [
            "",
            f"Final-Recipient: {_address_type(f.recipient)}; {f.recipient}",
            "Action: failed",
            f"Status: {f.status}",
        ]
        if f.remote_mta:
            lines.append(f"Remote-MTA: dns; {sanitize(f.remote_mta)}")
        lines.append(f"Diagnostic-Code: smtp; {_one_line(f.diagnostic)}")
    lines += ["", f"--{boundary}", "Content-Type: text/rfc822-headers", "", ""]
    head = "\r\n".join(lines).encode("utf-8")
    returned = header_block(original)[:MAX_RETURNED_HEADER]
    if returned and not returned.endswith(b"\n"):
        returned += b"\r\n"
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    return head + returned + tail


def status_of(reply: str, default: str) -> str:
    """The enhanced status code in a reply ("550 5.1.1 ...") or a default
    of the right class."""
    parts = reply.split()
    if len(parts) > 1:
        code = parts[1]
        pieces = code.split(".")
        if len(pieces) == 3 and all(p.isdigit() for p in pieces) and pieces[0] in "245":
            return code
    return default
