"""Every command parsed from a transcript, whole and one byte at a time."""

from __future__ import annotations

import datetime as dt

import pytest

from mailgate.protocol.imap import Invalid, Literal, NeedContinuation, SequenceSet
from mailgate.protocol.imap import commands as c
from mailgate.protocol.imap import fetch_items as f
from mailgate.protocol.imap import search_keys as s
from mailgate.protocol.imap.responses import AtomsCode

from imap_helpers import commands_only, events_bytewise, events_chunked, events_whole

S = SequenceSet
ALL = S(((1, None),))
UTC = dt.timezone.utc

CASES: list[tuple[bytes, object]] = [
    # any state
    (b"a CAPABILITY\r\n", c.Capability("a")),
    (b"a noop\r\n", c.Noop("a")),
    (b"a LOGOUT\r\n", c.Logout("a")),
    (b'a ID ("name" "Thunderbird" "version" NIL)\r\n',
     c.Id("a", (("name", "Thunderbird"), ("version", None)))),
    (b"a ID NIL\r\n", c.Id("a", None)),
    (b"a ID ()\r\n", c.Id("a", ())),
    # not authenticated
    (b"a STARTTLS\r\n", c.StartTLS("a")),
    (b"a AUTHENTICATE plain\r\n", c.Authenticate("a", "PLAIN", None)),
    (b"a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\n", c.Authenticate("a", "PLAIN", b"\0joe\0secret")),
    (b"a AUTHENTICATE PLAIN =\r\n", c.Authenticate("a", "PLAIN", b"")),
    (b"a LOGIN joe secret\r\n", c.Login("a", "joe", b"secret")),
    (b'a LOGIN "joe@example.com" "p\\"w\\\\d"\r\n', c.Login("a", "joe@example.com", b'p"w\\d')),
    (b"a LOGIN {3}\r\njoe {6+}\r\nsecret\r\n", c.Login("a", "joe", b"secret")),
    # authenticated
    (b"a ENABLE CONDSTORE qresync\r\n", c.Enable("a", ("CONDSTORE", "QRESYNC"))),
    (b"a SELECT inbox\r\n", c.Select("a", "INBOX")),
    (b"a EXAMINE Archive/2024\r\n", c.Select("a", "Archive/2024", readonly=True)),
    (b"a SELECT INBOX (CONDSTORE)\r\n", c.Select("a", "INBOX", condstore=True)),
    (b"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
     c.Select("a", "INBOX", qresync=c.QResync(67890007, 20050715194045000,
                                                S(((41, 41), (43, 211), (214, 541)))))),
    (b"a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:6,8:10 1:6,8:10)))\r\n",
     c.Select("a", "INBOX", qresync=c.QResync(67890007, 90060115194045000, S(((41, 211), (214, 541))),
                                                (S(((1, 6), (8, 10))), S(((1, 6), (8, 10))))))),
    (b"a SELECT &ZeVnLIqe-\r\n", c.Select("a", "\u65e5\u672c\u8a9e")),
    (b"a CREATE Drafts2 (USE (\\drafts))\r\n", c.Create("a", "Drafts2", ("\\Drafts",))),
    (b"a CREATE foo/bar\r\n", c.Create("a", "foo/bar")),
    (b"a DELETE foo\r\n", c.Delete("a", "foo")),
    (b'a RENAME "old name" new\r\n', c.Rename("a", "old name", "new")),
    (b"a SUBSCRIBE foo\r\n", c.Subscribe("a", "foo")),
    (b"a UNSUBSCRIBE foo\r\n", c.Unsubscribe("a", "foo")),
    (b'a LIST "" *\r\n', c.List("a", "", ("*",))),
    (b'a LIST "" %/]x\r\n', c.List("a", "", ("%/]x",))),
    (b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX*" "Entw&APw-rfe") '
     b'RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n',
     c.List("a", "", ("INBOX*", "Entw\u00fcrfe"), ("SUBSCRIBED", "RECURSIVEMATCH"),
            ("CHILDREN", "STATUS"), ("MESSAGES", "UNSEEN"), True)),
    (b'a LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE)\r\n',
     c.List("a", "", ("*",), ("SPECIAL-USE",), ("SPECIAL-USE",), (), True)),
    (b'a LIST "" % RETURN ()\r\n', c.List("a", "", ("%",), (), (), (), True)),
    (b'a LSUB "" *\r\n', c.Lsub("a", "", "*")),
    (b"a NAMESPACE\r\n", c.Namespace("a")),
    (b"a STATUS INBOX (MESSAGES UIDNEXT SIZE HIGHESTMODSEQ DELETED APPENDLIMIT)\r\n",
     c.Status("a", "INBOX", ("MESSAGES", "UIDNEXT", "SIZE", "HIGHESTMODSEQ", "DELETED", "APPENDLIMIT"))),
    (b"a APPEND INBOX {5}\r\nhello\r\n",
     c.Append("a", "INBOX", (c.AppendMessage(Literal.from_bytes(b"hello")),))),
    (b'a APPEND Sent (\\Seen $Label1) "05-Feb-2024 10:11:12 +0100" {5+}\r\nhello\r\n',
     c.Append("a", "Sent", (c.AppendMessage(Literal.from_bytes(b"hello"), ("\\Seen", "$Label1"),
                                            dt.datetime(2024, 2, 5, 10, 11, 12,
                                                        tzinfo=dt.timezone(dt.timedelta(hours=1)))),))),
    (b'a APPEND INBOX " 7-Feb-1994 21:52:25 -0800" ~{3}\r\na\0b () {2}\r\nhi\r\n',
     c.Append("a", "INBOX", (
         c.AppendMessage(Literal.from_bytes(b"a\0b", binary=True), (),
                         dt.datetime(1994, 2, 7, 21, 52, 25, tzinfo=dt.timezone(-dt.timedelta(hours=8)))),
         c.AppendMessage(Literal.from_bytes(b"hi"))))),
    (b"a APPEND INBOX UTF8 (~{2+}\r\nhi)\r\n",
     c.Append("a", "INBOX", (c.AppendMessage(Literal.from_bytes(b"hi", binary=True), utf8=True),))),
    (b"a IDLE\r\n", c.Idle("a")),
    (b"a COMPRESS DEFLATE\r\n", c.Compress("a", "DEFLATE")),
    (b'a GETQUOTA ""\r\n', c.GetQuota("a", "")),
    (b"a GETQUOTAROOT INBOX\r\n", c.GetQuotaRoot("a", "INBOX")),
    (b'a SETQUOTA "" (STORAGE 512 MESSAGE 1000)\r\n', c.SetQuota("a", "", (("STORAGE", 512), ("MESSAGE", 1000)))),
    # selected
    (b"a CHECK\r\n", c.Check("a")),
    (b"a CLOSE\r\n", c.Close("a")),
    (b"a UNSELECT\r\n", c.Unselect("a")),
    (b"a EXPUNGE\r\n", c.Expunge("a")),
    (b"a UID EXPUNGE 3000:3002\r\n", c.Expunge("a", S(((3000, 3002),)))),
    (b"a SEARCH ALL\r\n", c.Search("a", key=s.All())),
    (b"a UID SEARCH RETURN (MIN MAX COUNT SAVE) UNSEEN\r\n",
     c.Search("a", True, None, s.Flag("\\Seen", False), ("MIN", "MAX", "COUNT", "SAVE"))),
    (b"a SEARCH RETURN () ALL\r\n", c.Search("a", key=s.All(), returns=())),
    (b'a SEARCH CHARSET UTF-8 OR (FROM "x" SUBJECT {3+}\r\nabc) NOT SEEN 1:5 SINCE 1-Feb-2024\r\n',
     c.Search("a", charset="UTF-8", key=s.And((
         s.Or(s.And((s.Header("FROM", "x"), s.Header("SUBJECT", "abc"))), s.Not(s.Flag("\\Seen"))),
         s.Seq(S(((1, 5),))), s.Date("INTERNAL", "SINCE", dt.date(2024, 2, 1)))))),
    (b'a SEARCH HEADER X-Spam "" LARGER 100 SMALLER 2000 UID 1:* KEYWORD $Junk UNKEYWORD foo '
     b'BODY b TEXT t SENTON "3-Mar-2023" BCC b CC c TO t NEW OLD RECENT DRAFT UNDRAFT ANSWERED '
     b'UNANSWERED DELETED UNDELETED FLAGGED UNFLAGGED BEFORE 1-Jan-2000 ON 2-Jan-2000 '
     b'SENTBEFORE 1-Jan-2000 SENTSINCE 1-Jan-2000 OLDER 60 YOUNGER 30 $ *:4\r\n',
     c.Search("a", key=s.And((
         s.Header("X-SPAM", ""), s.Size(True, 100), s.Size(False, 2000), s.Seq(ALL, uid=True),
         s.Flag("$Junk"), s.Flag("foo", False), s.Body("b"), s.Body("t", True),
         s.Date("SENT", "ON", dt.date(2023, 3, 3)), s.Header("BCC", "b"), s.Header("CC", "c"),
         s.Header("TO", "t"), s.And((s.Flag("\\Recent"), s.Flag("\\Seen", False))),
         s.Flag("\\Recent", False), s.Flag("\\Recent"), s.Flag("\\Draft"), s.Flag("\\Draft", False),
         s.Flag("\\Answered"), s.Flag("\\Answered", False), s.Flag("\\Deleted"),
         s.Flag("\\Deleted", False), s.Flag("\\Flagged"), s.Flag("\\Flagged", False),
         s.Date("INTERNAL", "BEFORE", dt.date(2000, 1, 1)), s.Date("INTERNAL", "ON", dt.date(2000, 1, 2)),
         s.Date("SENT", "BEFORE", dt.date(2000, 1, 1)), s.Date("SENT", "SINCE", dt.date(2000, 1, 1)),
         s.Age(True, 60), s.Age(False, 30), s.Seq(S(saved=True)), s.Seq(S(((None, 4),))))))),
    (b'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338\r\n',
     c.Search("a", key=s.ModSeq(620162338, "/flags/\\draft", "ALL"))),
    (b"a SEARCH MODSEQ 5\r\n", c.Search("a", key=s.ModSeq(5))),
    (b"a SEARCH CHARSET ISO-8859-1 SUBJECT {1}\r\n\xe9\r\n",
     c.Search("a", charset="ISO-8859-1", key=s.Header("SUBJECT", "\u00e9"))),
    (b"a SORT (REVERSE ARRIVAL SUBJECT) UTF-8 ALL\r\n",
     c.Sort("a", False, (c.SortCriterion("ARRIVAL", True), c.SortCriterion("SUBJECT")), "UTF-8", s.All())),
    (b"a UID SORT (DATE) US-ASCII UNSEEN\r\n",
     c.Sort("a", True, (c.SortCriterion("DATE"),), "US-ASCII", s.Flag("\\Seen", False))),
    (b"a THREAD REFERENCES UTF-8 SINCE 5-MAR-2000\r\n",
     c.Thread("a", False, "REFERENCES", "UTF-8", s.Date("INTERNAL", "SINCE", dt.date(2000, 3, 5)))),
    (b"a UID THREAD ORDEREDSUBJECT UTF-8 ALL\r\n", c.Thread("a", True, "ORDEREDSUBJECT", "UTF-8", s.All())),
    (b"a FETCH 1:* ALL\r\n", c.Fetch("a", False, ALL, f.MACROS["ALL"])),
    (b"a FETCH 1 fast\r\n", c.Fetch("a", False, S(((1, 1),)), f.MACROS["FAST"])),
    (b"a FETCH 1 FULL\r\n", c.Fetch("a", False, S(((1, 1),)), f.MACROS["FULL"])),
    (b"a FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
     c.Fetch("a", False, S(((2, 4),)), (f.FetchAttr("FLAGS"),
                                        f.FetchBody(f.Section((), "HEADER.FIELDS", ("DATE", "FROM")))))),
    (b"a FETCH 1 (BODY.PEEK[1.2.MIME] BODY[1.HEADER.FIELDS.NOT (X-A)] BODY[TEXT]<0.2048> BODY[] "
     b"BODY[3] BODY[3.TEXT] BINARY.PEEK[1]<5.10> BINARY[] BINARY.SIZE[2] RFC822 RFC822.HEADER "
     b"RFC822.SIZE RFC822.TEXT ENVELOPE BODYSTRUCTURE BODY UID INTERNALDATE MODSEQ)\r\n",
     c.Fetch("a", False, S(((1, 1),)), (
         f.FetchBody(f.Section((1, 2), "MIME"), peek=True),
         f.FetchBody(f.Section((1,), "HEADER.FIELDS.NOT", ("X-A",))),
         f.FetchBody(f.Section((), "TEXT"), partial=(0, 2048)), f.FetchBody(),
         f.FetchBody(f.Section((3,))), f.FetchBody(f.Section((3,), "TEXT")),
         f.FetchBinary((1,), True, (5, 10)), f.FetchBinary(), f.FetchBinarySize((2,)),
         f.FetchAttr("RFC822"), f.FetchAttr("RFC822.HEADER"), f.FetchAttr("RFC822.SIZE"),
         f.FetchAttr("RFC822.TEXT"), f.FetchAttr("ENVELOPE"), f.FetchAttr("BODYSTRUCTURE"),
         f.FetchAttr("BODY"), f.FetchAttr("UID"), f.FetchAttr("INTERNALDATE"), f.FetchAttr("MODSEQ")))),
    (b"a UID FETCH 300:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
     c.Fetch("a", True, S(((300, None),)), (f.FetchAttr("FLAGS"),), 12345, True)),
    (b"a FETCH 1:* FLAGS (CHANGEDSINCE 7)\r\n",
     c.Fetch("a", False, ALL, (f.FetchAttr("FLAGS"),), 7)),
    (b"a STORE 1 FLAGS (\\Seen)\r\n", c.Store("a", False, S(((1, 1),)), "REPLACE", False, ("\\Seen",))),
    (b"a STORE 1:3 +FLAGS.SILENT \\Deleted \\seen\r\n",
     c.Store("a", False, S(((1, 3),)), "ADD", True, ("\\Deleted", "\\Seen"))),
    (b"a UID STORE 7 -flags ()\r\n", c.Store("a", True, S(((7, 7),)), "REMOVE", False, ())),
    (b"a STORE 1 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT ($Important)\r\n",
     c.Store("a", False, S(((1, 1),)), "ADD", True, ("$Important",), 320162338)),
    (b"a COPY 2:4 Archive\r\n", c.Copy("a", False, S(((2, 4),)), "Archive")),
    (b"a UID COPY $ Archive\r\n", c.Copy("a", True, S(saved=True), "Archive")),
    (b"a MOVE 1,3 Trash\r\n", c.Move("a", False, S(((1, 1), (3, 3))), "Trash")),
    (b"a uid move 9:5 Trash\r\n", c.Move("a", True, S(((9, 5),)), "Trash")),
]

INVALID: list[tuple[bytes, str | None, str]] = [
    (b"a FOO\r\n", "a", "BAD"),
    (b"a UID NOOP\r\n", "a", "BAD"),
    (b"a NOOP extra\r\n", "a", "BAD"),
    (b"a\r\n", "a", "BAD"),
    (b"+ NOOP\r\n", None, "BAD"),
    (b"a LOGIN joe\r\n", "a", "BAD"),
    (b"a STORE 1 FLAGS \\Recent\r\n", "a", "BAD"),
    (b"a STORE 0 FLAGS \\Seen\r\n", "a", "BAD"),
    (b"a FETCH 1 (FLAGS) (VANISHED)\r\n", "a", "BAD"),
    (b"a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n", "a", "BAD"),
    (b"a FETCH 1 BODY[1.]\r\n", "a", "BAD"),
    (b"a FETCH 1 BODY[MIME]\r\n", "a", "BAD"),
    (b"a FETCH 1 BODY.PEEK\r\n", "a", "BAD"),
    (b"a FETCH 1 BODY[]<1.0>\r\n", "a", "BAD"),
    (b"a SEARCH CHARSET X-NOPE TEXT x\r\n", "a", "NO"),
    (b"a SEARCH 1:5,$\r\n", "a", "BAD"),
    (b"a SEARCH SINCE 31-Feb-2024\r\n", "a", "BAD"),
    (b"a SEARCH RETURN (FOO) ALL\r\n", "a", "BAD"),
    (b"a SELECT INBOX (FOO)\r\n", "a", "BAD"),
    (b"a SELECT caf\xc3\xa9\r\n", "a", "BAD"),
    (b"a SELECT &AGE-\r\n", "a", "BAD"),
    (b"a LIST (RECURSIVEMATCH) \"\" *\r\n", "a", "BAD"),
    (b"a LIST (BOGUS) \"\" *\r\n", "a", "BAD"),
    (b"a STATUS INBOX (FOO)\r\n", "a", "BAD"),
    (b"a APPEND INBOX\r\n", "a", "BAD"),
    (b'a APPEND INBOX "30-Feb-2024 00:00:00 +0000" {1}\r\nx\r\n', "a", "BAD"),
    (b"a LOGIN ~{1}\r\nx y\r\n", "a", "BAD"),
    (b"a LOGIN \"x{1}\r\ny\" z\r\n", "a", "BAD"),
    (b"a AUTHENTICATE PLAIN !!!\r\n", "a", "BAD"),
    (b"a CREATE x (USE (\\Nonsense))\r\n", "a", "BAD"),
    (b"a FETCH 99999999999999999999999 FLAGS\r\n", "a", "BAD"),
    (b"a FETCH 1:" + b"9" * 5000 + b" FLAGS\r\n", "a", "BAD"),
    (b"a SEARCH " + b"(" * 200 + b"ALL" + b")" * 200 + b"\r\n", "a", "BAD"),
    (b"a SEARCH " + b"NOT " * 2000 + b"ALL\r\n", "a", "BAD"),
]


def _ids(cases):
    return [case[0][:40].decode("latin-1") for case in cases]


@pytest.mark.parametrize("data,expected", CASES, ids=_ids(CASES))
def test_command_parses(data: bytes, expected: object) -> None:
    events = events_whole(data)
    assert commands_only(events) == [expected]
    assert events_bytewise(data) == events


@pytest.mark.parametrize("data,tag,status", INVALID, ids=_ids(INVALID))
def test_invalid_command(data: bytes, tag: str | None, status: str) -> None:
    events = commands_only(events_whole(data))
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, Invalid), ev
    assert (ev.tag, ev.status) == (tag, status)
    assert ev.text
    assert events_bytewise(data) == events_whole(data)


def test_badcharset_code() -> None:
    (ev,) = events_whole(b"a SEARCH CHARSET X-NOPE ALL\r\n")
    assert ev.code == AtomsCode("BADCHARSET", ("UTF-8", "US-ASCII"), True)


def test_sync_literals_ask_for_continuation() -> None:
    events = events_whole(b"a LOGIN {3}\r\njoe {6}\r\nsecret\r\n")
    assert events == [NeedContinuation("a", 3), NeedContinuation("a", 6), c.Login("a", "joe", b"secret")]


def test_whole_transcript_every_split() -> None:
    transcript = b"".join(data for data, _ in CASES) + b"".join(data for data, *_ in INVALID)
    whole = events_whole(transcript)
    assert len(commands_only(whole)) == len(CASES) + len(INVALID)
    assert events_bytewise(transcript) == whole
    for step in (2, 3, 7, 64, 1000):
        assert events_chunked(transcript, list(range(0, len(transcript), step))) == whole
