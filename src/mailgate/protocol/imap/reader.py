"""`CommandReader`: bytes in, typed events out, never an exception.

The reader assembles one command at a time: a line, and when the line ends
with a literal marker, the literal's bytes and the next line, and so on.
Only then is the whole command parsed (parser.py).  It is lazy: ``feed``
only buffers, ``next_event``/``next_line`` do the work, so a session can
switch to raw lines (AUTHENTICATE answers, IDLE's DONE) between commands
without the reader having run ahead.

Limits (all counted, all tested):
  * ``max_line_length``: a command's text without literals and CRLFs.  Too
    long: Invalid, then the rest up to the line end is skipped.
  * ``max_literal_size``: one APPEND literal.  Too large: LiteralTooLarge at
    once, without waiting for data (a sync literal's bytes are never sent;
    a non-sync literal's bytes are read and thrown away).
  * ``max_string_literal``: all literals of any other command together
    (a password, a search string): they are read into memory whole.
  * ``max_literals``: literals in one command (each may hold a temp file).
  * ``nonsync_limit``: 4096 when advertising LITERAL- instead of LITERAL+.
Literals larger than the per-command memory budget (1 MiB) are spooled.
"""

from __future__ import annotations

import re

from . import grammar as g
from .commands import Command
from .events import (NEED_DATA, Invalid, LiteralTooLarge, NeedContinuation, NeedData, RawLine)
from .literal import SPOOL_THRESHOLD, Literal
from .parser import parse_command

__all__ = ["CommandReader", "ReaderMisuse"]

_MARKER = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\r?\Z")
_HEAD = re.compile(rb"([^ \r\n]{1,64}) ([A-Za-z]+)")
_TAIL_KEEP = 64  # bytes kept while skipping, to spot a literal marker at the line end
_HUGE = 10 ** 20  # stands for a literal size with absurdly many digits

_LINE, _LITERAL, _DISCARD, _SKIP_CMD, _SKIP_RAW = range(5)


class ReaderMisuse(RuntimeError):
    """The session called the reader at the wrong moment (our bug, not the peer's)."""


def _marker(line: bytes) -> tuple[int, bool, bool] | None:
    """(size, non-synchronizing, literal8) if the line ends with a marker."""
    m = _MARKER.search(line)
    if m is None:
        return None
    digits = m.group(2).lstrip(b"0") or b"0"
    size = _HUGE if len(digits) > 20 else int(digits)
    return size, bool(m.group(3)), bool(m.group(1))


class CommandReader:
    def __init__(self, *, max_line_length: int = 10240, max_literal_size: int = 36 * 1024 * 1024,
                 max_string_literal: int = 64 * 1024, max_literals: int = 256,
                 nonsync_limit: int | None = None, spool_threshold: int = SPOOL_THRESHOLD,
                 utf8: bool = False) -> None:
        self.max_line_length = max_line_length
        self.max_literal_size = max_literal_size
        self.max_string_literal = max_string_literal
        self.max_literals = max_literals
        self.nonsync_limit = nonsync_limit
        self.spool_threshold = spool_threshold
        #: set by the session after ENABLE UTF8=ACCEPT (RFC 6855)
        self.utf8 = utf8
        self._buf = bytearray()
        self._scan = 0  # LF search resumes here (feeding 1 byte at a time stays linear)
        self._mode = _LINE
        self._tail = b""
        self._discard_left = 0
        self._reset_command()

    def _reset_command(self) -> None:
        self._pieces: list[bytes] = []
        self._text_len = 0
        self._literals: list[Literal] = []
        self._breaks: list[int] = []
        self._tag: str | None = None
        self._is_append = False
        self._lit: Literal | None = None
        self._mem_left = self.spool_threshold
        self._string_left = self.max_string_literal

    # -- public API ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._buf += data

    def take_buffered(self) -> bytes:
        """Bytes fed but not yet read as a command (a client that pipelined
        after LOGIN): a proxying frontend passes them on to the backend."""
        if self.in_command:
            raise ReaderMisuse("take_buffered() called in the middle of a command")
        data = bytes(self._buf)
        self._buf.clear()
        self._scan = 0
        return data

    @property
    def in_command(self) -> bool:
        """True while a command is partly read (e.g. waiting for a literal)."""
        return bool(self._pieces) or self._mode != _LINE

    def next_event(self) -> Command | Invalid | NeedContinuation | NeedData | LiteralTooLarge:
        while True:
            if self._mode == _LITERAL:
                if not self._fill_literal():
                    return NEED_DATA
                continue
            if self._mode in (_DISCARD, _SKIP_CMD, _SKIP_RAW):
                if not self._skip():
                    return NEED_DATA
                continue
            line = self._take_line()
            if line is None:
                if self._text_len + len(self._buf) > self.max_line_length + 1:
                    return self._too_long(None)
                return NEED_DATA
            if not self._pieces and not line.rstrip(b"\r"):
                continue  # blank line between commands: harmless, ignore
            event = self._on_line(line)
            if event is not None:
                return event

    def next_line(self) -> RawLine | Invalid | NeedData:
        """One raw line (without CRLF), for AUTHENTICATE answers and DONE."""
        if self._pieces or self._mode in (_LITERAL, _DISCARD, _SKIP_CMD):
            raise ReaderMisuse("next_line() called in the middle of a command")
        while self._mode == _SKIP_RAW:
            if not self._skip():
                return NEED_DATA
        line = self._take_line()
        if line is None:
            if len(self._buf) > self.max_line_length + 1:
                self._tail = b""
                self._buf.clear()
                self._scan = 0
                self._mode = _SKIP_RAW
                return Invalid(None, f"line too long (limit {self.max_line_length} bytes)")
            return NEED_DATA
        if len(line) > self.max_line_length + 1:
            return Invalid(None, f"line too long (limit {self.max_line_length} bytes)")
        return RawLine(line[:-1] if line.endswith(b"\r") else line)

    # -- lines -----------------------------------------------------------------------

    def _take_line(self) -> bytes | None:
        i = self._buf.find(b"\n", self._scan)
        if i < 0:
            self._scan = len(self._buf)
            return None
        line = bytes(self._buf[:i])
        del self._buf[:i + 1]
        self._scan = 0
        return line

    def _on_line(self, line: bytes) -> Command | Invalid | NeedContinuation | LiteralTooLarge | None:
        body = line[:-1] if line.endswith(b"\r") else line
        if not self._pieces:
            self._sniff(body)
        if self._text_len + len(body) > self.max_line_length:
            return self._too_long(line)
        marker = _marker(body)
        if marker is None:
            self._pieces.append(body)
            text = b"".join(self._pieces)
            literals, breaks = self._literals, self._breaks
            self._reset_command()
            return parse_command(text, literals, breaks, utf8=self.utf8)
        size, nonsync, binary = marker
        self._pieces.append(body)
        self._text_len += len(body)
        self._breaks.append(self._text_len)
        limit = self.max_literal_size if self._is_append else self._string_left
        if nonsync and self.nonsync_limit is not None:
            limit = min(limit, self.nonsync_limit)
        if size > limit or len(self._literals) >= self.max_literals:
            event = LiteralTooLarge(self._tag, limit, size, sync=not nonsync)
            if len(self._literals) >= self.max_literals:
                event = Invalid(self._tag, f"too many literals (limit {self.max_literals})")
            self._reset_command()
            if nonsync:
                self._discard_left = size
                self._mode = _DISCARD
            return event
        if not self._is_append:
            self._string_left -= size
        lit = Literal(size, binary, memory_budget=self._mem_left)
        self._mem_left -= min(size, self._mem_left)
        self._literals.append(lit)
        self._lit = lit
        self._mode = _LITERAL
        if nonsync:
            return None
        return NeedContinuation(self._tag, size)

    def _sniff(self, first_line: bytes) -> None:
        """Tag (for error replies) and whether this is APPEND (literal limit),
        from the first line, before the command can be parsed."""
        # Only a short tag followed by a space counts, so that a line cut
        # short by the length limit yields the same tag as the whole line.
        m = _HEAD.match(first_line)
        if m is None:
            return
        head = m.group(1)
        if all(ch in g.TAG_CHARS for ch in head):
            self._tag = head.decode("ascii")
        self._is_append = m.group(2).upper() == b"APPEND"

    def _too_long(self, line: bytes | None) -> Invalid:
        """Answer once, then skip the rest of the command (see _skip)."""
        if not self._pieces and self._tag is None:
            self._sniff(bytes(self._buf[:256]) if line is None else line)
        event = Invalid(self._tag, f"command line too long (limit {self.max_line_length} bytes)")
        self._reset_command()
        if line is None:
            self._tail = bytes(self._buf[-_TAIL_KEEP:])
            self._buf.clear()
            self._scan = 0
            self._mode = _SKIP_CMD
        else:
            self._after_skipped_line(line)
        return event

    # -- literals and skipping ---------------------------------------------------------

    def _fill_literal(self) -> bool:
        lit = self._lit
        assert lit is not None
        n = min(len(self._buf), lit.remaining)
        if n:
            if n == len(self._buf):
                lit._write(self._buf)
                self._buf = bytearray()
            else:
                lit._write(self._buf[:n])
                del self._buf[:n]
            self._scan = 0
        if lit.remaining:
            return False
        self._lit = None
        self._mode = _LINE
        return True

    def _skip(self) -> bool:
        """Advance a discard/skip; True once back in normal line mode."""
        if self._mode == _DISCARD:
            n = min(len(self._buf), self._discard_left)
            del self._buf[:n]
            self._discard_left -= n
            if self._discard_left:
                return False
            # A non-sync literal is followed by the rest of its command.
            self._mode = _SKIP_CMD
            self._tail = b""
            return True
        i = self._buf.find(b"\n")
        if i < 0:
            self._tail = (self._tail + bytes(self._buf))[-_TAIL_KEEP:]
            self._buf.clear()
            self._scan = 0
            return False
        line = self._tail + bytes(self._buf[:i])
        del self._buf[:i + 1]
        self._scan = 0
        self._tail = b""
        if self._mode == _SKIP_RAW:
            self._mode = _LINE
        else:
            self._after_skipped_line(line)
        return True

    def _after_skipped_line(self, line: bytes) -> None:
        # A skipped line ending in a non-sync literal marker is followed by
        # that many bytes of data: discard them too, or they would be read
        # as commands (command injection).  A sync marker ends the command:
        # we never send "+", so the client sends nothing more for it.
        body = line[:-1] if line.endswith(b"\r") else line
        marker = _marker(body)
        if marker is not None and marker[1]:
            self._discard_left = marker[0]
            self._mode = _DISCARD
        else:
            self._mode = _LINE
