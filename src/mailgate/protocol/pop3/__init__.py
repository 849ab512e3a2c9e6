"""The POP3 protocol core, without I/O: bytes -> typed events, typed
responses -> bytes, the state table, SASL steps and the TOP cut."""

from .commands import (
    KEYWORDS,
    Auth,
    Capa,
    Command,
    Dele,
    Event,
    Invalid,
    List,
    Noop,
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
    Xclient,
)
from .parser import LINE_TOO_LONG, NEED_DATA, Pop3Reader, parse_all, parse_command, parse_sasl_line
from .responses import After, Body, Challenge, Code, Err, Lines, Ok, Outcome, Prepared, Response, Stream
from .serializer import DotStuffer, encode, encode_stream, prepare, unstuff
from .states import ALLOWED, State, allowed, capabilities
from .top import TopFilter

__all__ = [
    "ALLOWED", "After", "Auth", "Body", "Capa", "Challenge", "Code", "Command", "Dele", "DotStuffer",
    "Err", "Event", "Invalid", "KEYWORDS", "LINE_TOO_LONG", "Lines", "List", "NEED_DATA",
    "Noop", "Ok", "Outcome", "Pass", "Prepared", "Pop3Reader", "Quit", "Response", "Retr", "Rset",
    "SaslCancel", "SaslResponse", "Stat", "State", "Stls", "Stream", "Top", "TopFilter",
    "Uidl", "User", "Xclient", "allowed", "capabilities", "encode", "encode_stream", "parse_all", "prepare",
    "parse_command", "parse_sasl_line", "unstuff",
]
