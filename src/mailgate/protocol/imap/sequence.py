"""Sequence sets (RFC 3501 section 9 "sequence-set", RFC 5182 "$").

A set is kept as written: ranges whose ends may be "*" (None here), possibly
reversed ("*:4", "7:2").  It is resolved against the mailbox only when used,
because "*" means "the largest number in use" at that moment.  Resolution
yields merged, sorted intervals, so "1:4294967295" never expands to a list.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["SequenceSet", "compress", "MAX_NUMBER"]

MAX_NUMBER = 0xFFFFFFFF  # nz-number is a 32-bit unsigned value

# An end of a range: a number, or None for "*".
End = int | None


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A parsed sequence set.

    ``ranges`` holds (first, last) pairs as written; single numbers are (n, n).
    ``saved`` is True for "$", the result saved by SEARCH RETURN (SAVE); it has
    no ranges of its own and the session substitutes its saved set.
    """

    ranges: tuple[tuple[End, End], ...] = ()
    saved: bool = False

    @classmethod
    def of(cls, numbers: Iterable[int]) -> "SequenceSet":
        """A compact set from numbers (any order, duplicates allowed)."""
        return cls(tuple(_runs(numbers)))

    @classmethod
    def all(cls) -> "SequenceSet":
        return cls(((1, None),))

    def intervals(self, star: int) -> list[tuple[int, int]]:
        """Sorted, merged, inclusive intervals with "*" replaced by ``star``.

        ``star`` is the largest sequence number or UID in use.  In an empty
        mailbox (star == 0) a range with "*" matches nothing at all ("1:*"
        must not turn into "1").
        """
        if self.saved:
            raise ValueError("'$' must be replaced by the saved result first")
        spans = []
        for lo, hi in self.ranges:
            if star <= 0 and (lo is None or hi is None):
                continue
            a = star if lo is None else lo
            b = star if hi is None else hi
            if a > b:
                a, b = b, a
            if b <= 0:
                continue
            spans.append((max(a, 1), b))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        return merged

    def contains(self, number: int, star: int) -> bool:
        return any(a <= number <= b for a, b in self.intervals(star))

    def iter(self, star: int) -> Iterator[int]:
        """Numbers in the set, ascending, capped at ``star``.

        For sequence numbers every number up to ``star`` exists, so capping
        keeps "1:4294967295" cheap.
        """
        for a, b in self.intervals(star):
            yield from range(a, min(b, star) + 1)

    def select(self, existing: Sequence[int]) -> list[int]:
        """The members of the sorted list ``existing`` (e.g. UIDs) in the set.

        Cost is O(ranges * log n + matches), independent of range widths.
        """
        if not existing:
            return []
        out: list[int] = []
        for a, b in self.intervals(existing[-1]):
            out.extend(existing[bisect_left(existing, a) : bisect_right(existing, b)])
        return out

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(_fmt(lo) if lo == hi else f"{_fmt(lo)}:{_fmt(hi)}" for lo, hi in self.ranges)


def _fmt(end: End) -> str:
    return "*" if end is None else str(end)


def _runs(numbers: Iterable[int]) -> Iterator[tuple[int, int]]:
    ordered = sorted(set(numbers))
    if not ordered:
        return
    start = prev = ordered[0]
    for n in ordered[1:]:
        if n != prev + 1:
            yield (start, prev)
            start = n
        prev = n
    yield (start, prev)


def compress(numbers: Iterable[int]) -> str:
    """Numbers as a compact set text: [1, 2, 3, 4, 5, 7] -> "1:5,7"."""
    return str(SequenceSet.of(numbers))
