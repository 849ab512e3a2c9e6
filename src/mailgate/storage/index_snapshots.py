"""Big folders' message indexes saved in files, for the first SELECT after a
start.

SELECT needs every message's UID, MODSEQ and flags.  Reading 100,000 rows
takes about 0.1 s; mapping one file of three arrays and checking it takes
well under 1 ms (the columns are read in place from the mapping, as
memoryviews, until someone changes them: MessageIndex copies them into
arrays then), and
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
import mmap
import os
import struct
import sys
import tempfile
import zlib
from array import array
from pathlib import Path

from .models import MessageColumns

log = logging.getLogger(__name__)

_MAGIC = b"MGIX2\n"
_OLD_MAGICS = (b"MGIX1\n",)  # earlier formats: ignored quietly, rewritten on the next load
# uidvalidity, modseq, folder id, message count, number of flag sets, length
# of their text, byte order (0 little, 1 big), CRC-32 of the whole file
# (taken with this field zero).  The flag text is padded to 8 bytes so that
# the columns that follow are aligned in the mapping.  The checksum is what
# makes a damaged file harmless: checking every flag id against the flag
# sets instead cost a Python-level pass over 100,000 numbers (1 ms), while
# zlib.crc32 runs without the GIL.
_HEAD = struct.Struct("<QQQQIIBI")
_CRC = struct.Struct("<I")  # the head's last field
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

    def open(self, identity: str, folder_id: int, uidvalidity: int) -> MappedSnapshot | None:
        """The folder's snapshot mapped and its head read (no page of the
        columns is touched yet), or None when there is none for this folder.
        A file replaced later (save() renames over it) leaves the mapping as
        it was."""
        try:
            with open(self.path(identity, folder_id), "rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # missing, unreadable, or empty (nothing to map)
            return None
        start = len(_MAGIC)
        magic = data[:start]
        if len(data) < start + _HEAD.size or magic != _MAGIC:
            data.close()
            if magic not in _OLD_MAGICS:
                log.warning("ignoring a damaged index snapshot for folder %d", folder_id)
            return None
        valid, modseq, stored_id, *_ = _HEAD.unpack_from(data, start)
        if (valid, stored_id) != (uidvalidity, folder_id):
            data.close()
            return None  # an older folder of that id, or a file renamed by hand
        return MappedSnapshot(data, folder_id, uidvalidity, modseq)

    def load(self, identity: str, folder_id: int, uidvalidity: int) -> tuple[MessageColumns, int] | None:
        """(columns, the MODSEQ they are complete to), or None: open() and
        MappedSnapshot.columns() in one."""
        snapshot = self.open(identity, folder_id, uidvalidity)
        if snapshot is None:
            return None
        columns = snapshot.columns()
        return None if columns is None else (columns, snapshot.modseq)

    def save(self, identity: str, folder_id: int, uidvalidity: int, modseq: int,
             columns: MessageColumns) -> None:
        """Write atomically (rename); no fsync: a lost file is only slower."""
        target = self.path(identity, folder_id)
        flag_text = "\n".join(" ".join(sorted(flags)) for flags in columns.flagsets).encode()
        flag_text += bytes(-(len(_MAGIC) + _HEAD.size + len(flag_text)) % 8)
        fields = (uidvalidity, modseq, folder_id, len(columns.uids), len(columns.flagsets), len(flag_text), _ORDER)
        crc = zlib.crc32(_MAGIC + _HEAD.pack(*fields, 0) + flag_text)
        for column in (columns.uids, columns.modseqs, columns.flag_ids):
            crc = zlib.crc32(memoryview(column).cast("B"), crc)
        head = _HEAD.pack(*fields, crc)
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # A name of its own: two saves of one folder (two first SELECTs at
            # once) must not write into the same file.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=target.name + ".", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + head + flag_text)
                for column in (columns.uids, columns.modseqs, columns.flag_ids):
                    fh.write(column)  # an array or a memoryview of one
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("cannot save an index snapshot for folder %d: %s", folder_id, exc)
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def remove(self, identity: str, folder_id: int) -> None:
        try:
            self.path(identity, folder_id).unlink()
        except OSError:
            pass


class MappedSnapshot:
    """A mapped snapshot: its MODSEQ at once, its columns once checked.

    The columns are memoryviews of the mapping (mapping is ten times cheaper
    than reading 2 MB into fresh memory here), so the mapping -- and the
    descriptor Python's mmap keeps -- lives as long as an index uses them:
    until every index sharing them has changed (MessageIndex copies them
    into arrays on its first change; a cached index is replaced by a changed
    copy when its folder changes) or is gone. That is one descriptor per
    unchanged big folder in use, not one per session."""

    def __init__(self, data: mmap.mmap, folder_id: int, uidvalidity: int, modseq: int) -> None:
        self._data, self.folder_id, self.uidvalidity, self.modseq = data, folder_id, uidvalidity, modseq

    def columns(self) -> MessageColumns | None:
        """Checks the whole file (CRC-32; zlib runs without the GIL, so this
        may run on a thread) and returns its columns: read-only memoryviews
        of the mapping (arrays when the file's byte order is not ours).
        None, with a warning, when the file is damaged."""
        try:
            found = _decode(self._data, self.folder_id, self.uidvalidity)
        except (ValueError, struct.error, UnicodeDecodeError):
            log.warning("ignoring a damaged index snapshot for folder %d", self.folder_id)
            return None
        return None if found is None else found[0]


def _decode(data: bytes | mmap.mmap, folder_id: int, uidvalidity: int) -> tuple[MessageColumns, int] | None:
    magic = bytes(data[:len(_MAGIC)])
    if magic in _OLD_MAGICS:
        return None
    if magic != _MAGIC:
        raise ValueError("not an index snapshot")
    start = len(_MAGIC)
    valid, modseq, stored_id, count, n_flagsets, text_len, order, crc = _HEAD.unpack_from(data, start)
    if valid != uidvalidity or stored_id != folder_id:
        return None  # an older folder of that id, or a file renamed by hand
    pos = start + _HEAD.size
    unchecked = bytes(data[:pos - _CRC.size]) + bytes(_CRC.size)  # the head with its CRC field zero
    if zlib.crc32(memoryview(data)[pos:], zlib.crc32(unchecked)) != crc:
        raise ValueError("snapshot checksum does not match")
    text = bytes(data[pos:pos + text_len]).rstrip(b"\0").decode()
    pos += text_len
    lines = text.split("\n") if n_flagsets else []
    if len(lines) != n_flagsets:
        raise ValueError("snapshot flag sets do not match their count")
    flagsets = [frozenset(line.split(" ")) if line else frozenset() for line in lines]
    columns: list = []
    view = memoryview(data)
    for code in ("Q", "Q", "I"):
        size = array(code).itemsize * count
        if pos + size > len(data):
            raise ValueError("snapshot is truncated")
        if order == _ORDER:
            columns.append(view[pos:pos + size].cast(code))
        else:
            column = array(code)
            column.frombytes(view[pos:pos + size])
            column.byteswap()
            columns.append(column)
        pos += size
    if pos != len(data):
        raise ValueError("snapshot has trailing bytes")
    uids, modseqs, flag_ids = columns
    if count and not flagsets:
        raise ValueError("snapshot is inconsistent")
    return MessageColumns(uids, modseqs, flag_ids, flagsets), modseq
