"""The DATA body (RFC 5321 4.1.1.4, 4.5.2) from the bytes a client sent,
sans I/O: whole buffered lines at a time instead of one await per line.

aiosmtpd's own DATA loop awaits readuntil(CRLF) and copies every line into
a bytearray; for a 10 KB message that is a few hundred awaits and was a
quarter of the event loop's time under bulk LMTP. Here the driver
(protocol.py) looks at what is already buffered, takes every whole line up
to the terminator in one read, and the dots are removed from the joined
body in one pass. The outcome is aiosmtpd's: the same size limit (counted
on the lines as sent) and line length limit, reported after the terminator
(RFC 5321 4.2.5), the same un-stuffing.
"""

from __future__ import annotations

import enum

CRLF = b"\r\n"
TERMINATOR = b".\r\n"  # a line holding only a dot ends the body
_END = b"\r\n.\r\n"  # the terminator line after the end of a line


class DataState(enum.Enum):
    NOMINAL = "nominal"
    TOO_LONG = "too long"  # a line passed the line length limit
    TOO_MUCH = "too much"  # the body passed the size limit


def boundary(buffered: bytes | bytearray, at_line_start: bool) -> tuple[int, bool]:
    """(n, done): how many bytes of `buffered` (what the client sent next)
    to take now, and whether they end with the terminator. Whole lines
    only: n is 0 when no line is complete yet."""
    if at_line_start and buffered[:3] == TERMINATOR:
        return 3, True
    end = buffered.find(_END)
    if end >= 0:
        return end + len(_END), True
    last = buffered.rfind(CRLF)
    return (last + 2, False) if last >= 0 else (0, False)


class DataCollector:
    """One DATA body: feed() it the lines (as sent, still dot-stuffed),
    then content() once the terminator was seen."""

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit
        self.line_limit = line_limit
        self.state = DataState.NOMINAL
        self.size = 0  # octets as sent, terminator excluded (aiosmtpd's count)
        self.at_line_start = True
        self._parts: list[bytes] = []

    def feed(self, lines: bytes) -> None:
        """Whole lines (each ending in CRLF), the terminator excluded."""
        if not lines:
            return
        self.size += len(lines)
        self.at_line_start = True
        if self.state is not DataState.NOMINAL:
            return
        if self.size_limit and self.size > self.size_limit:
            # aiosmtpd checks line by line: a long line before the one that
            # passed the size limit makes it TOO_LONG.
            fits = self.size_limit - (self.size - len(lines))  # octets that fit
            last = lines.rfind(CRLF, 0, max(fits, 0))  # the whole lines among them
            long_before = last > 0 and _longest_line(lines[:last + 2]) > self.line_limit
            self._fail(DataState.TOO_LONG if long_before else DataState.TOO_MUCH)
        elif len(lines) > self.line_limit and _longest_line(lines) > self.line_limit:
            self._fail(DataState.TOO_LONG)
        else:
            self._parts.append(lines)

    def overrun(self, fragment_size: int) -> None:
        """A line longer than the reader can buffer: its start was dropped;
        the rest of it arrives as the next line."""
        self.size += fragment_size
        self.at_line_start = False
        if self.state is DataState.NOMINAL:
            self._fail(DataState.TOO_LONG)

    def content(self) -> bytes:
        """The body with the transparency dots removed (RFC 5321 4.5.2)."""
        body = b"".join(self._parts)
        self._parts.clear()
        if b"\r\n." not in body and not body.startswith(b"."):
            return body
        return (CRLF + body).replace(b"\r\n.", CRLF)[2:]

    def _fail(self, state: DataState) -> None:
        self.state = state
        self._parts.clear()  # nothing more is kept: no memory for a refused body


def _longest_line(lines: bytes) -> int:
    """Length of the longest line, CRLF included (aiosmtpd's measure)."""
    return max(map(len, lines.split(CRLF))) + 2
