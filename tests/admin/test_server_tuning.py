"""The collector settings the server runs with (server.tune_gc)."""

from __future__ import annotations

import gc
import weakref

import pytest

from mailgate.server import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_tune_gc_freezes_what_is_loaded_and_raises_the_thresholds(restore_gc) -> None:
    loaded = _Node()
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert not any(obj is loaded for obj in gc.get_objects())  # frozen: never walked again


def test_cycles_made_after_tuning_are_still_freed_without_an_explicit_collect(restore_gc) -> None:
    tune_gc()
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle
    # Enough container allocations for the youngest generation to be collected.
    keep = [[] for _ in range(GC_THRESHOLDS[0] * 2)]
    assert gone() is None
    del keep
