"""Bytes in, POP3 events out: line framing and command parsing.

`Pop3Reader` frames the byte stream into lines (CRLF, or a bare LF) under the
MaxCommandSize limit and parses each one. A line longer than the limit gives
one Invalid and is discarded through its line end, however it arrives. The
reader never raises on what a client sends; feeding the same bytes in any
split gives the same events.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from collections.abc import Callable
from typing import Final

from .commands import (
    Auth,
    Capa,
    Command,
    Dele,
    Event,
    Invalid,
    List,
    Noop,
    Xclient,
    Pass,
    Quit,
    Retr,
    Rset,
    SaslCancel,
    SaslResponse,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
)

LINE_TOO_LONG: Final = "Command line too long."
_MAX_DIGITS: Final = 10  # message numbers and line counts fit in 10 digits
_MAX_ARG: Final = 255  # RFC 2449 says 40 octets; be generous with addresses
_CONTROL: Final = re.compile("[\x00\r\n]")  # never inside a command's arguments


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


# --- one command line --------------------------------------------------------


def _number(text: str) -> int | None:
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _no_args(factory: Callable[[], Command]) -> Callable[[str, list[str]], Command | Invalid]:
    def parse(keyword: str, args: list[str]) -> Command | Invalid:
        if args:
            return Invalid(f"{keyword} takes no arguments.", keyword)
        return factory()

    return parse


def _one_msg(factory: Callable[[int], Command]) -> Callable[[str, list[str]], Command | Invalid]:
    def parse(keyword: str, args: list[str]) -> Command | Invalid:
        if len(args) != 1:
            return Invalid(f"Usage: {keyword} msg", keyword)
        msg = _number(args[0])
        if msg is None:
            return Invalid("Invalid message number.", keyword)
        return factory(msg)

    return parse


def _optional_msg(
    factory: Callable[[int | None], Command],
) -> Callable[[str, list[str]], Command | Invalid]:
    def parse(keyword: str, args: list[str]) -> Command | Invalid:
        if not args:
            return factory(None)
        if len(args) != 1:
            return Invalid(f"Usage: {keyword} [msg]", keyword)
        msg = _number(args[0])
        if msg is None:
            return Invalid("Invalid message number.", keyword)
        return factory(msg)

    return parse


def _parse_top(keyword: str, args: list[str]) -> Command | Invalid:
    if len(args) != 2:
        return Invalid("Usage: TOP msg n", keyword)
    msg, lines = _number(args[0]), _number(args[1])
    if msg is None:
        return Invalid("Invalid message number.", keyword)
    if lines is None:
        return Invalid("Invalid number of lines.", keyword)
    return Top(msg, lines)


def _parse_user(keyword: str, args: list[str]) -> Command | Invalid:
    if len(args) != 1 or len(args[0]) > _MAX_ARG:
        return Invalid("Usage: USER name", keyword)
    return User(args[0])


def _parse_auth(keyword: str, args: list[str]) -> Command | Invalid:
    if not args:
        return Auth()
    if len(args) > 2 or len(args[0]) > 40:
        return Invalid("Usage: AUTH mechanism [initial-response]", keyword)
    mechanism = args[0].upper()
    if len(args) == 1:
        return Auth(mechanism)
    initial = args[1]
    if initial != "=" and not _is_base64(initial):
        return Invalid("Invalid base64 in the initial response.", keyword)
    return Auth(mechanism, initial)


def _parse_xclient(keyword: str, args: list[str]) -> Command | Invalid:
    fields: dict[str, str] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if not eq:
            return Invalid("Usage: XCLIENT ADDR=address [PORT=port]", keyword)
        fields[name.upper()] = value
    try:
        addr = str(ipaddress.ip_address(fields.get("ADDR", "")))
    except ValueError:
        return Invalid("XCLIENT needs ADDR=<an IP address>.", keyword)
    port = fields.get("PORT")
    if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
        return Invalid("XCLIENT PORT must be 1-65535.", keyword)
    return Xclient(addr, int(port) if port is not None else None)


_PARSERS: Final[dict[str, Callable[[str, list[str]], Command | Invalid]]] = {
    "USER": _parse_user,
    "AUTH": _parse_auth,
    "CAPA": _no_args(Capa),
    "STLS": _no_args(Stls),
    "STAT": _no_args(Stat),
    "LIST": _optional_msg(List),
    "UIDL": _optional_msg(Uidl),
    "TOP": _parse_top,
    "RETR": _one_msg(Retr),
    "DELE": _one_msg(Dele),
    "RSET": _no_args(Rset),
    "NOOP": _no_args(Noop),
    "QUIT": _no_args(Quit),
    "XCLIENT": _parse_xclient,
}


def parse_command(line: bytes) -> Command | Invalid:
    """One command line without its line end."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return Invalid("Command is not valid UTF-8.")
    keyword, _, rest = text.partition(" ")
    keyword = keyword.upper()
    if not keyword.isascii() or not keyword.isalpha() or (len(keyword) > 4 and keyword not in _PARSERS):
        return Invalid("Unknown command.")
    if keyword == "PASS":
        # RFC 1939: the password is the rest of the line and may hold spaces.
        if not rest:
            return Invalid("Usage: PASS password", keyword)
        return Pass(rest)
    parser = _PARSERS.get(keyword)
    if parser is None:
        return Invalid("Unknown command.", keyword)
    if _CONTROL.search(rest):
        return Invalid("Invalid characters in the command.", keyword)
    args = rest.split(" ") if rest else []
    if "" in args:  # several spaces between arguments: be lenient
        args = [arg for arg in args if arg]
    return parser(keyword, args)


# --- SASL exchange lines -------------------------------------------------------


def _is_base64(text: str) -> bool:
    if not text.isascii():
        return False
    try:
        binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except binascii.Error:
        return False
    return True


def parse_sasl_line(line: bytes) -> SaslResponse | SaslCancel | Invalid:
    """A line sent in reply to a "+ " challenge: base64, empty, or "*"."""
    text = line.strip(b" ")
    if text == b"*":
        return SaslCancel()
    try:
        decoded = text.decode("ascii")
    except UnicodeDecodeError:
        return Invalid("Invalid base64 in the SASL response.", "AUTH")
    if decoded and not _is_base64(decoded):
        return Invalid("Invalid base64 in the SASL response.", "AUTH")
    return SaslResponse(decoded)


# --- framing -----------------------------------------------------------------------


class Pop3Reader:
    """Feed bytes with receive_data(); take events with next_event() until it
    returns NEED_DATA. Call expect_sasl(True) while an AUTH exchange waits for
    the client's next line, and clear() after STLS (bytes pipelined before
    the TLS handshake must not be used after it)."""

    __slots__ = ("max_line", "_buffer", "_discarding", "_sasl", "_scan_from")

    def __init__(self, max_line: int = 512) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._discarding = False
        self._sasl = False
        self._scan_from = 0

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def expect_sasl(self, waiting: bool) -> None:
        self._sasl = waiting

    def clear(self) -> None:
        self._buffer.clear()
        self._discarding = False
        self._scan_from = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def take_buffered(self) -> bytes:
        """Unread bytes (commands pipelined after the login): a proxying
        frontend passes them on to the backend."""
        data = b"" if self._discarding else bytes(self._buffer)
        self.clear()
        return data

    def next_event(self) -> Event | _NeedData:
        while True:
            end = self._buffer.find(b"\n", self._scan_from)
            if end < 0:
                self._scan_from = len(self._buffer)
                if self._discarding:
                    self.clear()
                    self._discarding = True
                    return NEED_DATA
                if len(self._buffer) > self.max_line + 1:
                    # Too long whatever comes next: answer once, then drop
                    # everything through the line end.
                    self.clear()
                    self._discarding = True
                    return Invalid(LINE_TOO_LONG)
                return NEED_DATA
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scan_from = 0
            if self._discarding:
                self._discarding = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_line:
                return Invalid(LINE_TOO_LONG)
            if self._sasl:
                return parse_sasl_line(line)
            return parse_command(line)


def parse_all(data: bytes, max_line: int = 512) -> list[Event]:
    """Every event in data (a test and tooling helper)."""
    reader = Pop3Reader(max_line)
    reader.receive_data(data)
    events: list[Event] = []
    while not isinstance(event := reader.next_event(), _NeedData):
        events.append(event)
    return events
