"""IMAP end to end with clients written by others: imaplib, IMAPClient, curl."""

from __future__ import annotations

import imaplib
import ssl
import subprocess
import time

import pytest
from imapclient import IMAPClient

from .conftest import PASSWORD, RunningServer

MESSAGE = (b"From: Carol <carol@example.org>\r\nTo: alice@example.com\r\nSubject: Hello there\r\n"
           b"Date: Mon, 15 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.org>\r\n\r\n"
           b"First line\r\n.Leading dot\r\nLast line\r\n")


def tls_context(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def deliver(server: RunningServer, address: str, message: bytes = MESSAGE, folder: str = "INBOX") -> None:
    result = server.cli("deliver", address, "--folder", folder, input=message)
    assert result.returncode == 0, result.stderr


def test_imaplib_over_implicit_tls(server: RunningServer) -> None:
    deliver(server, "alice@example.com")
    with imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=tls_context(server)) as imap:
        assert "IMAP4REV2" in imap.capabilities and "AUTH=PLAIN" in imap.capabilities
        typ, _ = imap.login("alice@example.com", PASSWORD)
        assert typ == "OK"
        caps = imap.capability()[1][0].split()
        for cap in (b"IDLE", b"UIDPLUS", b"MOVE", b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE", b"BINARY"):
            assert cap in caps, cap
        typ, data = imap.select("INBOX")
        assert typ == "OK" and data == [b"1"]
        typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[] RFC822.SIZE FLAGS)")
        assert typ == "OK"
        assert data[0][1] == MESSAGE
        rest = b"".join(part if isinstance(part, bytes) else part[0] for part in data)
        assert b"RFC822.SIZE %d" % len(MESSAGE) in rest
        typ, data = imap.search(None, "UNSEEN")
        assert data == [b"1"]
        typ, data = imap.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(time.time()), MESSAGE)
        assert typ == "OK" and b"APPENDUID" in data[0]
        typ, data = imap.search(None, "UNSEEN")
        assert data == [b"1"]
        typ, data = imap.search(None, "SUBJECT", "hello")
        assert data == [b"1 2"]
        typ, data = imap.copy("1:2", "Archive")
        assert typ == "OK" and b"COPYUID" in data[0]
        imap.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = imap.expunge()
        assert data == [b"1"]
        typ, data = imap.status("Archive", "(MESSAGES UNSEEN)")
        assert b"MESSAGES 2" in data[0] and b"UNSEEN 1" in data[0]
        typ, data = imap.list()
        names = b"\n".join(data)
        for folder in (b"INBOX", b"Sent", b"Drafts", b"Trash", b"Junk", b"Archive"):
            assert folder in names
        assert b"\\Sent" in names
        imap.logout()


def test_imaplib_starttls_and_logindisabled(server: RunningServer) -> None:
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    assert "LOGINDISABLED" in imap.capabilities and "STARTTLS" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error) as info:
        imap.login("alice@example.com", PASSWORD)
    assert "PRIVACYREQUIRED" in str(info.value)
    imap.starttls(ssl_context=tls_context(server))
    assert "LOGINDISABLED" not in imap.capabilities
    typ, _ = imap.login("alice@example.com", PASSWORD)
    assert typ == "OK"
    assert imap.logout()[0] == "BYE"


def test_wrong_password_and_unknown_user_get_the_same_reply(server: RunningServer) -> None:
    replies = []
    for user, password in (("alice@example.com", "wrong"), ("nobody@example.com", "wrong")):
        with imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=tls_context(server)) as imap:
            with pytest.raises(imaplib.IMAP4.error) as info:
                imap.login(user, password)
            replies.append(str(info.value))
    assert replies[0] == replies[1]
    assert "AUTHENTICATIONFAILED" in replies[0]


def test_imapclient_idle_sees_a_delivery_from_another_process_within_a_second(server: RunningServer) -> None:
    with IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl=True, ssl_context=tls_context(server)) as client:
        client.login("bob@example.com", PASSWORD)
        client.select_folder("INBOX")
        client.idle()
        started = time.monotonic()
        deliver(server, "bob@example.com")
        delivered = time.monotonic()
        responses = client.idle_check(timeout=5)
        seen = time.monotonic()
        client.idle_done()
        assert (1, b"EXISTS") in responses
        assert seen - delivered < 1.0, f"idler saw the delivery after {seen - delivered:.2f} s"
        assert started


def test_imapclient_condstore_and_move(server: RunningServer) -> None:
    deliver(server, "bob@example.com")
    deliver(server, "bob@example.com")
    with IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl=True, ssl_context=tls_context(server)) as client:
        client.login("bob@example.com", PASSWORD)
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 2
        modseq = info[b"HIGHESTMODSEQ"]
        client.add_flags([1], [b"\\Flagged"])
        changed = client.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
        assert list(changed) == [1]
        assert changed[1][b"MODSEQ"][0] > modseq
        client.move([2], "Archive")
        assert client.search(["ALL"]) == [1]
        client.select_folder("Archive")
        assert client.search(["ALL"]) == [1]
        assert client.fetch([1], ["BODY.PEEK[]"])[1][b"BODY[]"] == MESSAGE


def test_curl_imap_urls(server: RunningServer) -> None:
    deliver(server, "alice@example.com")
    base = f"imaps://localhost:{server.ports['imaps']}"
    common = ["curl", "-sS", "--cacert", str(server.cert), "--resolve", f"localhost:{server.ports['imaps']}:127.0.0.1",
              "-u", f"alice@example.com:{PASSWORD}"]
    listing = subprocess.run(common + [f"{base}/"], capture_output=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert b"INBOX" in listing.stdout and b"Archive" in listing.stdout
    body = subprocess.run(common + [f"{base}/INBOX;UID=1"], capture_output=True, timeout=30)
    assert body.returncode == 0, body.stderr
    assert body.stdout == MESSAGE
    search = subprocess.run(common + [f"{base}/INBOX?SUBJECT%20hello"], capture_output=True, timeout=30)
    assert search.returncode == 0 and b"SEARCH 1" in search.stdout
