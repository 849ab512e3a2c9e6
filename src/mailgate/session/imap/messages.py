"""STORE, COPY, MOVE and APPEND."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...delivery import deliver
from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...protocol.imap.sequence import SequenceSet
from ...storage.errors import NotFound, QuotaExceeded
from ...storage.models import FlagMode
from .context import SessionContext, canonical_folder_name
from .numbers import resolve_uids
from .updates import expunge_responses, flag_fetch, pending_updates

_MODES = {"ADD": FlagMode.ADD, "REMOVE": FlagMode.REMOVE, "REPLACE": FlagMode.REPLACE}


async def handle_store(ctx: SessionContext, cmd: c.Store) -> AsyncIterator[r.Response]:
    view = ctx.selected
    assert view is not None
    if view.readonly:
        yield r.Tagged(cmd.tag, "NO", "Mailbox is read-only.", r.READ_ONLY)
        return
    if cmd.unchangedsince is not None:
        ctx.condstore_used = True
    uids = view.live_uids(resolve_uids(view, cmd.set, cmd.uid))
    flags = [f for f in cmd.flags if f.lower() != "\\recent"]
    result = await ctx.store.store_flags(view.folder.id, uids, flags, _MODES[cmd.action], cmd.unchangedsince)
    for meta in result.changed:
        view.apply_own_change(meta)
    refused = set(result.refused)
    changed = {m.uid for m in result.changed}
    unchanged = [u for u in uids if u not in changed and u not in refused]
    if unchanged:
        # The store found these already as asked: another session may have
        # changed them since this view last looked, so look before echoing.
        await view.poll(ctx.store)
        view.settle(unchanged)
    # Without .SILENT every named message gets its flags back; with CONDSTORE
    # a silent STORE still reports the new MODSEQ (RFC 7162 3.2).
    for uid in uids:
        if uid in refused:
            continue
        if cmd.silent and not (ctx.condstore and uid in changed):
            continue
        seq = view.seq_of(uid)
        if seq is not None and uid in view.meta:
            yield flag_fetch(ctx, seq, view.meta[uid], uid=cmd.uid)
    # STORE by sequence number must not send EXPUNGE (RFC 3501 7.4.1).
    for response in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield response
    if refused:
        numbers = sorted(refused) if cmd.uid else sorted(filter(None, (view.seq_of(u) for u in refused)))
        yield r.Tagged(cmd.tag, "OK", "Conditional STORE failed for some messages.",
                       r.SetCode(SequenceSet.of(numbers)))
    else:
        yield r.Tagged(cmd.tag, "OK", "Store completed.")


def _look_again_if_selected(ctx: SessionContext, folder_id: int) -> None:
    """APPEND/COPY into the selected folder: report EXISTS now and know the
    new UIDs before the completion, so a client can STORE or FETCH them at
    once (the store's change signal may only arrive a moment later)."""
    if ctx.selected is not None and ctx.selected.folder.id == folder_id:
        ctx.selected.dirty = True
        ctx.runtime.changes_for(ctx.store).bump(folder_id)  # no shared read from before this write


async def _current_account(ctx: SessionContext):
    """The account as stored now: a quota changed by the admin applies at once."""
    assert ctx.account is not None
    return await ctx.runtime.directory.get_account_by_id(ctx.account.id) or ctx.account


async def _destination(ctx: SessionContext, name: str):
    assert ctx.account is not None
    return await ctx.store.get_folder(ctx.account.id, canonical_folder_name(name))


async def handle_copy(ctx: SessionContext, cmd: c.Copy | c.Move) -> AsyncIterator[r.Response]:
    view = ctx.selected
    assert view is not None and ctx.account is not None
    moving = isinstance(cmd, c.Move)
    if moving and view.readonly:
        yield r.Tagged(cmd.tag, "NO", "Mailbox is read-only.", r.READ_ONLY)
        return
    dest = await _destination(ctx, cmd.mailbox)
    if dest is None:
        yield r.Tagged(cmd.tag, "NO", "No such mailbox.", r.TRYCREATE)
        return
    uids = view.live_uids(resolve_uids(view, cmd.set, cmd.uid))
    if not uids:
        for response in await pending_updates(ctx, allow_expunge=cmd.uid):
            yield response
        yield r.Tagged(cmd.tag, "OK", f"{cmd.name} completed (no messages).")
        return
    try:
        if moving:
            pairs = await ctx.store.move_messages(view.folder.id, uids, dest.id)
        else:
            account = await _current_account(ctx)
            pairs = await ctx.store.copy_messages(view.folder.id, uids, dest.id,
                                                  quota_bytes=account.quota_bytes)
    except QuotaExceeded:
        yield r.Tagged(cmd.tag, "NO", "Quota exceeded.", r.OVERQUOTA)
        return
    except NotFound:
        yield r.Tagged(cmd.tag, "NO", "No such mailbox.", r.TRYCREATE)
        return
    copyuid = r.CopyUid(dest.uidvalidity, SequenceSet.of(p[0] for p in pairs), SequenceSet.of(p[1] for p in pairs)) \
        if pairs else None
    if moving:
        # RFC 6851 4.3: COPYUID in an untagged OK, then the expunges.
        if copyuid is not None:
            yield r.Condition("OK", "Moved UIDs.", copyuid)
        moved = [p[0] for p in pairs]
        seqs = view.forget_expunged_by_self(moved)
        for response in expunge_responses(ctx, sorted(moved), seqs):
            yield response
        for response in await pending_updates(ctx, allow_expunge=True):
            yield response
        yield r.Tagged(cmd.tag, "OK", "Move completed.")
        return
    _look_again_if_selected(ctx, dest.id)
    for response in await pending_updates(ctx, allow_expunge=cmd.uid):
        yield response
    yield r.Tagged(cmd.tag, "OK", "Copy completed.", copyuid)


async def handle_append(ctx: SessionContext, cmd: c.Append) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    folder = await _destination(ctx, cmd.mailbox)
    if folder is None:
        yield r.Tagged(cmd.tag, "NO", "No such mailbox.", r.TRYCREATE)
        return
    limit = ctx.runtime.imap.max_literal_size
    account = await _current_account(ctx)
    uids: list[int] = []
    try:
        for message in cmd.messages:
            if message.literal.size > limit:
                yield r.Tagged(cmd.tag, "NO", f"Message exceeds the limit of {limit} octets.", r.TOOBIG)
                return
            stored = await deliver(
                ctx.store, ctx.blobs, account, folder.name, message.literal.chunks(),
                flags=[f for f in message.flags if f.lower() != "\\recent"],
                internaldate=message.date_time,
            )
            uids.append(stored.uid)
    except QuotaExceeded:
        yield r.Tagged(cmd.tag, "NO", "Quota exceeded.", r.OVERQUOTA)
        return
    except NotFound:
        yield r.Tagged(cmd.tag, "NO", "No such mailbox.", r.TRYCREATE)
        return
    finally:
        for message in cmd.messages:
            message.literal.close()
    _look_again_if_selected(ctx, folder.id)
    for response in await pending_updates(ctx, allow_expunge=False):
        yield response
    code = r.AppendUid(folder.uidvalidity, SequenceSet.of(uids)) if uids else None
    yield r.Tagged(cmd.tag, "OK", "Append completed.", code)
