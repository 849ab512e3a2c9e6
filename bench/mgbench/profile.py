"""py-spy sampling of the running mailgate process, summarized as text."""

from __future__ import annotations

import functools
import inspect
import shutil
import subprocess
from collections import Counter
from pathlib import Path


@functools.cache
def _db_wait_line() -> int:
    """The line where the SQLite worker waits for work (its idle leaf)."""
    from mailgate.storage import sqlite_worker

    lines, start = inspect.getsourcelines(sqlite_worker.DbThread._main)
    return next((start + i for i, text in enumerate(lines) if "self._q.get()" in text), -1)


def available() -> bool:
    return shutil.which("py-spy") is not None


def start(pid: int, out: Path, seconds: float, rate: int = 200) -> subprocess.Popen:
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking",
                             "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(frame: str) -> str:
    # "func (path/to/mod.py:123)" -> "func (mod.py:123)"; keep mailgate paths
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    if "mailgate/" in loc:
        loc = loc[loc.index("mailgate/"):]
    else:
        loc = loc.rsplit("/", 1)[-1]
    return f"{name} ({loc})"


IDLE_LEAVES = ("EpollSelector.select", "_worker (thread.py:81)", "Condition.wait", "Event.wait",
               "Thread.join", "Queue.get", "SimpleQueue.get")


def _group(thread_frame: str) -> str:
    name = thread_frame.split(":", 1)[-1].strip()
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("sqlite:"):
        return "SQLite thread"
    if name.startswith("asyncio_"):
        return "executor threads (asyncio.to_thread)"
    return "other threads"


def summarize(raw: Path, top: int = 20) -> dict:
    """Per thread group (event loop, SQLite thread, executor): share of the
    samples, and the top functions by self and inclusive time. py-spy leaves
    out idle samples, so the shares are of busy time; threads run in parallel
    outside the GIL (argon2, fsync, SQLite), so group totals can exceed the
    wall time."""
    groups: dict[str, dict] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        parts = stack.split(";")
        group = _group(parts[0]) if parts[0].startswith("thread ") else "other threads"
        frames = [_short(f) for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        leaf = frames[-1]
        if leaf.startswith(IDLE_LEAVES) or (leaf.startswith("DbThread._main") and f":{_db_wait_line()})" in leaf):
            continue  # waiting: epoll, an empty work queue
        total += n
        g = groups.setdefault(group, {"samples": 0, "self": Counter(), "incl": Counter()})
        g["samples"] += n
        g["self"][frames[-1]] += n
        for f in set(frames):
            g["incl"][f] += n
    out = {"samples": total, "groups": {}}
    for name, g in sorted(groups.items(), key=lambda kv: -kv[1]["samples"]):
        busy = max(1, g["samples"])
        out["groups"][name] = {
            "samples": g["samples"], "share": g["samples"] / max(1, total),
            "self": [(f, n / busy) for f, n in g["self"].most_common(top)],
            "inclusive": [(f, n / busy) for f, n in g["incl"].most_common(top * 4)
                          if "mailgate/" in f][:top],
        }
    return out
