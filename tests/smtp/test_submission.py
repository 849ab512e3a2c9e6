"""Submission (587): STARTTLS, AUTH after TLS, sender rules, limits, headers."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import time

import pytest

from mailgate.smtp.routing import Service
from mailgate.storage.models import Role

from .conftest import PASSWORD, Env, add_mailbox

DATED = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\n"
         b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@client.test>\r\n\r\n"
         b"Hello.\r\n.dot line\r\n")


def _ehlo_plain(c: smtplib.SMTP) -> dict[str, str]:
    c.ehlo()
    return dict(c.esmtp_features)


async def test_ehlo_offers_starttls_size_and_auth_only_after_tls(env: Env) -> None:
    before = await env.client(Service.SUBMISSION, _ehlo_plain)
    assert "starttls" in before and "auth" not in before
    assert before["size"] == str(36 * 1024 * 1024)
    assert {"8bitmime", "smtputf8", "pipelining"} <= set(before)
    tls = env.client_tls()

    def after(c: smtplib.SMTP) -> dict[str, str]:
        c.starttls(context=tls)
        c.ehlo()
        return dict(c.esmtp_features)

    features = await env.client(Service.SUBMISSION, after)
    assert features["auth"].split() == ["LOGIN", "PLAIN"] and "starttls" not in features


async def test_auth_before_starttls_is_refused(env: Env) -> None:
    token = base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode()).decode()

    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        return c.docmd("AUTH", "PLAIN " + token)

    code, text = await env.client(Service.SUBMISSION, go)
    assert code == 538 and b"5.7.11" in text and b"Encryption required" in text


async def test_auth_before_tls_allowed_when_configured(env: Env) -> None:
    env.settings(require_tls_for_auth=False)

    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        assert "auth" in c.esmtp_features
        return c.login("alice@example.com", PASSWORD)

    code, _ = await env.client(Service.SUBMISSION, go)
    assert code == 235


async def test_submit_delivers_to_local_inbox_with_trace_header(env: Env) -> None:
    refused = await env.submit(lambda c: c.sendmail("alice@example.com", ["bob@example.com"], DATED))
    assert refused == {}
    (stored,) = await env.inbox("bob@example.com")
    received, _, rest = stored.partition(b"\r\nFrom: ")
    assert b"From: " + rest == DATED.replace(b"\r\n.dot", b"\r\n.dot")  # bytes as sent
    assert received.startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with ESMTPSA id " in received and b"for <bob@example.com>;" in received
    assert b"version=TLSv1" in received
    assert await env.inbox("alice@example.com") == []  # no copy for the sender
    assert await env.inbox("alice@example.com", "Sent") == []  # clients APPEND their own


async def test_auth_login_mechanism_and_one_copy_per_mailbox(env: Env) -> None:
    tls = env.client_tls()

    def go(c: smtplib.SMTP) -> dict:
        c.ehlo()
        c.starttls(context=tls)
        c.ehlo()
        c.user, c.password = "alice@example.com", PASSWORD
        code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        assert code == 235
        return c.sendmail("alice@example.com", ["bob@example.com", "BOB@example.com",
                                                "carol@example.com"], DATED)

    assert await env.submit(lambda c: None) is None
    assert await env.client(Service.SUBMISSION, go) == {}
    assert len(await env.inbox("bob@example.com")) == 1
    (carol,) = await env.inbox("carol@example.com")
    assert b"\tfor <" not in carol  # one stored copy serves several recipients


async def test_wrong_password_is_refused_with_growing_delay(env: Env) -> None:
    tls = env.client_tls()

    def attempt(c: smtplib.SMTP) -> tuple[int, float]:
        c.ehlo()
        c.starttls(context=tls)
        c.ehlo()
        started = time.monotonic()
        c.user, c.password = "alice@example.com", "wrong"
        try:
            c.auth("PLAIN", c.auth_plain)  # one mechanism: one failure
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code, time.monotonic() - started
        raise AssertionError("accepted a wrong password")

    delays = []
    for _ in range(4):
        code, elapsed = await env.client(Service.SUBMISSION, attempt)
        assert code == 535
        delays.append(elapsed)
    # 50, 100, 200, 400 ms before each answer: lower bounds (argon2 and a
    # loaded machine only add time, so differences between them would be flaky).
    assert delays[0] >= 0.05 and delays[1] >= 0.1 and delays[2] >= 0.2 and delays[3] >= 0.4
    assert env.runtime.policy.guard.by_ip.failures("127.0.0.1") == 4
    # The right password still works and wipes the IP's slate.
    assert await env.submit(lambda c: c.noop()[0]) == 250
    assert env.runtime.policy.guard.by_ip.failures("127.0.0.1") == 0


async def test_too_many_failures_lock_the_client_out(env: Env) -> None:
    guard = env.runtime.policy.guard
    for _ in range(6):
        guard.by_ip.record_failure("127.0.0.1")
    tls = env.client_tls()

    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        c.starttls(context=tls)
        c.ehlo()
        token = base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode()).decode()
        return c.docmd("AUTH", "PLAIN " + token)

    code, text = await env.client(Service.SUBMISSION, go)
    assert code == 454 and b"4.7.0" in text


async def test_guest_may_not_send_and_unknown_user_fails(env: Env) -> None:
    await add_mailbox(env.runtime, "guest@example.com", Role.GUEST)
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        await env.submit(lambda c: None, user="guest@example.com")
    assert info.value.smtp_code == 535 and b"may not send" in info.value.smtp_error
    with pytest.raises(smtplib.SMTPAuthenticationError):
        await env.submit(lambda c: None, user="nobody@example.com")


async def test_mail_without_auth_is_refused(env: Env) -> None:
    tls = env.client_tls()

    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        c.starttls(context=tls)
        c.ehlo()
        return c.mail("alice@example.com")

    code, text = await env.client(Service.SUBMISSION, go)
    assert code == 530 and b"5.7.0" in text


async def test_forged_envelope_sender_is_refused(env: Env) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        await env.submit(lambda c: c.sendmail("bob@example.com", ["carol@example.com"], DATED))
    assert info.value.smtp_code == 550 and b"5.7.60" in info.value.smtp_error
    code, text = await env.submit(lambda c: c.mail(""))
    assert code == 550 and b"null sender" in text
    # The same address in another case is the user's own.
    assert await env.submit(lambda c: c.sendmail("Alice@Example.com", ["bob@example.com"], DATED)) == {}


@pytest.mark.parametrize("header", [b"From: bob@example.com\r\n",
                                    b"From: alice@example.com, bob@example.com\r\n",
                                    b"From: \"Alice\" <alice@example.com.evil>\r\n"])
async def test_forged_from_header_is_refused(env: Env, header: bytes) -> None:
    msg = header + b"Subject: forged\r\n\r\nbody\r\n"
    with pytest.raises(smtplib.SMTPDataError) as info:
        await env.submit(lambda c: c.sendmail("alice@example.com", ["bob@example.com"], msg))
    assert info.value.smtp_code == 550 and b"5.7.60" in info.value.smtp_error
    assert await env.inbox("bob@example.com") == []


async def test_missing_from_header_is_refused(env: Env) -> None:
    with pytest.raises(smtplib.SMTPDataError) as info:
        await env.submit(lambda c: c.sendmail("alice@example.com", ["bob@example.com"],
                                              b"Subject: x\r\n\r\nbody\r\n"))
    assert info.value.smtp_code == 550 and b"5.6.0" in info.value.smtp_error


async def test_date_and_message_id_are_added_when_missing(env: Env) -> None:
    msg = b"From: Alice <alice@example.com>\r\nSubject: bare\r\n\r\nbody\r\n"
    await env.submit(lambda c: c.sendmail("alice@example.com", ["bob@example.com"], msg))
    (stored,) = await env.inbox("bob@example.com")
    head = stored[: stored.index(b"\r\n\r\n")]
    assert b"\r\nDate: " in head and b"\r\nMessage-ID: <" in head and b"@localhost>" in head
    assert stored.endswith(msg)
    await env.submit(lambda c: c.sendmail("alice@example.com", ["bob@example.com"], DATED))
    second = (await env.inbox("bob@example.com"))[1]
    assert second.count(b"Message-ID:") == 1 and second.count(b"\r\nDate:") == 1


async def test_recipient_limit_is_a_setting(env: Env) -> None:
    env.settings(max_recipients_per_message=2)

    def go(c: smtplib.SMTP) -> list[tuple[int, bytes]]:
        c.mail("alice@example.com")
        return [c.rcpt(r) for r in ("bob@example.com", "carol@example.com", "alice@example.com")]

    replies = await env.submit(go)
    assert [r[0] for r in replies] == [250, 250, 452]
    assert b"4.5.3" in replies[2][1] and b"at most 2" in replies[2][1]


async def test_message_size_limit_is_a_setting(env: Env) -> None:
    env.settings(max_message_size=2000)

    def features(c: smtplib.SMTP) -> str:
        return c.esmtp_features["size"]

    assert await env.submit(features) == "2000"

    def too_big_declared(c: smtplib.SMTP) -> tuple[int, bytes]:
        return c.mail("alice@example.com", ["SIZE=5000"])

    code, _ = await env.submit(too_big_declared)
    assert code == 552
    big = DATED + (b"x" * 70 + b"\r\n") * 50

    def undeclared(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.mail("alice@example.com")  # no SIZE=: only the data can tell
        c.rcpt("bob@example.com")
        return c.data(big)

    code, text = await env.submit(undeclared)
    assert code == 552 and b"Too much mail data" in text
    assert await env.inbox("bob@example.com") == []


async def test_unknown_local_user_and_non_local_without_smart_host(env: Env) -> None:
    def go(c: smtplib.SMTP) -> list[tuple[int, bytes]]:
        c.mail("alice@example.com")
        return [c.rcpt("nobody@example.com"), c.rcpt("someone@far.example"), c.rcpt("<>"),
                c.rcpt("not-an-address")]

    (unknown, remote, null, bad) = await env.submit(go)
    assert unknown[0] == 550 and b"5.1.1" in unknown[1]
    assert remote[0] == 550 and b"5.7.54" in remote[1] and b"no smart host" in remote[1]
    assert null[0] in (501, 553) and bad[0] in (501, 553)


async def test_over_quota_recipient(env: Env) -> None:
    await add_mailbox(env.runtime, "full@example.com", quota=10)
    with pytest.raises(smtplib.SMTPDataError) as info:
        await env.submit(lambda c: c.sendmail("alice@example.com", ["full@example.com"], DATED))
    assert info.value.smtp_code == 552 and b"5.2.2" in info.value.smtp_error
    # With another recipient that takes it: 250, and a DSN for the full one.
    assert await env.submit(lambda c: c.sendmail(
        "alice@example.com", ["full@example.com", "bob@example.com"], DATED)) == {}
    assert len(await env.inbox("bob@example.com")) == 1
    (report,) = await env.inbox("alice@example.com")
    assert b"report-type=delivery-status" in report
    assert b"Final-Recipient: rfc822; full@example.com" in report and b"Status: 5.2.2" in report


async def test_settings_apply_to_new_connections_without_restart(env: Env) -> None:
    env.settings(max_message_size=4096)
    assert await env.submit(lambda c: c.esmtp_features["size"]) == "4096"
    await asyncio.sleep(0)
