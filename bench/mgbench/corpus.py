"""A deterministic corpus of varied, realistic messages.

message(kind, i) always returns the same bytes for the same (kind, i), so both
servers get byte-identical mail and any process can regenerate a message to
check what a server returned. Lines end in CRLF, so sizes are what IMAP
RFC822.SIZE and POP3 LIST report on both servers.

Shapes (weights in SHAPES): short plain text, longer plain text with quoted
replies, multipart/alternative (text + HTML), multipart/mixed with a base64
attachment (PDF/PNG-like), a forwarded message/rfc822, non-ASCII headers as
RFC 2047 encoded-words, quoted-printable bodies, mailing-list headers.
"""

from __future__ import annotations

import base64
import hashlib
import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
         "Zoë", "Jürgen", "François", "Søren", "Małgorzata", "Ågot"]
LAST = ["Smith", "Jones", "Müller", "García", "Rossi", "Dubois", "Nowak", "Tanaka", "Olsen",
        "O'Brien", "van der Berg", "Kowalski", "Ivanova", "Lindqvist"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "lists.example.org"]
WORDS = ("the quarterly report budget meeting agenda minutes project deadline review draft "
         "customer invoice shipment delivery schedule update release notes server migration "
         "backup outage incident postmortem design proposal feedback lunch travel expenses "
         "contract renewal security audit password policy holiday calendar team offsite "
         "roadmap milestone estimate please kindly regards thanks attached below above "
         "question answer yes no maybe tomorrow today next week friday monday").split()
SUBJECT_PREFIX = ["", "", "", "Re: ", "Re: ", "Fwd: ", "RE: AW: ", "[team] "]


def _name(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = (first[0] + last.replace(" ", "").replace("'", "")).lower()
    local = local.encode("ascii", "ignore").decode() or "user"
    return f"{first} {last}", f"{local}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"


def _encode_word(text: str) -> str:
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def _addr(rng: random.Random) -> str:
    display, address = _name(rng)
    if display.isascii():
        if "'" in display or rng.random() < 0.3:
            return f'"{display}" <{address}>'
        return f"{display} <{address}>"
    return f"{_encode_word(display)} <{address}>"


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", "?", "!"])


def _paragraphs(rng: random.Random, size: int) -> list[str]:
    lines: list[str] = []
    total = 0
    while total < size:
        para = " ".join(_sentence(rng, rng.randint(5, 14)) for _ in range(rng.randint(1, 5)))
        # wrap at ~72 columns
        line = ""
        for word in para.split():
            if len(line) + len(word) + 1 > 72:
                lines.append(line)
                total += len(line) + 2
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        lines.append("")
        total += len(line) + 4
    return lines


def _b64_lines(data: bytes) -> list[str]:
    text = base64.b64encode(data).decode()
    return [text[i:i + 76] for i in range(0, len(text), 76)]


SHAPES = (("plain", 40), ("reply", 20), ("alternative", 20), ("attachment", 10),
          ("qp", 5), ("forward", 5))
_SHAPE_TABLE = [name for name, weight in SHAPES for _ in range(weight)]

BASE_DATE = datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc)
BOUNDARY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def message_id(kind: str, i: int) -> str:
    return f"<{kind}.{i}.bench@mgbench.example>"


def message(kind: str, i: int, *, small: bool = False) -> bytes:
    """Message number i of corpus `kind` (any string: "mix", "sync", ...).
    small=True caps bodies (for the 100,000-message folder)."""
    rng = random.Random(f"{kind}:{i}")
    shape = rng.choice(_SHAPE_TABLE)
    if small and shape in ("attachment", "forward"):
        shape = "alternative"
    from_ = _addr(rng)
    to = ", ".join(_addr(rng) for _ in range(rng.choice([1, 1, 1, 2, 3])))
    subject = rng.choice(SUBJECT_PREFIX) + _sentence(rng, rng.randint(2, 9)).rstrip(".?!")
    if rng.random() < 0.15:
        subject += " " + rng.choice(["— naïve café", "über Größe", "日本語の件名", "Ελληνικά", "émoji ✓"])
    date = BASE_DATE + timedelta(minutes=i * 7 + rng.randint(0, 6))
    tz = timezone(timedelta(hours=rng.choice([-8, -5, 0, 1, 2, 9])))
    headers = [
        "Return-Path: <" + from_.rsplit("<", 1)[-1].rstrip(">") + ">",
        f"Received: from mx{rng.randint(1, 9)}.example.net (mx.example.net [192.0.2.{rng.randint(1, 254)}])",
        f"\tby mail.example.com with ESMTPS id {rng.getrandbits(40):x}; {format_datetime(date)}",
        f"From: {from_}",
        f"To: {to}",
    ]
    if rng.random() < 0.3:
        headers.append(f"Cc: {_addr(rng)}")
    headers += [
        f"Subject: {_encode_word(subject)}",
        f"Date: {format_datetime(date.astimezone(tz))}",
        f"Message-ID: {message_id(kind, i)}",
    ]
    if shape in ("reply",) or subject.startswith("Re"):
        parent = f"<{kind}.{max(0, i - rng.randint(1, 50))}.bench@mgbench.example>"
        headers += [f"In-Reply-To: {parent}", f"References: <thread.{i % 97}@mgbench.example> {parent}"]
    if rng.random() < 0.2:
        headers += ["List-Id: Team discussion <team.lists.example.org>",
                    "List-Unsubscribe: <mailto:team-unsubscribe@lists.example.org>",
                    "Precedence: list"]
    headers += ["MIME-Version: 1.0", f"X-Bench-Id: {kind}/{i}"]
    body_size = int(rng.lognormvariate(7.5, 0.9))  # median ~1.8 KB of text
    body_size = min(body_size, 6000 if small else 60000)
    text = _paragraphs(rng, body_size)
    boundary = "==b" + "".join(rng.choice(BOUNDARY_CHARS) for _ in range(24))
    lines: list[str]
    if shape == "plain":
        headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        lines = text
    elif shape == "reply":
        headers += ["Content-Type: text/plain; charset=us-ascii; format=flowed"]
        quoted = ["> " + line for line in _paragraphs(rng, body_size // 2)]
        lines = text[: len(text) // 2 + 1] + ["", "On Monday someone wrote:"] + quoted
    elif shape == "qp":
        headers += ["Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable"]
        lines = [line.replace("e", "=E9", 1) for line in text]
    elif shape == "alternative":
        headers += [f'Content-Type: multipart/alternative; boundary="{boundary}"']
        html = ["<html><body>"] + [f"<p>{line}</p>" for line in text if line] + ["</body></html>"]
        lines = ["This is a multi-part message in MIME format.", "", f"--{boundary}",
                 "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit", "",
                 *text, f"--{boundary}", "Content-Type: text/html; charset=utf-8",
                 "Content-Transfer-Encoding: 7bit", "", *html, f"--{boundary}--", ""]
    elif shape == "attachment":
        headers += [f'Content-Type: multipart/mixed; boundary="{boundary}"']
        att_size = int(rng.lognormvariate(10.5, 1.0))  # median ~36 KB
        att_size = min(att_size, 400_000)
        blob = rng.randbytes(att_size)
        ext, ctype = rng.choice([("pdf", "application/pdf"), ("png", "image/png"),
                                 ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
        fname = rng.choice(["report", "scan", "Rechnung_Größe", "invoice", "photo"]) + f"_{i}.{ext}"
        disp = f'attachment; filename="{fname}"' if fname.isascii() else \
            f"attachment; filename*=utf-8''{_pct(fname)}"
        lines = ["This is a multi-part message in MIME format.", "", f"--{boundary}",
                 "Content-Type: text/plain; charset=utf-8", "", *text, f"--{boundary}",
                 f'Content-Type: {ctype}; name="{fname if fname.isascii() else "file." + ext}"',
                 "Content-Transfer-Encoding: base64", f"Content-Disposition: {disp}", "",
                 *_b64_lines(blob), f"--{boundary}--", ""]
    else:  # forward
        headers += [f'Content-Type: multipart/mixed; boundary="{boundary}"']
        inner = message(kind + "-inner", i, small=True).decode()
        lines = [f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "",
                 "See the forwarded message below.", "", f"--{boundary}",
                 "Content-Type: message/rfc822", "Content-Disposition: inline", "",
                 *inner.split("\r\n"), f"--{boundary}--", ""]
    out = "\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(lines)
    if not out.endswith("\r\n"):
        out += "\r\n"
    return out.encode("utf-8")


def _pct(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else
                   "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def flags_for(i: int) -> tuple[str, ...]:
    """Preloaded flags: 95% \\Seen, some \\Flagged / \\Answered."""
    flags = [] if i % 20 == 0 else ["\\Seen"]
    if i % 13 == 0:
        flags.append("\\Flagged")
    if i % 7 == 0:
        flags.append("\\Answered")
    return tuple(flags)
