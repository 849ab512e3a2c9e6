"""IMAP folder-level commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
NAMESPACE here; LIST/LSUB in list_match.py, STATUS in status.py, the quota
commands in quota.py. ``FOLDER_HANDLERS`` maps each command class to its
handler for the session dispatcher.

Conventions
-----------
* One personal namespace: prefix "", hierarchy separator "/"
  (``* NAMESPACE (("" "/")) NIL NIL``). INBOX is case-insensitive, also as
  the first level ("inbox/x" is "INBOX/x").
* Hidden folders (Exchange's ShowHiddenFoldersEnabled): a name with a
  component beginning with "." (".sync", "Work/.cache") is hidden. Unless
  ``runtime.imap.show_hidden_folders_enabled`` is on, LIST and LSUB leave
  hidden names out (see list_match.py), and CREATE and RENAME refuse to make
  one (NO [CANNOT]) so a client cannot make a folder vanish from its own
  view. Every other command reaches a hidden folder by its exact name.
* The store has no \\Noselect folders, so the hierarchy is kept whole:
  - CREATE "a/b/c" also creates "a" and "a/b" when missing (RFC 3501 6.3.3);
    a trailing "/" ("CREATE a/") is the RFC's "I will create inferiors"
    declaration, and creates "a";
  - RENAME creates missing superiors of the new name (RFC 9051 6.3.6) and
    moves inferiors with the folder (the store does it in one transaction);
  - DELETE of a folder that has inferiors is NO [HASCHILDREN] (RFC 9051
    6.3.5 allows refusing; RFC 3501 would leave a \\Noselect name behind).
* Folder names: empty names, names with "*", "%" or control characters, and
  empty levels ("a//b", "/a", "a/" outside CREATE) are NO [CANNOT]; a name
  is at most MAX_NAME_BYTES of UTF-8 and MAX_DEPTH levels deep; an account
  holds at most MAX_FOLDERS folders (NO [LIMIT]).
* CREATE ... (USE (\\attr)) (RFC 6154 CREATE-SPECIAL-USE): exactly one of
  \\Archive \\Drafts \\Junk \\Sent \\Trash; anything else (\\All, \\Flagged
  and \\Important are virtual collections here, or two attributes at once,
  since a folder holds one use) is NO [USEATTR] and nothing is created.
* DELETE INBOX is NO [CANNOT]. DELETE of the folder this session has
  selected is NO [CANNOT] too (the server may refuse, or say BYE): dropping
  the selection under the client would leave it issuing commands for a
  state it does not know it left. UNSELECT/CLOSE first.
* RENAME INBOX moves every INBOX message into the new folder and leaves INBOX
  in place, empty; INBOX's inferiors stay where they are (RFC 3501 6.3.5).
  RENAME of the selected folder keeps it selected: the session's view is by
  folder id, and its folder record is refreshed to the new name. The store
  gives renamed folders a new UIDVALIDITY, which the client sees at its next
  SELECT.
* Subscriptions are names (RFC 3501 6.3.6): DELETE leaves a subscription in
  place (LIST (SUBSCRIBED) shows it \\NonExistent); RENAME moves the
  subscriptions of the folder and its inferiors to the new names, as
  clients expect. SUBSCRIBE needs an existing folder (NO [NONEXISTENT]);
  UNSUBSCRIBE of a name not subscribed is OK (nothing to do).
* Response texts never echo folder names (they may not be 7-bit).
* With a folder selected, each command's OK/NO completion is preceded by
  what changed in that folder (EXISTS, EXPUNGE, FETCH FLAGS), as the
  session's other commands do (RFC 3501 7.4.1 allows EXPUNGE here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...storage.errors import AlreadyExists, NotFound, StorageError
from .context import HIERARCHY_SEPARATOR, Handler, SessionContext, canonical_folder_name
from .list_match import ancestors, handle_list, handle_lsub, is_hidden
from .quota import handle_getquota, handle_getquotaroot, handle_setquota
from .status import handle_status
from .updates import pending_updates

__all__ = ["FOLDER_HANDLERS", "check_new_name", "SPECIAL_USES"]

SEP = HIERARCHY_SEPARATOR
MAX_NAME_BYTES = 1024
MAX_DEPTH = 32
MAX_FOLDERS = 10_000
#: special-use attributes a folder may be created with (RFC 6154)
SPECIAL_USES = ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")
MOVE_CHUNK = 5000  # RENAME INBOX moves messages in transactions of this many


def check_new_name(name: str, *, show_hidden: bool) -> str | None:
    """Why ``name`` cannot be given to a new folder, or None if it can."""
    if not name:
        return "Folder name is empty."
    if "*" in name or "%" in name:
        return "Folder names may not contain * or %."
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name):
        return "Folder names may not contain control characters."
    parts = name.split(SEP)
    if any(part == "" for part in parts):
        return "Folder names may not have an empty level (leading, trailing or doubled /)."
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"Folder name is longer than {MAX_NAME_BYTES} bytes."
    if len(parts) > MAX_DEPTH:
        return f"Folder names may have at most {MAX_DEPTH} levels."
    if not show_hidden and is_hidden(name):
        return "Names with a level starting with '.' are reserved for hidden folders."
    return None


def _show_hidden(ctx: SessionContext) -> bool:
    return ctx.runtime.imap.show_hidden_folders_enabled


async def _make_parents(ctx: SessionContext, name: str, existing: set[str]) -> None:
    assert ctx.account is not None
    for level in ancestors(name):
        if level not in existing:
            try:
                await ctx.store.create_folder(ctx.account.id, level)
            except AlreadyExists:  # another session made it meanwhile
                pass


def _over_limit(existing: set[str], name: str, extra: int = 1) -> bool:
    missing = sum(1 for level in ancestors(name) if level not in existing)
    return len(existing) + missing + extra > MAX_FOLDERS


# -- CREATE ---------------------------------------------------------------------------

async def handle_create(ctx: SessionContext, cmd: c.Create) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    name = canonical_folder_name(cmd.mailbox)
    if name.endswith(SEP):  # RFC 3501 6.3.3: a declaration of inferiors to come
        name = name[:-1]
    problem = check_new_name(name, show_hidden=_show_hidden(ctx))
    if problem:
        yield r.Tagged(cmd.tag, "NO", problem, r.CANNOT)
        return
    special: str | None = None
    if cmd.special_use:
        if len(cmd.special_use) > 1 or cmd.special_use[0] not in SPECIAL_USES:
            yield r.Tagged(cmd.tag, "NO", "A folder can be created with one of the uses "
                           + " ".join(SPECIAL_USES) + ".", r.USEATTR)
            return
        special = cmd.special_use[0]
    existing = {f.name for f in await ctx.store.list_folders(ctx.account.id)}
    if name in existing:
        yield r.Tagged(cmd.tag, "NO", "Folder already exists.", r.ALREADYEXISTS)
        return
    if _over_limit(existing, name):
        yield r.Tagged(cmd.tag, "NO", f"An account holds at most {MAX_FOLDERS} folders.", r.LIMIT)
        return
    await _make_parents(ctx, name, existing)
    try:
        await ctx.store.create_folder(ctx.account.id, name, special)
    except AlreadyExists:
        yield r.Tagged(cmd.tag, "NO", "Folder already exists.", r.ALREADYEXISTS)
        return
    yield r.Tagged(cmd.tag, "OK", "CREATE completed.")


# -- DELETE ---------------------------------------------------------------------------

async def handle_delete(ctx: SessionContext, cmd: c.Delete) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    name = canonical_folder_name(cmd.mailbox)
    if name == "INBOX":
        yield r.Tagged(cmd.tag, "NO", "INBOX cannot be deleted.", r.CANNOT)
        return
    folders = await ctx.store.list_folders(ctx.account.id)
    folder = next((f for f in folders if f.name == name), None)
    if folder is None:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    if ctx.selected is not None and ctx.selected.folder.id == folder.id:
        yield r.Tagged(cmd.tag, "NO", "The folder is selected; UNSELECT or CLOSE it first.",
                       r.CANNOT)
        return
    if any(f.name.startswith(name + SEP) for f in folders):
        yield r.Tagged(cmd.tag, "NO", "Delete the folders inside it first.", r.HASCHILDREN)
        return
    try:
        await ctx.store.delete_folder(folder.id)
    except NotFound:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    yield r.Tagged(cmd.tag, "OK", "DELETE completed.")


# -- RENAME ---------------------------------------------------------------------------

async def _rename_inbox(ctx: SessionContext, new: str, existing: set[str]) -> None:
    """RFC 3501 6.3.5: the messages move, INBOX stays (empty), its inferiors stay."""
    assert ctx.account is not None
    inbox = await ctx.store.get_folder(ctx.account.id, "INBOX")
    if inbox is None:
        raise NotFound("INBOX")
    await _make_parents(ctx, new, existing)
    target = await ctx.store.create_folder(ctx.account.id, new)
    uids = [m.uid for m in await ctx.store.message_index(inbox.id)]
    for i in range(0, len(uids), MOVE_CHUNK):
        await ctx.store.move_messages(inbox.id, uids[i:i + MOVE_CHUNK], target.id)


async def _move_subscriptions(ctx: SessionContext, old: str, new: str) -> None:
    assert ctx.account is not None
    for sub in await ctx.store.list_subscriptions(ctx.account.id):
        if sub == old or sub.startswith(old + SEP):
            await ctx.store.unsubscribe(ctx.account.id, sub)
            await ctx.store.subscribe(ctx.account.id, new + sub[len(old):])


async def handle_rename(ctx: SessionContext, cmd: c.Rename) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    old = canonical_folder_name(cmd.old)
    new = canonical_folder_name(cmd.new)
    folders = await ctx.store.list_folders(ctx.account.id)
    existing = {f.name for f in folders}
    if old not in existing:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    problem = check_new_name(new, show_hidden=_show_hidden(ctx))
    if problem:
        yield r.Tagged(cmd.tag, "NO", problem, r.CANNOT)
        return
    if new in existing:
        yield r.Tagged(cmd.tag, "NO", "A folder of the new name exists already.", r.ALREADYEXISTS)
        return
    if old == "INBOX":
        if _over_limit(existing, new):
            yield r.Tagged(cmd.tag, "NO", f"An account holds at most {MAX_FOLDERS} folders.", r.LIMIT)
            return
        try:
            await _rename_inbox(ctx, new, existing)
        except AlreadyExists:
            yield r.Tagged(cmd.tag, "NO", "A folder of the new name exists already.", r.ALREADYEXISTS)
            return
        yield r.Tagged(cmd.tag, "OK", "RENAME completed.")
        return
    if new.startswith(old + SEP):
        yield r.Tagged(cmd.tag, "NO", "A folder cannot be moved inside itself.", r.CANNOT)
        return
    moving = [f for f in folders if f.name == old or f.name.startswith(old + SEP)]
    targets = {new + f.name[len(old):] for f in moving}
    staying = existing - {f.name for f in moving}
    if targets & staying:
        yield r.Tagged(cmd.tag, "NO", "An inferior's new name exists already.", r.ALREADYEXISTS)
        return
    if any(len(t.encode("utf-8")) > MAX_NAME_BYTES or t.count(SEP) >= MAX_DEPTH for t in targets):
        yield r.Tagged(cmd.tag, "NO", "An inferior's new name would be too long or too deep.",
                       r.CANNOT)
        return
    if _over_limit(staying | targets, new, extra=0):
        yield r.Tagged(cmd.tag, "NO", f"An account holds at most {MAX_FOLDERS} folders.", r.LIMIT)
        return
    await _make_parents(ctx, new, staying)
    try:
        await ctx.store.rename_folder(ctx.account.id, old, new)
    except NotFound:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    except AlreadyExists:
        yield r.Tagged(cmd.tag, "NO", "A folder of the new name exists already.", r.ALREADYEXISTS)
        return
    except StorageError:
        yield r.Tagged(cmd.tag, "NO", "The folder cannot be renamed to that name.", r.CANNOT)
        return
    await _move_subscriptions(ctx, old, new)
    view = ctx.selected
    if view is not None and any(f.id == view.folder.id for f in moving):
        fresh = await ctx.store.get_folder_by_id(view.folder.id)
        if fresh is not None:
            view.folder = fresh
    yield r.Tagged(cmd.tag, "OK", "RENAME completed.")


# -- SUBSCRIBE / UNSUBSCRIBE / NAMESPACE -------------------------------------------------

async def handle_subscribe(ctx: SessionContext, cmd: c.Subscribe) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    name = canonical_folder_name(cmd.mailbox)
    if await ctx.store.get_folder(ctx.account.id, name) is None:
        yield r.Tagged(cmd.tag, "NO", "No such folder.", r.NONEXISTENT)
        return
    await ctx.store.subscribe(ctx.account.id, name)
    yield r.Tagged(cmd.tag, "OK", "SUBSCRIBE completed.")


async def handle_unsubscribe(ctx: SessionContext, cmd: c.Unsubscribe) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    await ctx.store.unsubscribe(ctx.account.id, canonical_folder_name(cmd.mailbox))
    yield r.Tagged(cmd.tag, "OK", "UNSUBSCRIBE completed.")


async def handle_namespace(ctx: SessionContext, cmd: c.Namespace) -> AsyncIterator[r.Response]:
    yield r.NamespaceData(personal=(("", SEP),))
    yield r.Tagged(cmd.tag, "OK", "NAMESPACE completed.")


def _reporting_updates(handler: Handler) -> Handler:
    """The handler, with the selected folder's changes sent before its
    OK/NO completion (not before BAD: the command was not run)."""

    async def run(ctx: SessionContext, cmd: object) -> AsyncIterator[r.Response]:
        async for response in handler(ctx, cmd):
            if isinstance(response, r.Tagged) and response.status != "BAD" and ctx.selected is not None:
                for update in await pending_updates(ctx, allow_expunge=True):
                    yield update
            yield response

    run.__name__ = run.__qualname__ = getattr(handler, "__name__", "handler")
    run.__doc__ = handler.__doc__
    return run


FOLDER_HANDLERS: dict[type, Handler] = {
    cls: _reporting_updates(handler)  # type: ignore[arg-type]
    for cls, handler in (
        (c.List, handle_list),
        (c.Lsub, handle_lsub),
        (c.Create, handle_create),
        (c.Delete, handle_delete),
        (c.Rename, handle_rename),
        (c.Subscribe, handle_subscribe),
        (c.Unsubscribe, handle_unsubscribe),
        (c.Status, handle_status),
        (c.Namespace, handle_namespace),
        (c.GetQuota, handle_getquota),
        (c.GetQuotaRoot, handle_getquotaroot),
        (c.SetQuota, handle_setquota),
    )
}
