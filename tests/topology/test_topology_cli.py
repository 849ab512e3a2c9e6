"""The topology CLI contract (README "Deployment: frontends, backends,
databases"): commands, output, exit codes; over SQLite and PostgreSQL
directories. Plus the sessions' side: a mailbox in a second database is
read and written there, and a move's disconnect asks clients to reconnect."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mailgate.admin.cli import main
from mailgate.config import Config
from mailgate.policy.connections import Client
from mailgate.policy.state import DISCONNECT_SCOPE, MOVED_MARK, MOVED_TEXT, PolicyState


def run(config: Config, *args: str, input: str | bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input, env={"MAILGATE_DATA": str(config.data_dir)})


MESSAGE = b"From: a@example.test\r\nSubject: cli\r\n\r\nhi\r\n"


def test_server_and_database_commands(config: Config, second_db_url: str, tmp_path: Path) -> None:
    out = run(config, "server", "list")
    assert out.exit_code == 0 and out.output.startswith("mx1\tsite=-\troles=frontend,backend\t")
    assert "imap=127.0.0.1:1993\tpop=127.0.0.1:1995" in out.output
    out = run(config, "server", "show", "mx1")
    assert out.exit_code == 0 and "Databases:     DB01" in out.output
    assert run(config, "server", "show", "ghost").exit_code == 1
    out = run(config, "database", "add", "DB02", "--url", second_db_url, "--blob-dir", str(tmp_path / "b2"))
    assert out.exit_code == 0, out.output
    assert "Created database DB02 on mx1" in out.output
    out = run(config, "database", "add", "DB02", "--url", second_db_url)
    assert out.exit_code == 1 and "exists already" in out.output
    assert run(config, "database", "add", "bad name", "--url", second_db_url).exit_code == 1
    assert run(config, "database", "add", "DB03", "--url", "mysql://x").exit_code == 1
    out = run(config, "mailbox", "add", "ann@example.test", "--password-stdin", "--database", "DB02", input="pw\n")
    assert out.exit_code == 0 and "in database DB02" in out.output
    out = run(config, "mailbox", "add", "bob@example.test", "--password-stdin", input="pw\n")
    assert out.exit_code == 0 and out.output == "Created mailbox bob@example.test (role user)\n"
    out = run(config, "mailbox", "add", "carl@example.test", "--password-stdin", "--database", "NOPE", input="pw\n")
    assert out.exit_code == 1 and "no mailbox database NOPE" in out.output
    lines = run(config, "database", "list").output.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [["DB01", "server=mx1", "mailboxes=1"],
                                                         ["DB02", "server=mx1", "mailboxes=1"]]
    assert "Database:      DB02" in run(config, "mailbox", "show", "ann@example.test").output
    out = run(config, "database", "mount", "DB02", "--server", "ghost")
    assert out.exit_code == 1 and "no server ghost" in out.output
    out = run(config, "database", "mount", "DB02", "--server", "mx1")
    assert out.exit_code == 0 and "active on mx1" in out.output


def test_mailbox_move_and_deliver(config: Config, second_db_url: str) -> None:
    assert run(config, "database", "add", "DB02", "--url", second_db_url).exit_code == 0
    assert run(config, "mailbox", "add", "ann@example.test", "--password-stdin", input="pw\n").exit_code == 0
    out = run(config, "deliver", "ann@example.test", input=MESSAGE)
    assert out.exit_code == 0 and "as UID 1" in out.output
    out = run(config, "mailbox", "move", "ann@example.test", "--database", "DB02")
    assert out.exit_code == 0, out.output
    assert out.output.startswith("Moved mailbox ann@example.test from DB01 to DB02: 6 folders, 1 messages")
    out = run(config, "deliver", "ann@example.test", input=MESSAGE)
    assert out.exit_code == 0 and "as UID 2" in out.output
    show = run(config, "mailbox", "show", "ann@example.test").output
    assert "Database:      DB02" in show and "INBOX\t2 messages" in show
    out = run(config, "mailbox", "move", "ann@example.test", "--database", "DB02")
    assert out.exit_code == 1 and "in DB02 already" in out.output
    assert run(config, "mailbox", "move", "ann@example.test").exit_code == 2  # --database is required


def test_deliver_while_moving_exits_75(config: Config) -> None:
    import asyncio

    from mailgate.admin import ops
    from mailgate.directory.stores import MOVING_SCOPE

    assert run(config, "mailbox", "add", "ann@example.test", "--password-stdin", input="pw\n").exit_code == 0

    async def mark(value: str) -> None:
        async with ops.open_store(config) as (store, _):
            await store.put_settings(MOVING_SCOPE, {"ann@example.test": value})

    asyncio.run(mark("DB02"))
    out = run(config, "deliver", "ann@example.test", input=MESSAGE)
    assert out.exit_code == 75 and "temporary failure" in out.output
    asyncio.run(mark(""))
    assert run(config, "deliver", "ann@example.test", input=MESSAGE).exit_code == 0


async def test_a_moved_generation_kicks_with_the_reconnect_text() -> None:
    from mailgate.runtime import Runtime
    from mailgate.storage import BlobStore, MemoryStore

    store = MemoryStore()
    runtime = Runtime(store, BlobStore("/nonexistent"), "h", None)
    state = PolicyState()
    await state.refresh(runtime)  # the first read is history
    admin, moved = Client("imap4", "10.0.0.1", "l", "r", False), Client("pop3", "10.0.0.2", "l", "r", False)
    state.tracker.admit(admin, runtime.imap)
    state.tracker.admit(moved, runtime.pop)
    assert admin.attach_user("a@example.test", runtime.imap) and moved.attach_user("b@example.test", runtime.pop)
    await store.put_settings(DISCONNECT_SCOPE, {"a@example.test": "1", "b@example.test": "1" + MOVED_MARK})
    await state.refresh(runtime)
    assert admin.kicked.is_set() and admin.kick_reason != MOVED_TEXT
    assert moved.kicked.is_set() and moved.kick_reason == MOVED_TEXT
