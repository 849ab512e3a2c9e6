"""FETCH answered a batch at a time as FetchRows (protocol/imap/responses.py):
items without body sections -- sizes, dates, envelopes, structures from the
store's summary rows (Store.get_summaries), UID/FLAGS/MODSEQ from the view --
and whole small messages, each read with one open/read/close. fetch.py
decides which FETCH goes this way; the rest is one FetchResponse per message.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

from ... import mime
from ...protocol.imap import responses as r
from ...storage.models import Message
from .context import SessionContext
from .selected import SelectedFolder
from .updates import shown_flags, sorted_flags

STREAM_THRESHOLD = 64 * 1024  # sections larger than this go out as a LiteralStream
ROWS_BYTES = 1024 * 1024  # message data per FetchRows of whole messages
# Messages up to this size are read whole when rows answer a FETCH (one read
# instead of a buffered file streamed through the output buffer); bigger ones
# stream.
WHOLE_MAX = 1024 * 1024
LITERAL_ITEMS = ("BODY[]", "RFC822")  # the row items that carry the whole message
FIRST_BATCH = 25  # messages in a FETCH's first store read


def first_small(uids: Sequence[int], batch: int) -> list[Sequence[int]]:
    """The UIDs in store reads of ``batch``, the first one small: the answer
    starts after a read of a few rows instead of 500 (2-3 ms with their
    summaries), and each later read runs while the one before is written --
    a client that fetches 500 bodies per command waited that long on each."""
    first = min(FIRST_BATCH, batch)
    head = [uids[:first]] if uids else []
    return head + [uids[i:i + batch] for i in range(first, len(uids), batch)]


def body_parts(chunk: Sequence[int], rows: dict[int, tuple[Any, ...]]) -> Iterator[tuple[Sequence[int], bool]]:
    """The chunk in runs of at most ROWS_BYTES of message data (or one
    message of up to WHOLE_MAX), each marked True when rows can answer it
    (every message read whole with one system call) or False (the run of
    one bigger message, streamed by _build)."""
    start, size = 0, 0
    for i, uid in enumerate(chunk):
        row = rows.get(uid)
        length = 0 if row is None else row[1]
        if length > WHOLE_MAX:
            if i > start:
                yield chunk[start:i], True
            yield chunk[i:i + 1], False
            start, size = i + 1, 0
        elif size + length > ROWS_BYTES and i > start:
            yield chunk[start:i], True
            start, size = i, length
        else:
            size += length
    if start < len(chunk):
        yield chunk[start:], True


def whole_messages(ctx: SessionContext, uids: Sequence[int], rows: dict[int, tuple[Any, ...]]) -> dict[int, bytes]:
    """The stored bytes of small messages (NUL sent as 0x80, as _body_value
    does). Raises StorageError for a missing or short blob."""
    out: dict[int, bytes] = {}
    read = ctx.blobs.read_whole
    for uid in uids:
        row = rows.get(uid)
        if row is not None:
            size, _, has_nul = mime.summary_head(row[2])
            data = read(row[3], size)
            out[uid] = mime.nul_to_0x80(data) if has_nul else data
    return out


def build_rows(ctx: SessionContext, view: SelectedFolder, items: tuple[str, ...], uids: Sequence[int],
          records: dict[int, tuple[Any, ...]] | None, bodies: dict[int, bytes] | None = None) -> r.FetchRows:
    """Answers for ``uids`` (ascending), built a column at a time: from the
    view alone when ``records`` is None (UID/FLAGS/MODSEQ), else also from
    each message's (uid, size, summary, blob id[, internaldate]) row
    (Store.get_summaries), the summary's wire forms and ``bodies`` (the
    whole messages, by UID) -- messages expunged meanwhile are left out."""
    index = view.meta
    numbers, gone = index.uids, view.gone
    positions: list[int] = []
    kept: list[int] = []
    count = len(numbers)
    position = bisect_left(numbers, uids[0]) if uids else 0
    for uid in uids:
        # uids ascend, so the position is found by walking forward.
        while position < count and numbers[position] < uid:
            position += 1
        if position == count:
            break
        if numbers[position] == uid and uid not in gone and (records is None or uid in records):
            positions.append(position)
            kept.append(uid)
    messages = [records[uid] for uid in kept] if records is not None else []
    wires = ([mime.wire_items(m[2]) for m in messages]
             if any(name in _WIRE for name in items) else [])
    columns: list[Sequence[object]] = []
    for name in items:
        if name == "UID":
            columns.append(kept)
        elif name == "FLAGS":
            flag_ids, flagsets = index.flag_ids, index.flagsets
            recent = view.recent if view.recent and not ctx.rev2 else None
            if recent is None:
                columns.append([sorted_flags(flagsets[flag_ids[p]]) for p in positions])
            else:
                columns.append([shown_flags(flagsets[flag_ids[p]], uid in recent)
                                for p, uid in zip(positions, kept)])
        elif name == "MODSEQ":
            modseqs = index.modseqs
            columns.append([modseqs[p] for p in positions])
        elif name == "RFC822.SIZE":
            columns.append([m[1] for m in messages])
        elif name == "INTERNALDATE":
            columns.append([m[4] for m in messages])
        elif name in LITERAL_ITEMS:
            assert bodies is not None
            columns.append([bodies[uid] for uid in kept])
        else:
            k = _WIRE[name]
            columns.append([w[k] for w in wires])
    return r.FetchRows(items, [p + 1 for p in positions], tuple(columns))


_WIRE = {"ENVELOPE": 0, "BODY": 1, "BODYSTRUCTURE": 2}  # positions in mime.wire_items()


async def record_batches(ctx: SessionContext, folder_id: int,
                          chunks: list[Sequence[int]]) -> AsyncIterator[tuple[Sequence[int], dict[int, Message]]]:
    """(chunk, its records by UID), reading the next chunk while the caller
    formats and writes this one (the SQLite thread runs without the GIL for
    much of a query, so the two overlap on a second core)."""
    async for chunk, got in _ahead(chunks, lambda chunk: ctx.store.get_messages(folder_id, chunk)):
        yield chunk, {m.uid: m for m in got}


async def summary_batches(ctx: SessionContext, folder_id: int, chunks: list[Sequence[int]], with_internaldate: bool
                           ) -> AsyncIterator[tuple[Sequence[int], dict[int, tuple[Any, ...]]]]:
    """As record_batches, with Store.get_summaries rows (no Message built)."""
    async for chunk, got in _ahead(chunks, lambda chunk: ctx.store.get_summaries(folder_id, chunk, with_internaldate)):
        yield chunk, {row[0]: row for row in got}


async def _ahead(chunks: list[Sequence[int]], read: Callable[[Sequence[int]], Awaitable[list[Any]]]
                 ) -> AsyncIterator[tuple[Sequence[int], list[Any]]]:
    """(chunk, read(chunk)) in order, the next read started before this
    chunk is handed out."""
    pending = asyncio.ensure_future(read(chunks[0])) if chunks else None
    try:
        for i, chunk in enumerate(chunks):
            assert pending is not None
            got = await pending
            pending = asyncio.ensure_future(read(chunks[i + 1])) if i + 1 < len(chunks) else None
            yield chunk, got
    finally:
        if pending is not None:
            pending.cancel()
