"""Small pieces shared by the message-reading commands (FETCH, SEARCH, SORT,
THREAD): the error they end with, and batching.

Sequence sets are resolved by numbers.resolve_uids, the rule every command
of the session uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from ...protocol.imap.responses import ResponseCode, Tagged

__all__ = ["ReadCommandError", "batched"]

T = TypeVar("T")


class ReadCommandError(Exception):
    """A message-reading command ends with this tagged NO/BAD (unknown
    THREAD algorithm or SORT criterion, no folder selected).

    ``to_response(tag)`` gives its wire form (DESIGN.md: errors know it).
    """

    def __init__(self, status: str, text: str, code: ResponseCode | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code

    def to_response(self, tag: str) -> Tagged:
        return Tagged(tag, self.status, self.text, self.code)


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
