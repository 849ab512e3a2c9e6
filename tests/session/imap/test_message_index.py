"""MessageIndex: the per-session arrays behave like the dict of MessageMeta they replace."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.session.imap.message_index import MessageIndex
from mailgate.storage.models import MessageMeta

FLAGSETS = [frozenset(), frozenset({"\\Seen"}), frozenset({"\\Seen", "\\Flagged"}), frozenset({"$Work"})]


def meta(uid: int, modseq: int = 1, flags: frozenset[str] = FLAGSETS[1]) -> MessageMeta:
    return MessageMeta(uid, modseq, flags)


def test_mapping_questions() -> None:
    index = MessageIndex([meta(5, 7), meta(2, 3, FLAGSETS[0]), meta(9, 9, FLAGSETS[2])])
    assert list(index.uids) == [2, 5, 9] and len(index) == 3
    assert index[5] == meta(5, 7) and index.get(2) == meta(2, 3, FLAGSETS[0])
    assert index.get(3) is None and 3 not in index and 9 in index and "9" not in index
    assert index.position(9) == 2 and index.position(10) is None
    assert list(index) == [2, 5, 9]
    assert [m.uid for m in index.values()] == [2, 5, 9]
    index[5] = meta(5, 11, FLAGSETS[3])
    assert index[5] == meta(5, 11, FLAGSETS[3])
    index[12] = meta(12, 12)  # a new, higher UID is appended
    assert list(index.uids) == [2, 5, 9, 12]
    assert index.pop(5) == meta(5, 11, FLAGSETS[3]) and index.pop(5) is None
    assert list(index.uids) == [2, 9, 12] and index.modseqs.tolist() == [3, 9, 12]


def test_refuses_out_of_order_appends_and_mismatched_keys() -> None:
    index = MessageIndex([meta(5)])
    try:
        index.append(meta(4))
    except ValueError as exc:
        assert "does not follow" in str(exc)
    else:
        raise AssertionError("an older UID was appended")
    try:
        index[6] = meta(7)
    except ValueError as exc:
        assert "not the message's UID" in str(exc)
    else:
        raise AssertionError("a key/UID mismatch was accepted")


def test_flag_sets_are_shared() -> None:
    index = MessageIndex(meta(uid, uid, FLAGSETS[uid % 2]) for uid in range(1, 1001))
    assert len(index.flagsets) == 2


def test_100000_messages_fit_in_two_megabytes() -> None:
    metas = [meta(uid, uid, FLAGSETS[uid % 4]) for uid in range(1, 100_001)]
    tracemalloc.start()
    try:
        index = MessageIndex(metas)
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert index.nbytes() <= 2_000_000
    assert current <= 2_500_000  # arrays (with growth slack) and four flag sets
    assert index[77_777] == meta(77_777, 77_777, FLAGSETS[77_777 % 4])


_ops = st.lists(st.tuples(st.sampled_from(["set", "pop", "new"]), st.integers(1, 60),
                          st.integers(1, 1000), st.sampled_from(range(len(FLAGSETS)))), max_size=60)


@given(st.sets(st.integers(1, 50), max_size=30), _ops)
@settings(max_examples=200, deadline=None)
def test_behaves_like_a_sorted_dict(start: set[int], ops: list[tuple[str, int, int, int]]) -> None:
    model = {uid: meta(uid, uid) for uid in start}
    index = MessageIndex(model.values())
    for op, uid, modseq, f in ops:
        if op == "set" and uid in model:
            model[uid] = index_value = meta(uid, modseq, FLAGSETS[f])
            index[uid] = index_value
        elif op == "pop":
            assert index.pop(uid) == model.pop(uid, None)
        elif op == "new":
            new_uid = max(model, default=0) + uid
            model[new_uid] = meta(new_uid, modseq, FLAGSETS[f])
            index[new_uid] = model[new_uid]
        assert list(index.uids) == sorted(model)
        for u in (uid, *model):
            assert index.get(u) == model.get(u)
            assert (u in index) == (u in model)


def test_from_columns_and_positions_with() -> None:
    from array import array

    from mailgate.storage.models import MessageColumns

    columns = MessageColumns(array("Q", [1, 4, 9]), array("Q", [5, 6, 7]), array("I", [0, 1, 0]),
                             [FLAGSETS[1], FLAGSETS[0]])
    index = MessageIndex.from_columns(columns)
    assert index[4] == meta(4, 6, FLAGSETS[0]) and len(index) == 3
    assert list(index.positions_with(lambda flags: "\\Seen" not in flags)) == [1]
    assert list(index.positions_with(lambda flags: "\\Seen" in flags)) == [0, 2]
    assert list(index.positions_with(lambda flags: "$Nope" in flags)) == []
    index[9] = meta(9, 8, FLAGSETS[0])  # an existing flag set is reused
    assert len(index.flagsets) == 2 and index[9].modseq == 8


def test_a_view_forgets_pending_flag_changes_of_messages_it_expunged() -> None:
    """Another session's flag change is polled (pending), then this session
    expunges that message itself: the pending change must not bring it back
    (the benchmark's proxied mix hit 'UID 4661 does not follow 4666' here)."""
    from mailgate.session.imap.selected import SelectedFolder
    from mailgate.storage.models import Folder

    folder = Folder(id=1, account_id=1, name="INBOX", uidvalidity=7, uidnext=4, highestmodseq=3)
    view = SelectedFolder(folder, False, [meta(1, 1), meta(2, 2), meta(3, 3)])
    view._pending_flags[2] = meta(2, 9, FLAGSETS[2])  # polled: another session flagged it
    view._pending_flags[3] = meta(3, 10, FLAGSETS[2])
    assert view.forget_expunged_by_self([2]) == [2]
    updates = view.take_updates(allow_expunge=True)
    assert list(view.uids) == [1, 3] and 2 not in view.meta
    assert updates.flag_changes == [(2, meta(3, 10, FLAGSETS[2]))]  # 3 is now message 2


def test_copy_is_independent_and_remove_all_drops_in_one_pass() -> None:
    index = MessageIndex(meta(uid, uid, FLAGSETS[uid % 2]) for uid in range(1, 8))
    twin = index.copy()
    twin.remove_all({2, 5, 7})
    twin[3] = meta(3, 30, FLAGSETS[3])
    assert list(twin.uids) == [1, 3, 4, 6] and twin.modseqs.tolist() == [1, 30, 4, 6]
    assert twin[4] == meta(4, 4, FLAGSETS[0])
    assert list(index.uids) == list(range(1, 8)) and index[3] == meta(3, 3, FLAGSETS[1])


_family_ops = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["set", "pop", "new", "remove", "copy"]),
                                 st.integers(1, 40), st.sampled_from(range(len(FLAGSETS)))), max_size=40)


@given(st.sets(st.integers(1, 30), max_size=20), _family_ops)
@settings(max_examples=200, deadline=None)
def test_copies_share_arrays_yet_change_independently(start: set[int], ops: list) -> None:
    """Copy on write: copies of copies, each changed in any order, each
    behaves as its own sorted dict."""
    family = [MessageIndex(meta(uid, uid) for uid in start)]
    models = [{uid: meta(uid, uid) for uid in start}]
    for who, op, uid, f in ops:
        who %= len(family)
        index, model = family[who], models[who]
        if op == "copy":
            family.append(index.copy())
            models.append(dict(model))
        elif op == "set" and uid in model:
            index[uid] = model[uid] = meta(uid, 100 + uid, FLAGSETS[f])
        elif op == "pop":
            assert index.pop(uid) == model.pop(uid, None)
        elif op == "new":
            new_uid = max(model, default=0) + uid
            index[new_uid] = model[new_uid] = meta(new_uid, 200 + uid, FLAGSETS[f])
        elif op == "remove":
            gone = {u for u in model if u % uid == 0}
            index.remove_all(gone)
            for u in gone:
                del model[u]
        for member, expected in zip(family, models):
            assert list(member.uids) == sorted(expected)
            assert [member.at(i) for i in range(len(member))] == [expected[u] for u in sorted(expected)]


def test_a_copy_costs_no_array_copy_until_a_change() -> None:
    index = MessageIndex(meta(uid, uid) for uid in range(1, 1001))
    twin = index.copy()
    assert twin.uids is index.uids and twin.flag_ids is index.flag_ids  # shared, not copied
    twin[1001] = meta(1001, 5)
    assert twin.uids is not index.uids and len(index) == 1000 and len(twin) == 1001


def test_a_view_on_a_shared_index_follows_its_own_changes() -> None:
    """The view's uids and \\Recent read the index's current arrays, which
    change identity when a shared index first copies them."""
    from mailgate.session.imap.selected import SelectedFolder
    from mailgate.storage.models import Folder

    cached = MessageIndex(meta(uid, uid) for uid in (1, 2, 3))
    folder = Folder(id=1, account_id=1, name="INBOX", uidvalidity=7, uidnext=4, highestmodseq=3)
    view = SelectedFolder(folder, False, cached.copy())
    view.recent.claim_range(1, 3)
    assert len(view.recent) == 2
    view.meta[4] = meta(4, 4)
    view.recent.update([4])
    assert list(view.uids) == [1, 2, 3, 4] and view.exists == 4 and 4 in view.recent and len(view.recent) == 3
    view.forget_expunged_by_self([2])
    assert list(view.uids) == [1, 3, 4] and 2 not in view.recent and len(view.recent) == 2
    assert list(cached.uids) == [1, 2, 3]  # the cache's copy is untouched
