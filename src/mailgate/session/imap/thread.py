"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 sections 2.2 and 3).

Only the messages that match the search key take part; a reference to a
message outside that set becomes a dummy (no number).  Sent dates are those
of SORT DATE (the Date header, else the internal date); equal dates go by
sequence number.  Nodes carry UIDs until ``thread_response`` renumbers them
for a non-UID THREAD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...protocol.imap import responses as r
from ...protocol.imap.commands import Thread
from .base_subject import base_subject
from .context import SessionContext
from .msgset import ReadCommandError
from .search import search_uids
from .sort import load_keys, sent_timestamp

__all__ = ["ThreadInfo", "thread_uids", "thread_response", "orderedsubject", "references",
           "ALGORITHMS"]

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")

_MSG_ID = re.compile(rb"<([^<>]*)>")
_WSP = re.compile(rb"[ \t\r\n]+")


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """What threading needs of one message."""

    uid: int
    date: float  # sent timestamp (SORT DATE)
    subject: str  # base subject, compared as is
    is_reply: bool
    message_id: bytes | None
    references: tuple[bytes, ...]  # References, else the In-Reply-To id


def _ids(raw: bytes | None) -> list[bytes]:
    """The msg-ids in a header value, white space removed, "<>" kept."""
    if not raw:
        return []
    return [b"<" + _WSP.sub(b"", m.group(1)) + b">" for m in _MSG_ID.finditer(raw) if m.group(1).strip()]


def _info(uid: int, record, summary) -> ThreadInfo:
    base, is_reply = base_subject(summary.subject)
    ids = _ids(summary.message_id)
    refs = _ids(summary.references)
    if not refs:
        refs = _ids(summary.in_reply_to)[:1]
    return ThreadInfo(uid, sent_timestamp(record, summary), base.lower(), is_reply,
                      ids[0] if ids else None, tuple(refs))


# -- ORDEREDSUBJECT -----------------------------------------------------------------------

def orderedsubject(infos: Sequence[ThreadInfo]) -> tuple[r.ThreadNode, ...]:
    """RFC 5256 3: sort by base subject then sent date; each subject is one
    thread whose first message is the parent of all the others; threads go
    by the sent date of their first message.  ``infos`` in sequence order."""
    pos = {info.uid: i for i, info in enumerate(infos)}
    ordered = sorted(infos, key=lambda m: (m.subject, m.date, pos[m.uid]))
    threads: list[list[ThreadInfo]] = []
    for m in ordered:
        if threads and threads[-1][0].subject == m.subject:
            threads[-1].append(m)
        else:
            threads.append([m])
    threads.sort(key=lambda t: (t[0].date, pos[t[0].uid]))
    return tuple(r.ThreadNode(t[0].uid, tuple(r.ThreadNode(m.uid) for m in t[1:])) for t in threads)


# -- REFERENCES -----------------------------------------------------------------------------

@dataclass(eq=False)
class _Node:
    info: ThreadInfo | None = None  # None: a dummy
    parent: "_Node | None" = None
    children: list["_Node"] = field(default_factory=list)


def _is_ancestor(ancestor: _Node, node: _Node | None) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def _link(parent: _Node, child: _Node) -> None:
    child.parent = parent
    parent.children.append(child)


def _unlink(child: _Node) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _prune(nodes: list[_Node], parent: _Node | None) -> list[_Node]:
    """Step 4: drop dummies without children; replace a dummy by its
    children, except at the top level where it stays if it has several."""
    out: list[_Node] = []
    for node in nodes:
        node.children = _prune(node.children, node)
        if node.info is not None:
            out.append(node)
        elif not node.children:
            continue
        elif parent is None and len(node.children) > 1:
            out.append(node)
        else:
            for child in node.children:
                child.parent = parent
            out.extend(node.children)
    return out


def _thread_subject(node: _Node) -> tuple[str, bool] | None:
    source = node.info if node.info is not None else (node.children[0].info if node.children else None)
    if source is None or not source.subject:
        return None
    return source.subject, source.is_reply


def _group_by_subject(roots: list[_Node]) -> list[_Node]:
    """Step 5: merge top-level threads with the same base subject."""
    table: dict[str, _Node] = {}
    for node in roots:  # (B) one thread per subject
        ts = _thread_subject(node)
        if ts is None:
            continue
        old = table.get(ts[0])
        if old is None:
            table[ts[0]] = node
        elif old.info is not None and (node.info is None or (_is_reply(old) and not _is_reply(node))):
            table[ts[0]] = node
    removed: set[int] = set()
    replaced: dict[int, _Node] = {}
    for node in roots:  # (C) merge into the table's thread
        ts = _thread_subject(node)
        if ts is None:
            continue
        other = table[ts[0]]
        if other is node:
            continue
        removed.add(id(node))
        if other.info is None and node.info is None:
            for child in node.children:
                child.parent = other
            other.children.extend(node.children)
            node.children = []
        elif other.info is None or (_is_reply(node) and not _is_reply(other)):
            _link(other, node)
        else:
            dummy = _Node()
            replaced[id(other)] = dummy  # the dummy takes the table thread's place
            _link(dummy, other)
            _link(dummy, node)
            table[ts[0]] = dummy
    return [replaced.get(id(n), n) for n in roots if id(n) not in removed]


def _is_reply(node: _Node) -> bool:
    return node.info is not None and node.info.is_reply


def _sort(nodes: list[_Node], pos: dict[int, int]) -> None:
    """Step 6: children before parents, siblings by sent date; a dummy
    sorts by its first child."""
    for node in nodes:
        _sort(node.children, pos)

    def key(node: _Node) -> tuple[float, int]:
        info = node.info if node.info is not None else node.children[0].info
        assert info is not None
        return (info.date, pos[info.uid])

    nodes.sort(key=key)


def _to_response(node: _Node) -> r.ThreadNode:
    return r.ThreadNode(None if node.info is None else node.info.uid,
                        tuple(_to_response(c) for c in node.children))


def references(infos: Sequence[ThreadInfo]) -> tuple[r.ThreadNode, ...]:
    """RFC 5256 3, REFERENCES, steps 1-6.  ``infos`` in sequence order."""
    pos = {info.uid: i for i, info in enumerate(infos)}
    table: dict[object, _Node] = {}
    for info in infos:
        # (1A) the message's container; a missing or duplicate Message-ID
        # gets a unique one.
        mid: object = info.message_id
        if mid is None or (mid in table and table[mid].info is not None):
            mid = object()
        node = table.get(mid)
        if node is None:
            node = table[mid] = _Node()
        node.info = info
        # (1B) link the references in order, without changing links or
        # making loops.
        prev: _Node | None = None
        for ref in info.references:
            ref_node = table.get(ref)
            if ref_node is None:
                ref_node = table[ref] = _Node()
            if (prev is not None and ref_node.parent is None and ref_node is not prev
                    and not _is_ancestor(ref_node, prev)):
                _link(prev, ref_node)
            prev = ref_node
        # (1C) the last reference is the parent; a link made before from a
        # truncated References goes away.
        _unlink(node)
        if prev is not None and prev is not node and not _is_ancestor(node, prev):
            _link(prev, node)
    # (2) the root set, in the order the containers came to be
    roots = [n for n in table.values() if n.parent is None]
    roots = _prune(roots, None)  # (4)
    roots = _group_by_subject(roots)  # (5)
    _sort(roots, pos)  # (6)
    return tuple(_to_response(n) for n in roots)


async def thread_uids(ctx: SessionContext, algorithm: str, uids: Sequence[int]) -> tuple[r.ThreadNode, ...]:
    algorithm = algorithm.upper()
    if algorithm not in ALGORITHMS:
        raise ReadCommandError("BAD", f"Unsupported threading algorithm {algorithm}")
    if not uids:
        return ()
    infos_by_uid = await load_keys(ctx, uids, lambda m, s: _info(m.uid, m, s))
    infos = [infos_by_uid[u] for u in sorted(uids) if u in infos_by_uid]
    return orderedsubject(infos) if algorithm == "ORDEREDSUBJECT" else references(infos)


def _renumber(node: r.ThreadNode, seq_of) -> r.ThreadNode:
    return r.ThreadNode(None if node.number is None else seq_of(node.number),
                        tuple(_renumber(c, seq_of) for c in node.children))


async def thread_response(ctx: SessionContext, cmd: Thread) -> r.ThreadResult:
    """SEARCH with cmd.key, then thread; numbers are UIDs for UID THREAD."""
    view = ctx.selected
    if view is None:
        raise ReadCommandError("BAD", "No folder selected")
    if cmd.algorithm.upper() not in ALGORITHMS:
        raise ReadCommandError("BAD", f"Unsupported threading algorithm {cmd.algorithm}")
    uids = await search_uids(ctx, cmd.key, uid_mode=cmd.uid)
    threads = await thread_uids(ctx, cmd.algorithm, uids)
    if not cmd.uid:
        threads = tuple(_renumber(t, view.seq_of) for t in threads)
    return r.ThreadResult(threads)
