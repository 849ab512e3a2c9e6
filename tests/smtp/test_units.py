"""Unit tests: the login throttle, header inspection, DSN building, routing."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

import pytest

from mailgate.policy.throttle import LoginThrottle, client_key
from mailgate.settings import SmtpSettings
from mailgate.smtp import dsn, headers
from mailgate.smtp.routing import Local, Refused, Relay, Service, route, split_address
from mailgate.storage import MemoryStore


# --- throttle ------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_doubles_caps_and_forgets() -> None:
    clock = Clock()
    t = LoginThrottle(0.5, 3.0, forget_after=60, clock=clock)
    assert [t.record_failure("1.2.3.4") for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert t.failures("1.2.3.4") == 5 and t.failures("5.6.7.8") == 0
    clock.now += 61
    assert t.failures("1.2.3.4") == 0 and t.record_failure("1.2.3.4") == 0.5
    t.succeeded("1.2.3.4")
    assert t.failures("1.2.3.4") == 0 and len(t) == 0


def test_throttle_bounds_memory_and_exponent() -> None:
    t = LoginThrottle(1.0, 10.0, max_keys=3)
    for key in "abcd":
        t.record_failure(key)
    assert len(t) == 3 and t.failures("a") == 0  # least recently failed went first
    for _ in range(200):
        delay = t.record_failure("d")
    assert delay == 10.0


async def test_throttle_failed_sleeps_the_delay() -> None:
    slept = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    t = LoginThrottle(0.25, 1.0, sleep=fake_sleep)
    t.configure(0.1, 0.3)
    assert [await t.failed("k") for _ in range(3)] == [0.1, 0.2, 0.3]
    assert slept == [0.1, 0.2, 0.3]


@pytest.mark.parametrize("peer,key", [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8::1", "2001:db8::/64"),
    ("2001:db8::ffff:1", "2001:db8::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    (None, "unknown"),
    ("/run/lmtp.sock", "/run/lmtp.sock"),
])
def test_client_key(peer: str | None, key: str) -> None:
    assert client_key(peer) == key


# --- headers -------------------------------------------------------------------
def test_inspect_headers() -> None:
    msg = (b"Subject: hi\r\nFrom: \"A, B\" <Ann@Example.COM>,\r\n bob@x.example\r\n"
           b"Message-ID: <1@x>\r\n\r\nFrom: body@x.example\r\n")
    facts = headers.inspect(msg)
    assert facts.from_addresses == ("ann@example.com", "bob@x.example")
    assert facts.has_message_id and not facts.has_date and facts.subject == b"hi"
    assert headers.inspect(b"\r\nFrom: a@b.example\r\n").from_addresses == ()
    assert headers.inspect(b"From: a@b.example\n\nbody").from_addresses == ("a@b.example",)
    assert headers.inspect(b"From: group: a@b.example;\r\n\r\n").from_addresses == ("a@b.example",)


def test_received_field_is_safe_from_injection() -> None:
    field = headers.received(helo="evil\r\nBcc: x@y\x00", peer_ip="192.0.2.1", by_host="mx.example",
                             protocol="ESMTPSA", queue_id="ABC", recipient=None,
                             now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert field == (b"Received: from evil??Bcc:?x@y? ([192.0.2.1])\r\n"
                     b"\tby mx.example (mailgate) with ESMTPSA id ABC; Tue, 02 Jan 2024 03:04:05 +0000\r\n")


# --- DSN -------------------------------------------------------------------------
def test_dsn_is_a_well_formed_multipart_report() -> None:
    original = "From: a@example.com\r\nSubject: Grüße\r\n\r\nbody\r\n".encode()
    report = dsn.build(reporting_host="mx.example", sender="a@example.com",
                       failures=[dsn.Failure("x@far.example", "5.1.1", "550 5.1.1 no\r\nsuch", "relay"),
                                 dsn.Failure("ü@far.example", "4.4.7", "gave up")],
                       original=original, arrival=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert b"\n" not in report.replace(b"\r\n", b"")  # CRLF only
    msg = email.message_from_bytes(report, policy=email.policy.default)
    assert msg["Subject"] == "Undeliverable message"  # non-ASCII subject not copied
    assert msg["Auto-Submitted"] == "auto-replied"
    _text, status, returned = msg.get_payload()
    raw = status.as_bytes()
    assert b"Reporting-MTA: dns; mx.example" in raw
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such" in raw  # folded onto one line
    assert "utf-8; ü@far.example".encode() in raw
    assert returned.get_payload(decode=True).startswith(b"From: a@example.com")


@pytest.mark.parametrize("reply,default,expected", [
    ("550 5.1.1 unknown", "5.0.0", "5.1.1"),
    ("550 unknown", "5.0.0", "5.0.0"),
    ("451 4.7.1 later", "5.0.0", "4.7.1"),
    ("", "4.0.0", "4.0.0"),
])
def test_status_of(reply: str, default: str, expected: str) -> None:
    assert dsn.status_of(reply, default) == expected


# --- routing ---------------------------------------------------------------------
@pytest.mark.parametrize("address,parts", [
    ("a@B.Example.", ("a", "b.example")),
    ("no-at", None),
    ("@b.example", None),
    ("a@", None),
    ("a b@c.example", None),
])
def test_split_address(address: str, parts: tuple[str, str] | None) -> None:
    assert split_address(address) == parts


async def test_route_decisions() -> None:
    store = MemoryStore()
    await store.create_account("ann@example.com", "x")
    await store.create_account("own@mailbox.example", "x")
    s = SmtpSettings(local_domains=("Example.com",))
    relay = SmtpSettings(local_domains=("example.com",), smart_host="relay.example:25")
    assert isinstance(await route(store, s, Service.SUBMISSION, "ANN@example.com"), Local)
    # A mailbox's own address is local even outside the local domains.
    assert isinstance(await route(store, s, Service.INBOUND, "own@mailbox.example"), Local)
    unknown = await route(store, s, Service.INBOUND, "bob@EXAMPLE.com")
    assert isinstance(unknown, Refused) and "5.1.1" in unknown.reply
    far = "x@far.example"
    assert "no smart host" in (await route(store, s, Service.SUBMISSION, far)).reply  # type: ignore[union-attr]
    assert await route(store, relay, Service.SUBMISSION, far) == Relay(far)
    assert "5.7.54" in (await route(store, relay, Service.INBOUND, far)).reply  # type: ignore[union-attr]
    assert "5.1.1" in (await route(store, relay, Service.LMTP, far)).reply  # type: ignore[union-attr]
    assert "5.1.3" in (await route(store, s, Service.INBOUND, "bad")).reply  # type: ignore[union-attr]


# --- fast path for SMTP paths (smtp/addresses.py) --------------------------------
@pytest.mark.parametrize("arg", [
    "<a@b.c>", "<a@b.c> SIZE=10 BODY=8BITMIME", " <a@b.c>", "\t<a@b.c>\tSIZE=1", "<a@b.c> ",
    "<a@b.c>  SIZE=1 ", "<a.b+c_d@d-e.f>", "<Ab@B.C>", "<o'brien@x.example>", "<a!#$%&*/=?^`{|}~@x>",
    # the general parser's cases: the fast path must say None, not guess
    "<>", "<a@b.c>x", "<a@b.c >", "< a@b.c>", '<"q x"@b>', "<a@[1.2.3.4]>", "<@x,@y:a@b>",
    "<a..b@c>", "<.a@c>", "<a@b..c>", "<a@b.c> (comment) SIZE=1", "<jösé@example.com>",
    "a@b.c", "<a@b.c", "<a(x)@b.c>", "<a@b.c>\r\n",
])
def test_simple_path_agrees_with_the_email_package(arg: str) -> None:
    from email._header_value_parser import get_angle_addr
    from email.errors import HeaderParseError

    from mailgate.smtp.addresses import simple_path

    fast = simple_path(arg)
    if fast is None:
        return  # aiosmtpd's own parser answers
    try:
        address, rest = get_angle_addr(arg)
    except HeaderParseError:
        pytest.fail(f"fast path accepted {arg!r}, the email package refuses it")
    assert fast == (address.addr_spec, rest)


def test_simple_path_takes_the_common_case() -> None:
    from mailgate.smtp.addresses import simple_path

    assert simple_path("<user14@bench.test>") == ("user14@bench.test", "")
    assert simple_path("<a@b.c> SIZE=5") == ("a@b.c", "SIZE=5")
    assert simple_path("<>") is None


async def test_replies_are_held_only_while_a_command_waits() -> None:
    import asyncio

    from mailgate.smtp import protocol
    from mailgate.smtp.protocol import MailgateSMTP, Tracker

    class Writer:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        async def drain(self) -> None:
            pass

    proto = MailgateSMTP(object(), service=Service.LMTP, tracker=Tracker())
    proto._reader = asyncio.StreamReader()
    proto._writer = writer = Writer()  # type: ignore[assignment]
    proto._may_hold = True
    proto._reader.feed_data(b"RCPT TO:<a@b>\r\n")
    await proto.push("250 first")
    assert writer.writes == []  # the next command is there: held
    proto._reader._buffer.clear()  # type: ignore[attr-defined]
    await proto.push("250 second")
    assert writer.writes == [b"250 first\r\n250 second\r\n"]
    proto._reader.feed_data(b"RCPT TO:<a")  # a partial line does not count
    await proto.push("250 third")
    assert writer.writes[-1] == b"250 third\r\n"
    writer.writes.clear()
    proto._reader.feed_data(b">\r\n")
    for i in range(protocol.MAX_HELD_REPLIES):  # a bounded batch however long the pipeline
        await proto.push(f"250 {i}")
    assert len(writer.writes) == 1 and writer.writes[0].count(b"\r\n") == protocol.MAX_HELD_REPLIES
    proto._may_hold = False  # other commands' replies (DATA's 354, QUIT's 221) go at once
    await proto.push("354 go ahead")
    assert writer.writes[-1] == b"354 go ahead\r\n"


def test_queue_ids_are_unique_hex_and_the_trace_date_is_current(monkeypatch) -> None:
    import re as _re

    ids = {headers.new_queue_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(_re.fullmatch(r"[0-9A-F]{16}", i) for i in ids)
    now = [1_700_000_000.4]
    monkeypatch.setattr(headers.time, "time", lambda: now[0])

    def stamp() -> bytes:
        return headers.received(helo="h", peer_ip="192.0.2.1", by_host="mx", protocol="LMTP",
                                queue_id="Q", recipient=None).rsplit(b"; ", 1)[1]

    assert stamp() == b"Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    now[0] += 1.0  # formatted once per second, never stale by more than that
    assert stamp() == b"Tue, 14 Nov 2023 22:13:21 +0000\r\n"
