"""Content-addressed, immutable message bytes on disk.

Layout: root/ab/cd/<sha256 hex>, where the hash is of the stored (CRLF
normalized) bytes, so RFC822.SIZE and section offsets describe the file
exactly. New blobs go to root/tmp first and are renamed into place only
after fsync; a crash therefore leaves at worst a temp file or an orphan
blob (both removed by sweep), never a visible half-written blob.

Writing is two steps so delivery can overlap the disk wait with its own
lookups: stage() hashes the bytes (kept in memory when small, else written
to a temp file as they arrive), StagedBlob.install() makes them durable
and visible in one thread hop: write the temp file if still in memory,
fsync it, rename it into place, fsync the fan-out
directory that got the new entry (POSIX: a new name is durable only once
its directory is fsynced; fan-out directories we create get their own
entries fsynced the same way, once, by whoever created them).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import threading
import time
import uuid
import weakref
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


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
# Opening under the held root failed in a way a replaced root explains (not
# there; a stale handle on NFS): look the blob up by name instead.
_ROOT_GONE = frozenset({errno.ENOENT, errno.ESTALE, errno.ENOTDIR})


def _open_dir(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise StorageError(f"cannot open the blob directory {path}: {exc}") from None


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _discard(tmp: Path, fh: BinaryIO | None) -> None:
    if fh is not None:
        try:
            fh.close()
        except OSError:
            pass
    try:
        tmp.unlink()
    except OSError:
        pass


def _create(path: Path) -> BinaryIO:
    return open(path, "wb", buffering=0)


def _write_all(fh: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = fh.write(view)
        if not written:  # a regular file never does this; never spin on it
            raise OSError("short write")
        view = view[written:]


def _storage_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a file operation, translating OSError (disk full, permissions)."""
    try:
        return fn(*args, **kwargs)
    except OSError as exc:
        raise StorageError(f"blob store I/O failed: {exc}") from None


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()  # the same files whatever the working directory
        self._prefix = str(self.root) + os.sep  # plain strings: path() is on FETCH's hot path
        self._tmp = self.root / "tmp"
        _storage_io(self._tmp.mkdir, parents=True, exist_ok=True)
        # Fan-out directories being created, whose entry is not yet durable.
        self._creating: set[str] = set()
        self._creating_lock = threading.Lock()
        # Blobs are opened relative to a descriptor of the root: the kernel
        # then walks three path components instead of the whole absolute
        # path (~0.5 us of a ~4.5 us open here; a bulk FETCH opens every message).
        self._root_fd = _open_dir(self.root)
        weakref.finalize(self, _close_quietly, self._root_fd)

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
        fd = self.open_fd(blob_id)
        try:
            return os.fdopen(fd, "rb")
        except OSError as exc:  # e.g. a directory where a blob should be
            os.close(fd)
            raise StorageError(f"cannot open blob {blob_id}: {exc}") from None

    def open_fd(self, blob_id: str) -> int:
        """A raw read-only descriptor (for os.pread: no buffered file object
        per message when a FETCH of thousands of bodies reads each once)."""
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobMissing(f"malformed blob id {blob_id!r}")
        try:
            return os.open(f"{blob_id[:2]}/{blob_id[2:4]}/{blob_id}", _READ_FLAGS, dir_fd=self._root_fd)
        except OSError as exc:
            if exc.errno in _ROOT_GONE:
                return self._open_by_path(blob_id)
            raise StorageError(f"cannot open blob {blob_id}: {exc}") from None

    def _open_by_path(self, blob_id: str) -> int:
        """Missing under the root we hold: the root may have been replaced
        while we run (a restore); look by name, and hold the new root if
        the blob is there."""
        try:
            fd = os.open(self._name(blob_id), _READ_FLAGS)
        except FileNotFoundError:
            raise BlobMissing(blob_id) from None
        except OSError as exc:
            raise StorageError(f"cannot open blob {blob_id}: {exc}") from None
        try:
            fresh = _open_dir(self.root)
        except StorageError:
            return fd
        try:
            same = os.path.samestat(os.fstat(fresh), os.fstat(self._root_fd))
        except OSError:  # e.g. ESTALE: the held one is gone
            same = False
        if same:  # the blob just arrived (or another thread switched first)
            _close_quietly(fresh)
            return fd
        # The old descriptor stays open until the store goes: another thread
        # may be opening through it, and a closed number can be reused.
        self._root_fd = fresh
        weakref.finalize(self, _close_quietly, fresh)
        return fd

    def read_whole(self, blob_id: str, size: int) -> bytes:
        """The first ``size`` bytes of a blob with one open/read/close (a
        small message, in the page cache: cheaper inline than a thread hop).
        Raises BlobMissing, or StorageError when unreadable or shorter."""
        fd = self.open_fd(blob_id)
        try:
            # A regular file returns everything asked for unless it ends first.
            data = os.read(fd, size)
            while len(data) < size:
                more = os.read(fd, size - len(data))
                if not more:
                    break
                data += more
        except OSError as exc:
            raise StorageError(f"cannot read blob {blob_id}: {exc}") from None
        finally:
            os.close(fd)
        if len(data) < size:
            raise StorageError(f"blob {blob_id} is shorter than its size")
        return data

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    # --- writing ---------------------------------------------------------
    async def write_stream(
        self, chunks: AsyncIterable[bytes] | Iterable[bytes] | bytes
    ) -> tuple[str, int, Path]:
        """Normalize, hash and store durably; returns (blob_id, size, path)."""
        staged = await self.stage(chunks)
        return staged.blob_id, staged.size, await staged.install()

    async def stage(self, chunks: AsyncIterable[bytes] | Iterable[bytes] | bytes) -> StagedBlob:
        """Normalize and hash, not yet durable: the caller must install()
        the result (or discard() it).

        A message up to _WRITE_BUFFER stays in memory and install() writes
        it on its thread: creating a file takes a journal handle, which
        waits behind other deliveries' fsyncs (ext4 journal commits), and
        the event loop must not wait on the disk. A larger one is written
        to a temp file as it arrives (page cache), created on the thread
        before its first write."""
        tmp = self._tmp / f"{uuid.uuid4().hex}.tmp"
        norm = CrlfNormalizer()
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []
        pending_len = 0
        fh: BinaryIO | None = None
        try:

            def put(data: bytes) -> None:
                nonlocal size, pending_len
                if not data:
                    return
                digest.update(data)
                size += len(data)
                pending.append(data)
                pending_len += len(data)

            async def flush() -> None:
                nonlocal pending_len, fh
                if fh is None:
                    fh = await asyncio.to_thread(_storage_io, _create, tmp)
                data = b"".join(pending)
                pending.clear()
                pending_len = 0
                _storage_io(_write_all, fh, data)

            # Errors raised by the source itself (a client hanging up)
            # pass through untouched; only our own file I/O becomes
            # StorageError (see _storage_io).
            if isinstance(chunks, (bytes, bytearray, memoryview)):
                put(norm.feed(bytes(chunks)))
            elif isinstance(chunks, AsyncIterable):
                async for chunk in chunks:
                    put(norm.feed(chunk))
                    if pending_len > _WRITE_BUFFER:
                        await flush()
            else:
                for chunk in chunks:
                    put(norm.feed(chunk))
                    if pending_len > _WRITE_BUFFER:
                        await flush()
            put(norm.finish())
            if fh is not None or pending_len > _WRITE_BUFFER:
                await flush()
        except BaseException:
            # Includes cancellation: never leave our temp file behind if we can
            # help it (sweep catches the rest after a crash).
            if fh is not None:
                _discard(tmp, fh)
            raise
        # Still in memory: those bytes are the summary's source too (parsed
        # from memory, not read back) and install() writes them.
        content = b"".join(pending) if fh is None else None
        return StagedBlob(self, tmp, fh, digest.hexdigest(), size, content)

    def _install(self, tmp: Path, fh: BinaryIO | None, content: bytes | None,
                 blob_id: str) -> Path:
        """On a worker thread; owns tmp and fh from here on (closes fh,
        removes tmp whatever happens), so a cancelled caller cannot close
        the file under a running fsync. fh None: write `content` first."""
        final = self.path(blob_id)
        parent = final.parent
        try:
            if fh is None:
                if final.exists():  # same bytes stored already: no temp file at all
                    self._settle_fanout(parent)
                    return self._reuse(final)
                fh = _create(tmp)
                _write_all(fh, content or b"")
            try:
                os.fsync(fh.fileno())
            finally:
                fh.close()
            self._settle_fanout(parent)
            if final.exists():
                tmp.unlink()
                return self._reuse(final)
            os.replace(tmp, final)
            _fsync_dir(parent)  # the new name itself
        except OSError as exc:
            _discard(tmp, fh)
            raise StorageError(f"cannot store blob: {exc}") from None
        except BaseException:
            _discard(tmp, fh)
            raise
        return final

    def _settle_fanout(self, parent: Path) -> None:
        if not self._settled(parent):  # rare: the fan-out fills up over time
            self._durable_dir(parent.parent)
            self._durable_dir(parent)

    def _reuse(self, final: Path) -> Path:
        """The same bytes are stored already. Touch the blob so a concurrent
        sweep, which only removes blobs older than its threshold, keeps it
        until our row commits, and fsync its directory: the delivery that
        renamed it in may not have done so yet, and our row must not point
        at a name that a crash could still take away."""
        os.utime(final)
        _fsync_dir(final.parent)
        return final

    def _settled(self, folder: Path) -> bool:
        """The directory exists and its entry is durable (see _durable_dir)."""
        if not folder.is_dir():
            return False
        with self._creating_lock:
            return str(folder) not in self._creating

    def _durable_dir(self, folder: Path) -> None:
        """Make a fan-out directory exist with a durable entry in its parent.

        A directory that exists and that no thread of ours is still
        creating is durable: either it was there before (made and synced by
        an earlier run) or its creator has fsynced its parent. Checking
        existence *before* the in-progress set matters: a creator joins the
        set before mkdir, so one who sees the directory then sees the creator
        too, until the creator's fsync is done. A directory found mid-creation
        gets its parent fsynced by us as well rather than waiting."""
        key = str(folder)
        exists = folder.is_dir()
        with self._creating_lock:
            creating = key in self._creating
            if not exists:
                self._creating.add(key)
        if exists:
            if creating:
                _fsync_dir(folder.parent)
            return
        try:
            folder.mkdir(exist_ok=True)
            _fsync_dir(folder.parent)
        finally:
            # Whoever leaves the set has fsynced after the mkdir, so the
            # entry is durable even if another creator is still at work.
            with self._creating_lock:
                self._creating.discard(key)

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


class StagedBlob:
    """A message's bytes, hashed, not yet durable or visible: in memory
    (`content`, messages up to _WRITE_BUFFER) or in a temp file (`content`
    None).

    install() exactly once, or discard() if the delivery is abandoned before
    that; until then the id must not be written anywhere durable."""

    __slots__ = ("_owner", "_tmp", "_fh", "_pending", "blob_id", "size", "content")

    def __init__(self, owner: BlobStore, tmp: Path, fh: BinaryIO | None, blob_id: str,
                 size: int, content: bytes | None = None) -> None:
        self._owner = owner
        self._tmp = tmp
        self._fh = fh
        self._pending = True  # not yet installed or discarded
        self.blob_id = blob_id
        self.size = size
        self.content = content

    async def install(self) -> Path:
        """Write (if in memory), fsync, rename into place, fsync the
        directory: one thread hop. Returns the blob's path. Cancelling the
        caller does not stop the thread: the blob may still appear (an
        orphan for sweep)."""
        if not self._pending:
            raise StorageError("blob already installed or discarded")
        self._pending = False
        fh, self._fh = self._fh, None
        return await asyncio.to_thread(self._owner._install, self._tmp, fh, self.content,
                                       self.blob_id)

    def discard(self) -> None:
        if self._pending:
            self._pending = False
            fh, self._fh = self._fh, None
            if fh is not None:
                _discard(self._tmp, fh)
