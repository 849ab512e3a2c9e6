"""Line-end normalisation applied once, at delivery.

Mail is stored with CRLF line ends so that RFC822.SIZE, POP3 sizes and every
section offset describe exactly the bytes a client receives. A bare LF becomes
CRLF; a lone CR (not followed by LF) is kept as it is, as clients expect.
"""

from __future__ import annotations


class CrlfNormalizer:
    """Streaming bare-LF -> CRLF converter; feed chunks, then finish()."""

    __slots__ = ("_last_was_cr",)

    def __init__(self) -> None:
        self._last_was_cr = False

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        # Protect existing CRLF pairs, convert the remaining LFs.
        out = chunk.replace(b"\r\n", b"\0CRLF\0") if b"\0CRLF\0" not in chunk else None
        if out is None:  # pathological input containing our marker: slow path
            return self._feed_slow(chunk)
        out = out.replace(b"\n", b"\r\n").replace(b"\0CRLF\0", b"\r\n")
        # An LF at the start of this chunk may pair with a CR that ended the last.
        if self._last_was_cr and chunk[:1] == b"\n":
            out = out[1:]  # drop the CR we just added: the previous chunk sent it
        self._last_was_cr = chunk[-1:] == b"\r"
        return out

    def _feed_slow(self, chunk: bytes) -> bytes:
        out = bytearray()
        prev_cr = self._last_was_cr
        for byte in chunk:
            if byte == 0x0A and not prev_cr:
                out += b"\r\n"
            else:
                out.append(byte)
            prev_cr = byte == 0x0D
        self._last_was_cr = prev_cr
        return bytes(out)

    def finish(self) -> bytes:
        return b""


def to_crlf(data: bytes) -> bytes:
    """Normalise a whole message held in memory."""
    return CrlfNormalizer().feed(data)
