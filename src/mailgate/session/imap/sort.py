"""SORT (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 ESORT).

The messages that match the search key are loaded in batches; of each only
its sort keys are kept (not the summary), so sorting 100,000 messages holds
100,000 small tuples.  Criteria are applied by stable sorts from the last
to the first, starting from sequence order, so messages equal under every
criterion stay in sequence order (RFC 5256: ties go by sequence number) and
REVERSE reverses only its own criterion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ... import mime
from ...mime.addresses import parse_address_list
from ...protocol.imap import responses as r
from ...protocol.imap.commands import Sort, SortCriterion
from ...protocol.imap.sequence import SequenceSet
from ...storage.models import Message
from .base_subject import subject_key
from .context import SessionContext
from .msgset import ReadCommandError, batched
from .search import BATCH, numbers_for, search_uids, uses_modseq

__all__ = ["sort_uids", "sort_response", "load_keys", "sent_timestamp", "ordered_set"]

T = TypeVar("T")
Extract = Callable[[Message, mime.MessageSummary], T]


async def load_keys(ctx: SessionContext, uids: Sequence[int], extract: Extract[T]) -> dict[int, T]:
    """``extract(record, summary)`` of every message still in the store,
    loaded ``BATCH`` UIDs per store call."""
    view = ctx.selected
    if view is None:
        raise ReadCommandError("BAD", "No folder selected")
    out: dict[int, T] = {}
    for chunk in batched(list(uids), BATCH):
        for message in await ctx.store.get_messages(view.folder.id, chunk):
            out[message.uid] = extract(message, mime.MessageSummary.from_bytes(message.summary))
    return out


def sent_timestamp(record: Message, summary: mime.MessageSummary) -> float:
    """RFC 5256 DATE: the Date header in UTC, else the internal date."""
    date = summary.date
    return (date if date is not None else record.internaldate).timestamp()


def _first_address(raw: bytes | None) -> tuple[bytes | None, bytes | None, bytes | None] | None:
    """(display name, mailbox, host) of the first real address of a header
    (group markers skipped), None if there is none."""
    if not raw:
        return None
    for name, _adl, mailbox, host in parse_address_list(raw):
        if host is not None:
            return name, mailbox, host
    return None


def _text(raw: bytes | None) -> str:
    return "" if raw is None else mime.decode_header(raw)


def _mailbox_key(raw: bytes | None) -> str:
    """RFC 5256 FROM/TO/CC: addr-mailbox of the first address, casemapped."""
    first = _first_address(raw)
    return "" if first is None else _text(first[1]).lower()


def _display_key(raw: bytes | None) -> str:
    """RFC 5957: the display name of the first address if it has one,
    else its addr-spec (mailbox@host)."""
    first = _first_address(raw)
    if first is None:
        return ""
    name, mailbox, host = first
    display = _text(name).strip() if name else ""
    if not display:
        display = _text(mailbox) + "@" + _text(host)
    return display.lower()


_KEYS: dict[str, Callable[[Message, mime.MessageSummary], Any]] = {
    "ARRIVAL": lambda m, s: m.internaldate.timestamp(),
    "DATE": sent_timestamp,
    "SIZE": lambda m, s: m.size,
    "SUBJECT": lambda m, s: subject_key(s.subject),
    "FROM": lambda m, s: _mailbox_key(s.from_),
    "TO": lambda m, s: _mailbox_key(s.to),
    "CC": lambda m, s: _mailbox_key(s.cc),
    "DISPLAYFROM": lambda m, s: _display_key(s.from_),
    "DISPLAYTO": lambda m, s: _display_key(s.to),
}


async def sort_uids(ctx: SessionContext, criteria: Sequence[SortCriterion], uids: Sequence[int]) -> list[int]:
    """``uids`` in the order ``criteria`` give (UIDs, sequence order for ties)."""
    try:
        fns = [_KEYS[c.key] for c in criteria]
    except KeyError as exc:
        raise ReadCommandError("BAD", f"Unknown sort criterion {exc.args[0]}") from None
    if not uids:
        return []
    keys = await load_keys(ctx, uids, lambda m, s: tuple(fn(m, s) for fn in fns))
    order = sorted(u for u in uids if u in keys)  # UID order is sequence order
    for i in reversed(range(len(criteria))):
        order.sort(key=lambda u, i=i: keys[u][i], reverse=criteria[i].reverse)
    return order


def ordered_set(numbers: Sequence[int]) -> SequenceSet:
    """A set that keeps the given order (ESORT ALL): runs of consecutive
    ascending numbers become ranges, nothing is reordered."""
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return SequenceSet(tuple((a, b) for a, b in ranges))


async def sort_response(ctx: SessionContext, cmd: Sort) -> list[r.Response]:
    """SEARCH with cmd.key, then sort: ``* SORT ...`` or, with RETURN
    (RFC 5267 ESORT), ``* ESEARCH`` with MIN/MAX/ALL in sort order and
    COUNT.  The tagged OK is the caller's; ReadCommandError for BAD/NO."""
    view = ctx.selected
    if view is None:
        raise ReadCommandError("BAD", "No folder selected")
    uids = await search_uids(ctx, cmd.key, uid_mode=cmd.uid)
    ordered = await sort_uids(ctx, cmd.criteria, uids)
    numbers = numbers_for(ctx, ordered, uid=cmd.uid)
    modseq = None
    if uses_modseq(cmd.key) and ordered:
        modseq = view.meta.highest_modseq(ordered)
    if cmd.returns is None:
        return [r.SortResult(tuple(numbers), modseq)]
    opts = set(cmd.returns) or {"ALL"}
    if "SAVE" in opts:
        if opts & {"ALL", "COUNT"} or not opts & {"MIN", "MAX"}:
            view.saved_result = sorted(ordered)
        else:
            keep = set()
            if ordered and "MIN" in opts:
                keep.add(ordered[0])
            if ordered and "MAX" in opts:
                keep.add(ordered[-1])
            view.saved_result = sorted(keep)
        opts.discard("SAVE")
        if not opts:
            return []
    return [r.ESearch(
        tag=cmd.tag, uid=cmd.uid,
        min=numbers[0] if numbers and "MIN" in opts else None,
        max=numbers[-1] if numbers and "MAX" in opts else None,
        all=ordered_set(numbers) if numbers and "ALL" in opts else None,
        count=len(numbers) if "COUNT" in opts else None,
        modseq=modseq,
    )]
