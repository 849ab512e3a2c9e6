"""The relay queue of MemoryStore, kept apart so memory.py stays small.

Like the rest of MemoryStore, no method awaits in the middle of a change,
so each is atomic with respect to the event loop.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import datetime, timezone

from .errors import NotFound
from .models import OutboundMessage


class MemoryQueue:
    def __init__(self) -> None:
        self._outbound: dict[int, OutboundMessage] = {}
        self._outbound_ids = itertools.count(1)

    def _queued_blob_ids(self) -> set[str]:
        return {m.blob_id for m in self._outbound.values()}

    async def enqueue_outbound(
        self, sender: str, recipients: Sequence[str], blob_id: str, size: int,
        *, not_before: datetime | None = None,
    ) -> OutboundMessage:
        if not recipients:
            raise ValueError("an outbound message needs at least one recipient")
        now = datetime.now(timezone.utc)
        entry = OutboundMessage(
            next(self._outbound_ids), sender, tuple(recipients), blob_id, size,
            created=now, next_attempt=not_before or now,
        )
        self._outbound[entry.id] = entry
        return entry

    async def claim_outbound(
        self, now: datetime, lease_until: datetime, limit: int = 10
    ) -> list[OutboundMessage]:
        due = sorted(
            (m for m in self._outbound.values() if m.next_attempt <= now),
            key=lambda m: (m.next_attempt, m.id),
        )[:limit]
        for m in due:
            self._outbound[m.id] = dataclasses.replace(m, next_attempt=lease_until)
        return due

    async def reschedule_outbound(
        self, queue_id: int, *, recipients: Sequence[str], next_attempt: datetime,
        last_error: str,
    ) -> OutboundMessage:
        old = self._outbound.get(queue_id)
        if old is None:
            raise NotFound(f"outbound message {queue_id}")
        if not recipients:
            raise ValueError("an outbound message needs at least one recipient")
        new = dataclasses.replace(
            old, recipients=tuple(recipients), next_attempt=next_attempt,
            attempts=old.attempts + 1, last_error=last_error,
        )
        self._outbound[queue_id] = new
        return new

    async def delete_outbound(self, queue_id: int) -> None:
        self._outbound.pop(queue_id, None)

    async def list_outbound(self) -> list[OutboundMessage]:
        return [self._outbound[k] for k in sorted(self._outbound)]
