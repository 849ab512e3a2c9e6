"""Workload 2: IDLE fan-out.

N connections log in as the same user, SELECT INBOX and IDLE. We measure the
server's memory (all its processes) before and after, per idle connection,
then APPEND one message from another connection and time until every idler
has seen `* n EXISTS` (noted in the event loop's read callback, see
_ExistsWatch, so the client's own cost stays small). Client source addresses
rotate over 127.0.0.x so the loopback port space is never the limit.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time

from .corpus import message
from .imapc import Imap, ProtocolError
from .servers import PASSWORD, Server, user

_EXISTS = re.compile(rb"\* (\d+) EXISTS")


async def _open(server: Server, k: int, address: str, tls: ssl.SSLContext | None) -> Imap:
    port = server.ports["imaps" if tls else "imap"]
    local = (f"127.0.0.{2 + k % 200}", 0)
    imap = await Imap.connect(server.host, port, tls=tls, local_addr=local)
    await imap.login(address, PASSWORD)
    await imap.ok("SELECT INBOX")
    tag = imap._tag()
    imap.w.write(tag + b" IDLE\r\n")
    resp = await imap.read_response()
    while not resp.line.startswith(b"+"):
        if resp.line.startswith(tag):
            raise ProtocolError(f"IDLE refused: {resp.line!r}")
        resp = await imap.read_response()
    imap.idle_tag = tag  # type: ignore[attr-defined]
    return imap


class _ExistsWatch(asyncio.Protocol):
    """Takes over an idling connection's transport while we wait for the
    delivery: notes the time its `* n EXISTS` arrives, straight from the
    event loop's read callback. (Reading it with a task per connection and
    StreamReader.readuntil cost the one client process ~40 us per idler: at
    10,000 idlers the measurement was mostly the client's own backlog.)"""

    __slots__ = ("times", "left", "all_seen", "tail", "seen")

    def __init__(self, times: list[float], left: list[int], all_seen: asyncio.Future) -> None:
        self.times, self.left, self.all_seen = times, left, all_seen
        self.tail = b""
        self.seen = False

    def data_received(self, data: bytes) -> None:
        if self.seen:
            return
        text = self.tail + data
        if _EXISTS.search(text):
            self.seen = True
            self.times.append(time.monotonic())
            self.left[0] -= 1
            if self.left[0] == 0 and not self.all_seen.done():
                self.all_seen.set_result(None)
        else:
            self.tail = text[-64:]

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def _watch(conns: list[Imap], timeout_future: asyncio.Future) -> list[float]:
    """Swap every idler's protocol for an _ExistsWatch; returns the list the
    arrival times are appended to."""
    times: list[float] = []
    left = [len(conns)]
    for imap in conns:
        # What the StreamReader already holds can only be keepalives ("* OK
        # Still here": the delivery comes later); the watch sees what follows.
        imap.w.transport.set_protocol(_ExistsWatch(times, left, timeout_future))
    if not conns:
        timeout_future.set_result(None)
    return times


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the server's processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


async def run(server: Server, n: int, address: str, *, tls: bool = False, settle: float = 2.0,
              parallel: int = 50, on_settled=None) -> dict:
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    conns: list[Imap] = []
    errors: list[str] = []
    sem = asyncio.Semaphore(parallel)

    async def one(k: int) -> None:
        async with sem:
            try:
                conns.append(await _open(server, k, address, ctx))
            except (ProtocolError, OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
                if len(errors) < 20:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                else:
                    errors.append("")

    # Warm-up: the first connections pay one-off costs (password-hash
    # memory kept by allocator arenas, auth worker processes, caches); the
    # baseline is taken after them, so the figure is per additional idler.
    warm = min(100, max(1, n // 10))
    await asyncio.gather(*(one(k) for k in range(warm)))
    await asyncio.sleep(settle)
    before = server.rss()
    warm_held = len(conns)
    t_open = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(warm, n)))
    open_seconds = time.monotonic() - t_open
    await asyncio.sleep(settle)  # Dovecot hibernation needs 5 s (settle is raised for it)
    if on_settled is not None:
        await on_settled()
    after = server.rss()
    held = len(conns)
    result = {
        "n": n, "held": held, "tls": tls, "open_seconds": open_seconds,
        "rss_before": before.rss, "rss_after": after.rss, "pss_before": before.pss, "pss_after": after.pss,
        "processes": after.processes,
        "warm": warm_held,
        "rss_per_conn": (after.rss - before.rss) / (held - warm_held) if held > warm_held else None,
        "pss_per_conn": (after.pss - before.pss) / (held - warm_held) if held > warm_held else None,
        "open_errors": len(errors), "error_samples": [e for e in errors if e][:5],
    }
    # one delivery, timed until every idler has its EXISTS
    sender = await Imap.connect(server.host, server.ports["imap"])
    await sender.login(address, PASSWORD)
    all_seen = asyncio.get_running_loop().create_future()
    times = _watch(conns, all_seen)
    await asyncio.sleep(0.2)
    cpu0, client0 = _cpu_seconds(server.pids()), time.process_time()
    t0 = time.monotonic()
    await sender.ok("APPEND INBOX {}", message("idle", int(t0 * 1000) % 100000))
    appended = time.monotonic() - t0
    try:
        await asyncio.wait_for(asyncio.shield(all_seen), 60)
    except asyncio.TimeoutError:
        pass
    # CPU used meanwhile, to tell the server's work from the client's (they
    # share the machine's cores).
    server_cpu, client_cpu = _cpu_seconds(server.pids()) - cpu0, time.process_time() - client0
    times = sorted(t - t0 for t in times)
    result.update({
        "append_seconds": appended,
        "notify_first": times[0] if times else None,
        "server_cpu_notify": server_cpu,
        "client_cpu_notify": client_cpu,
        "notified": len(times),
        "missed": held - len(times),
        "notify_p50": times[len(times) // 2] if times else None,
        "notify_p99": times[int(len(times) * 0.99) - 1] if times else None,
        "notify_all": times[-1] if times and len(times) == held else None,
        "notify_max_seen": times[-1] if times else None,
    })
    await sender.logout()
    # tear down

    async def close(imap: Imap) -> None:
        try:
            imap.w.write(b"DONE\r\n")
            imap.w.close()
        except (OSError, RuntimeError):
            pass

    await asyncio.gather(*(close(c) for c in conns))
    await asyncio.sleep(0.5)
    return result
