"""Every reply the SMTP services send that is ours (not aiosmtpd's), in one
place: code, RFC 3463 enhanced status, and text that says what to do."""

from __future__ import annotations

# Greeting / session
AUTH_NOT_OFFERED = "502 5.5.1 AUTH is not offered on this service; use the submission port"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = "535 5.7.3 Authentication unsuccessful"
AUTH_MAY_NOT_SEND = "535 5.7.3 Authentication unsuccessful: this mailbox may not send mail"
AUTH_MALFORMED = "501 5.5.2 Malformed authentication response"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
AUTH_THROTTLED = "454 4.7.0 Too many failed authentication attempts; try again later"

# MAIL FROM
SENDER_OK = "250 2.1.0 Sender OK"
SENDER_NOT_YOURS = ("550 5.7.60 Client does not have permissions to send as this sender; "
                    "use an address of your own mailbox")
SENDER_NULL_REFUSED = "550 5.7.60 A null sender is not accepted for submission"
SENDER_SYNTAX = "501 5.1.7 Bad sender address syntax"

# RCPT TO
RECIPIENT_OK = "250 2.1.5 Recipient OK"
RECIPIENT_SYNTAX = "501 5.1.3 Bad recipient address syntax"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients (at most {limit} per message)"


def unknown_user(address: str) -> str:
    return f"550 5.1.1 <{address}>: no such mailbox here"


def not_local(address: str) -> str:
    return (f"550 5.7.54 <{address}>: unable to relay to a domain that is not accepted "
            "here; authenticate on the submission port to send elsewhere")


def no_smart_host(address: str) -> str:
    return (f"550 5.7.54 <{address}>: unable to relay: no smart host is configured "
            "for recipients outside the local domains")


def lmtp_not_local(address: str) -> str:
    return f"550 5.1.1 <{address}>: not a mailbox of this server"


# DATA
ACCEPTED = "250 2.6.0 Message accepted for delivery (id {queue_id})"
DELIVERED = "250 2.0.0 <{address}> delivered (id {queue_id})"
FROM_MISSING = "550 5.6.0 The message has no From header field"
FROM_NOT_YOURS = ("550 5.7.60 The From header field must be an address of your own "
                  "mailbox ({address})")
MAILBOX_FULL = "552 5.2.2 <{address}>: mailbox full"
NO_INBOX = "550 5.2.1 <{address}>: mailbox has no INBOX"
TEMPORARY = "451 4.3.0 Temporary failure storing the message; try again later"
MAILBOX_MOVING = "451 4.2.0 <{address}>: mailbox is being moved; try again later"
ALL_LOCAL_FAILED = "552 5.2.2 No recipient could take the message: {detail}"
