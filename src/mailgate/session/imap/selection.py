"""SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, NOOP and EXPUNGE."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...protocol.imap.sequence import SequenceSet
from .context import SessionContext, canonical_folder_name
from .numbers import resolve_uids
from .selected import SelectedFolder
from .updates import expunge_responses, flag_fetch, pending_updates

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
DELETED = "\\Deleted"
SEEN = "\\Seen"


def leave_folder(ctx: SessionContext) -> None:
    if ctx.selected is not None and ctx.watch_callback is not None:
        ctx.runtime.changes_for(ctx.store).unwatch(ctx.selected.folder.id, ctx.watch_callback)
    ctx.selected = None
    ctx.watch_callback = None


def _enter_folder(ctx: SessionContext, view: SelectedFolder) -> None:
    view.notify = ctx.wake
    ctx.selected = view
    ctx.watch_callback = on_change = view.mark_dirty  # the same object for unwatch
    ctx.runtime.changes_for(ctx.store).watch(view.folder.id, on_change)  # the mailbox's database


async def handle_select(ctx: SessionContext, cmd: c.Select) -> AsyncIterator[r.Response]:
    if ctx.selected is not None:
        leave_folder(ctx)
        if ctx.qresync or ctx.rev2:
            yield r.Condition("OK", "Previous mailbox is now closed.", r.CLOSED)
    if cmd.qresync is not None and not ctx.qresync:
        yield r.Tagged(cmd.tag, "BAD", "QRESYNC must be enabled first (ENABLE QRESYNC).")
        return
    if cmd.condstore:
        ctx.condstore_used = True
    assert ctx.account is not None
    folder = await ctx.store.get_folder(ctx.account.id, canonical_folder_name(cmd.mailbox))
    if folder is None:
        yield r.Tagged(cmd.tag, "NO", "No such mailbox.", r.NONEXISTENT)
        return
    # Watch before loading, and poll once on the next command: a change
    # that lands in between is never missed.
    view = await SelectedFolder.open(ctx.store, folder, cmd.readonly, track_recent=not ctx.rev2)
    _enter_folder(ctx, view)
    view.dirty = True

    keywords = sorted({f for flags in view.meta.flagsets for f in flags if not f.startswith("\\")})
    yield r.Flags((*SYSTEM_FLAGS, *keywords))
    permanent = () if cmd.readonly else (*SYSTEM_FLAGS, *keywords, "\\*")
    yield r.Condition("OK", "Flags permitted." if permanent else "No permanent flags permitted.",
                      r.permanentflags(permanent))
    yield r.Exists(view.exists)
    if not ctx.rev2:
        yield r.Recent(len(view.recent))
        first_unseen = next((i + 1 for i in view.meta.positions_with(lambda flags: SEEN not in flags)), None)
        if first_unseen is not None:
            yield r.Condition("OK", f"Message {first_unseen} is first unseen.", r.unseen(first_unseen))
    yield r.Condition("OK", "UIDs valid.", r.uidvalidity(folder.uidvalidity))
    yield r.Condition("OK", "Predicted next UID.", r.uidnext(max(folder.uidnext, view.max_uid + 1)))
    yield r.Condition("OK", "Highest modification sequence.", r.highestmodseq(view.known_modseq))
    if cmd.qresync is not None and cmd.qresync.uidvalidity == folder.uidvalidity:
        async for response in _qresync(ctx, view, cmd.qresync):
            yield response
    code = r.READ_ONLY if cmd.readonly else r.READ_WRITE
    yield r.Tagged(cmd.tag, "OK", f"{'EXAMINE' if cmd.readonly else 'SELECT'} completed.", code)


async def _qresync(ctx: SessionContext, view: SelectedFolder, q: c.QResync) -> AsyncIterator[r.Response]:
    """RFC 7162 3.2.5.2: what vanished and what changed since the client's MODSEQ."""
    vanished = await ctx.store.expunged_since(view.folder.id, q.modseq)
    if q.known_uids is not None and vanished:
        vanished = q.known_uids.select(sorted(vanished))
    if vanished:
        yield r.Vanished(SequenceSet.of(vanished), earlier=True)
    for meta in await ctx.store.changed_since(view.folder.id, q.modseq):
        seq = view.seq_of(meta.uid)
        if seq is not None:
            yield flag_fetch(ctx, seq, view.meta.get(meta.uid, meta), uid=True)


async def handle_noop(ctx: SessionContext, cmd: c.Noop | c.Check) -> AsyncIterator[r.Response]:
    for response in await pending_updates(ctx, allow_expunge=True):
        yield response
    yield r.Tagged(cmd.tag, "OK", f"{cmd.name} completed.")


async def _expunge_deleted(ctx: SessionContext, only: SequenceSet | None) -> tuple[list[int], list[int]]:
    view = ctx.selected
    assert view is not None
    if view.dirty:  # \Deleted set by another session counts too
        view.dirty = False
        await view.poll(ctx.store)
    deleted = [u for u in view.uids if u not in view.gone and DELETED in view.meta[u].flags]
    if only is not None and deleted:
        wanted = set(resolve_uids(view, only, uid_mode=True))
        deleted = [u for u in deleted if u in wanted]
    removed = await ctx.store.expunge(view.folder.id, deleted) if deleted else []
    seqs = view.forget_expunged_by_self(removed)
    return removed, seqs


async def handle_expunge(ctx: SessionContext, cmd: c.Expunge) -> AsyncIterator[r.Response]:
    view = ctx.selected
    assert view is not None
    if view.readonly:
        yield r.Tagged(cmd.tag, "NO", "Mailbox is read-only.", r.READ_ONLY)
        return
    removed, seqs = await _expunge_deleted(ctx, cmd.uids)
    for response in expunge_responses(ctx, removed, seqs):
        yield response
    for response in await pending_updates(ctx, allow_expunge=True):
        yield response
    yield r.Tagged(cmd.tag, "OK", "Expunge completed.")


async def handle_close(ctx: SessionContext, cmd: c.Close | c.Unselect) -> AsyncIterator[r.Response]:
    view = ctx.selected
    assert view is not None
    if isinstance(cmd, c.Close) and not view.readonly:
        await _expunge_deleted(ctx, None)  # silently (RFC 3501 6.4.2)
    leave_folder(ctx)
    yield r.Tagged(cmd.tag, "OK", f"{cmd.name} completed.")
