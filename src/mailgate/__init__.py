"""mailgate: POP3, IMAP4 and authenticated SMTP access to mailboxes."""

__version__ = "0.1.0"
