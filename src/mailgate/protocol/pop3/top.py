"""TOP (RFC 1939): the header, the blank line, then n lines of the body,
cut from a message that arrives in chunks of any size."""

from __future__ import annotations


class TopFilter:
    """feed() returns the part of each chunk that TOP sends; once `done` is
    true the rest of the message can be left unread."""

    __slots__ = ("_body_lines", "_in_header", "_at_line_start", "_cr_at_start", "done")

    def __init__(self, body_lines: int) -> None:
        self._body_lines = body_lines
        self._in_header = True
        self._at_line_start = True
        self._cr_at_start = False  # a line began with CR: a CRLF blank line?
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        if self.done or not chunk:
            return b""
        pos = 0
        if self._in_header:
            pos = self._skip_header(chunk)
            if self._in_header:
                return chunk
            if self._body_lines == 0:
                self.done = True
                return chunk[:pos]
        return chunk[:self._take_body(chunk, pos)]

    def _skip_header(self, chunk: bytes) -> int:
        """Scan header lines; returns the offset just past the blank line
        when it is in this chunk (and leaves the header state)."""
        pos = 0
        size = len(chunk)
        while pos < size:
            if self._at_line_start:
                byte = chunk[pos]
                if self._cr_at_start:
                    self._cr_at_start = False
                    if byte == 0x0A:  # CRLF alone on a line
                        self._in_header = False
                        return pos + 1
                    self._at_line_start = False
                    continue
                if byte == 0x0A:  # bare LF blank line
                    self._in_header = False
                    return pos + 1
                if byte == 0x0D:
                    self._cr_at_start = True
                    pos += 1
                    continue
                self._at_line_start = False
            end = chunk.find(b"\n", pos)
            if end < 0:
                return size
            pos = end + 1
            self._at_line_start = True
        return size

    def _take_body(self, chunk: bytes, pos: int) -> int:
        """Count body lines from pos; returns how much of chunk to send."""
        remaining = self._body_lines
        if chunk.count(b"\n", pos) < remaining:
            self._body_lines = remaining - chunk.count(b"\n", pos)
            return len(chunk)
        while remaining:
            pos = chunk.index(b"\n", pos) + 1
            remaining -= 1
        self._body_lines = 0
        self.done = True
        return pos
