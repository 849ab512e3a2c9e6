"""Big folders' message indexes saved in files, for the first SELECT after a
start.

SELECT needs every message's UID, MODSEQ and flags.  Reading 100,000 rows
takes about 0.1 s; reading one file of three arrays takes about 1 ms, and
the changes since the file's MODSEQ come from the store's CHANGEDSINCE and
expunge-log reads (session/imap/folder_cache.py).  The files are a cache:
deleting them costs only speed; a damaged or foreign file is ignored.

A file is named by a hash of the store's identity (its SQLite path or
PostgreSQL URL) and the folder id, and carries the folder's UIDVALIDITY, so
a recreated folder never reads an old file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import sys
from array import array
from pathlib import Path

from .models import MessageColumns

log = logging.getLogger(__name__)

_MAGIC = b"MGIX1\n"
# uidvalidity, modseq, folder id, message count, number of flag sets, length
# of their text, byte order (0 little, 1 big)
_HEAD = struct.Struct("<QQQQIIB")
_ORDER = 0 if sys.byteorder == "little" else 1


def store_identity(store: object) -> str | None:
    """What tells one store from another across restarts; None for stores
    that do not outlive the process (the in-memory one)."""
    value = getattr(store, "path", None) or getattr(store, "dsn", None)
    return str(value) if value else None


class IndexSnapshots:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, identity: str, folder_id: int) -> Path:
        digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return self.directory / f"{digest}-{folder_id}.idx"

    def load(self, identity: str, folder_id: int, uidvalidity: int) -> tuple[MessageColumns, int] | None:
        """(columns, the MODSEQ they are complete to), or None."""
        try:
            data = self.path(identity, folder_id).read_bytes()
        except OSError:
            return None
        try:
            return _decode(data, folder_id, uidvalidity)
        except (ValueError, struct.error, UnicodeDecodeError):
            log.warning("ignoring a damaged index snapshot for folder %d", folder_id)
            return None

    def save(self, identity: str, folder_id: int, uidvalidity: int, modseq: int,
             columns: MessageColumns) -> None:
        """Write atomically (rename); no fsync: a lost file is only slower."""
        target = self.path(identity, folder_id)
        flag_text = "\n".join(" ".join(sorted(flags)) for flags in columns.flagsets).encode()
        head = _HEAD.pack(uidvalidity, modseq, folder_id, len(columns.uids), len(columns.flagsets),
                          len(flag_text), _ORDER)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as fh:
                fh.write(_MAGIC + head + flag_text)
                for column in (columns.uids, columns.modseqs, columns.flag_ids):
                    column.tofile(fh)
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("cannot save an index snapshot for folder %d: %s", folder_id, exc)

    def remove(self, identity: str, folder_id: int) -> None:
        try:
            self.path(identity, folder_id).unlink()
        except OSError:
            pass


def _decode(data: bytes, folder_id: int, uidvalidity: int) -> tuple[MessageColumns, int] | None:
    if not data.startswith(_MAGIC):
        raise ValueError("not an index snapshot")
    start = len(_MAGIC)
    valid, modseq, stored_id, count, n_flagsets, text_len, order = _HEAD.unpack_from(data, start)
    if valid != uidvalidity or stored_id != folder_id:
        return None  # an older folder of that id, or a file renamed by hand
    pos = start + _HEAD.size
    text = data[pos:pos + text_len].decode()
    pos += text_len
    lines = text.split("\n") if n_flagsets else []
    if len(lines) != n_flagsets:
        raise ValueError("snapshot flag sets do not match their count")
    flagsets = [frozenset(line.split(" ")) if line else frozenset() for line in lines]
    columns = []
    for code in ("Q", "Q", "I"):
        column = array(code)
        size = column.itemsize * count
        if pos + size > len(data):
            raise ValueError("snapshot is truncated")
        column.frombytes(data[pos:pos + size])
        if order != _ORDER:
            column.byteswap()
        columns.append(column)
        pos += size
    if pos != len(data):
        raise ValueError("snapshot has trailing bytes")
    uids, modseqs, flag_ids = columns
    if count and max(flag_ids) >= len(flagsets):
        raise ValueError("snapshot is inconsistent")
    return MessageColumns(uids, modseqs, flag_ids, flagsets), modseq
