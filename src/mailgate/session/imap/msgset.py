"""Resolving sequence sets against the selected view, and the errors the
message-reading commands (FETCH, SEARCH, SORT, THREAD) end with.

Shared by fetch.py, search.py, sort.py and thread.py.  Pure functions over
the in-memory view: no store access here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ...protocol.imap.responses import ResponseCode, Tagged
from ...protocol.imap.sequence import SequenceSet
from .selected import SelectedFolder

__all__ = ["ReadCommandError", "resolve_set", "batched"]


class ReadCommandError(Exception):
    """A message-reading command ends with this tagged NO/BAD.

    ``to_response(tag)`` gives its wire form (DESIGN.md: errors know it).
    """

    def __init__(self, status: str, text: str, code: ResponseCode | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code

    def to_response(self, tag: str) -> Tagged:
        return Tagged(tag, self.status, self.text, self.code)


def _saved_as_set(view: SelectedFolder) -> SequenceSet:
    return SequenceSet.of(view.saved_result)


def resolve_set(view: SelectedFolder, seqset: SequenceSet, *, uid: bool) -> list[int]:
    """UIDs of the view named by ``seqset``, ascending, without duplicates.

    ``uid``: the set holds UIDs (UID FETCH/STORE...); UIDs that do not exist
    are ignored and ``*`` on an empty folder matches nothing (RFC 3501 6.4.8).
    Otherwise it holds sequence numbers, and a number above EXISTS, or ``*``
    in an empty folder, is a BAD (RFC 3501 section 9, seq-number).

    ``$`` (RFC 5182) is the saved search result: UIDs, whatever the command
    form; an unset result is the empty set.  Messages expunged by another
    session but not yet reported (``view.gone``) are still in the result;
    callers drop them with ``view.live_uids`` where that is right.
    """
    if seqset.saved:
        return _saved_as_set(view).select(view.uids) if view.saved_result else []
    if uid:
        return seqset.select(view.uids)
    exists = len(view.uids)
    intervals = seqset.intervals(exists)
    if not intervals or intervals[-1][1] > exists or intervals[0][0] < 1:
        raise ReadCommandError("BAD", "Invalid message sequence number" if exists
                               else "No messages in the selected folder")
    uids = view.uids
    out: list[int] = []
    for a, b in intervals:
        out.extend(uids[a - 1 : b])
    return out


def batched(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
