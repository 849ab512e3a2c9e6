"""Inbound SMTP (25) and LMTP (24): local delivery only, no AUTH, per-recipient
LMTP replies, one blob and one parse per message."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest

from mailgate import mime
from mailgate.smtp.listener import SmtpListener
from mailgate.smtp.routing import Service

from .conftest import Env, add_mailbox

MSG = b"From: someone@far.example\r\nTo: bob@example.com\r\nSubject: in\r\n\r\nhello\r\n"


async def test_inbound_offers_no_auth_and_refuses_it(env: Env) -> None:
    tls = env.client_tls()

    def go(c: smtplib.SMTP) -> tuple[dict[str, str], tuple[int, bytes]]:
        c.ehlo()
        c.starttls(context=tls)  # opportunistic TLS is offered
        c.ehlo()
        return dict(c.esmtp_features), c.docmd("AUTH", "PLAIN AGFsaWNlAHg=")

    features, (code, text) = await env.client(Service.INBOUND, go)
    assert "auth" not in features
    assert code == 502 and b"submission port" in text


async def test_inbound_is_never_an_open_relay(env: Env) -> None:
    env.settings(smart_host="127.0.0.1:9")  # even with a smart host configured

    def go(c: smtplib.SMTP) -> list[tuple[int, bytes]]:
        c.ehlo()
        c.mail("spammer@far.example")
        return [c.rcpt("victim@elsewhere.example"), c.rcpt("nobody@example.com"),
                c.rcpt("bob@example.com")]

    relay, unknown, local = await env.client(Service.INBOUND, go)
    assert relay[0] == 550 and b"5.7.54" in relay[1]
    assert unknown[0] == 550 and b"5.1.1" in unknown[1]
    assert local[0] == 250
    assert await env.runtime.store.list_outbound() == []


async def test_inbound_delivers_with_null_sender_and_8bit_utf8(env: Env) -> None:
    await add_mailbox(env.runtime, "jösé@example.com")
    body = "From: Zoë <zoë@far.example>\r\nSubject: ünïcode\r\n\r\nGrüße\r\n".encode()

    def go(c: smtplib.SMTP) -> dict:
        c.ehlo()
        assert c.has_extn("smtputf8") and c.has_extn("8bitmime")
        return c.sendmail("", ["jösé@example.com", "bob@example.com"], body,
                          mail_options=["SMTPUTF8", "BODY=8BITMIME"])

    assert await env.client(Service.INBOUND, go) == {}
    (stored,) = await env.inbox("jösé@example.com")
    assert stored.endswith(body)
    assert b"with UTF8SMTP id" in stored
    assert (await env.inbox("bob@example.com"))[0] == stored


async def test_inbound_received_header_and_unauthenticated_word(env: Env) -> None:
    def go(c: smtplib.SMTP) -> dict:
        return c.sendmail("someone@far.example", ["bob@example.com"], MSG)

    await env.client(Service.INBOUND, go)
    (stored,) = await env.inbox("bob@example.com")
    assert b"with ESMTP id " in stored and b"for <bob@example.com>" in stored
    assert stored.endswith(MSG)


async def test_inbound_refuses_a_bad_sender(env: Env) -> None:
    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        return c.mail("no-at-sign")

    code, text = await env.client(Service.INBOUND, go)
    assert code == 501 and b"5.1.7" in text


def _lmtp(c: smtplib.LMTP, recipients: list[str], data: bytes) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """RCPT replies, then one DATA reply per accepted recipient."""
    c.ehlo()  # smtplib.LMTP sends LHLO
    c.mail("sender@far.example")
    rcpt = [c.rcpt(r) for r in recipients]
    accepted = sum(1 for code, _ in rcpt if code == 250)
    first = c.data(data)
    rest = [c.getreply() for _ in range(accepted - 1)]
    return rcpt, [first, *rest]


async def test_lmtp_per_recipient_results(env: Env) -> None:
    await add_mailbox(env.runtime, "full@example.com", quota=10)
    recipients = ["bob@example.com", "nobody@example.com", "full@example.com",
                  "someone@far.example", "carol@example.com"]
    rcpt, data = await env.client(Service.LMTP, lambda c: _lmtp(c, recipients, MSG))
    assert [r[0] for r in rcpt] == [250, 550, 250, 550, 250]
    assert b"5.1.1" in rcpt[1][1] and b"5.1.1" in rcpt[3][1]
    # One reply per accepted recipient, in RCPT order (RFC 2033 4.2).
    assert [r[0] for r in data] == [250, 552, 250]
    assert b"bob@example.com" in data[0][1] and b"5.2.2" in data[1][1]
    assert b"carol@example.com" in data[2][1]
    assert len(await env.inbox("bob@example.com")) == 1
    assert len(await env.inbox("carol@example.com")) == 1
    assert await env.inbox("full@example.com") == []
    assert b"with LMTP id" in (await env.inbox("bob@example.com"))[0]


async def test_lmtp_refuses_ehlo_and_auth(env: Env) -> None:
    def go(c: smtplib.SMTP) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        return c.docmd("EHLO", "client.test"), c.docmd("AUTH", "PLAIN x")

    ehlo, auth = await env.client(Service.LMTP, go)
    assert ehlo[0] == 500 and auth[0] == 502


async def test_lmtp_many_recipients_one_blob_one_parse(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"user{i}@example.com" for i in range(30)]
    for name in names:
        await add_mailbox(env.runtime, name)
    calls = []
    real = mime.summarize

    def counting(data):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(mime, "summarize", counting)
    before = _blob_files(env.tmp / "blobs")
    rcpt, data = await env.client(Service.LMTP, lambda c: _lmtp(c, names, MSG))
    assert all(code == 250 for code, _ in rcpt + data) and len(data) == 30
    assert len(_blob_files(env.tmp / "blobs")) - len(before) == 1
    assert len(calls) == 1
    ids = set()
    for name in names:
        account = await env.runtime.store.get_account(name)
        folder = await env.runtime.store.get_folder(account.id, "INBOX")
        (m,) = await env.runtime.store.get_messages(folder.id, [1])
        ids.add(m.blob_id)
    assert len(ids) == 1


def _blob_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


async def test_lmtp_over_a_unix_socket(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "lmtp.sock"
    listener = SmtpListener(f"unix:{path}", env.ctx, Service.LMTP)
    await listener.start()
    try:
        def go() -> tuple:
            with smtplib.LMTP(str(path), timeout=10) as c:
                return _lmtp(c, ["bob@example.com"], MSG)

        rcpt, data = await asyncio.to_thread(go)
        assert rcpt[0][0] == 250 and data[0][0] == 250
    finally:
        await listener.stop(drain_seconds=1)
    assert not path.exists()
    assert len(await env.inbox("bob@example.com")) == 1


async def test_stop_drains_then_hangs_up(env: Env) -> None:
    listener = env.listeners[Service.INBOUND]
    port = listener.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await reader.readline()).startswith(b"220 ")
    await listener.stop(drain_seconds=0.2)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    env.listeners.pop(Service.INBOUND)


async def test_an_internal_error_is_a_temporary_reply(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailgate.smtp import handler

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")

    monkeypatch.setattr(handler, "route", broken)

    def go(c: smtplib.SMTP) -> tuple[int, bytes]:
        c.ehlo()
        c.mail("someone@far.example")
        return c.rcpt("bob@example.com")

    code, text = await env.client(Service.INBOUND, go)
    assert code == 451 and b"4.3.0" in text and b"bug" not in text


async def test_lmtp_pipelined_replies_come_in_one_write(env: Env) -> None:
    """MAIL and RCPT replies are held while the client's next command is
    already buffered (RFC 2920), then sent with DATA's 354: one write."""
    writes: list[bytes] = []
    listener = env.listeners[Service.LMTP]
    reader, writer = await asyncio.open_connection("127.0.0.1", env.port(Service.LMTP))

    async def reply() -> bytes:
        lines = b""
        while True:
            line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
            lines += line
            if line[3:4] != b"-":
                return lines

    assert (await reply()).startswith(b"220")
    writer.write(b"LHLO client.test\r\n")
    assert b"PIPELINING" in await reply()
    (proto,) = listener.tracker.open
    real_write = proto._writer.write
    proto._writer.write = lambda data: (writes.append(bytes(data)), real_write(data))[1]
    writer.write(b"MAIL FROM:<someone@far.example>\r\nRCPT TO:<bob@example.com>\r\n"
                 b"RCPT TO:<nobody@example.com>\r\nDATA\r\n")
    replies = [await reply() for _ in range(4)]
    assert [r[:3] for r in replies] == [b"250", b"250", b"550", b"354"]
    assert len(writes) == 1 and writes[0] == b"".join(replies)
    writer.write(MSG + b".\r\n")
    assert (await reply()).startswith(b"250 2.0.0 <bob@example.com>")  # one accepted: one reply
    writer.write(b"HELP MAIL\r\nQUIT\r\n")  # the wrapped commands keep their syntax help
    assert b"MAIL FROM:" in await reply()
    assert (await reply()).startswith(b"221")
    writer.close()
    assert len(await env.inbox("bob@example.com")) == 1


def _rcpt(c: smtplib.LMTP, recipient: str) -> tuple[int, bytes]:
    c.ehlo()
    c.mail("sender@far.example")
    return c.rcpt(recipient)


async def test_lmtp_rcpt_cache_is_only_a_first_answer(env: Env) -> None:
    """RCPT remembers found mailboxes for a moment (smtp/recipients.py);
    delivery checks again in the transaction that files the message."""
    from mailgate.directory.stores import MOVING_SCOPE

    handler = env.listeners[Service.LMTP].handler
    rcpt, data = await env.client(Service.LMTP, lambda c: _lmtp(c, ["bob@example.com"], MSG))
    assert [r[0] for r in rcpt + data] == [250, 250]
    assert handler.recipients.get("bob@example.com") is not None
    # A move starts: RCPT still trusts its fresh entry, the delivery does not.
    await env.runtime.store.put_settings(MOVING_SCOPE, {"bob@example.com": "DB02"})
    rcpt, data = await env.client(Service.LMTP, lambda c: _lmtp(c, ["bob@example.com"], MSG))
    assert rcpt[0][0] == 250 and data[0][0] == 451 and b"4.2.0" in data[0][1]
    assert len(await env.inbox("bob@example.com")) == 1
    handler.recipients.ttl_s = 0  # once the entry is gone, RCPT itself refuses
    handler.recipients._entries.clear()
    assert (await env.client(Service.LMTP, lambda c: _rcpt(c, "bob@example.com")))[0] == 451
    await env.runtime.store.put_settings(MOVING_SCOPE, {"bob@example.com": ""})
    # Unknown addresses are not remembered: a mailbox added a moment later
    # gets its mail at once.
    assert (await env.client(Service.LMTP, lambda c: _rcpt(c, "new@example.com")))[0] == 550
    await add_mailbox(env.runtime, "new@example.com")
    rcpt, data = await env.client(Service.LMTP, lambda c: _lmtp(c, ["new@example.com"], MSG))
    assert [r[0] for r in rcpt + data] == [250, 250]
