"""After DATA: store the message once, file it into every local INBOX, queue
it for the non-local recipients, and say how each recipient fared.

The bytes are the client's, untouched, behind the fields we prepend
(Received; for submission also Date and Message-ID when missing), so one
blob serves every recipient and the relay queue points at it too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ..delivery_routing import deliver_routed
from ..directory.stores import MailboxInTransit
from ..storage.errors import NotFound, QuotaExceeded, StorageError
from ..storage.models import Account, Message
from . import dsn, replies
from .context import SmtpContext
from .relay import send_report

log = logging.getLogger("mailgate.smtp")


@dataclass(frozen=True, slots=True)
class Accepted:
    queue_id: str
    per_recipient: dict[str, str]  # recipient -> reply (local ones; remote: queued)
    failed_local: tuple[str, ...]  # local recipients refused at delivery

    @property
    def all_failed(self) -> bool:
        return bool(self.failed_local) and len(self.failed_local) == len(self.per_recipient)


def _refusal(address: str, error: StorageError) -> str:
    if isinstance(error, MailboxInTransit):
        return replies.MAILBOX_MOVING.format(address=address)
    if isinstance(error, QuotaExceeded):
        return replies.MAILBOX_FULL.format(address=address)
    if isinstance(error, NotFound):
        return replies.NO_INBOX.format(address=address)
    return replies.TEMPORARY


async def accept(
    ctx: SmtpContext,
    *,
    queue_id: str,
    sender: str,
    local: dict[str, Account],
    remote: Sequence[str],
    prefix: bytes,
    content: bytes,
) -> Accepted:
    """Raises StorageError when nothing could be stored (the caller answers
    451 and the client retries)."""
    runtime = ctx.runtime
    # Two recipient spellings of one mailbox get one copy.
    accounts: dict[int, Account] = {a.id: a for a in local.values()}
    order = list(accounts)
    # Each recipient's own mailbox database (delivery_routing.py).
    blob, results = await deliver_routed(
        runtime.mailboxes, [(accounts[i], "INBOX") for i in order], [prefix, content])
    by_account: dict[int, Message | StorageError] = dict(zip(order, results))
    per: dict[str, str] = {}
    failed: list[str] = []
    for address, account in local.items():
        result = by_account[account.id]
        if isinstance(result, StorageError):
            per[address] = _refusal(address, result)
            failed.append(address)
            log.warning("smtp %s: delivery to %s refused: %s", queue_id, address, result)
        else:
            per[address] = replies.DELIVERED.format(address=address, queue_id=queue_id)
    if remote:
        await ctx.relay.enqueue(sender, list(remote), blob.blob_id, blob.size)
    log.info("smtp %s: from <%s> to %d local, %d relayed recipient(s), %d octets",
             queue_id, sender, len(local) - len(failed), len(remote), blob.size)
    return Accepted(queue_id, per, tuple(failed))


async def report_partial_failure(ctx: SmtpContext, sender: str, accepted: Accepted,
                                 original: bytes) -> None:
    """SMTP has one DATA reply: when some local recipients failed but others
    took the message, the reply is 250 and the failed ones get a DSN."""
    if not accepted.failed_local or sender in ("", "<>"):
        return
    failures = [
        dsn.Failure(r, dsn.status_of(accepted.per_recipient[r], "5.0.0"), accepted.per_recipient[r])
        for r in accepted.failed_local
    ]
    report = dsn.build(reporting_host=ctx.runtime.hostname, sender=sender, failures=failures,
                       original=original, arrival=datetime.now(timezone.utc))
    await send_report(ctx.relay, sender, report)
