"""SQLite-only: several OS processes on one store, and crash safety."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from mailgate.storage import BlobStore, Change, SqliteStore

WORKER = str(Path(__file__).with_name("proc_worker.py"))


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, WORKER, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _setup(tmp_path: Path) -> tuple[Path, int, int]:
    db = tmp_path / "store.db"
    async with SqliteStore(db) as store:
        acc = await store.create_account("ann@example.org", "x")
        folder = await store.create_folder(acc.id, "INBOX")
    return db, acc.id, folder.id


@pytest.mark.slow
async def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    db, _, fid = await _setup(tmp_path)
    count = 150
    procs = [await _spawn("append", str(db), str(fid), str(count)) for _ in range(2)]
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()
    uids = [int(x) for out, _ in outs for x in out.split()]
    assert len(uids) == 2 * count and len(set(uids)) == 2 * count
    async with SqliteStore(db) as store:
        index = await store.message_index(fid)
        assert sorted(uids) == [m.uid for m in index] == list(range(1, 2 * count + 1))
        st = await store.folder_status(fid)
        assert (st.messages, st.uidnext, st.unseen) == (2 * count, 2 * count + 1, count)
        assert len({m.modseq for m in index}) == 2 * count


async def test_listener_sees_other_process_write(tmp_path: Path) -> None:
    db, _, fid = await _setup(tmp_path)
    async with SqliteStore(db) as store:
        heard = asyncio.Event()
        changes: list[Change] = []

        def on_change(change: Change) -> None:
            changes.append(change)
            heard.set()

        store.add_listener(on_change)
        proc = await _spawn("append", str(db), str(fid), "1")
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        acked = time.monotonic()
        assert line.strip() == b"1"
        await asyncio.wait_for(heard.wait(), 1.0)
        assert time.monotonic() - acked < 1.0
        assert changes[0] == Change(fid)
        await proc.wait()


async def _one_crash_round(db: Path, root: Path, seed: int, rnd: random.Random) -> list[bytes]:
    # Every other round delivers 4 at a time: their rows share group commits.
    tasks = "4" if seed % 2 else "1"
    proc = await _spawn("deliver", str(db), str(root), "ann@example.org", "INBOX", str(seed), tasks)
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 15)
    except asyncio.TimeoutError:
        first = b""
    await asyncio.sleep(rnd.uniform(0.0, 0.35))
    os.kill(proc.pid, signal.SIGKILL)
    rest = await proc.stdout.read()
    await proc.wait()
    if not first:
        err = await proc.stderr.read() if proc.stderr else b""
        pytest.fail(f"worker printed nothing: {err.decode()[-2000:]}")
    data = first + rest
    # Only complete lines are acknowledgements; a torn last line is not.
    return data.split(b"\n")[:-1]


@pytest.mark.slow
async def test_sigkill_during_deliveries_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db, _, fid = await _setup(tmp_path)
    root = tmp_path / "blobs"
    rnd = random.Random(1234)
    acked: dict[int, str] = {}
    started = time.monotonic()
    for round_no in range(15):
        for line in await _one_crash_round(db, root, round_no, rnd):
            uid, sha = line.split()
            assert int(uid) not in acked
            acked[int(uid)] = sha.decode()
        if time.monotonic() - started > 40:  # keep the suite bounded on slow machines
            break
    assert acked

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    blobs = BlobStore(root)
    async with SqliteStore(db) as store:
        msgs = {m.uid: m for m in await store.get_messages(fid, sorted(acked))}
        assert sorted(msgs) == sorted(acked)
        for uid, sha in acked.items():
            assert msgs[uid].blob_id == sha
        referenced = await store.referenced_blob_ids()
        assert all(blobs.exists(b) for b in referenced)  # no row without bytes
        removed = blobs.sweep(referenced, older_than_s=0)
        print(f"acknowledged={len(acked)} rows={len(referenced)} swept={removed}")
        assert list((root / "tmp").iterdir()) == []
        on_disk = {p.name for p in root.glob("??/??/*")}
        assert on_disk == referenced
        for uid, sha in acked.items():  # byte for byte, after the sweep too
            with blobs.open(sha) as fh:
                data = fh.read()
            assert hashlib.sha256(data).hexdigest() == sha and len(data) == msgs[uid].size
