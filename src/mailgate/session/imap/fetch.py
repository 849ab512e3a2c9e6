"""FETCH (RFC 3501 6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/MODSEQ).

Everything is answered from what delivery stored: FLAGS/UID/MODSEQ from the
session's view, INTERNALDATE/RFC822.SIZE from the message record,
ENVELOPE/BODY/BODYSTRUCTURE from the summary's wire bytes, and sections by
byte range from the blob (seek + read; large ranges are handed to the
transport as a LiteralStream).  Records are loaded in batches; a FETCH that
asks only for FLAGS/UID/MODSEQ never touches the store.

The handler drives it like this::

    outcome = FetchOutcome()
    async for response in fetch_responses(ctx, cmd, outcome=outcome):
        yield response
    ...pending_updates(ctx, allow_expunge=cmd.uid)...
    yield outcome.tagged(cmd.tag)          # OK, or NO [UNKNOWN-CTE] / [PARSE]

\\Seen is set once per batch through ``mark_seen`` (default: store_flags
+ view.apply_own_change) before that batch's responses are built, so each
response carries the new FLAGS (RFC 3501: FLAGS is included when \\Seen
changes as a side effect).
"""

from __future__ import annotations

import io
import os
import mmap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from ... import mime
from ...protocol.imap import responses as r
from ...protocol.imap.commands import Fetch
from ...protocol.imap.fetch_items import FetchAttr, FetchBinary, FetchBinarySize, FetchBody, FetchItem, Section
from ...protocol.imap.literal import LiteralStream
from ...storage.errors import StorageError
from ...storage.models import FlagMode, Message, MessageMeta
from .context import SessionContext
from .msgset import ReadCommandError, batched
from .numbers import resolve_uids
from .selected import SelectedFolder
from .fetch_rows import (LITERAL_ITEMS, STREAM_THRESHOLD, body_parts, build_rows, first_small, record_batches,
                         summary_batches, whole_messages)
from .updates import flags_of

__all__ = ["FetchOutcome", "fetch_responses", "MarkSeen", "BATCH", "STREAM_THRESHOLD"]

BATCH = 500  # UIDs per store.get_messages call
FLAG_BATCH = 2000  # UID/FLAGS/MODSEQ-only rows per FetchRows
SEEN = "\\Seen"

MarkSeen = Callable[[list[int]], Awaitable[None]]


@dataclass
class FetchOutcome:
    """What the handler needs after the responses: the completion, and the
    UIDs whose \\Seen this FETCH set."""

    code: r.ResponseCode | None = None
    text: str = ""
    seen: list[int] = field(default_factory=list)

    def fail(self, code: r.ResponseCode, text: str) -> None:
        if self.code is None:  # the first error decides the completion
            self.code, self.text = code, text

    def tagged(self, tag: str, ok_text: str = "Fetch completed.") -> r.Tagged:
        if self.code is not None:
            return r.Tagged(tag, "NO", self.text, self.code)
        return r.Tagged(tag, "OK", ok_text)


# -- the plan: what each item needs ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Body:
    """A body-ish item, normalized: RFC822* become BODY[...] with their name."""

    name: str  # response name
    section: Section
    partial: tuple[int, int] | None


_RECORD_ATTRS = frozenset({"INTERNALDATE", "RFC822.SIZE"})
_SUMMARY_ATTRS = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE"})


@dataclass
class _Plan:
    items: list[FetchItem | _Body]
    want_uid: bool
    want_modseq: bool
    want_flags: bool
    needs_record: bool
    needs_blob: bool
    sets_seen: bool


def _plan(cmd: Fetch) -> _Plan:
    items: list[FetchItem | _Body] = []
    seen_items: set[object] = set()
    needs_record = needs_blob = sets_seen = False
    want_uid = cmd.uid
    want_modseq = cmd.changedsince is not None
    want_flags = False
    for item in cmd.items:
        norm: FetchItem | _Body = item
        if isinstance(item, FetchAttr):
            name = item.name
            if name == "UID":
                want_uid = True
                continue
            if name == "MODSEQ":
                want_modseq = True
                continue
            if name == "FLAGS":
                want_flags = True
                continue
            if name in _RECORD_ATTRS or name in _SUMMARY_ATTRS:
                needs_record = True
            elif name == "RFC822":
                norm = _Body("RFC822", Section(), None)
                sets_seen = True
            elif name == "RFC822.HEADER":
                norm = _Body("RFC822.HEADER", Section(text="HEADER"), None)
            elif name == "RFC822.TEXT":
                norm = _Body("RFC822.TEXT", Section(text="TEXT"), None)
                sets_seen = True
        elif isinstance(item, FetchBody):
            norm = _Body(item.response_name(), item.section, item.partial)
            sets_seen = sets_seen or not item.peek
        elif isinstance(item, FetchBinary):
            sets_seen = sets_seen or not item.peek
            norm = FetchBinary(item.part, True, item.partial)  # peek folded in; name is the same
        if isinstance(norm, (_Body, FetchBinary, FetchBinarySize)):
            needs_record = needs_blob = True
        if norm in seen_items:
            continue
        seen_items.add(norm)
        items.append(norm)
    return _Plan(items, want_uid, want_modseq, want_flags, needs_record, needs_blob, sets_seen)


# -- reading the blob -----------------------------------------------------------------

class _BlobRange:
    """A byte range of a blob as a file-like ``source`` for LiteralStream.

    Opens the file on the first read and closes it once the range is
    exhausted, so yielding many of these holds no descriptors; NUL becomes
    0x80 on the way (BODY[] of a message with NUL, corpus 055).
    """

    def __init__(self, path: str, start: int, length: int, nul_to_80: bool) -> None:
        self._path = path
        self._pos = start
        self._left = length
        self._nul = nul_to_80
        self._fh: BinaryIO | None = None

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            self.close()
            return b""
        if self._fh is None:
            self._fh = open(self._path, "rb")  # noqa: SIM115 - closed on exhaustion
            self._fh.seek(self._pos)
        want = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(want)
        self._left -= len(data)
        if not data or self._left <= 0:
            self._left = 0
            self.close()
        return mime.nul_to_0x80(data) if self._nul else data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __del__(self) -> None:
        self.close()


class _Blob:
    """One message's blob, opened lazily while its response is built (a raw
    descriptor read with os.pread: the cheapest way to read thousands of
    small files one after another)."""

    def __init__(self, ctx: SessionContext, message: Message) -> None:
        self._ctx = ctx
        self.message = message
        self._fd: int | None = None
        self._map: mmap.mmap | None = None

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = self._ctx.blobs.open_fd(self.message.blob_id)
        return self._fd

    def read(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        fd = self._descriptor()
        data = os.pread(fd, end - start, start)
        while len(data) < end - start:  # short reads are legal; EOF means a truncated blob
            more = os.pread(fd, end - start - len(data), start + len(data))
            if not more:
                raise StorageError(f"blob {self.message.blob_id} is shorter than its record")
            data += more
        return data

    def buffer(self) -> bytes | mmap.mmap:
        """The whole message for BINARY's transforms, mapped, not read."""
        if self.message.size == 0:
            return b""
        if self._map is None:
            self._map = mmap.mmap(self._descriptor(), 0, access=mmap.ACCESS_READ)
        return self._map

    def path(self) -> str:
        return str(self._ctx.blobs.path(self.message.blob_id))

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _section_spec(section: Section) -> str:
    """The text section_range() takes: "", "HEADER", "1.2", "2.TEXT"..."""
    part = ".".join(map(str, section.part))
    text = section.text or ""
    if text.startswith("HEADER."):
        text = "HEADER"
    return f"{part}.{text}" if part and text else part or text


def _clip(start: int, end: int, partial: tuple[int, int] | None) -> tuple[int, int]:
    if partial is None:
        return start, end
    offset, count = partial
    a = min(start + offset, end)
    return a, min(a + count, end)


class _Stored:
    """A message's stored summary, loaded no further than its items need:
    the wire forms and the head (size, header end, NUL) are slices of the
    stored bytes; only part-level sections and BINARY load the part table."""

    __slots__ = ("data", "_full")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._full: mime.MessageSummary | None = None

    def full(self) -> mime.MessageSummary:
        if self._full is None:
            self._full = mime.MessageSummary.from_bytes(self.data)
        return self._full


_TOP_TEXTS = frozenset({None, "", "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"})


def _section_bounds(stored: _Stored, section: Section) -> tuple[tuple[int, int] | None, bool]:
    """(byte range or None when the part does not exist, has_nul)."""
    if not section.part and section.text in _TOP_TEXTS:
        size, header_end, has_nul = mime.summary_head(stored.data)
        if section.text == "TEXT":
            return (header_end, size), has_nul
        return ((0, size) if not section.text else (0, header_end)), has_nul
    summary = stored.full()
    return mime.section_range(summary, _section_spec(section)), summary.has_nul


def _body_value(blob: _Blob, stored: _Stored, item: _Body) -> bytes | LiteralStream | None:
    rng, has_nul = _section_bounds(stored, item.section)
    if rng is None:
        return None  # no such part: NIL
    start, end = rng
    if item.section.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        block = blob.read(start, end)
        data = mime.header_fields(block, list(item.section.fields),
                                  item.section.text == "HEADER.FIELDS.NOT")
        if item.partial is not None:
            a, b = _clip(0, len(data), item.partial)
            data = data[a:b]
        return mime.nul_to_0x80(data) if has_nul else data
    start, end = _clip(start, end, item.partial)
    if end - start > STREAM_THRESHOLD:
        return LiteralStream(end - start, _BlobRange(blob.path(), start, end - start, has_nul))
    data = blob.read(start, end)
    return mime.nul_to_0x80(data) if has_nul else data


def _binary_value(blob: _Blob, summary: mime.MessageSummary, part: tuple[int, ...],
                  partial: tuple[int, int] | None) -> bytes | LiteralStream | None:
    try:
        data = mime.binary_section(blob.buffer(), summary, ".".join(map(str, part)))
    except mime.NoSuchPart:
        return None
    if partial is not None:
        a, b = _clip(0, len(data), partial)
        data = data[a:b]
    if len(data) > STREAM_THRESHOLD:
        return LiteralStream(len(data), io.BytesIO(data), binary=b"\0" in data)
    return data


def _binary_size(blob: _Blob, summary: mime.MessageSummary, part: tuple[int, ...]) -> int:
    try:
        return len(mime.binary_section(blob.buffer(), summary, ".".join(map(str, part))))
    except mime.NoSuchPart:
        return 0


_CODES = {"UNKNOWN-CTE": r.UNKNOWN_CTE, "PARSE": r.PARSE}


# -- building responses ---------------------------------------------------------------

def _build(ctx: SessionContext, view: SelectedFolder, plan: _Plan, uid: int, seq: int,
           meta: MessageMeta, message: Message | None, seen_now: bool,
           outcome: FetchOutcome) -> r.FetchResponse:
    out: list[r.FetchData] = []
    if plan.want_uid:
        out.append(r.FetchNumber("UID", uid))
    if plan.want_flags:
        out.append(r.FetchFlags(flags_of(ctx, meta)))
    assert message is not None  # _build serves plans with body items: records are loaded
    stored = _Stored(message.summary)
    blob: _Blob | None = None
    try:
        for item in plan.items:
            if isinstance(item, FetchAttr):
                name = item.name
                if name == "INTERNALDATE":
                    out.append(r.FetchInternalDate(message.internaldate))
                elif name == "RFC822.SIZE":
                    out.append(r.FetchNumber("RFC822.SIZE", message.size))
                else:
                    envelope, body, bodystructure = mime.wire_items(message.summary)
                    value = {"ENVELOPE": envelope, "BODY": body, "BODYSTRUCTURE": bodystructure}[name]
                    out.append(r.FetchRaw(name, value))
                continue
            if blob is None:
                blob = _Blob(ctx, message)
            try:
                if isinstance(item, _Body):
                    out.append(r.FetchSection(item.name, _body_value(blob, stored, item)))
                elif isinstance(item, FetchBinary):
                    out.append(r.FetchSection(item.response_name(),
                                              _binary_value(blob, stored.full(), item.part, item.partial)))
                elif isinstance(item, FetchBinarySize):
                    out.append(r.FetchNumber(item.response_name(),
                                             _binary_size(blob, stored.full(), item.part)))
            except mime.BinaryError as exc:
                # RFC 3516 / corpus 049: the item is left out, the rest of
                # the message's items still go out, the command ends NO.
                outcome.fail(_CODES.get(exc.response_code, r.PARSE), exc.text)
            except StorageError:
                outcome.fail(r.SERVERBUG, "Message data is unavailable")
    finally:
        if blob is not None:
            blob.close()
    if seen_now and not plan.want_flags:
        out.append(r.FetchFlags(flags_of(ctx, meta)))
    if plan.want_modseq or (seen_now and ctx.condstore):
        out.append(r.FetchModSeq(meta.modseq))
    return r.FetchResponse(seq, tuple(out))


def _row_items(plan: _Plan) -> tuple[str, ...]:
    """The FetchRows columns of a plan without body sections (or with only
    the whole message, see _rows_answer), in the order _build would write
    them."""
    names = [item.name for item in plan.items if isinstance(item, (FetchAttr, _Body))]
    return (*(("UID",) if plan.want_uid else ()), *(("FLAGS",) if plan.want_flags else ()),
            *names, *(("MODSEQ",) if plan.want_modseq else ()))


def _rows_answer(plan: _Plan) -> bool:
    """Whether FetchRows can answer a plan with body items: attributes and
    one whole message (BODY[], BODY.PEEK[], RFC822) without a range -- what
    mbsync and Thunderbird ask for each message they download."""
    bodies = [item for item in plan.items if not isinstance(item, FetchAttr)]
    return (len(bodies) == 1 and isinstance(bodies[0], _Body) and bodies[0].name in LITERAL_ITEMS
            and not bodies[0].section.part and not bodies[0].section.text and bodies[0].partial is None)


async def _default_mark_seen(ctx: SessionContext, view: SelectedFolder, uids: list[int]) -> None:
    result = await ctx.store.store_flags(view.folder.id, uids, (SEEN,), FlagMode.ADD)
    for meta in result.changed:
        view.apply_own_change(meta)


async def fetch_responses(ctx: SessionContext, cmd: Fetch, *, outcome: FetchOutcome | None = None,
                          mark_seen: MarkSeen | None = None,
                          batch: int = BATCH) -> AsyncIterator[r.FetchResponse | r.FetchRows]:
    """The untagged FETCH responses of ``cmd`` over the selected view.

    Numbers that do not exist are left out (numbers.resolve_uids, the same
    rule STORE/COPY use).  BINARY errors are recorded in ``outcome`` (complete with
    ``outcome.tagged(tag)``).  ``mark_seen(uids)`` must set \\Seen on those
    UIDs and update ``view.meta``; it is awaited once per batch.  CHANGEDSINCE
    keeps messages whose MODSEQ is greater and adds MODSEQ to every answer;
    VANISHED (RFC 7162) is the caller's part.
    """
    view = ctx.selected
    if view is None:
        raise ReadCommandError("BAD", "No folder selected")
    if outcome is None:
        outcome = FetchOutcome()
    uids: Sequence[int] = resolve_uids(view, cmd.set, cmd.uid)
    plan = _plan(cmd)
    if ctx.qresync:
        plan.want_uid = True  # RFC 7162 3.2.4 (QRESYNC): FETCH responses carry UID
    if plan.want_modseq:
        ctx.condstore_used = True  # RFC 7162 3.1: MODSEQ/CHANGEDSINCE enable CONDSTORE
    if cmd.changedsince is not None:
        since = cmd.changedsince
        newer = {u for u, modseq in zip(view.meta.uids, view.meta.modseqs) if modseq > since}
        uids = [u for u in uids if u in newer]
    uids = view.live_uids(list(uids))
    if not plan.items and not plan.needs_record:
        # Only UID/FLAGS/MODSEQ: all from the view, answered in batches
        # (a client resyncing the flags of a 100,000-message folder).
        items = _row_items(plan)
        for chunk in batched(uids, FLAG_BATCH):
            yield build_rows(ctx, view, items, chunk, None)
        return
    if not plan.needs_blob:
        # Sizes, dates, envelopes, structures: rows a batch at a time.
        items = _row_items(plan)
        chunks = first_small(uids, batch)
        async for chunk, rows in summary_batches(ctx, view.folder.id, chunks, "INTERNALDATE" in items):
            yield build_rows(ctx, view, items, chunk, rows)
        return
    may_set_seen = plan.sets_seen and not view.readonly
    if not may_set_seen and _rows_answer(plan):
        # Whole small messages without \Seen to set: rows, each message's
        # bytes read whole and written as its own piece.
        items = _row_items(plan)
        chunks = first_small(uids, batch)
        async for chunk, rows in summary_batches(ctx, view.folder.id, chunks, "INTERNALDATE" in items):
            parts = list(body_parts(chunk, rows))
            # Records for _build: those of the big messages in one read for
            # the chunk (not a query per message), others only if needed.
            big = [uid for part, small in parts if not small for uid in part]
            records = {m.uid: m for m in await ctx.store.get_messages(view.folder.id, big)} if big else {}
            for part, small in parts:
                try:
                    bodies = whole_messages(ctx, part, rows) if small else None
                except StorageError:
                    bodies = None  # _build answers without the item and ends the command NO
                if bodies is not None:
                    yield build_rows(ctx, view, items, part, rows, bodies)
                    continue
                if small:  # a blob could not be read: the per-message path says so
                    records.update((m.uid, m) for m in await ctx.store.get_messages(view.folder.id, part))
                for response in _each(ctx, view, plan, part, records, set(), outcome):
                    yield response
        return
    async for chunk, records in record_batches(ctx, view.folder.id, first_small(uids, batch)):
        seen_now: set[int] = set()
        if may_set_seen:
            todo = [u for u in chunk if (not plan.needs_record or u in records)
                    and u in view.meta and SEEN not in view.meta[u].flags]
            if todo:
                if mark_seen is None:
                    await _default_mark_seen(ctx, view, todo)
                else:
                    await mark_seen(todo)
                seen_now = {u for u in todo if u in view.meta and SEEN in view.meta[u].flags}
                outcome.seen.extend(sorted(seen_now))
        for response in _each(ctx, view, plan, chunk, records, seen_now, outcome):
            yield response


def _each(ctx: SessionContext, view: SelectedFolder, plan: _Plan, chunk: Sequence[int],
          records: dict[int, Message], seen_now: set[int], outcome: FetchOutcome) -> Iterator[r.FetchResponse]:
    """One response per message (bodies may stream: one at a time)."""
    for uid in chunk:
        meta = view.meta.get(uid)
        seq = view.seq_of(uid)
        if meta is None or seq is None or uid in view.gone:
            continue
        message = records.get(uid)
        if plan.needs_record and message is None:
            continue  # expunged meanwhile by another session
        yield _build(ctx, view, plan, uid, seq, meta, message, uid in seen_now, outcome)
