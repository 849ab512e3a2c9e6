"""Sans-I/O IMAP4rev1/rev2 protocol core: bytes in, typed events out;
typed responses in, bytes out.  No asyncio, sockets, TLS or storage here.

A session drives it like this::

    reader = CommandReader()
    reader.feed(data)                       # whatever arrived
    while not isinstance(ev := reader.next_event(), NeedData):
        if isinstance(ev, NeedContinuation):
            send(ev.to_response())          # "+ Ready for literal data"
        elif isinstance(ev, (Invalid, LiteralTooLarge)):
            send(ev.to_response())          # tagged (or untagged) BAD/NO
        elif not allowed(state, ev):
            send(Tagged(ev.tag, "BAD", "not allowed now"))
        else:
            ...                             # handle the Command

    for piece in chunks(response, utf8=utf8_enabled):
        write bytes, or copy piece.size bytes from piece.source (LiteralStream)

For AUTHENTICATE answers and IDLE's DONE, call ``reader.next_line()``.
"""

from . import commands, fetch_items, responses, search_keys
from .commands import Command
from .events import (NEED_DATA, Event, Invalid, LiteralTooLarge, NeedContinuation, NeedData,
                     RawLine)
from .literal import Literal, LiteralStream
from .mutf7 import MUTF7Error
from .mutf7 import decode as mutf7_decode
from .mutf7 import encode as mutf7_encode
from .parser import is_idle_done, parse_auth_response, parse_command
from .reader import CommandReader, ReaderMisuse
from .sequence import SequenceSet, compress
from .serializer import chunks, format_date_time, to_bytes
from .states import ALLOWED, State, allowed, commands_for

__all__ = [
    "commands", "fetch_items", "responses", "search_keys",
    "Command", "Event", "Invalid", "LiteralTooLarge", "NeedContinuation", "NeedData", "NEED_DATA",
    "RawLine", "Literal", "LiteralStream", "MUTF7Error", "mutf7_decode", "mutf7_encode",
    "is_idle_done", "parse_auth_response", "parse_command", "CommandReader", "ReaderMisuse",
    "SequenceSet", "compress", "chunks", "format_date_time", "to_bytes",
    "ALLOWED", "State", "allowed", "commands_for",
]
