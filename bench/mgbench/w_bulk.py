"""Workloads 3-6: header-first sync, POP3 download, delivery, large folder.

Each checks what it reads against the corpus: message k of a preloaded
folder is corpus message k (UID k+1), so bytes, sizes and message-ids are
known exactly.
"""

from __future__ import annotations

import asyncio
import time

from .corpus import digest, flags_for, message, message_id
from .imapc import Imap, ProtocolError, fetch_items
from .servers import PASSWORD, Server


class Checker:
    def __init__(self, kind: str, n: int, small: bool = False) -> None:
        self.kind = kind
        self.n = n
        self.sizes: list[int] = []
        self.digests: list[bytes] = []
        for i in range(n):
            data = message(kind, i, small=small)
            self.sizes.append(len(data))
            self.digests.append(digest(data))


def _err(errors: list[str], text: str) -> None:
    errors.append(text[:300])


# --- 3. header-first sync --------------------------------------------------------

async def header_sync(server: Server, address: str, check: Checker, batch: int = 500) -> dict:
    errors: list[str] = []
    imap = await Imap.connect(server.host, server.ports["imap"])
    await imap.login(address, PASSWORD)
    await imap.ok("EXAMINE INBOX")
    t0 = time.perf_counter()
    res = await imap.ok("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
    t_headers = time.perf_counter() - t0
    seen = 0
    for u in res.untagged:
        parsed = fetch_items(u)
        if parsed is None:
            continue
        seq, items = parsed
        seen += 1
        k = seq - 1
        try:
            env = items[b"ENVELOPE"]
            if int(items[b"UID"]) != seq or int(items[b"RFC822.SIZE"]) != check.sizes[k]:
                _err(errors, f"seq {seq}: UID/size {items.get(b'UID')!r} {items.get(b'RFC822.SIZE')!r}")
            elif env[9] != message_id(check.kind, k).encode():
                _err(errors, f"seq {seq}: message-id {env[9]!r}")
            elif not isinstance(items[b"BODYSTRUCTURE"], list) or not isinstance(items[b"FLAGS"], list):
                _err(errors, f"seq {seq}: BODYSTRUCTURE/FLAGS missing")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            _err(errors, f"seq {seq}: {exc!r} in {u.line[:200]!r}")
    if seen != check.n:
        _err(errors, f"header FETCH returned {seen} of {check.n}")
    header_bytes = sum(len(u.line) + sum(map(len, u.literals)) for u in res.untagged)
    del res
    t1 = time.perf_counter()
    octets = 0
    bodies = 0
    for first in range(1, check.n + 1, batch):
        last = min(check.n, first + batch - 1)
        res = await imap.ok(f"FETCH {first}:{last} BODY.PEEK[]")
        for u in res.untagged:
            parsed = fetch_items(u)
            if parsed is None:
                continue
            seq, items = parsed
            data = items.get(b"BODY[]")
            if not isinstance(data, bytes) or digest(data) != check.digests[seq - 1]:
                _err(errors, f"seq {seq}: body differs")
            else:
                bodies += 1
                octets += len(data)
    t_bodies = time.perf_counter() - t1
    if bodies != check.n:
        _err(errors, f"bodies: {bodies} of {check.n} correct")
    await imap.logout()
    return {"n": check.n, "headers_s": t_headers, "headers_msgs_per_s": check.n / t_headers,
            "headers_mb_per_s": header_bytes / t_headers / 1e6,
            "bodies_s": t_bodies, "bodies_msgs_per_s": check.n / t_bodies, "bodies_mb_per_s": octets / t_bodies / 1e6,
            "errors": len(errors), "error_samples": errors[:5]}


# --- 4. POP3 download --------------------------------------------------------------

class Pop3:
    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w

    @classmethod
    async def connect(cls, host: str, port: int) -> "Pop3":
        r, w = await asyncio.open_connection(host, port, limit=1 << 22)
        self = cls(r, w)
        greet = await r.readuntil(b"\r\n")
        if not greet.startswith(b"+OK"):
            raise ProtocolError(f"POP3 greeting {greet!r}")
        return self

    async def cmd(self, line: str) -> bytes:
        self.w.write(line.encode() + b"\r\n")
        resp = await self.r.readuntil(b"\r\n")
        if not resp.startswith(b"+OK"):
            raise ProtocolError(f"POP3 {line.split()[0]} -> {resp[:200]!r}")
        return resp

    async def multiline(self) -> bytes:
        """Reads to the terminating dot line and undoes dot-stuffing."""
        data = await self.r.readuntil(b"\r\n.\r\n")
        body = data[:-3]
        if body.startswith(b".") or b"\r\n." in body:
            lines = body.split(b"\r\n")
            body = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)
        return body


async def pop3_download(server: Server, address: str, check: Checker) -> dict:
    errors: list[str] = []
    t0 = time.perf_counter()
    pop = await Pop3.connect(server.host, server.ports["pop3"])
    await pop.cmd(f"USER {address}")
    await pop.cmd(f"PASS {PASSWORD}")
    t_login = time.perf_counter() - t0
    stat = (await pop.cmd("STAT")).split()
    if int(stat[1]) != check.n or int(stat[2]) != sum(check.sizes):
        _err(errors, f"STAT {stat!r}, expected {check.n} {sum(check.sizes)}")
    await pop.cmd("UIDL")
    uidl = (await pop.multiline()).split(b"\r\n")
    if len([line for line in uidl if line]) != check.n:
        _err(errors, f"UIDL: {len(uidl)} lines")
    t1 = time.perf_counter()
    octets = 0
    ok = 0
    for k in range(check.n):
        await pop.cmd(f"RETR {k + 1}")
        data = await pop.multiline()
        # the multiline reply ends with the message's own CRLF
        if digest(data + b"\r\n") == check.digests[k] or digest(data) == check.digests[k]:
            ok += 1
        else:
            _err(errors, f"RETR {k + 1}: {len(data)} octets differ")
        octets += len(data)
    t_retr = time.perf_counter() - t1
    pop.w.write(b"QUIT\r\n")
    await pop.r.readuntil(b"\r\n")
    pop.w.close()
    total = time.perf_counter() - t0
    if ok != check.n:
        _err(errors, f"{ok} of {check.n} messages correct")
    return {"n": check.n, "login_s": t_login, "retr_s": t_retr, "total_s": total,
            "msgs_per_s": check.n / total, "mb_per_s": octets / total / 1e6,
            "retr_msgs_per_s": check.n / t_retr, "retr_mb_per_s": octets / t_retr / 1e6,
            "errors": len(errors), "error_samples": errors[:5]}


# --- 5. delivery ---------------------------------------------------------------------

async def lmtp_deliver(server: Server, addresses: list[str], kind: str, n: int, connections: int = 4) -> dict:
    errors: list[str] = []
    counter = iter(range(n))
    done = 0

    async def worker(c: int) -> None:
        nonlocal done
        r, w = await asyncio.open_connection(server.host, server.ports["lmtp"])

        async def reply() -> bytes:
            while True:
                line = await r.readuntil(b"\r\n")
                if line[3:4] != b"-":
                    return line

        if not (await reply()).startswith(b"220"):
            raise ProtocolError("LMTP greeting")
        w.write(b"LHLO bench.test\r\n")
        if not (await reply()).startswith(b"250"):
            raise ProtocolError("LHLO")
        for i in counter:
            rcpt = addresses[i % len(addresses)]
            data = message(kind, i)
            w.write(f"MAIL FROM:<sender@example.com>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
            a, b, d = await reply(), await reply(), await reply()
            if not (a.startswith(b"250") and b.startswith(b"250") and d.startswith(b"354")):
                _err(errors, f"LMTP {a!r} {b!r} {d!r}")
                w.write(b"RSET\r\n")
                await reply()
                continue
            body = data.replace(b"\r\n.", b"\r\n..")
            w.write(body + b".\r\n")
            final = await reply()
            if final.startswith(b"250"):
                done += 1
            else:
                _err(errors, f"LMTP DATA -> {final!r}")
        w.write(b"QUIT\r\n")
        await reply()
        w.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(connections)))
    elapsed = time.perf_counter() - t0
    return {"n": n, "delivered": done, "seconds": elapsed, "msgs_per_s": done / elapsed,
            "errors": len(errors), "error_samples": errors[:5]}


async def append_deliver(server: Server, addresses: list[str], kind: str, n: int, connections: int = 4) -> dict:
    """Delivery through IMAP APPEND (one command at a time per connection)."""
    errors: list[str] = []
    counter = iter(range(n))
    done = 0

    async def worker(c: int) -> None:
        nonlocal done
        address = addresses[c % len(addresses)]
        imap = await Imap.connect(server.host, server.ports["imap"])
        await imap.login(address, PASSWORD)
        for i in counter:
            res = await imap.command("APPEND INBOX {}", message(kind, i))
            if res.status == b"OK" and b"APPENDUID" in res.text:
                done += 1
            else:
                _err(errors, f"APPEND -> {res.status!r} {res.text!r}")
        await imap.logout()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(connections)))
    elapsed = time.perf_counter() - t0
    return {"n": n, "delivered": done, "seconds": elapsed, "msgs_per_s": done / elapsed,
            "errors": len(errors), "error_samples": errors[:5]}


# --- 6. large folder -------------------------------------------------------------------

async def large_folder(server: Server, address: str, n: int) -> dict:
    errors: list[str] = []
    await asyncio.sleep(1.0)  # let start-up work (orphan sweep) finish
    server.reset_peak()
    base = server.rss()
    imap = await Imap.connect(server.host, server.ports["imap"])
    await imap.login(address, PASSWORD)
    t0 = time.perf_counter()
    res = await imap.ok("SELECT INBOX")
    t_select = time.perf_counter() - t0
    if not any(u.line == b"* %d EXISTS" % n for u in res.untagged):
        _err(errors, f"SELECT: EXISTS is not {n}")
    t0 = time.perf_counter()
    res = await imap.ok("UID FETCH 1:* (FLAGS)")
    t_flags = time.perf_counter() - t0
    rows = 0
    for u in res.untagged:
        parsed = fetch_items(u)
        if parsed is None:
            continue
        seq, items = parsed
        rows += 1
        want = set(flags_for(seq - 1))
        got = {f.decode() for f in items.get(b"FLAGS", [])} - {"\\Recent"}
        if int(items.get(b"UID", 0)) != seq or got != want:
            if len(errors) < 5:
                _err(errors, f"seq {seq}: {u.line[:120]!r}, expected flags {sorted(want)}")
            else:
                errors.append("")
    if rows != n:
        _err(errors, f"UID FETCH FLAGS: {rows} rows of {n}")
    del res
    t0 = time.perf_counter()
    res = await imap.ok("UID SEARCH UNSEEN")
    t_search = time.perf_counter() - t0
    found = [int(x) for u in res.untagged if u.line.startswith(b"* SEARCH") for x in u.line.split()[2:]]
    expected = [k + 1 for k in range(n) if "\\Seen" not in flags_for(k)]
    if sorted(found) != expected:
        _err(errors, f"UID SEARCH UNSEEN: {len(found)} UIDs, expected {len(expected)}")
    peak = server.rss()
    await imap.logout()
    return {"n": n, "select_s": t_select, "flags_s": t_flags, "search_s": t_search,
            "rss_base": base.rss, "peak_rss": peak.hwm, "peak_processes": peak.processes, "peak_over_base": peak.hwm - base.rss,
            "errors": len([e for e in errors]), "error_samples": [e for e in errors if e][:5]}
