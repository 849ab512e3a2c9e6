"""The relay queue: mail for non-local recipients, sent through the smart host.

Entries live in the store (Store.*_outbound), so they survive restarts and
any server sharing the store may send them; a claim leases an entry so two
servers never send it at once. Each attempt sorts the recipients: delivered
and permanently refused ones leave the entry (the refused ones get a DSN to
the sender), the rest are retried with a doubling back-off until the
message expires, which is a permanent failure too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from ..delivery_routing import deliver_routed
from ..runtime import Runtime
from ..storage.errors import BlobMissing, StorageError
from ..storage.models import OutboundMessage
from . import dsn, smarthost
from .routing import split_address

log = logging.getLogger("mailgate.smtp.relay")

# The queue is polled this often for entries that came due (retries, other
# servers' entries); new local entries wake the runner at once.
POLL_SECONDS = 5.0
CLAIM_BATCH = 20


class RelayQueue:
    def __init__(self, runtime: Runtime,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.runtime = runtime
        self.clock = clock  # tests move time forward
        self._wake = asyncio.Event()

    # --- entering the queue ------------------------------------------------
    async def enqueue(self, sender: str, recipients: Sequence[str], blob_id: str,
                      size: int) -> OutboundMessage:
        entry = await self.runtime.store.enqueue_outbound(sender, recipients, blob_id, size)
        self._wake.set()
        return entry

    # --- the runner ----------------------------------------------------------
    async def run(self) -> None:
        """Send due entries until the server shuts down."""
        stop = self.runtime.shutting_down
        while not stop.is_set():
            try:
                await self.process_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end relaying for good
                log.exception("relay queue run failed; retrying")
            self._wake.clear()
            wait = min(POLL_SECONDS, max(0.2, float(self.runtime.smtp.relay_retry_interval)))
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, timeout=wait,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()

    async def process_due(self) -> int:
        """Claim and attempt every due entry; returns how many were tried."""
        tried = 0
        while True:
            settings = self.runtime.smtp
            now = self.clock()
            # The lease outlasts one attempt's worst case (several network
            # steps), so a live attempt is never taken over by another server.
            lease = now + timedelta(seconds=max(600, 6 * settings.relay_timeout))
            batch = await self.runtime.store.claim_outbound(now, lease, CLAIM_BATCH)
            for entry in batch:
                await self.attempt(entry)
                tried += 1
            if len(batch) < CLAIM_BATCH or self.runtime.shutting_down.is_set():
                return tried

    async def attempt(self, entry: OutboundMessage) -> None:
        store, settings = self.runtime.store, self.runtime.smtp
        try:
            data = await asyncio.to_thread(_read_blob, self.runtime, entry.blob_id)
        except BlobMissing:
            log.error("relay: the bytes of queue entry %d are missing; dropping it", entry.id)
            await self._fail(entry, [dsn.Failure(r, "5.3.0", "the queued message was lost")
                                     for r in entry.recipients], b"")
            await store.delete_outbound(entry.id)
            return
        if settings.smart_host:
            outcome = await asyncio.to_thread(
                smarthost.send, settings, self.runtime.hostname, entry.sender,
                entry.recipients, data)
        else:
            outcome = smarthost.Outcome(temporary={
                r: "no smart host is configured" for r in entry.recipients})
        if outcome.delivered:
            log.info("relay: entry %d delivered to %s via %s", entry.id,
                     ", ".join(outcome.delivered), settings.smart_host)
        remote = settings.smart_host.rpartition(":")[0]
        failed = [dsn.Failure(r, dsn.status_of(reply, "5.0.0"), reply, remote)
                  for r, reply in outcome.permanent.items()]
        retry = list(outcome.temporary)
        now = self.clock()
        if retry and now - entry.created >= timedelta(seconds=settings.relay_message_expiration):
            # RFC 3463 4.4.7: delivery time expired (reported as a failure).
            failed += [dsn.Failure(r, "4.4.7", f"gave up after {settings.relay_message_expiration} s"
                                   f" of retries; last error: {outcome.temporary[r]}", remote)
                       for r in retry]
            retry = []
        if failed:
            await self._fail(entry, failed, data)
        if retry:
            delay = min(settings.relay_max_retry_interval,
                        settings.relay_retry_interval * 2 ** min(entry.attempts, 30))
            last = outcome.temporary[retry[0]]
            await store.reschedule_outbound(entry.id, recipients=retry,
                                            next_attempt=now + timedelta(seconds=delay),
                                            last_error=last)
            log.info("relay: entry %d deferred %d s for %d recipient(s): %s",
                     entry.id, delay, len(retry), last)
        else:
            await store.delete_outbound(entry.id)

    async def _fail(self, entry: OutboundMessage, failures: list[dsn.Failure],
                    data: bytes) -> None:
        log.warning("relay: entry %d failed for %s", entry.id,
                    ", ".join(f.recipient for f in failures))
        if not entry.sender:
            return  # a failed DSN is never answered with another (RFC 5321 6.1)
        report = dsn.build(reporting_host=self.runtime.hostname, sender=entry.sender,
                           failures=failures, original=data, arrival=entry.created)
        await send_report(self, entry.sender, report)


async def send_report(queue: RelayQueue, sender: str, report: bytes) -> None:
    """A DSN goes to the sender's INBOX when the sender is a local mailbox,
    else back through the relay with the null sender."""
    runtime = queue.runtime
    try:
        account = await runtime.store.get_account(sender)
        if account is not None:
            _blob, (result,) = await deliver_routed(runtime.mailboxes, [(account, "INBOX")], report)
            if isinstance(result, StorageError):
                raise result
            return
        if split_address(sender) is not None and runtime.smtp.smart_host:
            blob_id, size, _path = await runtime.blobs.write_stream(report)
            await queue.enqueue("", [sender], blob_id, size)
            return
    except StorageError as exc:
        log.error("relay: cannot deliver the DSN to %s: %s", sender, exc)
        return
    log.warning("relay: DSN for %s dropped: not local and no smart host", sender)


def _read_blob(runtime: Runtime, blob_id: str) -> bytes:
    with runtime.blobs.open(blob_id) as fh:
        return fh.read()
