"""LIST and LSUB: pattern matching and the folder tree as the client sees it.

RFC 3501 6.3.8/6.3.9, RFC 9051 6.3.9, LIST-EXTENDED (RFC 5258), LIST-STATUS
(RFC 5819), SPECIAL-USE (RFC 6154).

What a listing is built from
----------------------------
* the account's folders, minus hidden ones (see below);
* "levels of hierarchy": a proper prefix of a folder name ("a" for "a/b")
  that is not a folder itself. The store never holds such a name (CREATE
  makes missing parents), but folders made by delivery, import or admin
  tools can leave one. It is listed as ``\\Noselect \\HasChildren``;
* subscribed names, when the SUBSCRIBED selection option (or LSUB) asks for
  them. A subscribed name that is not a folder is ``\\NonExistent``.

Hidden folders (Exchange's ShowHiddenFoldersEnabled, IMAP only): a folder is
hidden when any component of its name begins with "." (".sync",
"Archive/.index"), so a hidden folder's inferiors are hidden too. Unless
``runtime.imap.show_hidden_folders_enabled`` is on, hidden names are left
out of LIST and LSUB entirely, and they do not make a visible parent
``\\HasChildren``. Hiding is about listing only: a client that names a hidden
folder exactly can still SELECT, STATUS, DELETE or RENAME it (as Exchange
does); CREATE and RENAME refuse to *make* a hidden name while hidden
folders are not shown, so a client cannot make a folder vanish from view.

Attributes
----------
Always sent (the CHILDREN capability and RFC 6154 allow it unasked):
``\\HasChildren``/``\\HasNoChildren`` and the folder's special-use attribute.
``\\Subscribed`` only when SUBSCRIBED is a selection or return option.
Order on the line: ``\\NonExistent``|``\\Noselect``, special use, children,
``\\Subscribed``.

Matching
--------
"*" matches any run of characters, "%" any run without the hierarchy
separator. The reference and pattern are joined by plain concatenation
(RFC 3501's "~/Mail/" + "%" example). "INBOX" is case-insensitive, also as
the first level of a pattern ("inbox/%"). The matcher is a bit-parallel NFA:
a few big-int operations per name character whatever the pattern, so
"*a*a*a*...*b" cannot make it backtrack exponentially.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from ...protocol.imap import commands as c
from ...protocol.imap import responses as r
from ...storage.models import Folder
from .context import HIERARCHY_SEPARATOR, SessionContext
from .status import StatusItemError, check_status_items, status_values

SEP = HIERARCHY_SEPARATOR


class Pattern:
    """One canonical LIST pattern (reference + mailbox argument).

    A bit-parallel NFA (shift-and): bit p of the state is "the first p
    pattern tokens have matched". Each name character costs a few big-int
    operations, whatever the pattern, so "*a*a*a...b" cannot make matching
    blow up the way a backtracking regex would.
    """

    __slots__ = ("text", "_size", "_literal", "_star", "_percent", "_literals", "_everything")

    def __init__(self, text: str) -> None:
        self.text = text
        tokens: list[str | None] = []  # None: "*"; "": "%"; else one literal character
        for ch in text:
            if ch in "*%":
                wild = None if ch == "*" else ""
                if tokens and tokens[-1] in (None, ""):
                    # "**", "%%", "*%" and "%*" collapse, so no two wildcards
                    # are adjacent and one epsilon step closes a state.
                    if wild is None:
                        tokens[-1] = None
                else:
                    tokens.append(wild)
            else:
                tokens.append(ch)
        self._size = len(tokens)
        self._literal: dict[str, int] = {}
        self._star = self._percent = 0
        for p, t in enumerate(tokens):
            if t is None:
                self._star |= 1 << p
            elif t == "":
                self._percent |= 1 << p
            else:
                self._literal[t] = self._literal.get(t, 0) | 1 << p
        self._literals = sum(1 for t in tokens if t)
        self._everything = tokens == [None]

    @property
    def ends_with_percent(self) -> bool:
        return self.text.endswith("%")

    def matches(self, name: str) -> bool:
        if self._everything:
            return True
        if self._literals > len(name):
            return False
        wild = self._star | self._percent
        literal = self._literal
        # INBOX (and the first level of INBOX/...) is matched case-insensitively.
        ci = 5 if name == "INBOX" or name.startswith("INBOX" + SEP) else 0
        state = 1 | ((1 & wild) << 1)
        for i, ch in enumerate(name):
            mask = literal.get(ch, 0)
            if i < ci:
                mask |= literal.get(ch.lower(), 0)
            nxt = ((state & mask) << 1) | (state & self._star)
            if ch != SEP:
                nxt |= state & self._percent
            if not nxt:
                return False
            state = nxt | ((nxt & wild) << 1)
        return bool(state >> self._size & 1)


def any_match(patterns: Sequence[Pattern], name: str) -> bool:
    return any(p.matches(name) for p in patterns)


def is_hidden(name: str) -> bool:
    """True when some component of the name begins with "."."""
    return any(part.startswith(".") for part in name.split(SEP))


def ancestors(name: str) -> Iterable[str]:
    """"a/b/c" -> "a", "a/b"."""
    i = name.find(SEP)
    while i != -1:
        yield name[:i]
        i = name.find(SEP, i + 1)


def sort_key(name: str) -> tuple[bool, str]:
    """INBOX and its inferiors first, then by code point (= UTF-8 byte order)."""
    return (not (name == "INBOX" or name.startswith("INBOX" + SEP)), name)


class Tree:
    """The visible folders of one account at one moment."""

    def __init__(self, folders: Iterable[Folder], show_hidden: bool) -> None:
        self.folders: dict[str, Folder] = {
            f.name: f for f in folders if show_hidden or not is_hidden(f.name)
        }
        self.show_hidden = show_hidden
        # Names with at least one visible folder below them.
        self.parents: set[str] = set()
        for name in self.folders:
            self.parents.update(ancestors(name))

    def visible(self, name: str) -> bool:
        return self.show_hidden or not is_hidden(name)

    def has_children(self, name: str) -> bool:
        return name in self.parents

    def attributes(self, name: str, *, subscribed: bool | None = None) -> tuple[str, ...]:
        attrs: list[str] = []
        folder = self.folders.get(name)
        if folder is None:
            attrs.append("\\Noselect" if self.has_children(name) else "\\NonExistent")
        elif folder.special_use:
            attrs.append(folder.special_use)
        attrs.append("\\HasChildren" if self.has_children(name) else "\\HasNoChildren")
        if subscribed:
            attrs.append("\\Subscribed")
        return tuple(attrs)


async def load_tree(ctx: SessionContext) -> Tree:
    assert ctx.account is not None
    folders = await ctx.store.list_folders(ctx.account.id)
    return Tree(folders, ctx.runtime.imap.show_hidden_folders_enabled)


def _patterns(reference: str, patterns: Iterable[str]) -> list[Pattern]:
    return [Pattern(reference + p) for p in patterns if p != ""]


# -- LIST -------------------------------------------------------------------------

_CRITERIA = ("SUBSCRIBED", "SPECIAL-USE")  # selection options that filter


async def handle_list(ctx: SessionContext, cmd: c.List) -> AsyncIterator[r.Response]:
    assert ctx.account is not None
    want_status = "STATUS" in cmd.returns
    if want_status:
        try:
            check_status_items(ctx, cmd.status_items)
        except StatusItemError as exc:
            yield r.Tagged(cmd.tag, "BAD", str(exc))
            return
    criteria = [o for o in cmd.selection if o in _CRITERIA]
    # RFC 3501 6.3.8: an empty mailbox name asks for the delimiter and root.
    if "" in cmd.patterns and not criteria:
        yield r.ListItem("", SEP, ("\\Noselect",))
    patterns = _patterns(cmd.reference, cmd.patterns)
    if not patterns:
        yield r.Tagged(cmd.tag, "OK", "LIST completed.")
        return

    tree = await load_tree(ctx)
    want_subs = "SUBSCRIBED" in cmd.selection or "SUBSCRIBED" in cmd.returns
    subs: set[str] = set()
    if want_subs:
        subs = {s for s in await ctx.store.list_subscriptions(ctx.account.id) if tree.visible(s)}

    def meets(name: str) -> bool:
        """The selection criteria (no options: the name is a folder)."""
        if "SUBSCRIBED" in criteria and name not in subs:
            return False
        if "SPECIAL-USE" in criteria:
            folder = tree.folders.get(name)
            if folder is None or not folder.special_use:
                return False
        return name in tree.folders or "SUBSCRIBED" in criteria

    # Every name that could be listed: folders, hierarchy levels, subscriptions.
    universe = set(tree.folders) | tree.parents
    if "SUBSCRIBED" in criteria:
        universe |= subs
        for s in subs:
            universe.update(ancestors(s))
    matching = {n for n in universe if any_match(patterns, n)}
    recursive = "RECURSIVEMATCH" in cmd.selection and bool(criteria)
    # RFC 5258 3.5: CHILDINFO names a descendant that meets the selection
    # criteria but is not itself listed because no pattern matches it.
    childinfo_for: set[str] = set()
    if recursive:
        for n in universe:
            if n not in matching and meets(n):
                childinfo_for.update(a for a in ancestors(n) if a in matching)
    childinfo = tuple(criteria)

    for name in sorted(matching, key=sort_key):
        info = childinfo if name in childinfo_for else ()
        if criteria:
            if not (meets(name) or info):
                continue
        elif name not in tree.folders and not tree.has_children(name):
            continue
        attrs = tree.attributes(name, subscribed=want_subs and name in subs)
        yield r.ListItem(name, SEP, attrs, childinfo=info)
        folder = tree.folders.get(name)
        # RFC 5819 3: no STATUS for a name listed only for its CHILDINFO.
        if want_status and folder is not None and (not criteria or meets(name)):
            values = await status_values(ctx, folder, cmd.status_items)
            if values is not None:
                yield r.StatusData(name, values)
    yield r.Tagged(cmd.tag, "OK", "LIST completed.")


# -- LSUB -------------------------------------------------------------------------

async def handle_lsub(ctx: SessionContext, cmd: c.Lsub) -> AsyncIterator[r.Response]:
    """RFC 3501 6.3.9. A subscribed name is listed with () when it is a folder
    and (\\Noselect) when it is not; with "%" last in the pattern, a level
    above a subscribed name that is not itself subscribed is listed as
    (\\Noselect)."""
    assert ctx.account is not None
    if cmd.pattern == "":
        yield r.ListItem("", SEP, ("\\Noselect",), kind="LSUB")
        yield r.Tagged(cmd.tag, "OK", "LSUB completed.")
        return
    pattern = Pattern(cmd.reference + cmd.pattern)
    tree = await load_tree(ctx)
    subs = {s for s in await ctx.store.list_subscriptions(ctx.account.id) if tree.visible(s)}
    found: dict[str, tuple[str, ...]] = {}
    for name in subs:
        if pattern.matches(name):
            found[name] = () if name in tree.folders else ("\\Noselect",)
    if pattern.ends_with_percent:
        for name in subs:
            for level in ancestors(name):
                if level not in subs and level not in found and pattern.matches(level):
                    found[level] = ("\\Noselect",)
    for name in sorted(found, key=sort_key):
        yield r.ListItem(name, SEP, found[name], kind="LSUB")
    yield r.Tagged(cmd.tag, "OK", "LSUB completed.")
