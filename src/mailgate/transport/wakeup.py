"""One task per asyncio.Event for all the connections that must wake on it.

10,000 idle IMAP connections each waiting on `runtime.shutting_down` with
its own `event.wait()` task would cost 10,000 tasks and coroutine frames;
here they are 10,000 entries of one set, called when the event is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Callback = Callable[[], None]


class _Fanout:
    __slots__ = ("callbacks", "task")

    def __init__(self, event: asyncio.Event, key: int) -> None:
        self.callbacks: set[Callback] = set()
        self.task = asyncio.get_running_loop().create_task(self._watch(event, key))

    async def _watch(self, event: asyncio.Event, key: int) -> None:
        await event.wait()
        _fanouts.pop(key, None)
        for callback in tuple(self.callbacks):
            callback()


# Keyed by id(event): an entry (whose task keeps the event alive, so the id
# stays its own) lives only while it has callbacks.
_fanouts: dict[int, _Fanout] = {}


def subscribe(event: asyncio.Event, callback: Callback) -> None:
    """Call `callback` once when `event` is set (at once if it already is,
    on the next loop iteration)."""
    if event.is_set():
        asyncio.get_running_loop().call_soon(callback)
        return
    key = id(event)
    fanout = _fanouts.get(key)
    if fanout is None:
        fanout = _fanouts[key] = _Fanout(event, key)
    fanout.callbacks.add(callback)


def unsubscribe(event: asyncio.Event, callback: Callback) -> None:
    key = id(event)
    fanout = _fanouts.get(key)
    if fanout is None:
        return
    fanout.callbacks.discard(callback)
    if not fanout.callbacks:
        del _fanouts[key]
        fanout.task.cancel()


def subscribers(event: asyncio.Event) -> int:
    fanout = _fanouts.get(id(event))
    return len(fanout.callbacks) if fanout is not None else 0


# --- coarse timers ---------------------------------------------------------------

# Timers of many connections share one loop timer per TICK: an idler's
# keepalive or autologout then costs an entry in a set, not a TimerHandle
# and a libuv timer each. They fire up to TICK late, never early.
TICK = 0.25


class _Wheel:
    __slots__ = ("loop", "buckets")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buckets: dict[int, set[Callback]] = {}

    def _fire(self, slot: int) -> None:
        for callback in self.buckets.pop(slot, ()):
            callback()


_wheel: _Wheel | None = None


def _current_wheel() -> _Wheel:
    global _wheel
    loop = asyncio.get_running_loop()
    if _wheel is None or _wheel.loop is not loop:  # tests run many loops, one after another
        _wheel = _Wheel(loop)
    return _wheel


def call_at(when: float, callback: Callback) -> int:
    """Call `callback` at loop time `when` (up to TICK later); returns the
    slot to give cancel()."""
    wheel = _current_wheel()
    slot = -int(-when // TICK)  # ceil: never early
    bucket = wheel.buckets.get(slot)
    if bucket is None:
        bucket = wheel.buckets[slot] = set()
        wheel.loop.call_at(slot * TICK, wheel._fire, slot)
    bucket.add(callback)
    return slot


def slot_time(slot: int) -> float:
    """When a slot's callbacks run (loop time)."""
    return slot * TICK


def cancel(slot: int, callback: Callback) -> None:
    wheel = _wheel
    if wheel is not None:
        bucket = wheel.buckets.get(slot)
        if bucket is not None:
            bucket.discard(callback)


def pending_timers() -> int:
    return sum(len(b) for b in _wheel.buckets.values()) if _wheel is not None else 0
