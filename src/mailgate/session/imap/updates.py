"""Turning what the selected view learned into untagged responses."""

from __future__ import annotations

import functools

from ...protocol.imap import responses as r
from ...protocol.imap.sequence import SequenceSet
from ...storage.models import MessageMeta
from .context import SessionContext

RECENT = "\\Recent"


@functools.lru_cache(maxsize=4096)
def sorted_flags(flags: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(flags))  # few distinct sets per folder: sort each once


def shown_flags(flags: frozenset[str], recent: bool) -> tuple[str, ...]:
    """Flags as the FLAGS item shows them: sorted, \\Recent last when it applies."""
    return _with_recent(flags) if recent else sorted_flags(flags)


@functools.lru_cache(maxsize=4096)
def _with_recent(flags: frozenset[str]) -> tuple[str, ...]:
    return (*sorted_flags(flags), RECENT)


def flags_of(ctx: SessionContext, meta: MessageMeta) -> tuple[str, ...]:
    """A message's flags as this session shows them (\\Recent only for
    IMAP4rev1 sessions that saw the message first)."""
    view = ctx.selected
    recent = view is not None and bool(view.recent) and not ctx.rev2 and meta.uid in view.recent
    return shown_flags(meta.flags, recent)


def flag_fetch(ctx: SessionContext, seq: int, meta: MessageMeta, *, uid: bool = False) -> r.FetchResponse:
    items: list[r.FetchData] = []
    if uid or ctx.qresync:
        items.append(r.FetchNumber("UID", meta.uid))
    items.append(r.FetchFlags(flags_of(ctx, meta)))
    if ctx.condstore:
        items.append(r.FetchModSeq(meta.modseq))
    return r.FetchResponse(seq, tuple(items))


async def pending_updates(ctx: SessionContext, *, allow_expunge: bool) -> list[r.Response]:
    """Poll the view if the store signalled a change, and report what the
    rules allow now (RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE
    or SEARCH by sequence number)."""
    view = ctx.selected
    if view is None:
        return []
    if view.dirty:
        view.dirty = False
        hub = ctx.runtime.changes_for(ctx.store)
        await view.poll(ctx.store, hub.generation(view.folder.id))
    updates = view.take_updates(allow_expunge)
    if not updates:
        return []
    out: list[r.Response] = []
    if updates.expunged_seqs:
        if ctx.qresync:
            out.append(r.Vanished(SequenceSet.of(updates.expunged_uids)))
        else:
            out.extend(r.Expunged(seq) for seq in updates.expunged_seqs)
    if updates.exists is not None:
        out.append(r.Exists(updates.exists))
        if not ctx.rev2:
            out.append(r.Recent(updates.recent or 0))
    for seq, meta in updates.flag_changes:
        out.append(flag_fetch(ctx, seq, meta))
    return out


def expunge_responses(ctx: SessionContext, uids: list[int], seqs: list[int]) -> list[r.Response]:
    """This session's own EXPUNGE/MOVE: EXPUNGE per message, or one VANISHED."""
    if not seqs:
        return []
    if ctx.qresync:
        return [r.Vanished(SequenceSet.of(uids))]
    return [r.Expunged(seq) for seq in seqs]
