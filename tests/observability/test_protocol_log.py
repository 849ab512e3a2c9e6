"""Protocol log: line scanning with secrets masked, Exchange's CSV format,
roll-over by time and by size."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mailgate.observability.protocol_log import FIELDS, LogConfig, ProtocolLog
from mailgate.observability.wire import MASK, ImapScanner, Pop3Scanner
from mailgate.settings import UNLIMITED, RollOver


def _imap(*steps: tuple[str, bytes]) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    scanner = ImapScanner(lambda e, d: events.append((e, d)))
    for direction, data in steps:
        (scanner.received if direction == "c" else scanner.sent)(data)
    return events


def test_imap_login_password_is_masked_in_every_form() -> None:
    assert _imap(("c", b"a LOGIN alice s3cret\r\n")) == [("<", f"a LOGIN alice {MASK}")]
    assert _imap(("c", b'a LOGIN "al ice" "s3 \\"cret"\r\n')) == [("<", f'a LOGIN "al ice" {MASK}')]
    events = _imap(("c", b"a LOGIN {5}\r\n"), ("s", b"+ Ready\r\n"), ("c", b"alice {6}\r\n"),
                   ("s", b"+ Ready\r\n"), ("c", b"s3cret\r\n"), ("s", b"a OK Logged in.\r\n"),
                   ("c", b"b NOOP\r\n"))
    assert "s3cret" not in str(events) and "alice" not in str(events)
    assert events[-2:] == [(">", "a OK Logged in."), ("<", "b NOOP")]


def test_imap_sasl_is_masked_both_ways_until_the_verdict() -> None:
    events = _imap(("c", b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"), ("s", b"a OK done\r\n"),
                   ("c", b"b AUTHENTICATE LOGIN\r\n"), ("s", b"+ VXNlcm5hbWU6\r\n"), ("c", b"YWxpY2U=\r\n"),
                   ("s", b"+ UGFzc3dvcmQ6\r\n"), ("c", b"c2VjcmV0\r\n"), ("s", b"b NO failed\r\n"),
                   ("c", b"c NOOP\r\n"))
    assert events == [("<", f"a AUTHENTICATE PLAIN {MASK}"), (">", "a OK done"),
                      ("<", "b AUTHENTICATE LOGIN"), (">", f"+ {MASK}"), ("<", MASK), (">", f"+ {MASK}"),
                      ("<", MASK), (">", "b NO failed"), ("<", "c NOOP")]


def test_imap_literals_are_not_logged() -> None:
    body = b"Subject: hi\r\n\r\nsecret body\r\n"
    events = _imap(("c", b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n"), ("s", b"a OK done\r\n"),
                   ("s", b"* 1 FETCH (BODY[] {%d}\r\n" % len(body) + body + b")\r\n"))
    assert "secret body" not in str(events)
    assert [d for _, d in events] == [f"a APPEND INBOX {{{len(body)}+}}", "a OK done",
                                      f"* 1 FETCH (BODY[] {{{len(body)}}}", ")"]


def test_imap_compress_stops_logging() -> None:
    events = _imap(("c", b"a COMPRESS DEFLATE\r\n"), ("s", b"a OK DEFLATE active.\r\n"), ("c", b"\x78\x9c..."))
    assert events[-1][0] == "*" and len(events) == 3


def _pop(*steps: tuple[str, bytes]) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    scanner = Pop3Scanner(lambda e, d: events.append((e, d)))
    for direction, data in steps:
        (scanner.received if direction == "c" else scanner.sent)(data)
    return events


def test_pop3_pass_and_sasl_masked_bodies_skipped() -> None:
    events = _pop(("c", b"USER alice\r\nPASS s3cret\r\n"), ("s", b"+OK\r\n+OK Logged in\r\n"),
                  ("c", b"RETR 1\r\nLIST 1\r\n"), ("s", b"+OK 30 octets\r\nSubject: hi\r\n\r\n+OK not a reply\r\n.\r\n"),
                  ("s", b"+OK 1 30\r\n"), ("c", b"AUTH PLAIN\r\n"), ("s", b"+ \r\n"), ("c", b"AGFsaWNlAHM=\r\n"),
                  ("s", b"-ERR [AUTH] failed\r\n"), ("c", b"QUIT\r\n"))
    assert events == [("<", "USER alice"), ("<", f"PASS {MASK}"), (">", "+OK"), (">", "+OK Logged in"),
                      ("<", "RETR 1"), ("<", "LIST 1"), (">", "+OK 30 octets"), (">", "+OK 1 30"),
                      ("<", "AUTH PLAIN"), (">", f"+ {MASK}"), ("<", MASK), (">", "-ERR [AUTH] failed"),
                      ("<", "QUIT")]


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    rows = list(csv.reader([line for line in lines if not line.startswith("#")]))
    return header, rows


def test_csv_format_and_sequence_numbers(tmp_path: Path) -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    log = ProtocolLog("imap4", clock=lambda: now)
    log.configure(LogConfig(True, tmp_path))
    session = log.session("sid-1", "127.0.0.1:993", "192.0.2.1:5555")
    assert session is not None
    session.sent(b"* OK ready, \"quoted\"\r\n")
    session.received(b"a LOGIN alice pw\r\n")
    session.closed()
    header, rows = _read(tmp_path / "IMAP42024050607-1.LOG")
    assert f"#Fields: {','.join(FIELDS)}" in header and "#Log-type: IMAP4 Protocol Log" in header
    assert rows[0] == ["2024-05-06T07:08:09.123Z", "", "sid-1", "0", "127.0.0.1:993", "192.0.2.1:5555", "+", "", ""]
    assert [r[3] for r in rows] == ["0", "1", "2", "3"]
    assert [(r[6], r[7]) for r in rows[1:]] == [(">", '* OK ready, "quoted"'), ("<", f"a LOGIN alice {MASK}"),
                                              ("-", "")]


def test_disabled_log_writes_nothing(tmp_path: Path) -> None:
    log = ProtocolLog("pop3")
    log.configure(LogConfig(False, tmp_path))
    assert log.session("s", "l", "r") is None
    assert not list(tmp_path.iterdir())


def test_rolls_over_by_time(tmp_path: Path) -> None:
    now = [datetime(2024, 5, 6, 7, 59, tzinfo=timezone.utc)]
    log = ProtocolLog("pop3", clock=lambda: now[0])
    log.configure(LogConfig(True, tmp_path, RollOver.HOURLY))
    log.write("s", 0, "l", "r", "+", "")
    now[0] += timedelta(minutes=2)
    log.write("s", 1, "l", "r", "-", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["POP32024050607-1.LOG", "POP32024050608-1.LOG"]
    log.configure(LogConfig(True, tmp_path / "d", RollOver.DAILY))
    log.write("s", 0, "l", "r", "+", "")
    log.configure(LogConfig(True, tmp_path / "w", RollOver.WEEKLY))
    log.write("s", 0, "l", "r", "+", "")
    log.configure(LogConfig(True, tmp_path / "m", RollOver.MONTHLY))
    log.write("s", 0, "l", "r", "+", "")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["POP320240506-1.LOG"]
    assert [p.name for p in (tmp_path / "w").iterdir()] == ["POP320240506-1.LOG"]  # a Monday
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["POP3202405-1.LOG"]


def test_rolls_over_by_size_or_never(tmp_path: Path) -> None:
    now = datetime(2024, 5, 6, tzinfo=timezone.utc)
    log = ProtocolLog("imap4", clock=lambda: now)
    log.configure(LogConfig(True, tmp_path, RollOver.HOURLY, 600))
    for i in range(20):
        log.write("s", i, "l", "r", "<", "x" * 40)
    files = sorted(tmp_path.iterdir())
    assert len(files) > 2 and all(f.stat().st_size <= 600 for f in files)
    assert files[0].name == "IMAP420240506-1.LOG"
    single = tmp_path / "one"
    log.configure(LogConfig(True, single, RollOver.HOURLY, UNLIMITED))
    for i in range(50):
        log.write("s", i, "l", "r", "<", "x" * 40)
    assert [p.name for p in single.iterdir()] == ["IMAP4.LOG"]
