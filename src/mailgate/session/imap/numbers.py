"""Resolving sequence sets against the selected view."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ...protocol.imap.sequence import SequenceSet
from .selected import SelectedFolder


def resolve_uids(view: SelectedFolder, numbers: SequenceSet, uid_mode: bool) -> list[int]:
    """UIDs (ascending) named by a set of UIDs or sequence numbers.

    "$" is the SEARCHRES result (kept as UIDs). Numbers that do not exist
    are left out: RFC 9051 6.4.8 lets a UID set name missing UIDs, and for
    sequence numbers dropping the excess is what clients cope with best.
    """
    uids = view.uids
    if numbers.saved:
        saved = set(view.saved_result)
        return [u for u in uids if u in saved]
    out: list[int] = []
    if uid_mode:
        for lo, hi in numbers.intervals(view.max_uid):
            out.extend(uids[bisect_left(uids, lo):bisect_right(uids, hi)])
    else:
        count = len(uids)
        for lo, hi in numbers.intervals(count):
            out.extend(uids[lo - 1:min(hi, count)])
    return out
