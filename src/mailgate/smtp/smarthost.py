"""One delivery attempt through the smart host, with Python's smtplib.

Blocking by design (smtplib is a well-kept, well-known client): the relay
queue runs it on a worker thread. The outcome sorts every recipient into
delivered, refused for good (5xx) or to be retried (4xx, network trouble).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..settings import SmartHostTls, SmtpSettings
from ..transport.listener import parse_binding


@dataclass(slots=True)
class Outcome:
    delivered: list[str] = field(default_factory=list)
    permanent: dict[str, str] = field(default_factory=dict)  # recipient -> reply
    temporary: dict[str, str] = field(default_factory=dict)


class SmartHostError(Exception):
    """Configuration or connection trouble that affects every recipient."""


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def _context(verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _sort(outcome: Outcome, recipient: str, code: int, reply: str) -> None:
    if 500 <= code < 600:
        outcome.permanent[recipient] = reply
    else:
        outcome.temporary[recipient] = reply


def send(
    settings: SmtpSettings,
    helo_name: str,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
) -> Outcome:
    """Try once; never raises for anything the smart host or the network does."""
    outcome = Outcome()
    try:
        host, port = parse_binding(settings.smart_host)
    except ValueError as exc:
        for r in recipients:
            outcome.temporary[r] = f"smart host setting is invalid: {exc}"
        return outcome
    try:
        client = _connect(settings, host, port, helo_name)
    except (OSError, smtplib.SMTPException, SmartHostError) as exc:
        for r in recipients:
            outcome.temporary[r] = _describe(exc)
        return outcome
    try:
        _transfer(client, outcome, sender, recipients, data)
    except (OSError, smtplib.SMTPException) as exc:  # connection lost mid-way
        for r in recipients:
            if r not in outcome.delivered and r not in outcome.permanent:
                outcome.temporary[r] = _describe(exc)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return outcome


def _connect(settings: SmtpSettings, host: str, port: int, helo_name: str) -> smtplib.SMTP:
    timeout = float(settings.relay_timeout)
    mode = settings.smart_host_tls
    ctx = _context(settings.smart_host_verify_certificate)
    client: smtplib.SMTP
    if mode is SmartHostTls.TLS:
        client = smtplib.SMTP_SSL(host, port, local_hostname=helo_name, timeout=timeout, context=ctx)
    else:
        client = smtplib.SMTP(host, port, local_hostname=helo_name, timeout=timeout)
    try:
        client.ehlo()
        if mode in (SmartHostTls.STARTTLS, SmartHostTls.OPPORTUNISTIC):
            if client.has_extn("starttls"):
                client.starttls(context=ctx)
                client.ehlo()
            elif mode is SmartHostTls.STARTTLS:
                raise SmartHostError(f"smart host {host}:{port} does not offer STARTTLS")
        if settings.smart_host_username:
            client.login(settings.smart_host_username, settings.smart_host_password)
    except BaseException:
        client.close()
        raise
    return client


def _transfer(client: smtplib.SMTP, outcome: Outcome, sender: str,
              recipients: Sequence[str], data: bytes) -> None:
    options: list[str] = []
    if not sender.isascii() or not all(r.isascii() for r in recipients):
        options.append("SMTPUTF8")  # smtplib refuses it if the host lacks it
    if not data.isascii() and client.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    try:
        refused = client.sendmail(sender, list(recipients), data, mail_options=options)
    except smtplib.SMTPNotSupportedError as exc:
        for r in recipients:
            outcome.permanent[r] = f"553 5.6.7 the smart host cannot take this message: {exc}"
        return
    except smtplib.SMTPSenderRefused as exc:
        for r in recipients:
            _sort(outcome, r, exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error))
        return
    except smtplib.SMTPRecipientsRefused as exc:
        for r, (code, msg) in exc.recipients.items():
            _sort(outcome, r, code, _reply(code, msg))
        return
    except smtplib.SMTPResponseException as exc:  # DATA refused, and the like
        for r in recipients:
            _sort(outcome, r, exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error))
        return
    for r in recipients:
        if r in refused:
            code, msg = refused[r]
            _sort(outcome, r, code, _reply(code, msg))
        else:
            outcome.delivered.append(r)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, socket.timeout):
        return "timed out talking to the smart host"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
