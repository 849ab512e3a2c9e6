"""Per-mailbox protocol settings (Set-CASMailbox, reference section 3) and
their precedence over the server's protocol settings.

Stored in the account's `overrides` as "<pop|imap>_<field>" -> string. When
the protocol is disabled for the mailbox the rest is ignored; when
UseProtocolDefaults is true (the default) the server's values apply, and only
when it is false do the mailbox's four values apply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..settings import CalendarOption, ImapSettings, MimeFormat, PopSettings, SettingsError, from_strings
from ..storage.models import Account

PREFIXES = ("pop", "imap")


@dataclass(frozen=True, slots=True)
class MailboxProtocolSettings:
    use_protocol_defaults: bool = True
    enable_exact_rfc822_size: bool = False
    force_ical_for_calendar_retrieval_option: bool = False
    messages_retrieval_mime_format: MimeFormat = MimeFormat.BEST_BODY_FORMAT
    suppress_read_receipt: bool = False


FIELDS = tuple(f.name for f in dataclasses.fields(MailboxProtocolSettings))


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What applies to one mailbox over one protocol."""

    enable_exact_rfc822_size: bool
    force_ical: bool
    mime_format: MimeFormat
    suppress_read_receipt: bool
    from_mailbox: bool  # the mailbox's own values (UseProtocolDefaults false)


def option_keys(prefix: str) -> dict[str, str]:
    """CLI option name ("pop_suppress_read_receipt") -> field."""
    return {f"{prefix}_{name}": name for name in FIELDS}


def validate(prefix: str, values: dict[str, str]) -> dict[str, str]:
    """Field -> string for one protocol; returns the overrides entries to
    store, or raises SettingsError naming the CLI option."""
    try:
        parsed = from_strings(MailboxProtocolSettings, values)
    except SettingsError as exc:
        raise SettingsError(str(exc).replace("--", f"--{prefix}-", 1)) from None
    out: dict[str, str] = {}
    for name in values:
        value = getattr(parsed, name)
        out[f"{prefix}_{name}"] = ("true" if value else "false") if isinstance(value, bool) else str(
            getattr(value, "value", value))
    return out


def mailbox_settings(account: Account, prefix: str) -> MailboxProtocolSettings:
    mine = {name: account.overrides[key] for key, name in option_keys(prefix).items() if key in account.overrides}
    try:
        return from_strings(MailboxProtocolSettings, mine)
    except SettingsError:  # written by a newer or broken tool: fall back to the defaults
        return MailboxProtocolSettings()


def effective(account: Account, server: ImapSettings | PopSettings) -> Retrieval | None:
    """None when the protocol is disabled for this mailbox."""
    prefix = "imap" if isinstance(server, ImapSettings) else "pop"
    if not (account.imap_enabled if prefix == "imap" else account.pop_enabled):
        return None
    own = mailbox_settings(account, prefix)
    if own.use_protocol_defaults:
        return Retrieval(server.enable_exact_rfc822_size,
                         server.calendar_item_retrieval_option is CalendarOption.ICALENDAR,
                         server.message_retrieval_mime_format, server.suppress_read_receipt, False)
    return Retrieval(own.enable_exact_rfc822_size, own.force_ical_for_calendar_retrieval_option,
                     own.messages_retrieval_mime_format, own.suppress_read_receipt, True)
