"""Workload 2: IDLE fan-out.

N connections log in as the same user, SELECT INBOX and IDLE. We measure the
server's memory (all its processes) before and after, per idle connection,
then APPEND one message from another connection and time until every idler
has seen `* n EXISTS`. Client source addresses rotate over 127.0.0.x so the
loopback port space is never the limit.
"""

from __future__ import annotations

import asyncio
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


async def _wait_exists(imap: Imap) -> float:
    while True:
        resp = await imap.read_response()
        if _EXISTS.match(resp.line):
            return time.monotonic()


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
    waiters = [asyncio.ensure_future(_wait_exists(imap)) for imap in conns]
    sender = await Imap.connect(server.host, server.ports["imap"])
    await sender.login(address, PASSWORD)
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await sender.ok("APPEND INBOX {}", message("idle", int(t0 * 1000) % 100000))
    appended = time.monotonic() - t0
    done, pending = await asyncio.wait(waiters, timeout=60)
    times = sorted(w.result() - t0 for w in done if w.exception() is None)
    for w in pending:
        w.cancel()
    result.update({
        "append_seconds": appended,
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
