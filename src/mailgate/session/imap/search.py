"""SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 7162
MODSEQ, RFC 5032 OLDER/YOUNGER) over the selected view.

Evaluation runs in two passes:

1. every message is tested against the cheap keys (flags, sequence and UID
   sets, MODSEQ) from the in-memory view, in three-valued logic: a message
   whose answer is already known there is never loaded;
2. the undecided ones are loaded in batches (one ``get_messages`` per 500),
   and tested against the whole key, cheapest sub-keys first; summaries
   answer sizes, dates and the address/subject headers, the blob is read
   only for other header fields (the header block: a seek + small read) and
   for BODY/TEXT (decoded text of every text part, mime.search_text).
   A batch that needs the blob is evaluated on a worker thread.

Text matching is a case-insensitive substring test after decoding encoded
words, transfer encodings and charsets (``str.lower``, no ß/ss folding),
as Dovecot does (corpus README, "SEARCH").  See evaluate.py for the rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ...protocol.imap import responses as r
from ...protocol.imap.commands import Search
from ...protocol.imap.search_keys import And, ModSeq, Not, Or, SearchKey
from ...protocol.imap.sequence import SequenceSet
from .context import SessionContext
from .msgset import ReadCommandError, batched
from .search_eval import BLOB, META, Candidate, _Flag, compile_key, cost, evaluate, meta_eval

__all__ = ["search_uids", "search_response", "uses_modseq", "numbers_for", "BATCH"]

BATCH = 500


def uses_modseq(key: SearchKey | None) -> bool:
    """The key has a MODSEQ criterion (RFC 7162 3.1.5: answer with MODSEQ)."""
    if isinstance(key, ModSeq):
        return True
    if isinstance(key, Not):
        return uses_modseq(key.key)
    if isinstance(key, Or):
        return uses_modseq(key.left) or uses_modseq(key.right)
    if isinstance(key, And):
        return any(uses_modseq(k) for k in key.keys)
    return False


async def search_uids(ctx: SessionContext, key: SearchKey | None, *, uid_mode: bool = False) -> list[int]:
    """UIDs of the selected view's messages that match ``key``, ascending.

    Always UIDs (``numbers_for`` turns them into sequence numbers); messages
    expunged by another session but not yet reported are left out.
    ``uid_mode`` tells whether the command was UID SEARCH; the key tree
    carries its own UID/sequence distinction, so it changes nothing in the
    evaluation (kept for the handler's convenience and logging).
    """
    del uid_mode
    view = ctx.selected
    if view is None:
        raise ReadCommandError("BAD", "No folder selected")
    if key is None:
        return view.live_uids(list(view.uids))
    if uses_modseq(key):
        ctx.condstore_used = True  # RFC 7162 3.1: SEARCH MODSEQ enables CONDSTORE
    compiled = compile_key(key, view)
    quick = _system_flag_search(compiled, view)
    if quick is not None:
        return quick
    matched: list[int] = []
    undecided: list[Candidate] = []
    recent, index, gone = view.recent, view.meta, view.gone
    for seq, uid in enumerate(view.uids, 1):
        if uid in gone:
            continue
        cand = Candidate(uid, seq, index.at(seq - 1), uid in recent)
        verdict = meta_eval(compiled, cand)
        if verdict is True:
            matched.append(uid)
        elif verdict is None:
            undecided.append(cand)
    if not undecided:
        return matched
    need = cost(compiled)
    blobs = ctx.blobs
    for chunk in batched(undecided, BATCH):
        if need > META:
            records = {m.uid: m for m in await ctx.store.get_messages(
                view.folder.id, [c.uid for c in chunk])}
            for c in chunk:
                c.record = records.get(c.uid)
            chunk = [c for c in chunk if c.record is not None]
        if need >= BLOB:
            hits = await asyncio.to_thread(_eval_batch, compiled, chunk, blobs)
        else:
            hits = _eval_batch(compiled, chunk, blobs)
        matched.extend(hits)
    matched.sort()
    return matched


def _system_flag_search(compiled: object, view) -> list[int] | None:  # noqa: ANN001
    """SEARCH UNSEEN / DELETED / FLAGGED...: one pass over the view, no
    per-message objects. System flags are stored in one spelling, so an
    exact membership test is the whole check."""
    if not isinstance(compiled, _Flag) or not compiled.flag.startswith("\\") or compiled.low == "\\recent":
        return None
    present, index, gone = compiled.present, view.meta, view.gone
    spelled = {"\\seen": "\\Seen", "\\answered": "\\Answered", "\\flagged": "\\Flagged",
               "\\deleted": "\\Deleted", "\\draft": "\\Draft"}.get(compiled.low)
    if spelled is None:
        return None
    uids = index.uids
    found = [uids[i] for i in index.positions_with(lambda flags: (spelled in flags) is present)]
    return [u for u in found if u not in gone] if gone else found


def _eval_batch(compiled: object, chunk: Sequence[Candidate], blobs: object) -> list[int]:
    out = []
    for c in chunk:
        c.blobs = blobs
        try:
            if evaluate(compiled, c):
                out.append(c.uid)
        finally:
            c.release()
    return out


def numbers_for(ctx: SessionContext, uids: Sequence[int], *, uid: bool) -> list[int]:
    """UIDs as the command wants them: UIDs, or sequence numbers."""
    if uid:
        return list(uids)
    view = ctx.selected
    assert view is not None
    seqs = [view.seq_of(u) for u in uids]
    return [s for s in seqs if s is not None]


def _highest_modseq(ctx: SessionContext, uids: Sequence[int]) -> int | None:
    view = ctx.selected
    assert view is not None
    return view.meta.highest_modseq(uids)


def search_response(ctx: SessionContext, cmd: Search, uids: list[int]) -> list[r.Response]:
    """The untagged answer of a SEARCH whose matching UIDs are ``uids``.

    Plain SEARCH gives ``* SEARCH`` (``* ESEARCH`` after ENABLE IMAP4rev2);
    RETURN (...) gives ESEARCH with MIN/MAX/ALL/COUNT (RFC 4731); SAVE stores
    the result in ``view.saved_result`` (as UIDs; only MIN/MAX when those
    are the only other options, RFC 5182 2.4) and, alone, sends nothing.
    MODSEQ (RFC 7162 3.1.5) is added when the key used MODSEQ.
    The tagged OK is the caller's.
    """
    view = ctx.selected
    assert view is not None
    with_modseq = uses_modseq(cmd.key)
    returns = cmd.returns
    if returns is None and not ctx.rev2:
        numbers = numbers_for(ctx, uids, uid=cmd.uid)
        modseq = _highest_modseq(ctx, uids) if with_modseq else None
        return [r.SearchResult(tuple(numbers), modseq)]
    opts = set(returns or ()) or {"ALL"}
    if returns is None:
        opts = {"ALL"}
    if "SAVE" in opts:
        if opts & {"ALL", "COUNT"} or not opts & {"MIN", "MAX"}:
            view.saved_result = list(uids)
        else:
            keep = set()
            if uids and "MIN" in opts:
                keep.add(uids[0])
            if uids and "MAX" in opts:
                keep.add(uids[-1])
            view.saved_result = sorted(keep)
        opts.discard("SAVE")
        if not opts:
            return []
    numbers = numbers_for(ctx, uids, uid=cmd.uid)
    esearch = r.ESearch(
        tag=cmd.tag, uid=cmd.uid,
        min=numbers[0] if numbers and "MIN" in opts else None,
        max=numbers[-1] if numbers and "MAX" in opts else None,
        all=SequenceSet.of(numbers) if numbers and "ALL" in opts else None,
        count=len(numbers) if "COUNT" in opts else None,
    )
    if with_modseq and uids:
        if opts & {"ALL", "COUNT"}:
            reported = uids
        else:  # RFC 7162 3.1.5 with RFC 4731: the messages MIN/MAX name
            reported = [u for u, want in ((uids[0], "MIN" in opts), (uids[-1], "MAX" in opts)) if want]
        modseq = _highest_modseq(ctx, reported)
        esearch = r.ESearch(esearch.tag, esearch.uid, esearch.min, esearch.max, esearch.all,
                            esearch.count, modseq)
    return [esearch]
