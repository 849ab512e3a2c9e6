"""Content-addressed, immutable message bytes on disk.

Layout: root/ab/cd/<sha256 hex>, where the hash is of the stored (CRLF
normalized) bytes, so RFC822.SIZE and section offsets describe the file
exactly. New blobs go to root/tmp first and are renamed into place only
after fsync; a crash therefore leaves at worst a temp file or an orphan
blob (both removed by sweep), never a visible half-written blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Callable, TypeVar

from ..mime.lineends import CrlfNormalizer
from .errors import BlobMissing, StorageError

T = TypeVar("T")
_BLOB_ID = re.compile(r"[0-9a-f]{64}")
# Regroup tiny chunks before writing: fewer syscalls for line-at-a-time sources.
_WRITE_BUFFER = 256 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a file operation, translating OSError (disk full, permissions)."""
    try:
        return fn(*args, **kwargs)
    except OSError as exc:
        raise StorageError(f"blob store I/O failed: {exc}") from None


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._prefix = str(self.root) + os.sep  # plain strings: path() is on FETCH's hot path
        self._tmp = self.root / "tmp"
        _storage_io(self._tmp.mkdir, parents=True, exist_ok=True)

    # --- naming ----------------------------------------------------------
    def path(self, blob_id: str) -> Path:
        # Validate: a blob id reaches us from the database, but a path built
        # from an unchecked string could point anywhere.
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobMissing(f"malformed blob id {blob_id!r}")
        return Path(self._name(blob_id))

    def _name(self, blob_id: str) -> str:
        return f"{self._prefix}{blob_id[:2]}{os.sep}{blob_id[2:4]}{os.sep}{blob_id}"

    def open(self, blob_id: str) -> BinaryIO:
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobMissing(f"malformed blob id {blob_id!r}")
        try:
            return open(self._name(blob_id), "rb")
        except FileNotFoundError:
            raise BlobMissing(blob_id) from None
        except OSError as exc:
            raise StorageError(f"cannot open blob {blob_id}: {exc}") from None

    def open_fd(self, blob_id: str) -> int:
        """A raw read-only descriptor (for os.pread: no buffered file object
        per message when a FETCH of thousands of bodies reads each once)."""
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobMissing(f"malformed blob id {blob_id!r}")
        try:
            return os.open(self._name(blob_id), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise BlobMissing(blob_id) from None
        except OSError as exc:
            raise StorageError(f"cannot open blob {blob_id}: {exc}") from None

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    # --- writing ---------------------------------------------------------
    async def write_stream(
        self, chunks: AsyncIterable[bytes] | Iterable[bytes] | bytes
    ) -> tuple[str, int, Path]:
        """Normalize, hash and store; returns (blob_id, size, path).

        Chunk writes go to the page cache (fast, done inline); the fsyncs and
        the rename run on a thread so the event loop never waits on the disk.
        """
        tmp = self._tmp / f"{uuid.uuid4().hex}.tmp"
        norm = CrlfNormalizer()
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []
        pending_len = 0
        try:
            fh = _storage_io(open, tmp, "wb", buffering=0)
            with fh:

                def put(data: bytes) -> None:
                    nonlocal size, pending_len
                    if not data:
                        return
                    digest.update(data)
                    size += len(data)
                    pending.append(data)
                    pending_len += len(data)
                    if pending_len >= _WRITE_BUFFER:
                        flush()

                def flush() -> None:
                    nonlocal pending_len
                    if pending:
                        _storage_io(fh.write, b"".join(pending))
                        pending.clear()
                        pending_len = 0

                # Errors raised by the source itself (a client hanging up)
                # pass through untouched; only our own file I/O becomes
                # StorageError (see _storage_io).
                if isinstance(chunks, (bytes, bytearray, memoryview)):
                    put(norm.feed(bytes(chunks)))
                elif isinstance(chunks, AsyncIterable):
                    async for chunk in chunks:
                        put(norm.feed(chunk))
                else:
                    for chunk in chunks:
                        put(norm.feed(chunk))
                put(norm.finish())
                flush()
                await asyncio.to_thread(_storage_io, os.fsync, fh.fileno())
            blob_id = digest.hexdigest()
            path = await asyncio.to_thread(self._install, tmp, blob_id)
        except BaseException:
            # Includes cancellation: never leave our temp file behind if we can
            # help it (sweep catches the rest after a crash).
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        return blob_id, size, path

    def _install(self, tmp: Path, blob_id: str) -> Path:
        final = self.path(blob_id)
        parent = final.parent
        try:
            created = not parent.is_dir()
            if created:
                parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                # Same bytes already stored. Touch it so a concurrent sweep,
                # which only removes blobs older than its threshold, keeps it
                # until our row commits.
                tmp.unlink()
                os.utime(final)
                return final
            os.replace(tmp, final)
            _fsync_dir(parent)
            if created:  # new directory entries must be durable too
                _fsync_dir(parent.parent)
                _fsync_dir(self.root)
        except OSError as exc:
            raise StorageError(f"cannot store blob: {exc}") from None
        return final

    # --- cleanup ---------------------------------------------------------
    def sweep(self, referenced: set[str], older_than_s: float = 3600.0) -> int:
        """Remove blobs no row references and stale temp files; returns the
        number removed. The age threshold protects deliveries in flight: their
        blob is written (and touched) before their row commits.

        Walks with os.scandir: file types come from the directory entries, so
        only the unreferenced files (normally none) are stat()ed."""
        cutoff = time.time() - older_than_s
        removed = 0
        for entry, is_temp in self._iter_files():
            if is_temp or (_BLOB_ID.fullmatch(entry.name) and entry.name not in referenced):
                try:
                    if entry.stat().st_mtime <= cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def _iter_files(self) -> Iterator[tuple[os.DirEntry[str], bool]]:
        """(entry, is_temp) for every file under the root's two fan-out levels."""
        def files(folder: str | Path) -> Iterator[os.DirEntry[str]]:
            try:
                with os.scandir(folder) as it:
                    yield from (e for e in it if e.is_file(follow_symlinks=False))
            except (FileNotFoundError, NotADirectoryError):
                return

        def dirs(folder: str | Path, skip: str = "") -> list[str]:
            try:
                with os.scandir(folder) as it:
                    return [e.path for e in it if e.is_dir(follow_symlinks=False)
                            and len(e.name) == 2 and e.path != skip]
            except FileNotFoundError:
                return []

        yield from ((e, True) for e in files(self._tmp))
        for top in dirs(self.root, skip=str(self._tmp)):
            for mid in dirs(top):
                yield from ((e, False) for e in files(mid))
