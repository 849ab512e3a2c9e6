"""FETCH, SEARCH, SORT and THREAD handlers: the glue between the dispatch
table and the reading modules (fetch.py, search.py, sort.py, thread.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...protocol.imap.sequence import SequenceSet
from .context import SessionContext
from .fetch import FetchOutcome, fetch_responses
from .msgset import ReadCommandError
from .search import search_response, search_uids
from .sort import sort_response
from .thread import thread_response
from .updates import pending_updates


async def _vanished_earlier(ctx: SessionContext, cmd: c.Fetch) -> list[r.Response]:
    """UID FETCH ... (CHANGEDSINCE n VANISHED), RFC 7162 3.2.6: UIDs of the set
    expunged since n, before the FETCH responses."""
    view = ctx.selected
    assert view is not None and cmd.changedsince is not None
    expunged = await ctx.store.expunged_since(view.folder.id, cmd.changedsince)
    if cmd.set.saved or not expunged:
        return []
    wanted = cmd.set.select(sorted(expunged))
    return [r.Vanished(SequenceSet.of(wanted), earlier=True)] if wanted else []


async def handle_fetch(ctx: SessionContext, cmd: c.Fetch) -> AsyncIterator[r.Response]:
    if cmd.vanished and not (cmd.uid and ctx.qresync and cmd.changedsince is not None):
        yield r.Tagged(cmd.tag, "BAD", "VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC.")
        return
    outcome = FetchOutcome()
    try:
        if cmd.vanished:
            for response in await _vanished_earlier(ctx, cmd):
                yield response
        async for response in fetch_responses(ctx, cmd, outcome=outcome):
            yield response
    except ReadCommandError as exc:
        yield exc.to_response(cmd.tag)
        return
    # FETCH by sequence number must not report EXPUNGE (RFC 3501 7.4.1).
    for response in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield response
    yield outcome.tagged(cmd.tag)


async def handle_search(ctx: SessionContext, cmd: c.Search) -> AsyncIterator[r.Response]:
    try:
        uids = await search_uids(ctx, cmd.key, uid_mode=cmd.uid)
        responses = search_response(ctx, cmd, uids)
    except ReadCommandError as exc:
        yield exc.to_response(cmd.tag)
        return
    for response in responses:
        yield response
    for response in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield response
    yield r.Tagged(cmd.tag, "OK", "Search completed.")


async def handle_sort(ctx: SessionContext, cmd: c.Sort) -> AsyncIterator[r.Response]:
    try:
        responses = await sort_response(ctx, cmd)
    except ReadCommandError as exc:
        yield exc.to_response(cmd.tag)
        return
    for response in responses:
        yield response
    for response in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield response
    yield r.Tagged(cmd.tag, "OK", "Sort completed.")


async def handle_thread(ctx: SessionContext, cmd: c.Thread) -> AsyncIterator[r.Response]:
    try:
        response = await thread_response(ctx, cmd)
    except ReadCommandError as exc:
        yield exc.to_response(cmd.tag)
        return
    yield response
    for update in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield update
    yield r.Tagged(cmd.tag, "OK", "Thread completed.")


READING_HANDLERS = {
    c.Fetch: handle_fetch,
    c.Search: handle_search,
    c.Sort: handle_sort,
    c.Thread: handle_thread,
}
