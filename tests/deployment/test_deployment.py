"""Clients talk only to the frontend; mailboxes live on two backends in two
sites; the directory and both mailbox databases are on PostgreSQL."""

from __future__ import annotations

import imaplib
import poplib
import re
import ssl
import threading
import time

from .conftest import PASSWORD, Deployment

MESSAGE = b"From: x@example.org\r\nSubject: deployed\r\n\r\nhello from the frontend\r\n"


def ctx(dep: Deployment) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(dep.cert))


def imap(dep: Deployment, user: str) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL("127.0.0.1", dep.ports["imaps"], ssl_context=ctx(dep))
    client.login(user, PASSWORD)
    return client


def deliver(dep: Deployment, user: str, message: bytes = MESSAGE) -> None:
    result = dep.frontend.cli("deliver", user, input=message)
    assert result.returncode == 0, result.stdout + result.stderr


def test_clients_reach_mailboxes_on_both_backends_through_the_frontend(deployment: Deployment) -> None:
    dep = deployment
    deliver(dep, "alice@example.com")
    deliver(dep, "bob@example.com")
    for user, backend in (("alice@example.com", "mbx1"), ("bob@example.com", "mbx2")):
        client = imap(dep, user)
        assert client.select("INBOX")[1] == [b"1"]
        assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == MESSAGE
        client.store("1", "+FLAGS", "(\\Flagged)")
        client.append("INBOX", "(\\Seen)", None, MESSAGE)
        assert client.search(None, "FLAGGED")[1] == [b"1"]
        client.logout()
        # The backend that holds the mailbox logged the real client (and the frontend).
        dep.wait_for(dep.backends[backend], f"proxied login for {user} from 127.0.0.1:")
        other = "mbx2" if backend == "mbx1" else "mbx1"
        assert f"proxied login for {user}" not in dep.backends[other].log()
    for user in ("alice@example.com", "bob@example.com"):
        pop = poplib.POP3_SSL("127.0.0.1", dep.ports["pop3s"], context=ctx(dep))
        pop.user(user)
        pop.pass_(PASSWORD)
        assert pop.stat()[0] == 2
        assert b"\r\n".join(pop.retr(1)[1]) + b"\r\n" == MESSAGE
        pop.quit()


def test_direct_login_to_a_backend_is_refused(deployment: Deployment) -> None:
    dep = deployment
    client = imaplib.IMAP4_SSL("127.0.0.1", dep.ports["imap_backend"], ssl_context=ctx(dep))
    try:
        client.login("alice@example.com", PASSWORD)
        raise AssertionError("a backend accepted a direct login")
    except imaplib.IMAP4.error as exc:
        assert "AUTHENTICATIONFAILED" in str(exc)
    loose = ctx(dep)
    loose.check_hostname = False  # the shared certificate names 127.0.0.1, not .2
    pop = poplib.POP3_SSL("127.0.0.2", dep.ports["pop_backend"], context=loose)
    pop.user("bob@example.com")
    try:
        pop.pass_(PASSWORD)
        raise AssertionError("a backend accepted a direct login")
    except poplib.error_proto as exc:
        assert b"[AUTH]" in exc.args[0]


def test_mailbox_move_under_load_loses_nothing_and_keeps_uids(deployment: Deployment) -> None:
    dep = deployment
    for _ in range(3):
        deliver(dep, "alice@example.com")
    before = imap(dep, "alice@example.com")
    before.select("INBOX")
    validity = before.status("INBOX", "(UIDVALIDITY)")[1][0]
    uids_before = before.uid("SEARCH", None, "ALL")[1][0].split()
    before.logout()

    appended: list[bytes] = []
    stop = threading.Event()
    errors: list[str] = []

    def appender() -> None:
        n = 0
        while not stop.is_set():
            try:
                client = imap(dep, "alice@example.com")
                while not stop.is_set():
                    body = MESSAGE.replace(b"deployed", b"append %d" % n)
                    typ, _ = client.append("INBOX", None, None, body)
                    if typ == "OK":
                        appended.append(b"append %d" % n)
                    n += 1
                    time.sleep(0.05)
                client.logout()
            except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError, ssl.SSLError):
                time.sleep(0.2)  # told to reconnect (BYE) or refused while moving: retry
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
                return

    idler = imap(dep, "alice@example.com")
    idler.select("INBOX")
    idler.send(b"i1 IDLE\r\n")
    assert idler.readline().startswith(b"+")
    worker = threading.Thread(target=appender)
    worker.start()
    time.sleep(1.0)
    result = dep.frontend.cli("mailbox", "move", "alice@example.com", "--database", "DBB")
    assert result.returncode == 0, result.stdout + result.stderr
    # The idler is told to go away: a BYE (or the connection closes).
    idler.sock.settimeout(10)
    seen = b""
    try:
        while b"BYE" not in seen:
            line = idler.readline()
            if not line:
                break
            seen += line
    except OSError:
        pass
    time.sleep(1.0)
    stop.set()
    worker.join(30)
    assert not errors, errors
    assert appended, "the appender never got through"

    after = imap(dep, "alice@example.com")  # the idler reconnects: it lands on mbx2 now
    after.select("INBOX")
    dep.wait_for(dep.backends["mbx2"], "proxied login for alice@example.com")
    assert after.status("INBOX", "(UIDVALIDITY)")[1][0] == validity
    uids_after = after.uid("SEARCH", None, "ALL")[1][0].split()
    assert uids_after[:len(uids_before)] == uids_before
    subjects = b" ".join(after.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][i][1]
                         for i in range(0, 2 * len(uids_after), 2))
    for marker in appended:
        assert marker in subjects, marker
    after.logout()


def test_failover_mounts_a_database_on_the_other_backend(deployment: Deployment) -> None:
    dep = deployment
    deliver(dep, "carol@example.com")
    client = imap(dep, "carol@example.com")
    client.logout()
    dep.wait_for(dep.backends["mbx1"], "proxied login for carol@example.com")
    assert dep.backends["mbx1"].stop() == 0
    result = dep.frontend.cli("database", "mount", "DBA", "--server", "mbx2")
    assert result.returncode == 0, result.stdout + result.stderr
    client = imap(dep, "carol@example.com")
    assert client.select("INBOX")[1] == [b"1"]
    assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == MESSAGE
    client.logout()
    dep.wait_for(dep.backends["mbx2"], "proxied login for carol@example.com")
    assert re.search(r"Databases?:.*DBA", dep.frontend.cli("server", "show", "mbx2").stdout.decode())


def test_mbsync_through_the_frontend_and_resync_after_a_move_transfers_nothing(deployment: Deployment,
                                                                               tmp_path) -> None:
    import os
    import subprocess

    dep = deployment
    for _ in range(3):
        deliver(dep, "bob@example.com")
    local = tmp_path / "Mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(f"""
IMAPAccount fe
Host 127.0.0.1
Port {dep.ports['imaps']}
User bob@example.com
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {dep.cert}

IMAPStore remote
Account fe

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Sync All
SyncState *
""")

    def mbsync() -> str:
        result = subprocess.run(["mbsync", "-V", "-c", str(config), "-a"], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "HOME": str(tmp_path)})
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def local_files() -> set[str]:
        return {p.name.split(",U=")[0] for p in (local / "INBOX").glob("*/*")}

    def snapshot() -> dict[str, bytes]:
        """Every local file name (flags included) and mbsync's sync state:
        a sync that transferred or changed anything alters one of them."""
        return {str(p.relative_to(local)): (p.read_bytes() if p.name == ".mbsyncstate" else b"")
                for p in local.rglob("*") if p.is_file() and not p.name.endswith(".lock")}

    mbsync()
    assert len(local_files()) == 3
    # A change made through the frontend on the far side, and one made locally.
    client = imap(dep, "bob@example.com")
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Flagged)")
    client.logout()
    mbsync()
    assert any(p.name.endswith("F") for p in (local / "INBOX").glob("*/*"))  # the flag came over
    before = snapshot()
    result = dep.frontend.cli("mailbox", "move", "bob@example.com", "--database", "DBA")
    assert result.returncode == 0, result.stdout + result.stderr
    output = mbsync()
    assert "UIDVALIDITY" not in output, output
    assert "far side: 3 messages" in output and "near side: 3 messages" in output, output
    assert snapshot() == before, output  # nothing fetched, pushed, renamed or re-stated
    dep.wait_for(dep.backends["mbx1"], "proxied login for bob@example.com")
