"""Child process for the multi-process SQLite tests (run as a script).

    append  DB FOLDER_ID COUNT           append COUNT messages, print each UID
    deliver DB BLOBS ADDRESS FOLDER SEED [TASKS]
                                         deliver forever (TASKS at a time, so their
                                         commits are grouped), print "uid sha256"

Each line is printed (and flushed) only after the store acknowledged the
write, so the parent may treat every complete line as a promise.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys

from mailgate import mime
from mailgate.delivery import deliver
from mailgate.mime.lineends import to_crlf
from mailgate.storage import BlobStore, SqliteStore


class _Summary:
    def __init__(self, data: object) -> None:
        self._n = len(memoryview(data))  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        return b"%d" % self._n


def message(rnd: random.Random, i: int) -> bytes:
    """Some header lines with bare LF ends, then a random-size body."""
    body = rnd.randbytes(rnd.randint(0, 150_000))
    return b"Subject: %d\nX-Pad: %s\n\n" % (i, b"x" * rnd.randint(0, 200)) + body


async def append(db: str, folder_id: int, count: int) -> None:
    store = SqliteStore(db)
    await store.open()
    for i in range(count):
        m = await store.append_message(
            folder_id, blob_id=hashlib.sha256(b"%d" % i).hexdigest(), size=i,
            summary=b"", flags=["\\Seen"] if i % 2 else [],
        )
        print(m.uid, flush=True)
    await store.close()


async def deliver_forever(db: str, root: str, address: str, folder: str, seed: int,
                          tasks: int = 1) -> None:
    mime.summarize = _Summary  # type: ignore[attr-defined]  # independent of mime's progress
    store, blobs = SqliteStore(db), BlobStore(root)
    await store.open()
    account = await store.get_account(address)
    assert account is not None

    async def one(k: int) -> None:
        rnd = random.Random(seed * 1000 + k)
        i = 0
        while True:
            raw = message(rnd, i * tasks + k)
            chunks = [raw[j : j + 8192] for j in range(0, len(raw), 8192)]
            msg = await deliver(store, blobs, account, folder, chunks)
            print(msg.uid, hashlib.sha256(to_crlf(raw)).hexdigest(), flush=True)
            i += 1

    await asyncio.gather(*(one(k) for k in range(tasks)))


def main(argv: list[str]) -> None:
    if argv[0] == "append":
        asyncio.run(append(argv[1], int(argv[2]), int(argv[3])))
    elif argv[0] == "deliver":
        tasks = int(argv[6]) if len(argv) > 6 else 1
        asyncio.run(deliver_forever(argv[1], argv[2], argv[3], argv[4], int(argv[5]), tasks))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
