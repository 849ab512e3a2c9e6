"""The POP3 / IMAP4 protocol log in Exchange's CSV format (reference section 7).

One `ProtocolLog` per protocol per server process, configured from the
protocol's settings (ProtocolLogEnabled, LogFileLocation,
LogFileRollOverSettings, LogPerFileSizeQuota) and re-configured live. Each
connection gets a `SessionLog` that numbers its events from 0 and feeds the
scanner that masks credentials (wire.py).

Files: `<PREFIX><period>-<n>.LOG`, with period yyyymmddhh / yyyymmdd /
yyyymmdd of the week's Monday / yyyymm by the roll-over setting. With a size
quota the file rolls over by size only (n counts up); `unlimited` keeps one
file, `<PREFIX>.LOG`.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from .. import __version__
from ..settings import UNLIMITED, RollOver
from .wire import ImapScanner, Pop3Scanner

log = logging.getLogger(__name__)

FIELDS = ("date-time", "connector-id", "session-id", "sequence-number", "local-endpoint",
          "remote-endpoint", "event", "data", "context")
PREFIXES = {"imap4": "IMAP4", "pop3": "POP3"}
LABELS = {"imap4": "IMAP4 Protocol Log", "pop3": "POP3 Protocol Log"}


@dataclass(frozen=True, slots=True)
class LogConfig:
    enabled: bool
    directory: Path
    roll_over: RollOver = RollOver.HOURLY
    size_quota: int = 0  # 0: by time; UNLIMITED: one file; else bytes per file


def _period(now: datetime, roll_over: RollOver) -> str:
    if roll_over is RollOver.HOURLY:
        return now.strftime("%Y%m%d%H")
    if roll_over is RollOver.DAILY:
        return now.strftime("%Y%m%d")
    if roll_over is RollOver.WEEKLY:
        return (now - timedelta(days=now.weekday())).strftime("%Y%m%d")
    return now.strftime("%Y%m")


def timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class ProtocolLog:
    def __init__(self, protocol: str, clock=lambda: datetime.now(timezone.utc)) -> None:
        self.protocol = protocol
        self.config: LogConfig | None = None
        self._clock = clock
        self._file: IO[str] | None = None
        self._name = ""
        self._size = 0

    @property
    def enabled(self) -> bool:
        return self.config is not None and self.config.enabled

    def configure(self, config: LogConfig) -> None:
        if config != self.config:
            self.close()
            self.config = config

    def session(self, session_id: str, local: str, remote: str) -> SessionLog | None:
        return SessionLog(self, session_id, local, remote) if self.enabled else None

    def write(self, session_id: str, sequence: int, local: str, remote: str, event: str, data: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        row = io.StringIO()
        csv.writer(row, lineterminator="\r\n").writerow(
            (timestamp(now), "", session_id, sequence, local, remote, event, data, ""))
        line = row.getvalue()
        try:
            out = self._target(now, len(line.encode("utf-8")))
            out.write(line)
            out.flush()  # a reader (an admin, a test) sees each event at once
        except OSError as exc:  # a full disk must not end client sessions
            log.error("protocol log %s: %s", self._name, exc)
            self.close()
        self._size += len(line.encode("utf-8"))

    def _target(self, now: datetime, adding: int) -> IO[str]:
        config = self.config
        assert config is not None
        prefix = PREFIXES.get(self.protocol, self.protocol.upper())
        if config.size_quota == UNLIMITED:
            name = f"{prefix}.LOG"
        elif config.size_quota > 0:
            name = self._name if self._file is not None else ""
            if not name or self._size + adding > config.size_quota:
                name = self._next_numbered(config.directory, f"{prefix}{now.strftime('%Y%m%d')}")
        else:
            name = f"{prefix}{_period(now, config.roll_over)}-1.LOG"
        if self._file is None or name != self._name:
            self.close()
            config.directory.mkdir(parents=True, exist_ok=True)
            path = config.directory / name
            fresh = not path.exists() or path.stat().st_size == 0
            self._file = open(path, "a", encoding="utf-8", newline="")
            self._name, self._size = name, path.stat().st_size
            if fresh:
                header = (f"#Software: mailgate\r\n#Version: {__version__}\r\n"
                          f"#Log-type: {LABELS.get(self.protocol, self.protocol)}\r\n"
                          f"#Date: {timestamp(now)}\r\n#Fields: {','.join(FIELDS)}\r\n")
                self._file.write(header)
                self._size += len(header)
        return self._file

    def _next_numbered(self, directory: Path, stem: str) -> str:
        n = 1
        while True:
            path = directory / f"{stem}-{n}.LOG"
            if not path.exists() or path.stat().st_size == 0:
                return path.name
            n += 1

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        self._file, self._name, self._size = None, "", 0


class SessionLog:
    """One connection's events: `+` connect, `<` / `>` lines, `*` notes, `-` end."""

    def __init__(self, owner: ProtocolLog, session_id: str, local: str, remote: str) -> None:
        self.owner, self.session_id, self.local, self.remote = owner, session_id, local, remote
        self.sequence = 0
        scanner_class = ImapScanner if owner.protocol == "imap4" else Pop3Scanner
        self.scanner = scanner_class(self._emit)
        self._emit("+", "")

    def _emit(self, event: str, data: str) -> None:
        self.owner.write(self.session_id, self.sequence, self.local, self.remote, event, data)
        self.sequence += 1

    def received(self, data: bytes) -> None:
        self.scanner.received(data)

    def sent(self, data: bytes) -> None:
        self.scanner.sent(data)

    def info(self, text: str) -> None:
        if text == "TLS negotiated":
            self.scanner.tls_started()
        self._emit("*", text)

    def closed(self) -> None:
        self._emit("-", "")
