"""Change listeners and the polling loop that carries other processes' writes.

Listeners are plain callables run on the event loop. A failing listener is
logged and skipped: one broken session must not stop others hearing changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from .models import Change

log = logging.getLogger(__name__)

ChangeListener = Callable[[Change], None]


class Listeners:
    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[ChangeListener] = []

    def add(self, listener: ChangeListener) -> None:
        self._items.append(listener)

    def remove(self, listener: ChangeListener) -> None:
        try:
            self._items.remove(listener)
        except ValueError:
            pass

    def __bool__(self) -> bool:
        return bool(self._items)

    def fire(self, folder_ids: Iterable[int]) -> None:
        if not self._items:
            return
        for fid in dict.fromkeys(folder_ids):  # dedupe, keep order
            change = Change(fid)
            for listener in tuple(self._items):  # listeners may remove themselves
                try:
                    listener(change)
                except Exception:
                    log.exception("change listener failed")


class Poller:
    """Runs poll() every `interval` seconds and fires what it returns.

    poll() must be cheap when nothing changed (the SQLite one asks
    PRAGMA data_version and returns at once).
    """

    def __init__(
        self,
        poll: Callable[[], Awaitable[list[int]]],
        listeners: Listeners,
        interval: float = 0.15,
    ) -> None:
        self._poll = poll
        self._listeners = listeners
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                changed = await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy or broken DB must not end the loop
                log.exception("change poll failed")
                continue
            if changed:
                self._listeners.fire(changed)
