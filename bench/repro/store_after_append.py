#!/usr/bin/env python3
"""Repro (found by the IMAP mix, 2026-11-28): under concurrent APPEND/EXPUNGE
in one mailbox, `UID STORE <uid> +FLAGS (\\Flagged)` on the message this very
session just APPENDed (APPENDUID given) sometimes answers OK with no FETCH
echo, and a following `UID FETCH <uid> (FLAGS)` returns nothing: the session's
view misses its own new message, so the STORE silently did nothing.

Uses the bench's mailgate data (python3 bench/run.py must have run once; not
while a bench run is going: same ports). Prints the failing cases.

    python3 bench/repro/store_after_append.py [/tmp/mgbench/full]
"""

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgbench.corpus import message  # noqa: E402
from mgbench.imapc import Imap  # noqa: E402
from mgbench.servers import PASSWORD, Mailgate  # noqa: E402


async def client(mg: Mailgate, k: int, bad: list) -> None:
    for it in range(15):
        imap = await Imap.connect("127.0.0.1", mg.ports["imap"])
        await imap.login("user1@bench.test", PASSWORD)
        await imap.ok("SELECT INBOX")
        res = await imap.ok("APPEND INBOX (\\Seen) {}", message("repro", k * 100 + it))
        uid = int(res.text.split(b"APPENDUID ")[1].split()[1].rstrip(b"]"))
        res = await imap.ok(f"UID STORE {uid} +FLAGS (\\Flagged)")
        if not any(b"FLAGS" in u.line and b"\\Flagged" in u.line for u in res.untagged):
            check = await imap.ok(f"UID FETCH {uid} (FLAGS)")
            bad.append((uid, [u.line[:120] for u in res.untagged], res.text[:60],
                        [u.line[:120] for u in check.untagged]))
        await imap.ok(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
        await imap.ok("EXPUNGE")
        await imap.logout()


def main() -> int:
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mgbench/full")
    mg = Mailgate(workdir)
    mg.ports = json.loads((workdir / "mailgate-ports.json").read_text())
    mg.start()
    bad: list = []

    async def run() -> None:
        await asyncio.gather(*(client(mg, k, bad) for k in range(10)))
    try:
        asyncio.run(run())
    finally:
        mg.stop()
    print(f"{len(bad)} of 150 STOREs without a FETCH echo")
    for uid, untagged, text, check in bad[:10]:
        print(f"  UID {uid}: STORE untagged {untagged} -> {text!r}; UID FETCH {uid} (FLAGS) untagged: {check}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
