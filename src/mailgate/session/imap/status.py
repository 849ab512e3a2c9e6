"""STATUS (RFC 3501 6.3.10, RFC 9051 6.3.11) and the values LIST-STATUS
(RFC 5819) sends after each LIST line.

Items: MESSAGES, RECENT (IMAP4rev1 only: after ENABLE IMAP4rev2 it is a BAD
command, RFC 9051 dropped it), UIDNEXT, UIDVALIDITY, UNSEEN, SIZE (RFC 8438),
HIGHESTMODSEQ (RFC 7162; asking for it switches CONDSTORE on, 3.1),
DELETED (RFC 9051), APPENDLIMIT (RFC 7889: the server-wide literal limit).
MAILBOXID is refused with BAD: OBJECTID (RFC 8474) is not announced.

Values come from the store, also for the folder this session has selected:
STATUS is not a way to poll the selected folder (RFC 9051 6.3.11), and the
store is what any other client would see. RECENT is the exception: for the
selected folder it is this session's own \\Recent count; for any other it is
the number of messages no session has yet claimed as recent (peeked, not
claimed, so a later SELECT still sees them as \\Recent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...storage.errors import NotFound
from ...storage.models import Folder
from .context import SessionContext, canonical_folder_name
from . import selected as _selected


class StatusItemError(ValueError):
    """A STATUS item this session cannot answer; the text is the BAD text."""


def check_status_items(ctx: SessionContext, items: Sequence[str]) -> None:
    for item in items:
        if item == "RECENT" and ctx.rev2:
            raise StatusItemError("RECENT is not a STATUS item in IMAP4rev2.")
        if item == "MAILBOXID":
            raise StatusItemError("MAILBOXID is not supported (no OBJECTID).")
    if "HIGHESTMODSEQ" in items:
        ctx.condstore_used = True


async def _recent(ctx: SessionContext, folder: Folder, uidnext: int) -> int:
    view = ctx.selected
    if view is not None and view.folder.id == folder.id:
        return len(view.recent)
    # A peek at the claims: claim_recent() would take them from a later SELECT.
    claimed = _selected.peek_recent(ctx.store, folder.id)
    if uidnext - 1 <= claimed:
        return 0
    return sum(1 for m in await ctx.store.message_index(folder.id) if m.uid > claimed)


async def status_values(ctx: SessionContext, folder: Folder,
                        items: Sequence[str]) -> tuple[tuple[str, int], ...] | None:
    """(item, value) pairs in the order asked, each once; None if the folder
    was deleted meanwhile."""
    try:
        st = await ctx.store.folder_status(folder.id)
    except NotFound:
        return None
    out: list[tuple[str, int]] = []
    for item in dict.fromkeys(items):
        if item == "MESSAGES":
            value = st.messages
        elif item == "RECENT":
            try:
                value = await _recent(ctx, folder, st.uidnext)
            except NotFound:  # deleted between the two reads
                return None
        elif item == "UIDNEXT":
            value = st.uidnext
        elif item == "UIDVALIDITY":
            value = st.uidvalidity
        elif item == "UNSEEN":
            value = st.unseen
        elif item == "SIZE":
            value = st.size
        elif item == "HIGHESTMODSEQ":
            value = st.highestmodseq
        elif item == "DELETED":
            value = st.deleted
        elif item == "APPENDLIMIT":
            value = ctx.runtime.imap.max_literal_size
        else:  # the parser lets no other item through
            continue
        out.append((item, value))
    return tuple(out)


async def handle_status(ctx: SessionContext, cmd: c.Status) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    try:
        check_status_items(ctx, cmd.items)
    except StatusItemError as exc:
        yield r.Tagged(cmd.tag, "BAD", str(exc))
        return
    name = canonical_folder_name(cmd.mailbox)
    folder = await ctx.store.get_folder(ctx.account.id, name)
    values = None if folder is None else await status_values(ctx, folder, cmd.items)
    if values is None:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    yield r.StatusData(name, values)
    yield r.Tagged(cmd.tag, "OK", "STATUS completed.")
