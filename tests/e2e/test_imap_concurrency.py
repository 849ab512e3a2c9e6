"""Two sessions on one folder: untagged updates exactly when RFC 3501 7.4.1 /
RFC 9051 7.5.1 allow them."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import PASSWORD, RunningServer
from .rawimap import RawImap

MESSAGE = b"From: a@example.org\r\nSubject: m\r\n\r\nbody\r\n"


def deliver(server: RunningServer, n: int = 1, address: str = "alice@example.com") -> None:
    for _ in range(n):
        assert server.cli("deliver", address, input=MESSAGE).returncode == 0


@pytest.fixture()
def pair(server: RunningServer):
    deliver(server, 3)
    a = RawImap(server.ports["imaps"], tls=True)
    b = RawImap(server.ports["imaps"], tls=True)
    for s in (a, b):
        assert s.login("alice@example.com", PASSWORD)[-1].split()[1] == b"OK"
        assert s.command(b"SELECT INBOX")[-1].split()[1] == b"OK"
    yield a, b
    a.close()
    b.close()


def untagged(lines: list[bytes], word: bytes) -> list[bytes]:
    return [line for line in lines if line.startswith(b"* ") and word in line]


def test_expunge_is_not_sent_during_fetch_store_search_by_number(pair) -> None:
    a, b = pair
    b.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert b.command(b"EXPUNGE")[0] == b"* 1 EXPUNGE\r\n"
    lines = a.command(b"FETCH 1:* (FLAGS)")
    assert not untagged(lines, b"EXPUNGE"), lines
    lines = a.command(b"STORE 2 +FLAGS (\\Flagged)")
    assert not untagged(lines, b"EXPUNGE"), lines
    lines = a.command(b"SEARCH ALL")
    assert not untagged(lines, b"EXPUNGE"), lines
    assert b"* SEARCH 2 3\r\n" in lines  # the expunged message is gone, numbers unchanged
    lines = a.command(b"NOOP")
    assert untagged(lines, b"EXPUNGE") == [b"* 1 EXPUNGE\r\n"]
    assert a.command(b"FETCH 1:* (UID)")[:2] == [b"* 1 FETCH (UID 2)\r\n", b"* 2 FETCH (UID 3)\r\n"]


def test_uid_commands_may_report_expunges(pair) -> None:
    a, b = pair
    b.command(b"STORE 3 +FLAGS.SILENT (\\Deleted)")
    b.command(b"EXPUNGE")
    lines = a.command(b"UID FETCH 1:* (FLAGS)")
    assert b"* 3 EXPUNGE\r\n" in lines


def test_new_mail_and_flag_changes_reach_the_other_session(server: RunningServer, pair) -> None:
    a, b = pair
    deliver(server)
    b.command(b"STORE 2 +FLAGS (\\Seen)")
    time.sleep(0.3)  # the change signal crosses processes by polling
    lines = a.command(b"NOOP")
    assert b"* 4 EXISTS\r\n" in lines
    assert any(re.match(rb"\* 2 FETCH \(FLAGS \(\\Seen( \\Recent)?\)\)", line) for line in lines), lines
    lines = a.command(b"NOOP")
    assert lines == [lines[-1]]  # reported once only


def test_modseq_increases_on_every_change(pair) -> None:
    a, b = pair
    a.command(b"ENABLE CONDSTORE")
    first = a.command(b"FETCH 1 (MODSEQ)")[0]
    a.command(b"STORE 1 +FLAGS (\\Answered)")
    second = a.command(b"FETCH 1 (MODSEQ)")[0]
    m1 = int(re.search(rb"MODSEQ \((\d+)\)", first).group(1))
    m2 = int(re.search(rb"MODSEQ \((\d+)\)", second).group(1))
    assert m2 > m1


def test_recent_is_given_to_one_session_only(server: RunningServer) -> None:
    a = RawImap(server.ports["imaps"], tls=True)
    b = RawImap(server.ports["imaps"], tls=True)
    try:
        for s in (a, b):
            s.login("bob@example.com", PASSWORD)
        deliver(server, 2, "bob@example.com")
        first = a.command(b"SELECT INBOX")
        second = b.command(b"SELECT INBOX")
        assert b"* 2 RECENT\r\n" in first
        assert b"* 0 RECENT\r\n" in second
    finally:
        a.close()
        b.close()


def test_idle_reports_expunge_and_exists_from_another_session(server: RunningServer, pair) -> None:
    a, b = pair
    a.send(b"i1 IDLE\r\n")
    assert a.line().startswith(b"+ ")
    b.command(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\\Deleted", a.line())  # the flag change, pushed
    started = time.monotonic()
    b.command(b"EXPUNGE")
    assert a.line() == b"* 1 EXPUNGE\r\n"
    assert time.monotonic() - started < 1.0
    deliver(server)
    started = time.monotonic()
    lines = [a.line()]
    assert lines[0] == b"* 3 EXISTS\r\n", lines
    assert time.monotonic() - started < 1.0
    a.send(b"DONE\r\n")
    rest = a.until_tag(b"i1")
    assert rest[-1].startswith(b"i1 OK")
