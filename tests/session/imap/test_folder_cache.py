"""The process's cache of big folders' indexes: a SELECT from it equals a fresh load."""

from __future__ import annotations

import asyncio
import random

import pytest

from mailgate.session.imap.folder_cache import FolderIndexCache
from mailgate.session.imap.message_index import MessageIndex
from mailgate.storage.memory import MemoryStore
from mailgate.storage.models import FlagMode, MessageMeta
from mailgate.storage.sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path):
    s = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "store.db")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path):
    """A store that outlives a process: what snapshot files are for."""
    s = SqliteStore(tmp_path / "store.db")
    await s.open()
    yield s
    await s.close()


async def _folder(store, name: str = "INBOX"):
    account = await store.create_account("ann@example.org", "{PLAIN}x")
    return account, await store.create_folder(account.id, name)


async def _append(store, folder_id: int, n: int, flags: tuple[str, ...] = ()) -> None:
    for i in range(n):
        await store.append_message(folder_id, blob_id=f"{i:064x}", size=10, summary=b"s",
                                   flags=flags, internaldate=None, quota_bytes=None)


async def _fresh(store, folder_id: int) -> list[tuple[int, int, frozenset[str]]]:
    return [(m.uid, m.modseq, m.flags) for m in await store.message_index(folder_id)]


def _rows(index) -> list[tuple[int, int, frozenset[str]]]:
    return [(m.uid, m.modseq, m.flags) for m in index.values()]


async def test_second_select_catches_up_with_every_kind_of_change(store) -> None:
    cache = FolderIndexCache(min_messages=3)
    _, folder = await _folder(store)
    await _append(store, folder.id, 6)
    index, mark = await cache.load(store, await store.get_folder_by_id(folder.id))
    assert _rows(index) == await _fresh(store, folder.id) and cache.held == 6
    await store.store_flags(folder.id, [2, 5], ["\\Seen", "work"], FlagMode.ADD)
    await store.expunge(folder.id, [1, 4])
    await _append(store, folder.id, 2, flags=("\\Flagged",))
    again, mark2 = await cache.load(store, await store.get_folder_by_id(folder.id))
    assert _rows(again) == await _fresh(store, folder.id)
    assert mark2 == (await store.get_folder_by_id(folder.id)).highestmodseq > mark
    assert cache.held == 6  # the entry was brought up to date, not added twice


async def test_a_view_changing_its_copy_leaves_the_cache_alone(store) -> None:
    cache = FolderIndexCache(min_messages=3)
    _, folder = await _folder(store)
    await _append(store, folder.id, 4)
    first, _ = await cache.load(store, folder)
    first.pop(2)
    second, _ = await cache.load(store, await store.get_folder_by_id(folder.id))
    assert [m.uid for m in second.values()] == [1, 2, 3, 4]


async def test_small_folders_are_not_kept(store) -> None:
    cache = FolderIndexCache(min_messages=10)
    _, folder = await _folder(store)
    await _append(store, folder.id, 4)
    await cache.load(store, folder)
    assert cache.held == 0


async def test_least_recently_selected_leave_first(store) -> None:
    cache = FolderIndexCache(max_messages=10, min_messages=1)
    account, a = await _folder(store)
    b = await store.create_folder(account.id, "B")
    c = await store.create_folder(account.id, "C")
    for folder in (a, b, c):
        await _append(store, folder.id, 4)
    for folder in (a, b, a, c):  # b is the least recently selected when c comes
        await cache.load(store, await store.get_folder_by_id(folder.id))
    assert cache.held == 8
    assert {key[1] for key in cache._entries} == {a.id, c.id}
    assert _rows((await cache.load(store, await store.get_folder_by_id(b.id)))[0]) == await _fresh(store, b.id)


async def test_a_recreated_folder_never_meets_the_old_entry(store) -> None:
    cache = FolderIndexCache(min_messages=1)
    account, folder = await _folder(store, "Big")
    await _append(store, folder.id, 3)
    await cache.load(store, folder)
    await store.delete_folder(folder.id)
    again = await store.create_folder(account.id, "Big")
    await _append(store, again.id, 1)
    index, _ = await cache.load(store, again)
    assert _rows(index) == await _fresh(store, again.id)


async def test_random_changes_between_selects(store) -> None:
    rng = random.Random(7)
    cache = FolderIndexCache(min_messages=1)
    _, folder = await _folder(store)
    await _append(store, folder.id, 20)
    for _round in range(25):
        uids = [m.uid for m in await store.message_index(folder.id)]
        action = rng.choice(["flags", "expunge", "append", "none"])
        if action == "flags" and uids:
            await store.store_flags(folder.id, rng.sample(uids, min(len(uids), 3)),
                                    [rng.choice(["\\Seen", "\\Deleted", "k1"])],
                                    rng.choice([FlagMode.ADD, FlagMode.REMOVE, FlagMode.REPLACE]))
        elif action == "expunge" and uids:
            await store.expunge(folder.id, rng.sample(uids, min(len(uids), 2)))
        elif action == "append":
            await _append(store, folder.id, rng.randint(1, 3))
        index, mark = await cache.load(store, await store.get_folder_by_id(folder.id))
        assert _rows(index) == await _fresh(store, folder.id)
        assert mark == (await store.get_folder_by_id(folder.id)).highestmodseq


# --- snapshots on disk: the first SELECT after a restart -------------------------

from mailgate.storage.index_snapshots import IndexSnapshots, store_identity  # noqa: E402
from mailgate.storage.models import MessageColumns  # noqa: E402


def _columns(uids, modseqs, flag_ids, flagsets) -> MessageColumns:
    from array import array

    return MessageColumns(array("Q", uids), array("Q", modseqs), array("I", flag_ids), flagsets)


def test_snapshot_round_trip_and_refusals(tmp_path) -> None:
    snaps = IndexSnapshots(tmp_path / "idx")
    columns = _columns([1, 5, 9], [3, 4, 8], [0, 1, 0], [frozenset(), frozenset({"\\Seen", "$Work"})])
    snaps.save("sqlite:/x.db", 7, 1234, 8, columns)
    loaded, modseq = snaps.load("sqlite:/x.db", 7, 1234)
    assert modseq == 8 and loaded.uids.tolist() == [1, 5, 9] and loaded.modseqs.tolist() == [3, 4, 8]
    assert loaded.flag_ids.tolist() == [0, 1, 0] and loaded.flagsets == columns.flagsets
    assert snaps.load("sqlite:/x.db", 7, 999) is None  # another UIDVALIDITY: a recreated folder
    assert snaps.open("sqlite:/x.db", 7, 1234).modseq == 8 and snaps.open("sqlite:/x.db", 7, 999) is None
    assert snaps.open("sqlite:/x.db", 6, 1234) is None  # no file
    assert snaps.load("sqlite:/other.db", 7, 1234) is None  # another store
    path = snaps.path("sqlite:/x.db", 7)
    good = path.read_bytes()
    for at in (-1, -13, -30, 6 + 8):  # a flag id, a MODSEQ, a UID, the head's MODSEQ: the checksum tells
        damaged = bytearray(good)
        damaged[at] ^= 0x40
        path.write_bytes(bytes(damaged))
        assert snaps.load("sqlite:/x.db", 7, 1234) is None, at
    path.write_bytes(b"MGIX1\n" + good[6:])  # the earlier format: ignored, not misread
    assert snaps.load("sqlite:/x.db", 7, 1234) is None
    path.write_bytes(good[:-3])  # truncated
    assert snaps.load("sqlite:/x.db", 7, 1234) is None
    path.write_bytes(b"garbage")
    assert snaps.load("sqlite:/x.db", 7, 1234) is None
    snaps.save("sqlite:/x.db", 8, 1, 0, _columns([], [], [], []))
    empty, _ = snaps.load("sqlite:/x.db", 8, 1)
    assert empty.uids.tolist() == [] and empty.flagsets == []


async def test_first_select_after_a_restart_reads_the_snapshot(sqlite_store, tmp_path) -> None:
    store = sqlite_store
    _, folder = await _folder(store)
    await _append(store, folder.id, 8)
    before_restart = FolderIndexCache(min_messages=5)
    before_restart.snapshots = IndexSnapshots(tmp_path / "idx")
    await before_restart.load(store, folder)
    await asyncio.gather(*before_restart._saving)
    assert before_restart.snapshots.path(store_identity(store), folder.id).exists()
    # changes while "down", then a new process's cache
    await store.expunge(folder.id, [3])
    await store.store_flags(folder.id, [4], ["\\Seen"], FlagMode.ADD)
    await _append(store, folder.id, 2)
    after_restart = FolderIndexCache(min_messages=5)
    after_restart.snapshots = before_restart.snapshots
    reads = []
    real = store.message_columns

    async def counting(folder_id):
        reads.append(folder_id)
        return await real(folder_id)

    store.message_columns = counting  # type: ignore[method-assign]
    index, mark = await after_restart.load(store, await store.get_folder_by_id(folder.id))
    assert reads == []  # from the file and the change log, not every row
    assert _rows(index) == await _fresh(store, folder.id)
    assert mark == (await store.get_folder_by_id(folder.id)).highestmodseq


async def test_a_snapshot_that_disagrees_with_the_store_is_not_used(sqlite_store, tmp_path) -> None:
    store = sqlite_store
    _, folder = await _folder(store)
    await _append(store, folder.id, 6)
    folder = await store.get_folder_by_id(folder.id)
    snaps = IndexSnapshots(tmp_path / "idx")
    # claims to be complete at the current MODSEQ but lacks two messages
    snaps.save(store_identity(store), folder.id, folder.uidvalidity, folder.highestmodseq,
               _columns([1, 2, 3, 4], [2, 3, 4, 5], [0, 0, 0, 0], [frozenset()]))
    cache = FolderIndexCache(min_messages=5)
    cache.snapshots = snaps
    index, _ = await cache.load(store, folder)
    assert _rows(index) == await _fresh(store, folder.id)


def test_a_mapped_snapshot_is_read_in_place_and_copied_on_the_first_change(tmp_path) -> None:
    snaps = IndexSnapshots(tmp_path / "idx")
    flagsets = [frozenset(), frozenset({"\\Seen"})]
    snaps.save("sqlite:/x.db", 3, 1, 40, _columns(list(range(1, 41)), list(range(1, 41)), [i % 2 for i in range(40)],
                                                  flagsets))
    columns, _ = snaps.load("sqlite:/x.db", 3, 1)
    assert isinstance(columns.uids, memoryview) and columns.uids.readonly  # read in place from the mapping
    index = MessageIndex.from_columns(columns)
    twin = index.copy()
    assert index[7] == MessageMeta(7, 7, flagsets[0]) and index.position(40) == 39
    index[41] = MessageMeta(41, 50, frozenset({"$Work"}))  # the first change makes private arrays
    index.remove_all({1, 2})
    assert not isinstance(index.uids, memoryview) and index.uids.tolist() == list(range(3, 42))
    assert twin.uids.tolist() == list(range(1, 41)) and len(twin) == 40  # the mapping is unchanged
    twin[5] = MessageMeta(5, 99, flagsets[1])
    assert twin[5].modseq == 99 and columns.modseqs[4] == 5
    reloaded, _ = snaps.load("sqlite:/x.db", 3, 1)
    assert reloaded.modseqs.tolist() == list(range(1, 41))


async def test_a_snapshot_newer_than_the_store_is_not_used(sqlite_store, tmp_path) -> None:
    """A store restored from an older backup: the file's MODSEQ is above the
    folder's, and catching up from it would miss every change up to there."""
    store = sqlite_store
    _, folder = await _folder(store)
    await _append(store, folder.id, 6)
    folder = await store.get_folder_by_id(folder.id)
    cache = FolderIndexCache(min_messages=5)
    cache.snapshots = IndexSnapshots(tmp_path / "idx")
    index, _ = await cache.load(store, folder)
    await asyncio.gather(*cache._saving)
    columns, modseq = cache.snapshots.load(store_identity(store), folder.id, folder.uidvalidity)
    cache.snapshots.save(store_identity(store), folder.id, folder.uidvalidity, modseq + 50, columns)
    fresh = FolderIndexCache(min_messages=5)
    fresh.snapshots = cache.snapshots
    assert await fresh._from_snapshot(store, folder) is None
    loaded, mark = await fresh.load(store, folder)  # from the store instead
    assert mark == folder.highestmodseq and list(loaded.uids) == list(index.uids)


def test_a_mapping_lives_only_while_an_unchanged_index_uses_it(tmp_path) -> None:
    import gc
    import os

    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    snaps = IndexSnapshots(tmp_path / "idx")
    snaps.save("sqlite:/x.db", 3, 1, 40, _columns([1, 2], [1, 2], [0, 0], [frozenset()]))
    assert not list((tmp_path / "idx").glob("*.tmp"))  # no temporary file left behind
    before = descriptors()
    index = MessageIndex.from_columns(snaps.load("sqlite:/x.db", 3, 1)[0])
    views = [index.copy() for _ in range(20)]  # sessions sharing one load: one mapping
    assert descriptors() == before + 1
    for view in views:
        view[3] = MessageMeta(3, 9, frozenset())  # each copies on its change
    index[3] = MessageMeta(3, 9, frozenset())
    gc.collect()
    assert descriptors() == before  # nobody reads the mapping any more: it is gone
    assert snaps.open("sqlite:/x.db", 3, 999) is None and descriptors() == before  # refused: closed at once
