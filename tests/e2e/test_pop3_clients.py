"""POP3 end to end with clients written by others: Debian's fetchmail and
getmail6, curl's POP3 URLs, and an IMAP session watching POP3 deletions."""

from __future__ import annotations

import os
import poplib
import ssl
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from .conftest import PASSWORD, RunningServer

MESSAGES = [
    b"From: a@example.org\r\nSubject: one\r\n\r\n.dot line\r\nbody one\r\n",
    b"From: b@example.org\r\nSubject: two\r\n\r\nbody two\r\n",
    b"From: c@example.org\r\nSubject: three\r\n\r\nbody three\r\n",
]


def fill(server: RunningServer, address: str = "alice@example.com") -> None:
    for message in MESSAGES:
        assert server.cli("deliver", address, input=message).returncode == 0


def inbox_count(server: RunningServer, address: str = "alice@example.com") -> int:
    pop = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"],
                          context=ssl.create_default_context(cafile=str(server.cert)))
    pop.user(address)
    pop.pass_(PASSWORD)
    count = pop.stat()[0]
    pop.quit()
    return count


def run_fetchmail(server: RunningServer, tmp: Path, keep: bool) -> subprocess.CompletedProcess:
    out = tmp / "fetched"
    out.mkdir(exist_ok=True)
    rc = tmp / "fetchmailrc"
    rc.write_text(
        f'set no bouncemail\nset idfile "{tmp}/fetchids"\n'
        f'poll localhost service {server.ports["pop3s"]} protocol pop3 uidl\n'
        f'  username "alice@example.com" password "{PASSWORD}"\n'
        f'  ssl sslcertck sslcertfile "{server.cert}"\n'
        f'  {"keep" if keep else "nokeep"}\n'
        f'  mda "/bin/sh -c \'cat > {out}/msg.$$\'"\n', encoding="utf-8")
    rc.chmod(0o600)
    return subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "HOME": str(tmp), "FETCHMAILHOME": str(tmp)})


def fetched(tmp: Path) -> list[bytes]:
    return sorted(p.read_bytes() for p in (tmp / "fetched").glob("msg.*"))


def test_fetchmail_keep_then_delete(server: RunningServer, tmp_path: Path) -> None:
    fill(server)
    first = run_fetchmail(server, tmp_path, keep=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(fetched(tmp_path)) == 3
    bodies = b"\n".join(fetched(tmp_path))
    assert b"\n.dot line" in bodies.replace(b"\r\n", b"\n")  # dot-stuffing undone by the client
    second = run_fetchmail(server, tmp_path, keep=True)
    assert second.returncode == 1, second.stdout + second.stderr  # 1: no new mail
    assert len(fetched(tmp_path)) == 3
    assert inbox_count(server) == 3
    (tmp_path / "fetchids").unlink()
    third = run_fetchmail(server, tmp_path, keep=False)
    assert third.returncode == 0, third.stdout + third.stderr
    assert inbox_count(server) == 0


def test_getmail6_downloads_into_a_maildir(server: RunningServer, tmp_path: Path) -> None:
    fill(server)
    # getmail refuses to deliver as root and switches to `user`; that user
    # must be able to reach the Maildir, and pytest's tmp_path is private.
    shared = Path(tempfile.mkdtemp(prefix="mailgate-getmail-"))
    shared.chmod(0o755)
    maildir = shared / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
        (maildir / sub).chmod(0o777)
    maildir.chmod(0o777)
    rc = tmp_path / "getmailrc"
    rc.write_text(
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\n"
        f"port = {server.ports['pop3s']}\nusername = alice@example.com\npassword = {PASSWORD}\n"
        f"ca_certs = {server.cert}\n\n"
        f"[destination]\ntype = Maildir\npath = {maildir}/\n"
        f"{'user = nobody' if os.geteuid() == 0 else ''}\n\n"
        "[options]\ndelete = true\nread_all = true\nverbose = 1\n", encoding="utf-8")
    result = subprocess.run(["getmail", "--getmaildir", str(tmp_path), "--rcfile", str(rc)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    got = sorted(p.read_bytes() for p in (maildir / "new").iterdir())
    assert len(got) == 3
    for message in MESSAGES:
        body = message.split(b"\r\n\r\n", 1)[1]
        assert any(body.replace(b"\r\n", b"\n") in g.replace(b"\r\n", b"\n") for g in got)
    assert inbox_count(server) == 0
    shutil.rmtree(shared, ignore_errors=True)


def test_curl_pop3_urls(server: RunningServer) -> None:
    fill(server)
    port = server.ports["pop3s"]
    common = ["curl", "-sS", "--cacert", str(server.cert), "--resolve", f"localhost:{port}:127.0.0.1",
              "-u", f"alice@example.com:{PASSWORD}"]
    listing = subprocess.run(common + [f"pop3s://localhost:{port}/"], capture_output=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines() == [b"%d %d" % (i + 1, len(m)) for i, m in enumerate(MESSAGES)]
    message = subprocess.run(common + [f"pop3s://localhost:{port}/1"], capture_output=True, timeout=30)
    assert message.returncode == 0, message.stderr
    assert message.stdout == MESSAGES[0]


def test_imap_idler_sees_pop3_deletions(server: RunningServer) -> None:
    fill(server)
    context = ssl.create_default_context(cafile=str(server.cert))
    with IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl=True, ssl_context=context) as imap:
        imap.login("alice@example.com", PASSWORD)
        imap.select_folder("INBOX")
        imap.idle()
        pop = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=context)
        pop.user("alice@example.com")
        pop.pass_(PASSWORD)
        pop.dele(1)
        pop.dele(3)
        pop.quit()
        seen: list = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sum(1 for r in seen if r[1] == b"EXPUNGE") < 2:
            seen += imap.idle_check(timeout=1)
        imap.idle_done()
        assert [r for r in seen if r[1] == b"EXPUNGE"] == [(3, b"EXPUNGE"), (1, b"EXPUNGE")]
        assert imap.search(["ALL"]) == [2]  # IMAPClient searches by UID
        assert imap.fetch([2], ["BODY.PEEK[]"])[2][b"BODY[]"] == MESSAGES[1]
