"""Workload 1: the IMAP mix.

C clients loop LOGIN, SELECT INBOX, UID FETCH (FLAGS ENVELOPE) of new mail,
UID FETCH BODY.PEEK[] of one message, UID STORE +FLAGS, APPEND, UID MOVE or
UID COPY (+ STORE \\Deleted) to Archive, EXPUNGE, LOGOUT over a shared set of
mailboxes (client k uses mailbox k mod M, so several clients share each).

Every response is checked; a wrong answer counts as an error and the
command is not counted as done:
- preloaded messages (UID 1..P of each INBOX, never moved) must come back
  byte-identical with the expected ENVELOPE message-id and RFC822.SIZE;
- appended messages must get APPENDUID, and a later FETCH of that UID must
  show the same message-id;
- STORE must echo the flag, MOVE/COPY must return COPYUID, EXPUNGE must only
  report sequence numbers in range, LOGOUT must say BYE.
Clients move and delete only messages they appended themselves, so no
legitimate race makes a correct server answer NO.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter

from .corpus import digest, message, message_id
from .imapc import Imap, ProtocolError, fetch_items, resp_code
from .servers import PASSWORD, Server, user

PRELOAD = 200  # messages per mix INBOX
COMMANDS = ("LOGIN", "SELECT", "FETCH-NEW", "FETCH-BODY", "APPEND", "STORE", "MOVE/COPY", "EXPUNGE", "LOGOUT")
_EXISTS = re.compile(rb"\* (\d+) EXISTS")
_EXPUNGE = re.compile(rb"\* (\d+) EXPUNGE")


def mix_user(m: int) -> str:
    return user(1 + m)  # user1..userM


def preload_jobs(mailboxes: int) -> list[tuple[str, str, str, range, bool]]:
    return [(mix_user(m), "INBOX", f"mix{m}", range(PRELOAD), False) for m in range(mailboxes)]


class Expect:
    """What the checks know: the preloaded bytes and every appended UID."""

    def __init__(self, mailboxes: int) -> None:
        self.preloaded = {m: [message(f"mix{m}", i) for i in range(PRELOAD)] for m in range(mailboxes)}
        self.digests = {m: [digest(b) for b in msgs] for m, msgs in self.preloaded.items()}
        self.appended: dict[tuple[str, int, int], str] = {}  # (server, mailbox, uid) -> message-id
        self.counter = 0

    def expected_id(self, server: str, m: int, uid: int) -> str | None:
        if uid <= PRELOAD:
            return message_id(f"mix{m}", uid - 1)
        return self.appended.get((server, m, uid))


class Stats:
    def __init__(self) -> None:
        self.ok: Counter[str] = Counter()
        self.lat: dict[str, float] = Counter()
        self.errors: list[str] = []
        self.nerr = 0

    def error(self, what: str) -> None:
        self.nerr += 1
        if len(self.errors) < 1000:
            self.errors.append(what)


async def _client(server: Server, k: int, m: int, expect: Expect, stats: Stats, deadline: float,
                  run_tag: str) -> None:
    rng = random.Random(k)
    own: list[int] = []  # UIDs this client appended and still owns
    last_seen = 0
    iteration = 0
    address = mix_user(m)
    while time.monotonic() < deadline:
        iteration += 1
        imap: Imap | None = None
        step = "CONNECT"
        try:
            imap = await Imap.connect(server.host, server.ports["imap"])

            async def timed(name: str, coro):
                nonlocal step
                step = name
                t = time.perf_counter()
                res = await coro
                stats.lat[name] += time.perf_counter() - t
                return res

            # LOGIN
            await timed("LOGIN", imap.login(address, PASSWORD))
            stats.ok["LOGIN"] += 1
            # SELECT
            res = await timed("SELECT", imap.ok("SELECT INBOX"))
            exists = None
            uidnext = None
            for u in res.untagged:
                mm = _EXISTS.match(u.line)
                if mm:
                    exists = int(mm.group(1))
                code = resp_code(u.line[5:]) if u.line.startswith(b"* OK [") else None
                if code and code[0] == b"UIDNEXT":
                    uidnext = int(code[1])
            if exists is None or uidnext is None or exists < PRELOAD or b"READ-WRITE" not in res.text:
                raise ProtocolError(f"SELECT: exists={exists} uidnext={uidnext} {res.text!r}")
            stats.ok["SELECT"] += 1
            # FETCH flags and envelopes of new mail
            start = max(last_seen + 1, uidnext - 20, 1)
            res = await timed("FETCH-NEW", imap.ok(f"UID FETCH {start}:* (FLAGS ENVELOPE)"))
            for u in res.untagged:
                parsed = fetch_items(u)
                if parsed is None:
                    continue
                _, items = parsed
                if b"ENVELOPE" not in items:
                    continue  # an unsolicited flag update
                if b"FLAGS" not in items or b"UID" not in items:
                    raise ProtocolError(f"FETCH-NEW: incomplete {u.line[:200]!r}")
                uid = int(items[b"UID"])
                env = items[b"ENVELOPE"]
                want = expect.expected_id(server.name, m, uid)
                got = env[9].decode() if isinstance(env, list) and len(env) == 10 and env[9] else None
                if want is not None and got != want:
                    raise ProtocolError(f"FETCH-NEW: UID {uid} message-id {got} != {want}")
                if got is None or not got.endswith("@mgbench.example>"):
                    raise ProtocolError(f"FETCH-NEW: UID {uid} bad envelope {u.line[:200]!r}")
                last_seen = max(last_seen, uid)
            stats.ok["FETCH-NEW"] += 1
            # FETCH a body (a preloaded message: exact bytes known)
            uid = rng.randint(1, PRELOAD)
            res = await timed("FETCH-BODY", imap.ok(f"UID FETCH {uid} (RFC822.SIZE BODY.PEEK[])"))
            bodies = [fetch_items(u) for u in res.untagged]
            body = [b for b in bodies if b and b"BODY[]" in b[1]]
            if len(body) != 1:
                raise ProtocolError(f"FETCH-BODY: {len(body)} bodies for UID {uid}")
            data = body[0][1][b"BODY[]"]
            if digest(data) != expect.digests[m][uid - 1] or int(body[0][1][b"RFC822.SIZE"]) != len(data):
                raise ProtocolError(f"FETCH-BODY: UID {uid} bytes differ ({len(data)} octets)")
            stats.ok["FETCH-BODY"] += 1
            # APPEND
            expect.counter += 1
            n = expect.counter
            kind = f"app{run_tag}"
            data = message(kind, n)
            res = await timed("APPEND", imap.ok("APPEND INBOX (\\Seen) {}", data))
            code = resp_code(res.text)
            if not code or code[0] != b"APPENDUID":
                raise ProtocolError(f"APPEND: no APPENDUID: {res.text!r}")
            new_uid = int(code[1].split()[1])
            expect.appended[(server.name, m, new_uid)] = message_id(kind, n)
            own.append(new_uid)
            stats.ok["APPEND"] += 1
            # STORE flags (on the message just appended: a real change)
            res = await timed("STORE", imap.ok(f"UID STORE {new_uid} +FLAGS (\\Flagged)"))
            echoed = [fetch_items(u) for u in res.untagged]
            if not any(e and e[1].get(b"UID") == str(new_uid).encode() and b"\\Flagged" in e[1].get(b"FLAGS", [])
                       for e in echoed):
                raise ProtocolError(f"STORE: no FLAGS echo with \\Flagged for UID {new_uid}")
            stats.ok["STORE"] += 1
            # MOVE or COPY+\Deleted to Archive (own message, oldest first)
            if len(own) >= 2:
                victim = own.pop(0)
                if iteration % 2:
                    res = await timed("MOVE/COPY", imap.ok(f"UID MOVE {victim} Archive"))
                    codes = [resp_code(u.line[5:]) for u in res.untagged if u.line.startswith(b"* OK [")]
                    codes.append(resp_code(res.text))
                    if not any(c and c[0] == b"COPYUID" for c in codes):
                        raise ProtocolError(f"MOVE: no COPYUID: {res.text!r}")
                    if not any(_EXPUNGE.match(u.line) for u in res.untagged):
                        raise ProtocolError("MOVE: no EXPUNGE for the moved message")
                else:
                    res = await timed("MOVE/COPY", imap.ok(f"UID COPY {victim} Archive"))
                    code = resp_code(res.text)
                    if not code or code[0] != b"COPYUID":
                        raise ProtocolError(f"COPY: no COPYUID: {res.text!r}")
                    res = await timed("MOVE/COPY", imap.ok(f"UID STORE {victim} +FLAGS.SILENT (\\Deleted)"))
                stats.ok["MOVE/COPY"] += 1
                # EXPUNGE
                res = await timed("EXPUNGE", imap.ok("EXPUNGE"))
                stats.ok["EXPUNGE"] += 1
            # LOGOUT
            step = "LOGOUT"
            t = time.perf_counter()
            await imap.logout()
            stats.lat["LOGOUT"] += time.perf_counter() - t
            imap = None
            stats.ok["LOGOUT"] += 1
        except (ProtocolError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError, KeyError) as exc:
            stats.error(f"client {k} {address} {step}: {type(exc).__name__}: {exc}"[:400])
            await asyncio.sleep(0.05)
        finally:
            if imap is not None:
                await imap.close()


async def run(server: Server, clients: int, seconds: float, mailboxes: int, expect: Expect,
              run_tag: str) -> dict:
    stats = Stats()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_client(server, k, k % mailboxes, expect, stats, deadline, run_tag)
                           for k in range(clients)))
    elapsed = time.monotonic() - started
    total = sum(stats.ok.values())
    return {
        "clients": clients,
        "seconds": elapsed,
        "ops_per_s": total / elapsed,
        "per_command": {c: stats.ok[c] / elapsed for c in COMMANDS},
        "mean_ms": {c: 1000 * stats.lat[c] / stats.ok[c] for c in COMMANDS if stats.ok[c]},
        "iterations": stats.ok["LOGOUT"],
        "errors": stats.nerr,
        "error_samples": stats.errors[:10],
    }
