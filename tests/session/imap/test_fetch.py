"""FETCH over MemoryStore + BlobStore: every item type, partials, nested
sections, \\Seen, CHANGEDSINCE, sequence-set rules, BINARY errors, streaming."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from mailgate import mime
from mailgate.protocol.imap import LiteralStream, chunks, to_bytes
from mailgate.protocol.imap import responses as r
from mailgate.session.imap import fetch as fetch_mod
from mailgate.session.imap.fetch import FetchOutcome, fetch_responses
from mailgate.session.imap.msgset import ReadCommandError

from reading_helpers import Mailbox, parse, parse_fetch, wire

SIMPLE = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: hello\r\n"
          b"Date: Mon, 15 Jan 2024 10:00:00 +0100\r\nMessage-ID: <m1@example.com>\r\n\r\n"
          b"Hello Bob,\r\nsee you.\r\n")

NESTED = (b"From: carol@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
          b"--outer\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
          b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
          b"From: dave@example.com\r\nSubject: inner\r\n"
          b"Content-Type: multipart/alternative; boundary=\"in\"\r\n\r\n"
          b"--in\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n"
          b"--in\r\nContent-Type: text/html\r\n\r\n<p>inner html</p>\r\n"
          b"--in--\r\n"
          b"--outer\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          + base64.encodebytes(b"\x00\x01binary\xff") .replace(b"\n", b"\r\n")
          + b"--outer--\r\n")

BAD_CTE = (b"Subject: bad\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-weird\r\n\r\nabc\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
           b"--b--\r\n")

NUL = b"Subject: nul\r\n\r\nbefore\x00after\r\n"


@pytest.fixture
async def mb(tmp_path):
    return await Mailbox(tmp_path).setup()


async def run(mb: Mailbox, line: str, **kw) -> tuple[bytes, r.Tagged, FetchOutcome]:
    cmd = parse(line)
    outcome = FetchOutcome()
    responses = [x async for x in fetch_responses(mb.ctx, cmd, outcome=outcome, **kw)]
    return wire(responses), outcome.tagged(cmd.tag), outcome


def items(data: bytes) -> list[dict]:
    return [i for _, i in parse_fetch(data)]


# -- simple attributes -----------------------------------------------------------------

async def test_flags_uid_size_internaldate_exact_bytes(mb):
    await mb.add(SIMPLE, flags=("\\Flagged", "$Work"),
                 date=dt.datetime(2024, 7, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    await mb.select(recent=True)
    data, tagged, _ = await run(mb, "FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)")
    assert data == (b'* 1 FETCH (UID 1 FLAGS ($Work \\Flagged \\Recent) RFC822.SIZE %d '
                    b'INTERNALDATE "01-Jul-2024 14:00:00 +0200")\r\n' % len(SIMPLE))
    assert tagged == r.Tagged("A1", "OK", "Fetch completed.")


async def test_uid_fetch_always_carries_uid_first(mb):
    for _ in range(3):
        await mb.add(SIMPLE)
    await mb.select()
    data, _, _ = await run(mb, "UID FETCH 2:3 FLAGS")
    assert data == b"* 2 FETCH (UID 2 FLAGS ())\r\n* 3 FETCH (UID 3 FLAGS ())\r\n"


async def test_envelope_body_bodystructure_come_from_the_summary(mb):
    await mb.add(NESTED)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)")
    s = mime.summarize(NESTED)
    assert data == (b"* 1 FETCH (ENVELOPE " + s.envelope + b" BODY " + s.body
                    + b" BODYSTRUCTURE " + s.bodystructure + b")\r\n")


async def test_macros_and_duplicate_items(mb):
    await mb.add(SIMPLE)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 1 ALL")
    assert set(items(data)[0]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
    data, _, _ = await run(mb, "FETCH 1 (RFC822.SIZE RFC822.SIZE UID UID)")
    assert data == b"* 1 FETCH (UID 1 RFC822.SIZE %d)\r\n" % len(SIMPLE)


async def test_flags_only_fetch_never_loads_messages(mb, monkeypatch):
    for _ in range(7):
        await mb.add(SIMPLE)
    await mb.select()
    calls = []
    originals = {name: getattr(mb.store, name) for name in ("get_messages", "get_summaries")}

    def spy(name):
        async def call(folder_id, uids, *args):
            calls.append((name, list(uids)))
            return await originals[name](folder_id, uids, *args)
        return call

    for name in originals:
        monkeypatch.setattr(mb.store, name, spy(name))
    data, _, _ = await run(mb, "FETCH 1:* (FLAGS UID MODSEQ)")
    assert len(parse_fetch(data)) == 7
    assert calls == []
    # ENVELOPE needs the summaries (not whole records): in batches, one store call per batch.
    data, _, _ = await run(mb, "FETCH 1:* (ENVELOPE)", batch=3)
    assert calls == [("get_summaries", [1, 2, 3]), ("get_summaries", [4, 5, 6]), ("get_summaries", [7])]
    assert len(parse_fetch(data)) == 7
    # A body section needs the records (the blob id).
    calls.clear()
    await run(mb, "FETCH 1:2 (BODY.PEEK[HEADER])", batch=3)
    assert calls == [("get_messages", [1, 2])]


# -- sections ----------------------------------------------------------------------------

async def test_body_sections_and_rfc822_forms(mb):
    await mb.add(SIMPLE)
    await mb.select()
    header, body = SIMPLE.split(b"\r\n\r\n", 1)
    header += b"\r\n\r\n"
    data, _, _ = await run(mb, "FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER)")
    got = items(data)[0]
    assert got["BODY[]"] == ("str", SIMPLE)
    assert got["BODY[HEADER]"] == ("str", header)
    assert got["BODY[TEXT]"] == ("str", body)
    assert got["RFC822.HEADER"] == ("str", header)
    assert "FLAGS" not in got  # PEEK and RFC822.HEADER leave \Seen alone
    data, _, _ = await run(mb, "FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME])")
    got = items(data)[0]
    assert got["BODY[1]"] == ("str", body)
    assert got["BODY[1.MIME]"] == ("str", header)  # single part: the message header


async def test_header_fields_and_not(mb):
    await mb.add(SIMPLE)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject FROM)] "
                              "BODY.PEEK[HEADER.FIELDS.NOT (From Subject Date Message-ID)])")
    got = items(data)[0]
    assert got["BODY[HEADER.FIELDS (SUBJECT FROM)]"] == (
        "str", b"From: Alice <alice@example.com>\r\nSubject: hello\r\n\r\n")
    assert got["BODY[HEADER.FIELDS.NOT (FROM SUBJECT DATE MESSAGE-ID)]"] == ("str", b"To: bob@example.com\r\n\r\n")
    assert b"BODY[HEADER.FIELDS (subject FROM)] {" in data  # the names are echoed as sent


async def test_sections_of_nested_message(mb):
    await mb.add(NESTED)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.HEADER] BODY.PEEK[2.1] "
                              "BODY.PEEK[2.2.MIME] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[2.TEXT]<0.4> "
                              "BODY.PEEK[9] BODY.PEEK[1.TEXT] BODY.PEEK[2.1.1])")
    got = items(data)[0]
    assert got["BODY[1]"] == ("str", b"See below.")
    assert got["BODY[2.HEADER]"][1].startswith(b"From: dave@example.com\r\nSubject: inner\r\n")
    assert got["BODY[2.HEADER]"][1].endswith(b"\r\n\r\n")
    assert got["BODY[2.1]"] == ("str", b"inner plain")
    assert got["BODY[2.2.MIME]"] == ("str", b"Content-Type: text/html\r\n\r\n")
    assert got["BODY[2.HEADER.FIELDS (SUBJECT)]"] == ("str", b"Subject: inner\r\n\r\n")
    assert got["BODY[2.TEXT]<0>"] == ("str", b"--in")
    assert got["BODY[9]"] is None  # no such part: NIL
    assert got["BODY[1.TEXT]"] is None  # TEXT only exists for message/rfc822 parts
    assert got["BODY[2.1.1]"] is None  # a leaf has no sub-parts


@pytest.mark.parametrize("spec,expected", [
    ("BODY.PEEK[]<0.4>", ("BODY[]<0>", b"From")),
    ("BODY.PEEK[]<6.5>", ("BODY[]<6>", b"Alice")),
    ("BODY.PEEK[TEXT]<100000.10>", ("BODY[TEXT]<100000>", b"")),
    ("BODY.PEEK[TEXT]<12.100>", ("BODY[TEXT]<12>", b"see you.\r\n")),
    ("BINARY.PEEK[1]<0.5>", ("BINARY[1]<0>", b"Hello")),
    ("BODY.PEEK[HEADER.FIELDS (SUBJECT)]<2.5>", ("BODY[HEADER.FIELDS (SUBJECT)]<2>", b"bject")),
])
async def test_partials(mb, spec, expected):
    await mb.add(SIMPLE)
    await mb.select()
    data, _, _ = await run(mb, f"FETCH 1 ({spec})")
    name, value = expected
    assert items(data)[0][name] == ("str", value)


async def test_nul_becomes_0x80_in_body_but_not_in_binary(mb):
    await mb.add(NUL)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 1 (BODY.PEEK[TEXT] BINARY.PEEK[1] BINARY.SIZE[1])")
    assert b"BODY[TEXT] {14}\r\nbefore\x80after\r\n" in data
    assert b"BINARY[1] ~{14}\r\nbefore\x00after\r\n" in data
    assert b"BINARY.SIZE[1] 14" in data


async def test_binary_decodes_and_sizes(mb):
    await mb.add(NESTED)
    await mb.select()
    data, tagged, _ = await run(mb, "FETCH 1 (BINARY.PEEK[3] BINARY.SIZE[3] BINARY.PEEK[1] BINARY.PEEK[7])")
    got = items(data)[0]
    assert got["BINARY[3]"] == ("str", b"\x00\x01binary\xff")
    assert got["BINARY.SIZE[3]"] == 9
    assert got["BINARY[1]"] == ("str", b"See below.")
    assert got["BINARY[7]"] is None
    assert tagged.status == "OK"


async def test_binary_errors_end_no_but_send_the_other_items(mb):
    await mb.add(BAD_CTE)
    await mb.add(SIMPLE)
    await mb.select()
    data, tagged, _ = await run(mb, "FETCH 1:2 (UID BINARY.PEEK[1] RFC822.SIZE)")
    got = parse_fetch(data)
    assert got[0] == (1, {"UID": 1, "RFC822.SIZE": len(BAD_CTE)})  # BINARY[1] left out
    assert got[1][1]["BINARY[1]"] == ("str", SIMPLE.split(b"\r\n\r\n", 1)[1])
    assert tagged.status == "NO" and tagged.code == r.UNKNOWN_CTE
    data, tagged, _ = await run(mb, "FETCH 1 (BINARY.SIZE[2] FLAGS)")
    assert tagged.status == "NO" and tagged.code == r.PARSE
    assert items(data) == [{"FLAGS": []}]
    assert to_bytes(tagged) == b"A1 NO [PARSE] Invalid data in MIME part.\r\n"


async def test_large_sections_stream_from_the_blob(mb):
    big = b"Subject: big\r\n\r\n" + (b"0123456789abcdef" * 4 + b"\r\n") * 5000
    uid = await mb.add(big + b"\x00tail\r\n")
    await mb.select()
    cmd = parse("FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT]<10.70000> BODY.PEEK[]<0.100>)")
    [resp] = [x async for x in fetch_responses(mb.ctx, cmd)]
    whole, part, small = (i.data for i in resp.items)
    assert isinstance(whole, LiteralStream) and isinstance(part, LiteralStream)
    assert isinstance(small, bytes)
    assert whole.size == len(big) + 7 and part.size == 70000
    pieces = chunks(resp)
    assert sum(isinstance(p, LiteralStream) for p in pieces) == 2
    data = to_bytes(resp)
    expected = (big + b"\x80tail\r\n")
    assert data.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(expected) + expected)
    assert b"BODY[TEXT]<10> {70000}\r\n" + expected[16 + 10 : 16 + 10 + 70000] in data
    assert uid == 1


async def test_stream_reader_closes_its_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 100 + b"\x00" * 10)
    reader = fetch_mod._BlobRange(str(path), 95, 10, True)
    assert reader.read(3) == b"xxx"
    assert reader._fh is not None
    assert reader.read() == b"xx" + b"\x80" * 5
    assert reader._fh is None and reader.read() == b""


# -- \Seen ----------------------------------------------------------------------------------

async def test_non_peek_sets_seen_and_reports_flags(mb):
    for _ in range(3):
        await mb.add(SIMPLE)
    await mb.select()
    mb.ctx.selected.recent.clear()
    data, _, outcome = await run(mb, "FETCH 1 BODY[TEXT]")
    assert data.endswith(b" FLAGS (\\Seen))\r\n")
    assert outcome.seen == [1]
    assert "\\Seen" in mb.ctx.selected.meta[1].flags
    [stored] = await mb.store.get_messages(mb.ctx.selected.folder.id, [1])
    assert "\\Seen" in stored.flags
    # Already seen: no flag change, so no FLAGS in the answer.
    data, _, outcome = await run(mb, "FETCH 1 BODY[TEXT]")
    assert b"FLAGS" not in data and outcome.seen == []
    for line, sets in [("RFC822", True), ("RFC822.TEXT", True), ("RFC822.HEADER", False),
                       ("BINARY[1]", True), ("BINARY.PEEK[1]", False), ("BODY.PEEK[]", False),
                       ("BINARY.SIZE[1]", False)]:
        await mb.store.store_flags(mb.ctx.selected.folder.id, [2], ["\\Seen"], "remove")
        mb.ctx.selected.meta[2] = (await mb.store.message_index(mb.ctx.selected.folder.id))[1]
        data, _, outcome = await run(mb, f"FETCH 2 {line}")
        assert (outcome.seen == [2]) is sets, line
        assert (b"FLAGS (\\Seen)" in data) is sets, line


async def test_flags_item_shows_the_new_flags_and_modseq_with_condstore(mb):
    await mb.add(SIMPLE)
    await mb.select()
    mb.ctx.enabled.add("CONDSTORE")
    before = mb.ctx.selected.meta[1].modseq
    data, _, _ = await run(mb, "FETCH 1 (FLAGS BODY[])")
    got = items(data)[0]
    assert got["FLAGS"] == [("atom", b"\\Seen")]
    assert got["MODSEQ"] == [mb.ctx.selected.meta[1].modseq]
    assert mb.ctx.selected.meta[1].modseq > before


async def test_examine_never_sets_seen(mb):
    await mb.add(SIMPLE)
    await mb.select(readonly=True)
    data, _, outcome = await run(mb, "FETCH 1 BODY[]")
    assert b"FLAGS" not in data and outcome.seen == []
    assert "\\Seen" not in mb.ctx.selected.meta[1].flags


async def test_mark_seen_callback_once_per_batch(mb):
    for _ in range(5):
        await mb.add(SIMPLE)
    await mb.add(SIMPLE, flags=("\\Seen",))
    await mb.select()
    view = mb.ctx.selected
    calls = []

    async def mark(uids):
        calls.append(list(uids))
        result = await mb.store.store_flags(view.folder.id, uids, ["\\Seen"], "add")
        for meta in result.changed:
            view.apply_own_change(meta)

    data, _, outcome = await run(mb, "FETCH 1:* BODY[1]", mark_seen=mark, batch=2)
    assert calls == [[1, 2], [3, 4], [5]]
    assert outcome.seen == [1, 2, 3, 4, 5]
    assert data.count(b"FLAGS (\\Seen)") == 5


# -- which messages ----------------------------------------------------------------------

async def test_empty_folder_star(mb):
    await mb.select()
    for line in ("UID FETCH 1:* (FLAGS)", "FETCH 1:* (FLAGS)", "UID FETCH * BODY[]"):
        data, tagged, _ = await run(mb, line)
        assert data == b"" and tagged.status == "OK"


async def test_numbers_that_do_not_exist_are_left_out(mb):
    # The session-wide rule (numbers.resolve_uids), as for STORE and COPY.
    for _ in range(3):
        await mb.add(SIMPLE)
    await mb.select()
    data, _, _ = await run(mb, "FETCH 2:5 UID")
    assert data == b"* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n"
    data, _, _ = await run(mb, "UID FETCH 2:5,99 FLAGS")
    assert [n for n, _ in parse_fetch(data)] == [2, 3]
    data, _, _ = await run(mb, "FETCH 3:* UID")  # "3:*" with * = 3
    assert data == b"* 3 FETCH (UID 3)\r\n"
    data, _, _ = await run(mb, "FETCH *:2 UID")
    assert data == b"* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n"


async def test_qresync_adds_uid_and_rev2_hides_recent(mb):
    await mb.add(SIMPLE)
    await mb.select(recent=True)
    mb.ctx.enabled.update({"QRESYNC", "CONDSTORE"})
    data, _, _ = await run(mb, "FETCH 1 FLAGS")
    assert data.startswith(b"* 1 FETCH (UID 1 FLAGS (\\Recent))")
    mb.ctx.enabled.add("IMAP4rev2")
    data, _, _ = await run(mb, "FETCH 1 FLAGS")
    assert data.startswith(b"* 1 FETCH (UID 1 FLAGS ())")


async def test_uid_fetch_maps_uids_to_sequence_numbers(mb):
    for _ in range(4):
        await mb.add(SIMPLE)
    folder = await mb.store.get_folder(mb.account.id, "INBOX")
    await mb.store.expunge(folder.id, [2])
    await mb.select()
    data, _, _ = await run(mb, "UID FETCH 3:4 (UID)")
    assert data == b"* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 4)\r\n"


async def test_saved_result_dollar(mb):
    for _ in range(4):
        await mb.add(SIMPLE)
    view = await mb.select()
    data, _, _ = await run(mb, "FETCH $ UID")
    assert data == b""
    view.saved_result = [2, 4, 9]
    data, _, _ = await run(mb, "FETCH $ UID")
    assert data == b"* 2 FETCH (UID 2)\r\n* 4 FETCH (UID 4)\r\n"
    data, _, _ = await run(mb, "UID FETCH $ UID")
    assert data == b"* 2 FETCH (UID 2)\r\n* 4 FETCH (UID 4)\r\n"


async def test_changedsince(mb):
    for _ in range(3):
        await mb.add(SIMPLE)
    view = await mb.select()
    result = await mb.store.store_flags(view.folder.id, [2], ["\\Flagged"], "add")
    for meta in result.changed:
        view.apply_own_change(meta)
    since = max(view.meta[u].modseq for u in (1, 3))
    data, _, _ = await run(mb, f"FETCH 1:* (FLAGS) (CHANGEDSINCE {since})")
    assert data == b"* 2 FETCH (FLAGS (\\Flagged) MODSEQ (%d))\r\n" % view.meta[2].modseq
    assert mb.ctx.condstore_used
    data, _, _ = await run(mb, f"UID FETCH 1:* (UID) (CHANGEDSINCE {since} VANISHED)")
    assert data == b"* 2 FETCH (UID 2 MODSEQ (%d))\r\n" % view.meta[2].modseq


async def test_modseq_item(mb):
    await mb.add(SIMPLE)
    view = await mb.select()
    data, _, _ = await run(mb, "FETCH 1 (MODSEQ)")
    assert data == b"* 1 FETCH (MODSEQ (%d))\r\n" % view.meta[1].modseq
    assert mb.ctx.condstore_used


async def test_messages_expunged_elsewhere_are_skipped(mb):
    for _ in range(3):
        await mb.add(SIMPLE)
    view = await mb.select()
    view.gone.add(2)
    data, _, _ = await run(mb, "FETCH 1:3 (UID)")
    assert [n for n, _ in parse_fetch(data)] == [1, 3]
    # Expunged in the store, not yet known to the view: a FETCH that needs
    # the record skips it too.
    await mb.store.expunge(view.folder.id, [3])
    data, _, _ = await run(mb, "FETCH 1:3 (UID RFC822.SIZE)")
    assert [n for n, _ in parse_fetch(data)] == [1]


async def test_no_folder_selected(mb):
    with pytest.raises(ReadCommandError):
        await run(mb, "FETCH 1 FLAGS")


async def test_whole_messages_as_rows_write_what_one_response_each_writes(mb, monkeypatch):
    """BODY.PEEK[] / RFC822 of small messages go out as FetchRows (each
    message its own piece); the bytes are those of the per-message path,
    also around a big message (streamed), a NUL and a missing blob."""
    from mailgate.session.imap import fetch_rows

    big = b"Subject: big\r\n\r\n" + b"y" * (fetch_mod.STREAM_THRESHOLD + 10) + b"\r\n"  # read whole
    huge = b"Subject: huge\r\n\r\n" + b"z" * (fetch_rows.WHOLE_MAX + 10) + b"\r\n"  # streamed
    for data in (SIMPLE, NUL, big, NESTED, huge, SIMPLE):
        await mb.add(data)
    await mb.select(readonly=True)
    lines = ("FETCH 1:* (UID BODY.PEEK[] MODSEQ)", "UID FETCH 1:* (RFC822 FLAGS RFC822.SIZE)",
             "FETCH 2,4 (BODY.PEEK[] INTERNALDATE ENVELOPE)")
    fast = {line: await run(mb, line, batch=2) for line in lines}
    assert any(isinstance(x, r.FetchRows) for x in
               [x async for x in fetch_responses(mb.ctx, parse(lines[0]))])
    monkeypatch.setattr(fetch_mod, "_rows_answer", lambda plan: False)  # the per-message path
    for line in lines:
        data, tagged, _ = await run(mb, line, batch=2)
        assert fast[line][0] == data and fast[line][1] == tagged, line
    assert len(parse_fetch(fast[lines[0]][0])) == 6
    # A missing blob: that message's item is left out and the command ends NO, as before.
    monkeypatch.undo()
    message = (await mb.store.get_messages(mb.ctx.selected.folder.id, [4]))[0]
    mb.blobs.path(message.blob_id).unlink()
    data, tagged, _ = await run(mb, lines[0], batch=2)
    assert tagged.status == "NO" and len(parse_fetch(data)) == 6


async def test_big_messages_among_rows_are_read_with_one_store_call_per_batch(mb, monkeypatch):
    from mailgate.session.imap import fetch_rows

    monkeypatch.setattr(fetch_rows, "WHOLE_MAX", 200)  # every message but SIMPLE's (163 bytes) is "big" here
    for data in (NESTED, SIMPLE, NESTED, BAD_CTE):
        await mb.add(data)
    await mb.select(readonly=True)
    calls = mb.record_get_messages(monkeypatch)
    data, tagged, _ = await run(mb, "FETCH 1:* (BODY.PEEK[])")
    assert tagged.status == "OK" and len(parse_fetch(data)) == 4
    assert calls == [[1, 3, 4]]  # the three streamed messages' records, one read
