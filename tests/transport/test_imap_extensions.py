"""Extension behaviour through the real driver: IMAP4rev2, QUOTA, QRESYNC,
UIDPLUS, MOVE, CONDSTORE, ESEARCH and SEARCHRES."""

from __future__ import annotations

import re

from mailgate.delivery import deliver

from .conftest import Server, command, login

MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


async def fill(server: Server, n: int, folder: str = "INBOX") -> None:
    store = server.runtime.store
    account = await store.get_account("ann@example.com")
    for _ in range(n):
        await deliver(store, server.runtime.blobs, account, folder, [MESSAGE])


async def session(server: Server):
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    return reader, writer


async def test_imap4rev2_drops_recent_and_answers_search_with_esearch(server: Server) -> None:
    await fill(server, 2)
    r, w = await session(server)
    assert b"* ENABLED IMAP4rev2\r\n" in await command(r, w, b"a ENABLE IMAP4rev2")
    lines = await command(r, w, b"a SELECT INBOX")
    assert not any(b"RECENT" in line for line in lines)
    assert not any(b"[UNSEEN" in line for line in lines)
    lines = await command(r, w, b"a SEARCH ALL")
    assert lines[0] == b'* ESEARCH (TAG "a") ALL 1:2\r\n'
    lines = await command(r, w, b"a FETCH 1 (FLAGS)")
    assert lines[0] == b"* 1 FETCH (FLAGS ())\r\n"


async def test_imap4rev1_session_sees_recent(server: Server) -> None:
    await fill(server, 2)
    r, w = await session(server)
    lines = await command(r, w, b"a SELECT INBOX")
    assert b"* 2 RECENT\r\n" in lines
    assert b"* OK [UNSEEN 1] Message 1 is first unseen.\r\n" in lines
    assert (await command(r, w, b"a FETCH 1 (FLAGS)"))[0] == b"* 1 FETCH (FLAGS (\\Recent))\r\n"


async def test_quota_is_respected_by_append(server: Server) -> None:
    store = server.runtime.store
    await store.update_account("ann@example.com", quota_bytes=60)
    r, w = await session(server)
    lines = await command(r, w, b"a GETQUOTAROOT INBOX")
    assert b'* QUOTAROOT "INBOX" ""\r\n' in lines
    assert b'* QUOTA "" (STORAGE 0 0)\r\n' in lines
    w.write(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(MESSAGE), MESSAGE))
    assert (await command(r, w, b"", b"a"))[-1].startswith(b"a OK [APPENDUID")
    w.write(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(MESSAGE), MESSAGE))
    assert (await command(r, w, b"", b"b"))[-1].startswith(b"b NO [OVERQUOTA]")


async def test_uidplus_and_move(server: Server) -> None:
    await fill(server, 4)
    r, w = await session(server)
    await command(r, w, b"a SELECT INBOX")
    await command(r, w, b"a STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    lines = await command(r, w, b"a UID EXPUNGE 2:3")
    assert lines == [b"* 3 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n", b"a OK Expunge completed.\r\n"]
    lines = await command(r, w, b"a UID MOVE 4 Archive")
    assert re.match(rb"\* OK \[COPYUID \d+ 4 1\] ", lines[0]), lines
    assert lines[1:] == [b"* 2 EXPUNGE\r\n", b"a OK Move completed.\r\n"]
    lines = await command(r, w, b"a UID COPY 1 Trash")
    assert re.match(rb"a OK \[COPYUID \d+ 1 1\] ", lines[-1])
    assert (await command(r, w, b"a COPY 1 Nowhere"))[-1].startswith(b"a NO [TRYCREATE]")


async def test_qresync_select_reports_vanished_and_changes(server: Server) -> None:
    await fill(server, 4)
    r, w = await session(server)
    await command(r, w, b"a ENABLE QRESYNC")
    lines = await command(r, w, b"a SELECT INBOX")
    validity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(lines)).group(1))
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
    await command(r, w, b"a STORE 2 +FLAGS.SILENT (\\Deleted)")
    await command(r, w, b"a EXPUNGE")
    await command(r, w, b"a STORE 3 +FLAGS (\\Seen)")
    await command(r, w, b"a UNSELECT")
    lines = await command(r, w, b"a SELECT INBOX (QRESYNC (%d %d 1:4))" % (validity, modseq))
    assert b"* VANISHED (EARLIER) 2\r\n" in lines
    assert any(re.match(rb"\* 3 FETCH \(UID 4 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", line) for line in lines), \
        [line for line in lines if b"FETCH" in line]
    lines = await command(r, w, b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert lines[0] == b"* VANISHED (EARLIER) 2\r\n"


async def test_condstore_unchangedsince_reports_modified(server: Server) -> None:
    await fill(server, 2)
    r, w = await session(server)
    lines = await command(r, w, b"a SELECT INBOX (CONDSTORE)")
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
    await command(r, w, b"a STORE 1 +FLAGS (\\Flagged)")
    lines = await command(r, w, b"a STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % modseq)
    assert lines[-1].startswith(b"a OK [MODIFIED 1]")
    assert any(line.startswith(b"* 2 FETCH (FLAGS (\\Recent \\Seen) MODSEQ") or
               line.startswith(b"* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ") for line in lines), lines


async def test_esearch_and_searchres(server: Server) -> None:
    await fill(server, 5)
    r, w = await session(server)
    await command(r, w, b"a SELECT INBOX")
    await command(r, w, b"a STORE 2,4 +FLAGS (\\Seen)")
    lines = await command(r, w, b"a UID SEARCH RETURN (MIN MAX COUNT) SEEN")
    assert lines[0] == b'* ESEARCH (TAG "a") UID MIN 2 MAX 4 COUNT 2\r\n'
    assert (await command(r, w, b"a SEARCH RETURN (SAVE) UNSEEN"))[0] == b"a OK Search completed.\r\n"
    lines = await command(r, w, b"a FETCH $ (UID)")
    assert [l for l in lines if l.startswith(b"*")] == [
        b"* 1 FETCH (UID 1)\r\n", b"* 3 FETCH (UID 3)\r\n", b"* 5 FETCH (UID 5)\r\n"]


async def test_store_echoes_current_flags_when_another_session_set_them_first(server: Server) -> None:
    await fill(server, 1)
    r1, w1 = await session(server)
    r2, w2 = await session(server)
    await command(r1, w1, b"a SELECT INBOX")
    await command(r2, w2, b"a SELECT INBOX")
    await command(r1, w1, b"a STORE 1 +FLAGS (\\Flagged \\Answered)")
    # Session 2 has not looked since: its STORE finds nothing to change, yet
    # must echo the flags as they are now.
    lines = await command(r2, w2, b"a STORE 1 +FLAGS (\\Flagged)")
    fetches = [line for line in lines if line.startswith(b"* 1 FETCH")]
    assert fetches and b"\\Flagged" in fetches[0] and b"\\Answered" in fetches[0], lines


async def test_append_to_the_selected_folder_is_known_before_the_completion(server: Server) -> None:
    r, w = await session(server)
    await command(r, w, b"a SELECT INBOX")
    w.write(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(MESSAGE), MESSAGE))
    lines = await command(r, w, b"", b"a")
    assert b"* 1 EXISTS\r\n" in lines, lines
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", lines[-1]).group(1))
    lines = await command(r, w, b"b UID STORE %d +FLAGS (\\Flagged)" % uid, b"b")
    assert any(b"FETCH" in line and b"\\Flagged" in line for line in lines), lines
