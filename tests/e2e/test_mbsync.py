"""Debian's mbsync (isync) syncing a local Maildir++ tree with mailgate, both ways."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from imapclient import IMAPClient

from .conftest import PASSWORD, RunningServer
from .test_imap_clients import MESSAGE, deliver, tls_context

FOLDERS = ["Projekte", "Projekte/Überblick", "Projekte/Überblick/日本", "Reisen"]


def mbsync_config(server: RunningServer, local: Path) -> str:
    return f"""
IMAPAccount mailgate
Host 127.0.0.1
Port {server.ports['imaps']}
User alice@example.com
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {server.cert}

IMAPStore remote
Account mailgate

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Remove Both
Expunge Both
Sync All
SyncState *
"""


def run_mbsync(config: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(["mbsync", "-c", str(config), "-a"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HOME": str(config.parent)})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def local_name(name: str) -> str:
    """mbsync 1.4 keeps the server's modified UTF-7 names on disk."""
    from mailgate.protocol.imap import mutf7_encode

    return "/".join(mutf7_encode(part).decode("ascii") for part in name.split("/"))


def maildir_messages(folder: Path) -> list[Path]:
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).glob("*"))


@pytest.fixture()
def client(server: RunningServer):
    with IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl=True, ssl_context=tls_context(server)) as c:
        c.login("alice@example.com", PASSWORD)
        yield c


def test_two_way_sync_of_nested_non_ascii_folders(server: RunningServer, client: IMAPClient, tmp_path: Path) -> None:
    for name in FOLDERS:
        client.create_folder(name)
    for n in range(3):
        deliver(server, "alice@example.com")
        deliver(server, "alice@example.com", folder="Projekte/Überblick/日本")
    local = tmp_path / "Mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(mbsync_config(server, local), encoding="utf-8")

    run_mbsync(config)
    assert len(maildir_messages(local / "INBOX")) == 3
    assert len(maildir_messages(local / local_name("Projekte/Überblick/日本"))) == 3
    assert (local / "Reisen").is_dir()
    first = maildir_messages(local / "INBOX")[0]
    local_copy = first.read_bytes().replace(b"\r\n", b"\n")
    # mbsync stores LF line ends and may add its own X-TUID header.
    assert local_copy.split(b"\n\n", 1)[1] == MESSAGE.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
    assert b"Subject: Hello there\n" in local_copy

    # Server -> local: a flag set over IMAP and a deletion propagate.
    client.select_folder("INBOX")
    client.add_flags([1], [b"\\Flagged"])
    client.delete_messages([2])
    client.expunge()
    # Local -> server: a new local folder and message, a local "seen" flag.
    new_dir = local / "Reisen" / "new"
    (new_dir / "1700000000.local1.host").write_bytes(MESSAGE.replace(b"\r\n", b"\n"))
    japan = maildir_messages(local / local_name("Projekte/Überblick/日本"))[0]
    seen_name = japan.parent.parent / "cur" / (japan.name.split(":2,")[0] + ":2,S")
    japan.rename(seen_name)

    run_mbsync(config)
    inbox = maildir_messages(local / "INBOX")
    assert len(inbox) == 2
    assert any(p.name.endswith("F") and ":2," in p.name for p in inbox)
    client.select_folder("Reisen")
    assert len(client.search(["ALL"])) == 1
    client.select_folder("Projekte/Überblick/日本")
    assert len(client.search(["SEEN"])) == 1

    # A local deletion propagates to the server.
    for p in maildir_messages(local / "Reisen"):
        p.unlink()
    run_mbsync(config)
    client.select_folder("Reisen")
    assert client.search(["ALL"]) == []

    # A second run with nothing changed transfers nothing.
    result = run_mbsync(config)
    assert "Far: +0" in result.stdout or "+0" in result.stdout or result.stdout == ""
