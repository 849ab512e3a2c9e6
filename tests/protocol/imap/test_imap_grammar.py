"""Grammar elements, sequence sets, modified UTF-7, the state table."""

from __future__ import annotations

import datetime as dt

import pytest

from mailgate.protocol.imap import (ALLOWED, MUTF7Error, SequenceSet, State, allowed, commands_for,
                                    mutf7_decode, mutf7_encode, parse_command)
from mailgate.protocol.imap import commands as c
from mailgate.protocol.imap import grammar as g
from mailgate.protocol.imap.parser import COMMANDS, UID_COMMANDS


def cur(text: bytes, utf8: bool = False) -> g.Cursor:
    return g.Cursor(text, utf8=utf8)


# -- sequence sets --------------------------------------------------------------------

@pytest.mark.parametrize("text,ranges", [
    (b"1", ((1, 1),)),
    (b"1:*", ((1, None),)),
    (b"*", ((None, None),)),
    (b"*:4", ((None, 4),)),
    (b"7:2", ((7, 2),)),
    (b"2,4:7,9,12:*", ((2, 2), (4, 7), (9, 9), (12, None))),
    (b"4294967295", ((4294967295, 4294967295),)),
])
def test_sequence_set_parse(text: bytes, ranges: tuple) -> None:
    x = cur(text)
    assert g.sequence_set(x) == SequenceSet(ranges) and x.at_end()
    assert str(SequenceSet(ranges)).encode() == text


@pytest.mark.parametrize("text", [b"0", b"1:0", b"4294967296", b",1", b"1,", b"1::2", b":", b"a", b"$,1",
                                  b"-1", b""])
def test_sequence_set_rejects(text: bytes) -> None:
    x = cur(text)
    try:
        g.sequence_set(x)
    except g.ParseError:
        return
    assert not x.at_end()  # stopped early: the caller sees leftover text


def test_saved_result() -> None:
    assert g.sequence_set(cur(b"$")) == SequenceSet(saved=True)
    with pytest.raises(ValueError):
        SequenceSet(saved=True).intervals(5)
    assert str(SequenceSet(saved=True)) == "$"


def test_sequence_set_resolution() -> None:
    s = SequenceSet(((None, 4), (2, 3), (10, 12)))
    assert s.intervals(6) == [(2, 6), (10, 12)]  # "*:4" with * = 6 is 4:6
    assert list(s.iter(11)) == list(range(2, 12))  # now 4:11, merged with the rest, capped
    assert SequenceSet.all().intervals(0) == []  # empty mailbox: "1:*" matches nothing
    assert SequenceSet(((None, None),)).intervals(0) == []
    assert SequenceSet(((1, 4000000000),)).select([3, 9, 4000000001]) == [3, 9]
    assert list(SequenceSet(((1, 4294967295),)).iter(3)) == [1, 2, 3]  # cheap
    assert SequenceSet(((5, None),)).select([1, 2, 3]) == [3]  # 5:* includes the largest UID


# -- strings, numbers ------------------------------------------------------------------

def test_quoted_string_escapes() -> None:
    assert g.astring(cur(b'"a\\"b\\\\c"')) == b'a"b\\c'
    for bad in (b'"a\\x"', b'"abc', b'"a\rb"', b'"a\nb"', b'"a\0b"'):
        with pytest.raises(g.ParseError):
            g.astring(cur(bad))
    assert g.astring(cur(b'"caf\xc3\xa9"')) == b"caf\xc3\xa9"


def test_astring_allows_close_bracket_atom_does_not() -> None:
    assert g.astring(cur(b"a]b")) == b"a]b"
    x = cur(b"a]b")
    assert g.atom(x) == b"a" and not x.at_end()


def test_nstring() -> None:
    assert g.nstring(cur(b"NIL")) is None
    assert g.nstring(cur(b'""')) == b""


def test_numbers() -> None:
    assert g.number(cur(b"0")) == 0
    assert g.number(cur(b"000004294967295")) == 4294967295
    assert g.number64(cur(b"9223372036854775807")) == 2**63 - 1
    for bad, fn in ((b"4294967296", g.number), (b"9223372036854775808", g.number64),
                    (b"0", g.nz_number), (b"x", g.number), (b"9" * 5000, g.number64)):
        with pytest.raises(g.ParseError):
            fn(cur(bad))


# -- dates -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    (b"1-Feb-2024", dt.date(2024, 2, 1)),
    (b"01-feb-2024", dt.date(2024, 2, 1)),
    (b'"29-Feb-2024"', dt.date(2024, 2, 29)),
    (b"31-DEC-1999", dt.date(1999, 12, 31)),
])
def test_date(text: bytes, value: dt.date) -> None:
    assert g.date(cur(text)) == value


@pytest.mark.parametrize("text", [b"29-Feb-2023", b"1-Foo-2024", b"1-Feb-24", b"123-Feb-2024",
                                  b"1 Feb 2024", b'"1-Feb-2024', b"0-Jan-2000"])
def test_bad_date(text: bytes) -> None:
    with pytest.raises(g.ParseError):
        g.date(cur(text))


def test_date_time() -> None:
    assert g.date_time(cur(b'" 7-Feb-1994 21:52:25 -0800"')) == dt.datetime(
        1994, 2, 7, 21, 52, 25, tzinfo=dt.timezone(-dt.timedelta(hours=8)))
    assert g.date_time(cur(b'"17-Jul-1996 02:44:25 +0530"')).utcoffset() == dt.timedelta(hours=5, minutes=30)
    for bad in (b'"7-Feb-1994 21:52:25 -0800"', b'"07-Feb-1994 25:52:25 -0800"',
                b'"07-Feb-1994 21:52:25 0800"', b'"07-Feb-1994 21:52:25 -0860"',
                b"07-Feb-1994 21:52:25 -0800"):
        with pytest.raises(g.ParseError):
            g.date_time(cur(bad))


# -- flags and folder names -------------------------------------------------------------

def test_flags() -> None:
    assert g.flag_list(cur(b"(\\SEEN \\deleted $Forwarded \\X-Ext)")) == (
        "\\Seen", "\\Deleted", "$Forwarded", "\\X-Ext")
    assert g.flag_list(cur(b"()")) == ()
    with pytest.raises(g.ParseError):
        g.flag_list(cur(b"(\\)"))


def test_mailbox_names() -> None:
    assert g.mailbox(cur(b"inbox")) == "INBOX"
    assert g.mailbox(cur(b'"InBoX"')) == "INBOX"
    assert g.mailbox(cur(b"INBOX.sub")) == "INBOX.sub"
    assert g.mailbox(cur(b"Entw&APw-rfe")) == "Entw\u00fcrfe"
    assert g.mailbox(cur(b"a&-b")) == "a&b"
    assert g.mailbox(cur('"Entwürfe"'.encode(), utf8=True)) == "Entw\u00fcrfe"
    with pytest.raises(g.ParseError):
        g.mailbox(cur('"Entwürfe"'.encode()))  # 8-bit without UTF8=ACCEPT
    with pytest.raises(g.ParseError):
        g.mailbox(cur(b'"\xff"', utf8=True))


def test_utf8_mode_in_commands() -> None:
    cmd = parse_command('a SELECT "Entwürfe"'.encode(), utf8=True)
    assert cmd == c.Select("a", "Entw\u00fcrfe")


# -- modified UTF-7 -------------------------------------------------------------------

@pytest.mark.parametrize("name,wire", [
    ("INBOX", b"INBOX"),
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("&", b"&-"),
    ("Entw\u00fcrfe", b"Entw&APw-rfe"),
    ("\u00e4\u00f6\u00fc", b"&AOQA9gD8-"),
    ("x\U0001F600", b"x&2D3eAA-"),
    ("", b""),
])
def test_mutf7_examples(name: str, wire: bytes) -> None:
    assert mutf7_encode(name) == wire
    assert mutf7_decode(wire) == name


@pytest.mark.parametrize("wire", [
    b"&", b"&AOQ", b"&AGE-", b"&AOQ-&APY-", b"&AOQ=-", b"&AOQ/-", b"\xc3\xa4", b"a\tb",
    b"&2D0-", b"&AOR-", b"&A-",
])
def test_mutf7_rejects_non_canonical(wire: bytes) -> None:
    with pytest.raises(MUTF7Error):
        mutf7_decode(wire)


# -- states ------------------------------------------------------------------------------

def test_state_table_covers_every_command() -> None:
    assert set(ALLOWED) == set(COMMANDS)
    assert set(UID_COMMANDS) <= set(ALLOWED)


@pytest.mark.parametrize("state,name,ok", [
    (State.NOT_AUTHENTICATED, "LOGIN", True),
    (State.NOT_AUTHENTICATED, "SELECT", False),
    (State.NOT_AUTHENTICATED, "ID", True),
    (State.AUTHENTICATED, "LOGIN", False),
    (State.AUTHENTICATED, "ENABLE", True),
    (State.SELECTED, "ENABLE", False),
    (State.SELECTED, "FETCH", True),
    (State.AUTHENTICATED, "FETCH", False),
    (State.SELECTED, "IDLE", True),
    (State.LOGOUT, "NOOP", False),
    (State.SELECTED, "no-such", False),
])
def test_allowed(state: State, name: str, ok: bool) -> None:
    assert allowed(state, name) is ok


def test_allowed_takes_commands() -> None:
    assert allowed(State.AUTHENTICATED, c.Select("a", "INBOX", readonly=True))
    assert allowed(State.SELECTED, c.Fetch("a", uid=True))
    assert not allowed(State.NOT_AUTHENTICATED, c.Fetch("a", uid=True))
    assert commands_for(State.LOGOUT) == frozenset()
    assert "STARTTLS" in commands_for(State.NOT_AUTHENTICATED)


def test_protocol_core_imports_no_io() -> None:
    import ast
    import pathlib

    import mailgate.protocol.imap as pkg
    banned = {"asyncio", "socket", "ssl", "selectors"}
    for path in pathlib.Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in banned, (path.name, name)
                assert not name.startswith("mailgate.storage"), (path.name, name)
