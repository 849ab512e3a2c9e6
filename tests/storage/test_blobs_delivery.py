"""BlobStore and delivery.deliver (driver-independent parts run on both)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mailgate import mime
from mailgate.delivery import DEFAULT_FOLDERS, deliver, ensure_default_folders
from mailgate.storage import (
    BlobMissing,
    BlobStore,
    NotFound,
    QuotaExceeded,
    SqliteStore,
    StorageError,
)
from mailgate.storage import blobs as blobs_module
from mailgate.storage.base import Store

RAW = b"Subject: hi\nFrom: a@b\n\nline one\r\nline two\n"
STORED = b"Subject: hi\r\nFrom: a@b\r\n\r\nline one\r\nline two\r\n"


# --- BlobStore --------------------------------------------------------------------
async def test_write_stream_normalizes_hashes_and_lays_out(blobs: BlobStore) -> None:
    chunks = [RAW[:12], RAW[12:13], RAW[13:30], RAW[30:]]
    blob_id, size, path = await blobs.write_stream(chunks)
    assert blob_id == hashlib.sha256(STORED).hexdigest() and size == len(STORED)
    assert path == blobs.root / blob_id[:2] / blob_id[2:4] / blob_id == blobs.path(blob_id)
    with blobs.open(blob_id) as fh:
        assert fh.read() == STORED
    assert list((blobs.root / "tmp").iterdir()) == []


async def test_write_stream_sources_and_dedup(blobs: BlobStore) -> None:
    async def agen() -> AsyncIterator[bytes]:
        for i in range(0, len(RAW), 5):
            yield RAW[i : i + 5]

    a = await blobs.write_stream(agen())
    b = await blobs.write_stream(RAW)
    c = await blobs.write_stream([STORED])
    assert a == b == c
    assert len(list(blobs.root.glob("??/??/*"))) == 1
    assert list((blobs.root / "tmp").iterdir()) == []
    empty_id, size, _ = await blobs.write_stream([])
    assert size == 0 and empty_id == hashlib.sha256(b"").hexdigest()


async def test_cr_split_across_chunks(blobs: BlobStore) -> None:
    blob_id, _, _ = await blobs.write_stream([b"a\r", b"\nb\n", b"c\rd"])
    assert blobs.path(blob_id).read_bytes() == b"a\r\nb\r\nc\rd"


async def test_failing_source_leaves_no_temp_file(blobs: BlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.write_stream(broken())
    assert list((blobs.root / "tmp").iterdir()) == []


def test_open_missing_and_malformed(blobs: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        blobs.open("0" * 64)
    with pytest.raises(BlobMissing):
        blobs.path("../../etc/passwd")
    assert not blobs.exists("f" * 64)


async def test_reads_survive_a_changed_directory_and_a_replaced_root(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs are opened relative to a held descriptor of the root: a relative
    root keeps working after a chdir, and a root replaced while running (a
    restore) is found again by name and held from then on."""
    monkeypatch.chdir(tmp_path)
    blobs = BlobStore("blobs")
    blob_id, size, _ = await blobs.write_stream(RAW)
    monkeypatch.chdir("/")
    assert blobs.read_whole(blob_id, size) == STORED
    with blobs.open(blob_id) as fh:
        assert fh.read() == STORED

    root = tmp_path / "blobs"
    root.rename(tmp_path / "old")  # the held descriptor follows the old directory...
    (tmp_path / "old" / blob_id[:2] / blob_id[2:4] / blob_id).unlink()
    restored = BlobStore(root)  # ...while a restore puts a new one in its place
    assert (await restored.write_stream(RAW))[0] == blob_id
    assert blobs.read_whole(blob_id, size) == STORED
    assert os.path.samestat(os.fstat(blobs._root_fd), os.stat(root))  # the new root is held from now on
    with pytest.raises(BlobMissing):
        blobs.read_whole("e" * 64, 1)


async def test_a_stale_root_handle_falls_back_to_the_name_and_a_race_keeps_the_root(
        blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """ESTALE (NFS) under the held root is treated like a replaced root; a
    blob missing under the held root but found by name in the same directory
    (it arrived in between) keeps the held descriptor and opens no other."""
    import errno

    blob_id, size, _ = await blobs.write_stream(RAW)
    held = blobs._root_fd
    real_open = os.open
    failures = {"errno": errno.ESTALE}

    def flaky(path, flags, *args, dir_fd=None, **kwargs):
        if dir_fd is not None and failures:
            raise OSError(failures.pop("errno"), "simulated")
        return real_open(path, flags, *args, dir_fd=dir_fd, **kwargs) if dir_fd is not None else \
            real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(blobs_module.os, "open", flaky)
    before = len(os.listdir("/proc/self/fd"))
    assert blobs.read_whole(blob_id, size) == STORED  # by name
    assert blobs._root_fd == held and len(os.listdir("/proc/self/fd")) == before
    failures["errno"] = errno.ENOENT
    assert blobs.read_whole(blob_id, size) == STORED
    assert blobs._root_fd == held and len(os.listdir("/proc/self/fd")) == before
    failures["errno"] = errno.EACCES  # anything else is a storage error, as before
    with pytest.raises(StorageError):
        blobs.read_whole(blob_id, size)


async def test_open_of_a_directory_where_a_blob_should_be_is_a_storage_error(blobs: BlobStore) -> None:
    blob_id = "a" * 64
    (blobs.root / blob_id[:2] / blob_id[2:4] / blob_id).mkdir(parents=True)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(StorageError):
        blobs.open(blob_id)
    assert len(os.listdir("/proc/self/fd")) == before  # the descriptor was closed


async def test_sweep_removes_orphans_and_stale_temps(blobs: BlobStore) -> None:
    keep, _, _ = await blobs.write_stream([b"keep\r\n"])
    orphan, _, orphan_path = await blobs.write_stream([b"orphan\r\n"])
    stale = blobs.root / "tmp" / "dead.tmp"
    stale.write_bytes(b"half")
    assert blobs.sweep({keep}) == 0  # everything is young: a delivery may be in flight
    old = time.time() - 7200
    for p in (orphan_path, stale, blobs.path(keep)):
        os.utime(p, (old, old))
    assert blobs.sweep({keep}) == 2
    assert blobs.exists(keep) and not blobs.exists(orphan) and not stale.exists()
    # Re-delivering bytes refreshes the blob's age, protecting it from a sweep
    # that started before the new row commits.
    os.utime(blobs.path(keep), (old, old))
    await blobs.write_stream([b"keep\r\n"])
    assert blobs.sweep(set(), older_than_s=60) == 0


async def test_stage_then_install(blobs: BlobStore) -> None:
    staged = await blobs.stage([RAW])
    assert staged.blob_id == hashlib.sha256(STORED).hexdigest() and staged.size == len(STORED)
    assert staged.content == STORED  # small: the bytes stay at hand for the summary
    assert not blobs.exists(staged.blob_id)  # not visible before install
    # Small: no file yet (creating one can wait on the journal; install()
    # writes it on its thread).
    assert list((blobs.root / "tmp").iterdir()) == []
    path = await staged.install()
    assert path == blobs.path(staged.blob_id) and path.read_bytes() == STORED
    assert list((blobs.root / "tmp").iterdir()) == []
    with pytest.raises(StorageError):
        await staged.install()  # once only
    big = await blobs.stage([b"x" * (blobs_module._WRITE_BUFFER + 1)])
    assert big.content is None  # written in pieces: the summary reads the file
    assert len(list((blobs.root / "tmp").iterdir())) == 1
    big.discard()
    assert list((blobs.root / "tmp").iterdir()) == []
    empty = await blobs.stage(b"")
    assert empty.content == b""
    assert (await empty.install()).read_bytes() == b""
    exact = await blobs.stage([b"y" * blobs_module._WRITE_BUFFER])  # the largest kept in memory
    assert exact.content is not None and list((blobs.root / "tmp").iterdir()) == []
    assert (await exact.install()).stat().st_size == blobs_module._WRITE_BUFFER
    chunked = [b"z" * 1000] * (blobs_module._WRITE_BUFFER // 1000 + 5)  # many small chunks
    many = await blobs.stage(chunked)
    assert many.content is None and many.size == sum(map(len, chunked))
    assert (await many.install()).read_bytes() == b"".join(chunked)


def _record_dir_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    synced: list[Path] = []
    real = blobs_module._fsync_dir

    def record(path: Path) -> None:
        synced.append(Path(path))
        real(path)

    monkeypatch.setattr(blobs_module, "_fsync_dir", record)
    return synced


async def test_directory_fsyncs(blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _record_dir_fsyncs(monkeypatch)
    blob_id, _, path = await blobs.write_stream([b"one\r\n"])
    # New fan-out directories: each new entry's directory, once.
    assert synced == [blobs.root, path.parent.parent, path.parent]
    synced.clear()
    await blobs.write_stream([b"one\r\n"])  # same bytes: no new file, no temp file
    # ... but its name is made durable again: the delivery that renamed it
    # in may not have fsynced the directory yet.
    assert synced == [path.parent]
    assert list((blobs.root / "tmp").iterdir()) == []
    data = b"two\r\n"
    leaf = blobs.path(hashlib.sha256(data).hexdigest()).parent
    leaf.mkdir(parents=True)  # an existing (settled) fan-out directory
    synced.clear()
    _, _, path = await blobs.write_stream([data])
    assert synced == [leaf]  # only the directory that got the new name


async def test_directory_being_created_by_another_thread_is_synced(
    blobs: BlobStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fan-out directory that exists but whose creator has not fsynced its
    parent yet is not relied on: we fsync the parent ourselves."""
    data = b"three\r\n"
    leaf = blobs.path(hashlib.sha256(data).hexdigest()).parent
    leaf.mkdir(parents=True)
    blobs._creating.add(str(leaf))  # as if another thread were between mkdir and fsync
    synced = _record_dir_fsyncs(monkeypatch)
    await blobs.write_stream([data])
    assert synced == [leaf.parent, leaf]


async def test_cancelled_install_leaves_no_temp_file(blobs: BlobStore) -> None:
    staged = await blobs.stage([b"cancel me\r\n"])
    task = asyncio.ensure_future(staged.install())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the thread finishes on its own: the blob appears
        if blobs.exists(staged.blob_id):
            break
        await asyncio.sleep(0.01)
    assert blobs.exists(staged.blob_id)
    assert list((blobs.root / "tmp").iterdir()) == []


async def test_summary_from_memory_equals_summary_from_file(blobs: BlobStore) -> None:
    from mailgate.delivery import Summary, _summarize_file

    raw = (b"From: a@example.org\nSubject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
           b"--b\nContent-Type: text/plain\n\nhello\n--b--\n")
    staged = await blobs.stage([raw])
    path = await staged.install()
    summary = Summary(staged.content)
    summary.prepare()
    assert await summary.of(path, staged.size) == _summarize_file(path, staged.size)


# --- delivery --------------------------------------------------------------------
async def test_deliver_and_default_folders(
    store: Store, blobs: BlobStore, fake_summarize: None
) -> None:
    acc = await store.create_account("ann@example.org", "x")
    assert await ensure_default_folders(store, acc) == [n for n, _ in DEFAULT_FOLDERS]
    assert await ensure_default_folders(store, acc) == []
    folders = {f.name: f.special_use for f in await store.list_folders(acc.id)}
    assert folders == dict(DEFAULT_FOLDERS)
    assert await store.list_subscriptions(acc.id) == sorted(n for n, _ in DEFAULT_FOLDERS)

    msg = await deliver(store, blobs, acc, "INBOX", [RAW], flags=["\\Seen"])
    assert (msg.uid, msg.size, msg.flags) == (1, len(STORED), {"\\Seen"})
    assert msg.summary == b"%d:Subject: hi" % len(STORED)
    with blobs.open(msg.blob_id) as fh:
        assert fh.read() == STORED
    copy = await deliver(store, blobs, acc, "Sent", RAW)
    assert copy.blob_id == msg.blob_id  # same bytes, one blob
    empty = await deliver(store, blobs, acc, "Drafts", b"")
    assert empty.size == 0 and empty.summary == b"0:"


async def test_deliver_errors(store: Store, blobs: BlobStore, fake_summarize: None) -> None:
    acc = await store.create_account("ann@example.org", "x")
    await store.create_folder(acc.id, "INBOX")
    with pytest.raises(NotFound):
        await deliver(store, blobs, acc, "Nowhere", [RAW])
    assert list(blobs.root.glob("??/??/*")) == []  # checked before writing bytes
    acc = await store.update_account(acc.address, quota_bytes=len(STORED) + 5)
    await deliver(store, blobs, acc, "INBOX", [RAW])
    with pytest.raises(QuotaExceeded):
        await deliver(store, blobs, acc, "INBOX", [RAW + b"more"])
    assert (await store.folder_status((await store.get_folder(acc.id, "INBOX")).id)).messages == 1


async def test_deliver_with_real_mime_summary(store: Store, blobs: BlobStore) -> None:
    acc = await store.create_account("ann@example.org", "x")
    await store.create_folder(acc.id, "INBOX")
    msg = await deliver(store, blobs, acc, "INBOX", [RAW])
    assert isinstance(msg.summary, bytes) and msg.summary


@pytest.mark.slow
async def test_10mb_delivery_streams_in_bounded_memory(tmp_path: Path, blobs: BlobStore) -> None:
    """With the real summary: the message is parsed through an mmap."""
    chunk = (b"0123456789abcdef" * 64 + b"\n") * 63  # ~64 KiB of bare-LF lines
    count = (10 * 1024 * 1024) // len(chunk) + 1

    def source() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk  # the same object: the source itself holds ~64 KiB

    async with SqliteStore(tmp_path / "s.db") as store:
        acc = await store.create_account("ann@example.org", "x")
        await store.create_folder(acc.id, "INBOX")
        tracemalloc.start()
        try:
            msg = await deliver(store, blobs, acc, "INBOX", source())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert msg.size == count * (len(chunk) + 63) > 10 * 1024 * 1024
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes"
    digest = hashlib.sha256()
    with blobs.open(msg.blob_id) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    assert digest.hexdigest() == msg.blob_id
