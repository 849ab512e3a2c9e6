"""Literal values received from a client, and streams handed to the serializer.

A received literal is fully read before the command it belongs to is parsed.
Small ones live in memory; a large one (an APPEND message can be tens of MiB)
goes into a SpooledTemporaryFile so a connection never holds it whole in RAM.
The temp file is a private buffer, not I/O to the peer, so the core stays
sans-I/O in the sense that matters: it never touches the connection.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["Literal", "LiteralStream", "SPOOL_THRESHOLD"]

SPOOL_THRESHOLD = 1 << 20  # literals larger than 1 MiB are spooled


class Literal:
    """The bytes of one literal ({n}, {n+}, ~{n}); immutable once complete.

    ``binary`` is True for literal8 (~{n}, RFC 3516), which may contain NUL.
    Read it with ``read()`` (whole, for small values), ``chunks()`` or
    ``open()`` (a file object at offset 0; one reader at a time).
    """

    __slots__ = ("size", "binary", "_mem", "_file", "_written")

    def __init__(self, size: int, binary: bool = False, *, spool: bool | None = None,
                 memory_budget: int = SPOOL_THRESHOLD) -> None:
        self.size = size
        self.binary = binary
        self._written = 0
        if spool is None:
            spool = size > memory_budget
        if not spool:
            self._mem: bytearray | None = bytearray()
            self._file: BinaryIO | None = None
        else:
            self._mem = None
            # Keeps at most memory_budget bytes in RAM, then rolls to disk.  A
            # budget of 0 would mean "never roll" to SpooledTemporaryFile, so
            # an exhausted budget uses a plain temporary file.
            self._file = (tempfile.SpooledTemporaryFile(max_size=memory_budget)  # noqa: SIM115
                          if memory_budget > 0 else tempfile.TemporaryFile())  # type: ignore[assignment]

    @classmethod
    def from_bytes(cls, data: bytes, binary: bool = False) -> "Literal":
        lit = cls(len(data), binary, spool=False)
        lit._write(data)
        return lit

    # -- filled by the reader -------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.size - self._written

    def _write(self, data: bytes | memoryview) -> None:
        if self._mem is not None:
            self._mem += data
        else:
            assert self._file is not None
            self._file.write(data)
        self._written += len(data)

    @property
    def in_memory(self) -> bool:
        return self._mem is not None

    # -- read by the session ---------------------------------------------------
    def read(self) -> bytes:
        if self._mem is not None:
            return bytes(self._mem)
        f = self.open()
        return f.read()

    def open(self) -> BinaryIO:
        if self._mem is not None:
            return io.BytesIO(self._mem)
        assert self._file is not None
        self._file.seek(0)
        return self._file

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        f = self.open()
        while True:
            block = f.read(size)
            if not block:
                return
            yield block

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return (self.size, self.binary) == (other.size, other.binary) and self.read() == other.read()

    def __hash__(self) -> int:
        return hash((self.size, self.binary))

    def __repr__(self) -> str:
        if self._mem is not None and self.size <= 64:
            return f"Literal({bytes(self._mem)!r}{', binary' if self.binary else ''})"
        return f"Literal(size={self.size}{', binary' if self.binary else ''})"


@dataclass(frozen=True, eq=False)
class LiteralStream:
    """A literal the serializer hands to the transport without reading it.

    ``source`` is any binary file-like object; the transport copies exactly
    ``size`` bytes from its current position (read() in blocks, or sendfile).
    ``binary`` asks for a literal8 (~{n}) marker, for BINARY[] data with NUL.
    """

    size: int
    source: BinaryIO
    binary: bool = False
