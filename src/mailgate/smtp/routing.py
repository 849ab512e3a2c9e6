"""Where a recipient goes: a local mailbox, the relay queue, or a refusal.

An address is local when its domain is one of the local domains or when a
mailbox with that address exists (a mailbox's own address is always
deliverable). A local domain with no such mailbox is a 550 5.1.1 at RCPT
time; anything else may only be relayed by an authenticated submission
client, and only when a smart host is configured.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..settings import SmtpSettings
from ..storage.base import Store
from ..storage.models import Account
from . import replies


class Service(str, enum.Enum):
    SUBMISSION = "submission"
    INBOUND = "inbound"
    LMTP = "lmtp"


@dataclass(frozen=True, slots=True)
class Local:
    account: Account


@dataclass(frozen=True, slots=True)
class Relay:
    address: str


@dataclass(frozen=True, slots=True)
class Refused:
    reply: str


Route = Local | Relay | Refused


def split_address(address: str) -> tuple[str, str] | None:
    """(local part, lower-cased domain), or None if it is not local@domain."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>" for c in address):
        return None
    return local, domain.lower().rstrip(".")


def is_local_domain(settings: SmtpSettings, domain: str) -> bool:
    return domain.lower().rstrip(".") in {d.lower().rstrip(".") for d in settings.local_domains}


async def route(store: Store, settings: SmtpSettings, service: Service, address: str) -> Route:
    parts = split_address(address)
    if parts is None:
        return Refused(replies.RECIPIENT_SYNTAX)
    account = await store.get_account(address)
    if account is not None:
        return Local(account)
    if is_local_domain(settings, parts[1]):
        return Refused(replies.unknown_user(address))
    if service is Service.LMTP:
        return Refused(replies.lmtp_not_local(address))
    if service is Service.INBOUND:  # never an open relay
        return Refused(replies.not_local(address))
    if not settings.smart_host:
        return Refused(replies.no_smart_host(address))
    return Relay(address)
