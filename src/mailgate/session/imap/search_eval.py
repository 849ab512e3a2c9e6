"""Evaluating one SEARCH key against one message (used by search.py).

``compile_key`` turns the parser's key tree into nodes that carry what they
need precomputed (sequence sets resolved to UID sets, needles lower-cased,
AND children ordered cheapest first).  ``meta_eval`` answers from the view
alone, in three-valued logic (None: needs the message); ``evaluate`` answers
from a loaded Candidate, loading the summary, header block or text lazily.

Rules (RFC 3501 6.4.4, corpus README "SEARCH"):

* text keys: case-insensitive substring (``str.lower``; no ß/ss folding)
  after decoding RFC 2047 words, transfer encodings and charsets;
  an empty string matches every message that has the field (HEADER, and
  the address/subject keys alike);
* FROM/TO/CC/BCC/SUBJECT and Message-ID/In-Reply-To/References come from
  the summary; other HEADER fields from the top-level header block only;
* BEFORE/ON/SINCE compare the internal date's calendar date in its own
  zone; SENTBEFORE/SENTON/SENTSINCE the Date header's date in the zone it
  was written in;
* a message without a usable Date header is taken as sent at its internal
  date (SENT_DATE_FALLBACK).  Dovecot uses 1-Jan-1970 instead; we follow
  RFC 5256 (SORT uses INTERNALDATE then) so SEARCH SENT* and SORT DATE
  agree, and a message with a broken Date header is not "sent before"
  every date (corpus README, questionable answer 5).
"""

from __future__ import annotations

import datetime as _dt
import mmap
from dataclasses import dataclass, field
from typing import Any

from ... import mime
from ...mime.headers import split_fields, unfold
from ...protocol.imap.search_keys import (Age, All, And, Body, Date, Flag, Header, ModSeq, Not, Or, SearchKey, Seq,
                                          Size)
from ...storage.models import Message, MessageMeta
from .numbers import resolve_uids
from .selected import SelectedFolder

__all__ = ["META", "RECORD", "SUMMARY", "BLOB", "TEXT", "Candidate", "compile_key", "cost",
           "meta_eval", "evaluate", "SENT_DATE_FALLBACK"]

META, RECORD, SUMMARY, BLOB, TEXT = 0, 1, 2, 3, 4

# "internal": a missing/unparseable Date header counts as the internal date
# (RFC 5256 consistency); "epoch": as 1-Jan-1970 00:00 +0000 (Dovecot).
SENT_DATE_FALLBACK = "internal"
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

_SUMMARY_HEADERS = {
    "FROM": "from_", "TO": "to", "CC": "cc", "BCC": "bcc",
    "MESSAGE-ID": "message_id", "IN-REPLY-TO": "in_reply_to", "REFERENCES": "references",
}


@dataclass(eq=False)
class Candidate:
    """A message under test; caches are dropped by ``release()``."""

    uid: int
    seq: int
    meta: MessageMeta
    recent: bool
    record: Message | None = None
    blobs: Any = None
    _summary: mime.MessageSummary | None = field(default=None, repr=False)
    _fields: dict[str, list[str]] | None = field(default=None, repr=False)
    _texts: tuple[str, str] | None = field(default=None, repr=False)
    _decoded: dict[str, str | None] = field(default_factory=dict, repr=False)

    def summary(self) -> mime.MessageSummary:
        if self._summary is None:
            assert self.record is not None
            self._summary = mime.MessageSummary.from_bytes(self.record.summary)
        return self._summary

    def summary_header(self, name: str) -> str | None:
        """Decoded, lower-cased value of a header kept in the summary."""
        if name not in self._decoded:
            s = self.summary()
            if name == "SUBJECT":
                value = None if s.subject_raw is None else s.subject.lower()
            else:
                raw = getattr(s, _SUMMARY_HEADERS[name])
                value = None if raw is None else mime.decode_header(raw).lower()
            self._decoded[name] = value
        return self._decoded[name]

    def header_values(self, name: str) -> list[str]:
        """Decoded, lower-cased values of every top-level field ``name``."""
        if self._fields is None:
            assert self.record is not None
            end = self.summary().header_end
            with self.blobs.open(self.record.blob_id) as fh:
                block = fh.read(end)
            fields: dict[str, list[str]] = {}
            for f in split_fields(block):
                value = mime.decode_header(unfold(f.value).strip(b" \t")).lower()
                fields.setdefault(f.key, []).append(value)
            self._fields = fields
        return self._fields.get(name.lower(), [])

    def texts(self) -> tuple[str, str]:
        """(header text, body text), decoded and lower-cased."""
        if self._texts is None:
            assert self.record is not None
            summary = self.summary()
            if self.record.size == 0:
                header, body = mime.search_text(b"", summary)
            else:
                with self.blobs.open(self.record.blob_id) as fh, \
                        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                    header, body = mime.search_text(buf, summary)
            self._texts = (header.lower(), body.lower())
        return self._texts

    def sent_date(self) -> _dt.date:
        date = self.summary().date
        if date is None:
            if SENT_DATE_FALLBACK == "epoch":
                return _EPOCH.date()
            assert self.record is not None
            return self.record.internaldate.date()
        return date.date()

    def release(self) -> None:
        self._summary = None
        self._fields = None
        self._texts = None
        self._decoded = {}


# -- compiled nodes ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Const:
    value: bool


@dataclass(frozen=True, slots=True)
class _Flag:
    flag: str
    low: str
    present: bool


@dataclass(frozen=True, slots=True)
class _Uids:
    uids: frozenset[int]


@dataclass(frozen=True, slots=True)
class _ModSeq:
    modseq: int


@dataclass(frozen=True, slots=True)
class _Size:
    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class _Date:
    sent: bool
    relation: str
    date: _dt.date


@dataclass(frozen=True, slots=True)
class _Age:
    older: bool
    cutoff: _dt.datetime  # internal dates before this are "older"


@dataclass(frozen=True, slots=True)
class _SummaryHeader:
    name: str
    needle: str


@dataclass(frozen=True, slots=True)
class _Header:
    name: str
    needle: str


@dataclass(frozen=True, slots=True)
class _Text:
    needle: str
    whole: bool


@dataclass(frozen=True, slots=True)
class _Not:
    node: Any


@dataclass(frozen=True, slots=True)
class _Or:
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class _And:
    nodes: tuple[Any, ...]


_COSTS = {_Const: META, _Flag: META, _Uids: META, _ModSeq: META, _Size: RECORD, _Age: RECORD,
          _SummaryHeader: SUMMARY, _Header: BLOB, _Text: TEXT}


def cost(node: Any) -> int:
    """The most expensive data the node may need."""
    if isinstance(node, _Not):
        return cost(node.node)
    if isinstance(node, _Or):
        return max(cost(node.left), cost(node.right))
    if isinstance(node, _And):
        return max((cost(n) for n in node.nodes), default=META)
    if isinstance(node, _Date):
        return SUMMARY if node.sent else RECORD
    return _COSTS[type(node)]


def _seq_uids(view: SelectedFolder, key: Seq) -> frozenset[int]:
    # Numbers past EXISTS or missing UIDs match nothing; "$" is the saved result.
    return frozenset(resolve_uids(view, key.set, key.uid))


def compile_key(key: SearchKey, view: SelectedFolder, now: _dt.datetime | None = None) -> Any:
    if now is None:
        now = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(key, All):
        return _Const(True)
    if isinstance(key, Flag):
        return _Flag(key.flag, key.flag.lower(), key.present)
    if isinstance(key, Seq):
        return _Uids(_seq_uids(view, key))
    if isinstance(key, ModSeq):
        return _ModSeq(key.modseq)
    if isinstance(key, Size):
        return _Size(key.larger, key.size)
    if isinstance(key, Date):
        return _Date(key.field == "SENT", key.relation, key.date)
    if isinstance(key, Age):
        return _Age(key.older, now - _dt.timedelta(seconds=key.seconds))
    if isinstance(key, Header):
        name = key.field.upper()
        if name in _SUMMARY_HEADERS or name == "SUBJECT":
            return _SummaryHeader(name, key.value.lower())
        return _Header(name, key.value.lower())
    if isinstance(key, Body):
        return _Text(key.value.lower(), key.whole_message)
    if isinstance(key, Not):
        inner = compile_key(key.key, view, now)
        return _Const(not inner.value) if isinstance(inner, _Const) else _Not(inner)
    if isinstance(key, Or):
        return _Or(compile_key(key.left, view, now), compile_key(key.right, view, now))
    if isinstance(key, And):
        nodes = sorted((compile_key(k, view, now) for k in key.keys), key=cost)
        return nodes[0] if len(nodes) == 1 else _And(tuple(nodes))
    raise TypeError(f"unknown search key {key!r}")


def _has_flag(node: _Flag, c: Candidate) -> bool:
    if node.low == "\\recent":
        return c.recent
    flags = c.meta.flags
    if node.flag in flags:
        return True
    return any(f.lower() == node.low for f in flags)


def meta_eval(node: Any, c: Candidate) -> bool | None:
    """True/False when the view decides; None when the message is needed."""
    t = type(node)
    if t is _Const:
        return node.value
    if t is _Flag:
        return _has_flag(node, c) == node.present
    if t is _Uids:
        return c.uid in node.uids
    if t is _ModSeq:
        return c.meta.modseq >= node.modseq
    if t is _Not:
        v = meta_eval(node.node, c)
        return None if v is None else not v
    if t is _And:
        result: bool | None = True
        for n in node.nodes:
            v = meta_eval(n, c)
            if v is False:
                return False
            if v is None:
                result = None
        return result
    if t is _Or:
        a = meta_eval(node.left, c)
        if a is True:
            return True
        b = meta_eval(node.right, c)
        if b is True:
            return True
        return None if a is None or b is None else False
    return None


def _compare(relation: str, value: _dt.date, date: _dt.date) -> bool:
    if relation == "BEFORE":
        return value < date
    if relation == "ON":
        return value == date
    return value >= date  # SINCE


def _contains(value: str | None, needle: str) -> bool:
    return value is not None and needle in value


def evaluate(node: Any, c: Candidate) -> bool:
    """The full answer for a loaded candidate (``c.record`` set)."""
    t = type(node)
    if t is _And:
        return all(evaluate(n, c) for n in node.nodes)
    if t is _Or:
        return evaluate(node.left, c) or evaluate(node.right, c)
    if t is _Not:
        return not evaluate(node.node, c)
    v = meta_eval(node, c)
    if v is not None:
        return v
    record = c.record
    assert record is not None
    if t is _Size:
        return record.size > node.size if node.larger else record.size < node.size
    if t is _Date:
        value = c.sent_date() if node.sent else record.internaldate.date()
        return _compare(node.relation, value, node.date)
    if t is _Age:
        older = record.internaldate <= node.cutoff
        return older if node.older else not older
    if t is _SummaryHeader:
        return _contains(c.summary_header(node.name), node.needle)
    if t is _Header:
        return any(node.needle in v for v in c.header_values(node.name))
    if t is _Text:
        header, body = c.texts()
        return node.needle in body or (node.whole and node.needle in header)
    raise TypeError(f"unknown search node {node!r}")
