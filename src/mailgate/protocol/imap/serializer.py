"""The one place that turns IMAP responses into bytes.

``chunks(response)`` returns a list of pieces: ``bytes``, and for streamed
literals the `LiteralStream` object itself, placed right after its "{n}\\r\\n"
marker.  A transport writes bytes as they are and copies ``size`` bytes from
a stream's ``source``, so a 30 MiB body is never joined with anything.
Adjacent bytes pieces are merged, so a response without streams is a single
bytes piece -- except pieces of KEEP_APART bytes or more (the messages of a
batch of bodies), which stay separate so that the transport can hand them to
the socket without copying them into a buffer first.  ``to_bytes()`` inlines streams, for tests and small replies.
"""

from __future__ import annotations

import base64
import functools
import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import mutf7
from . import responses as r
from .literal import LiteralStream
from .wire import astring_bytes, literal_bytes

__all__ = ["chunks", "to_bytes", "format_date_time", "KEEP_APART"]

Piece = bytes | LiteralStream
KEEP_APART = 16 * 1024  # bytes pieces this big are not merged with their neighbours
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Ctx:
    __slots__ = ("utf8",)

    def __init__(self, utf8: bool) -> None:
        self.utf8 = utf8


# -- small encoders ------------------------------------------------------------------

def _text(value: str) -> bytes:
    # CR/LF/NUL would end the line early and let a value inject a response.
    return value.replace("\r", " ").replace("\n", " ").replace("\0", " ").encode("utf-8", "replace")


def _atom(value: str) -> bytes:
    return _text(value).replace(b" ", b"_")


def _atoms(values: Iterable[str]) -> bytes:
    return b" ".join(_atom(v) for v in values)


def _plist(values: Iterable[str]) -> bytes:
    return b"(" + _atoms(values) + b")"


def _string(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return astring_bytes(raw)


def _nstring(value: str | bytes | None) -> bytes:
    return b"NIL" if value is None else _string(value)


def _mailbox(name: str, ctx: _Ctx) -> bytes:
    if not ctx.utf8:
        return astring_bytes(mutf7.encode(name))
    raw = name.encode("utf-8")
    # After ENABLE UTF8=ACCEPT a quoted string may hold UTF-8 (RFC 6855).
    if len(raw) < 1024 and not any(b in raw for b in (0, 0x0A, 0x0D)):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal_bytes(raw)


def _set(value: Any) -> bytes:
    return str(value).encode("ascii")


def format_date_time(value: _dt.datetime) -> bytes:
    """date-time: "17-Jul-1996 02:44:25 -0700" (naive values taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    offset = value.utcoffset() or _dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (f'"{value.day:02d}-{_MONTHS[value.month - 1]}-{value.year:04d} '
            f'{value.hour:02d}:{value.minute:02d}:{value.second:02d} '
            f'{sign}{minutes // 60:02d}{minutes % 60:02d}"').encode("ascii")


# -- response codes ------------------------------------------------------------------

def _code(code: r.ResponseCode) -> bytes:
    if isinstance(code, r.Code):
        body = _atom(code.name)
    elif isinstance(code, r.NumberCode):
        body = b"%s %d" % (_atom(code.name), code.value)
    elif isinstance(code, r.FlagsCode):
        body = _atom(code.name) + b" " + _plist(code.flags)
    elif isinstance(code, r.AtomsCode):
        inner = _plist(code.atoms) if code.parenthesized else _atoms(code.atoms)
        body = _atom(code.name) + (b" " + inner if inner else b"")
    elif isinstance(code, r.AppendUid):
        body = b"APPENDUID %d %s" % (code.uidvalidity, _set(code.uids))
    elif isinstance(code, r.CopyUid):
        body = b"COPYUID %d %s %s" % (code.uidvalidity, _set(code.source), _set(code.dest))
    elif isinstance(code, r.SetCode):
        body = _atom(code.name) + b" " + _set(code.set)
    else:
        raise TypeError(f"not a response code: {code!r}")
    return b"[" + body + b"]"


def _status_line(lead: bytes, status: str, text: str, code: r.ResponseCode | None) -> bytes:
    out = lead + b" " + _atom(status)
    if code is not None:
        out += b" " + _code(code)
    if text:
        out += b" " + _text(text)
    return out + b"\r\n"


# -- one function per response type --------------------------------------------------

def _tagged(resp: r.Tagged, ctx: _Ctx) -> list[Piece]:
    return [_status_line(_atom(resp.tag), resp.status, resp.text, resp.code)]


def _condition(resp: r.Condition, ctx: _Ctx) -> list[Piece]:
    return [_status_line(b"*", resp.status, resp.text, resp.code)]


def _continuation(resp: r.Continuation, ctx: _Ctx) -> list[Piece]:
    if resp.data is not None:
        return [b"+ " + base64.b64encode(resp.data) + b"\r\n"]
    return [b"+ " + _text(resp.text) + b"\r\n"]


def _simple(word: bytes, values: Callable[[Any], bytes]) -> Callable[[Any, _Ctx], list[Piece]]:
    def encode(resp: Any, ctx: _Ctx) -> list[Piece]:
        body = values(resp)
        return [b"* " + word + (b" " + body if body else b"") + b"\r\n"]
    return encode


def _numbered(word: bytes, attr: str) -> Callable[[Any, _Ctx], list[Piece]]:
    def encode(resp: Any, ctx: _Ctx) -> list[Piece]:
        return [b"* %d %s\r\n" % (getattr(resp, attr), word)]
    return encode


def _numbers(resp: r.SearchResult | r.SortResult) -> bytes:
    out = b" ".join(b"%d" % n for n in resp.numbers)
    if resp.modseq is not None:
        out += (b" " if out else b"") + b"(MODSEQ %d)" % resp.modseq
    return out


def _vanished(resp: r.Vanished) -> bytes:
    return (b"(EARLIER) " if resp.earlier else b"") + _set(resp.uids)


def _esearch(resp: r.ESearch) -> bytes:
    parts: list[bytes] = []
    if resp.tag is not None:
        parts.append(b"(TAG " + _string(resp.tag) + b")")
    if resp.uid:
        parts.append(b"UID")
    for word, value in ((b"MIN", resp.min), (b"MAX", resp.max)):
        if value is not None:
            parts.append(b"%s %d" % (word, value))
    if resp.all is not None:
        parts.append(b"ALL " + _set(resp.all))
    if resp.count is not None:
        parts.append(b"COUNT %d" % resp.count)
    if resp.modseq is not None:
        parts.append(b"MODSEQ %d" % resp.modseq)
    return b" ".join(parts)


def _thread_list(node: r.ThreadNode) -> bytes:
    # A chain of single children is written flat ("3 6 4"); a branching
    # node's children are each a nested list ("(4 23)(44 7 96)").
    parts: list[bytes] = []
    while True:
        if node.number is not None:
            parts.append(b"%d" % node.number)
        if len(node.children) == 1:
            node = node.children[0]
            continue
        if node.children:
            parts.append(b"".join(_thread_list(c) for c in node.children))
        break
    return b"(" + b" ".join(parts) + b")"


def _id(resp: r.IdData) -> bytes:
    if resp.params is None:
        return b"NIL"
    return b"(" + b" ".join(_string(k) + b" " + _nstring(v) for k, v in resp.params) + b")"


def _delimiter(value: str | None) -> bytes:
    return _nstring(value)


def _list_item(resp: r.ListItem, ctx: _Ctx) -> list[Piece]:
    out = (b"* " + _atom(resp.kind) + b" " + _plist(resp.attributes) + b" "
           + _delimiter(resp.delimiter) + b" " + _mailbox(resp.name, ctx))
    ext: list[bytes] = []
    if resp.childinfo:
        ext.append(b'"CHILDINFO" (' + b" ".join(_string(c) for c in resp.childinfo) + b")")
    if resp.oldname is not None:
        ext.append(b'"OLDNAME" (' + _mailbox(resp.oldname, ctx) + b")")
    if ext:
        out += b" (" + b" ".join(ext) + b")"
    return [out + b"\r\n"]


def _status_data(resp: r.StatusData, ctx: _Ctx) -> list[Piece]:
    items = b" ".join(b"%s %d" % (_atom(k), v) for k, v in resp.items)
    return [b"* STATUS " + _mailbox(resp.mailbox, ctx) + b" (" + items + b")\r\n"]


def _ns(group: tuple[tuple[str, str | None], ...], ctx: _Ctx) -> bytes:
    if not group:
        return b"NIL"
    return b"(" + b"".join(b"(" + _mailbox(p, ctx) + b" " + _delimiter(d) + b")" for p, d in group) + b")"


def _namespace(resp: r.NamespaceData, ctx: _Ctx) -> list[Piece]:
    return [b"* NAMESPACE " + b" ".join(_ns(g, ctx) for g in (resp.personal, resp.other, resp.shared))
            + b"\r\n"]


def _quota(resp: r.Quota, ctx: _Ctx) -> list[Piece]:
    res = b" ".join(b"%s %d %d" % (_atom(n), u, lim) for n, u, lim in resp.resources)
    return [b"* QUOTA " + _string(resp.root) + b" (" + res + b")\r\n"]


def _quotaroot(resp: r.QuotaRoot, ctx: _Ctx) -> list[Piece]:
    roots = b"".join(b" " + _string(root) for root in resp.roots)
    return [b"* QUOTAROOT " + _mailbox(resp.mailbox, ctx) + roots + b"\r\n"]


# -- FETCH -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _flag_list(flags: tuple[str, ...]) -> bytes:
    """FETCH FLAGS values repeat endlessly (a folder has few distinct flag
    sets): encode each once. Hot path of `FETCH 1:* (FLAGS)`."""
    return b"FLAGS " + _plist(flags)


@functools.lru_cache(maxsize=256)
def _item_name(name: str) -> bytes:
    return _atom(name) + b" "


def _fetch_item(item: r.FetchData, out: list[Piece]) -> None:
    kind = type(item)
    if kind is r.FetchFlags:
        out.append(_flag_list(item.flags))  # type: ignore[union-attr]
    elif kind is r.FetchNumber:
        out.append(_item_name(item.name) + b"%d" % item.value)  # type: ignore[union-attr]
    elif kind is r.FetchModSeq:
        out.append(b"MODSEQ (%d)" % item.modseq)  # type: ignore[union-attr]
    elif kind is r.FetchInternalDate:
        out.append(b"INTERNALDATE " + format_date_time(item.date_time))  # type: ignore[union-attr]
    elif kind is r.FetchRaw:
        out.append(_item_name(item.name) + item.value)  # type: ignore[union-attr]
    elif kind is r.FetchSection:
        assert isinstance(item, r.FetchSection)
        name = _text(item.name) + b" "
        data = item.data
        if data is None:
            out.append(name + b"NIL")
        elif isinstance(data, LiteralStream):
            out.append(name + (b"~" if data.binary else b"") + b"{%d}\r\n" % data.size)
            out.append(data)
        else:
            # literal8 only when BINARY data really holds a NUL (RFC 3516).
            binary = item.name.upper().startswith("BINARY") and b"\0" in data
            out.append(name + (b"~" if binary else b"") + b"{%d}\r\n" % len(data) + data)
    else:
        raise TypeError(f"not a FETCH item: {item!r}")


def _fetch(resp: r.FetchResponse, ctx: _Ctx) -> list[Piece]:
    items: list[Piece] = []
    for item in resp.items:
        _fetch_item(item, items)
    head = b"* %d FETCH (" % resp.seq
    if not any(isinstance(piece, LiteralStream) for piece in items):
        return [head + b" ".join(items) + b")\r\n"]  # type: ignore[arg-type]
    out: list[Piece] = [head]
    for i, piece in enumerate(items):
        # A stream follows its own "{n}\r\n" marker directly; every other
        # item is separated from the one before by a space.
        if i and not isinstance(piece, LiteralStream):
            out.append(b" ")
        out.append(piece)
    out.append(b")\r\n")
    return out


# FetchRows columns: (template piece, converter of the value or None).
_ROW_COLUMNS: dict[str, tuple[bytes, Callable[[Any], bytes] | None]] = {
    "UID": (b"UID %d", None),
    "RFC822.SIZE": (b"RFC822.SIZE %d", None),
    "MODSEQ": (b"MODSEQ (%d)", None),
    "FLAGS": (b"%b", _flag_list),
    "INTERNALDATE": (b"INTERNALDATE %b", format_date_time),
    "ENVELOPE": (b"ENVELOPE %b", None),
    "BODY": (b"BODY %b", None),
    "BODYSTRUCTURE": (b"BODYSTRUCTURE %b", None),
}


# Columns whose values go out as literals: the whole message.
_LITERAL_ROW_COLUMNS = {"BODY[]": b"BODY[] {%d}\r\n", "RFC822": b"RFC822 {%d}\r\n"}


def _fetch_rows(resp: r.FetchRows, ctx: _Ctx) -> list[Piece]:
    """One template per batch, one %-format per message, values converted a
    column at a time: the hot path of a header-first sync."""
    literals = [i for i, name in enumerate(resp.items) if name in _LITERAL_ROW_COLUMNS]
    try:
        formats = [_ROW_COLUMNS[name] if i not in literals else (b"", None) for i, name in enumerate(resp.items)]
    except KeyError as exc:
        raise TypeError(f"not a FETCH row item: {exc}") from None
    if any(len(column) != len(resp.seqs) for column in resp.columns) or len(resp.columns) != len(formats):
        raise ValueError("FETCH rows: every column needs one value per message")
    columns = [column if fn is None else list(map(fn, column))
               for column, (_, fn) in zip(resp.columns, formats)]
    if not literals:
        template = b"* %d FETCH (" + b" ".join(piece for piece, _ in formats) + b")\r\n"
        return [b"".join([template % row for row in zip(resp.seqs, *columns)])]
    if len(literals) > 1:
        raise TypeError("FETCH rows: at most one literal column")
    return _literal_rows(resp, formats, columns, literals[0])


def _literal_rows(resp: r.FetchRows, formats: list[tuple[bytes, Any]], columns: list[Sequence[Any]],
                  k: int) -> list[Piece]:
    """Rows with the whole message as item k: per message the text up to
    the literal's "{n}\r\n", the message itself as its own piece (never
    copied into a bigger buffer), and the rest of the row."""
    head = (b"* %d FETCH (" + b"".join(piece + b" " for piece, _ in formats[:k])
            + _LITERAL_ROW_COLUMNS[resp.items[k]])
    tail = b"".join(b" " + piece for piece, _ in formats[k + 1:]) + b")\r\n"
    out: list[Piece] = []
    for seq, *values in zip(resp.seqs, *columns):
        data = values[k]
        out.append(head % (seq, *values[:k], len(data)))
        out.append(data)
        out.append(tail % tuple(values[k + 1:]))
    return out


_ENCODERS: dict[type, Callable[[Any, _Ctx], list[Piece]]] = {
    r.Tagged: _tagged,
    r.Condition: _condition,
    r.Continuation: _continuation,
    r.Capabilities: _simple(b"CAPABILITY", lambda x: _atoms(x.capabilities)),
    r.Enabled: _simple(b"ENABLED", lambda x: _atoms(x.capabilities)),
    r.Flags: _simple(b"FLAGS", lambda x: _plist(x.flags)),
    r.Exists: _numbered(b"EXISTS", "count"),
    r.Recent: _numbered(b"RECENT", "count"),
    r.Expunged: _numbered(b"EXPUNGE", "seq"),
    r.Vanished: _simple(b"VANISHED", _vanished),
    r.IdData: _simple(b"ID", _id),
    r.SearchResult: _simple(b"SEARCH", _numbers),
    r.SortResult: _simple(b"SORT", _numbers),
    r.ESearch: _simple(b"ESEARCH", _esearch),
    r.ThreadResult: _simple(b"THREAD", lambda x: b"".join(_thread_list(t) for t in x.threads)),
    r.ListItem: _list_item,
    r.StatusData: _status_data,
    r.NamespaceData: _namespace,
    r.Quota: _quota,
    r.QuotaRoot: _quotaroot,
    r.FetchResponse: _fetch,
    r.FetchRows: _fetch_rows,
}


def chunks(response: r.Response, *, utf8: bool = False) -> list[Piece]:
    """Wire pieces of one response (see module docstring).

    ``utf8``: UTF8=ACCEPT is enabled, so folder names go out as UTF-8
    rather than modified UTF-7.
    """
    try:
        encode = _ENCODERS[type(response)]
    except KeyError:
        raise TypeError(f"not an IMAP response: {response!r}") from None
    merged: list[Piece] = []
    run: list[bytes] = []  # adjacent bytes, joined once (a batch has hundreds)
    for piece in encode(response, _Ctx(utf8)):
        if isinstance(piece, bytes) and len(piece) < KEEP_APART:
            if piece:
                run.append(piece)
            continue
        if run:
            merged.append(b"".join(run))
            run = []
        merged.append(piece)
    if run:
        merged.append(b"".join(run))
    return merged


def to_bytes(response: r.Response, *, utf8: bool = False) -> bytes:
    """The whole response as bytes, reading any stream (tests, small data)."""
    out = bytearray()
    for piece in chunks(response, utf8=utf8):
        if isinstance(piece, LiteralStream):
            data = piece.source.read(piece.size)
            if len(data) != piece.size:
                raise ValueError("stream shorter than its announced size")
            out += data
        else:
            out += piece
    return bytes(out)
