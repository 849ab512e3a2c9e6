"""Fan-out of the store's change signal to the sessions that watch a folder.

The store calls one listener per process; this hub turns that into per-folder
callbacks, so a delivery wakes only the sessions that have the folder selected
(10,000 idle sessions cost a dict lookup per change, not 10,000 calls).
"""

from __future__ import annotations

from collections.abc import Callable

from ..storage.base import Store
from ..storage.models import Change

Callback = Callable[[], None]


class ChangeHub:
    def __init__(self, store: Store) -> None:
        self._watchers: dict[int, set[Callback]] = {}
        self._generations: dict[int, int] = {}
        store.add_listener(self._on_change)

    def _on_change(self, change: Change) -> None:
        self.bump(change.folder_id)
        for callback in tuple(self._watchers.get(change.folder_id, ())):
            callback()

    def generation(self, folder_id: int) -> int:
        """Counts the changes heard of for a folder: a read of its changes
        started at generation G has not seen any change counted after G."""
        return self._generations.get(folder_id, 0)

    def bump(self, folder_id: int) -> None:
        self._generations[folder_id] = self._generations.get(folder_id, 0) + 1

    def watch(self, folder_id: int, callback: Callback) -> None:
        self._watchers.setdefault(folder_id, set()).add(callback)

    def unwatch(self, folder_id: int, callback: Callback) -> None:
        watchers = self._watchers.get(folder_id)
        if watchers is not None:
            watchers.discard(callback)
            if not watchers:
                del self._watchers[folder_id]

    def watcher_count(self, folder_id: int) -> int:
        return len(self._watchers.get(folder_id, ()))
