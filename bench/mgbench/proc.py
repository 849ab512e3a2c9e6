"""/proc helpers: memory of a whole server (all its processes), children, load."""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Memory:
    rss: int  # bytes, sum of VmRSS (shared pages counted once per process)
    hwm: int  # bytes, sum of VmHWM (peak RSS since start or last reset)
    pss: int  # bytes, sum of Pss (shared pages divided among sharers)
    processes: int


def _status(pid: int) -> dict[str, str]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        pass
    return out


def _kb(text: str | None) -> int:
    return int(text.split()[0]) * 1024 if text else 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory(pids: list[int]) -> Memory:
    rss = hwm = pss = n = 0
    for pid in pids:
        st = _status(pid)
        if not st:
            continue
        n += 1
        rss += _kb(st.get("VmRSS"))
        hwm += _kb(st.get("VmHWM"))
        pss += _pss(pid)
    return Memory(rss, hwm, pss, n)


def reset_peak(pids: list[int]) -> None:
    """Resets VmHWM to the current RSS (Linux >= 4.0)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass


def children(pid: int) -> list[int]:
    """All descendants of pid."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parent_of[int(entry)] = ppid
    out: list[int] = []
    frontier = {pid}
    while frontier:
        nxt = {p for p, pp in parent_of.items() if pp in frontier}
        out.extend(nxt)
        frontier = nxt
    return out


def names(pids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as fh:
                name = fh.read().strip()
        except OSError:
            continue
        counts[name] = counts.get(name, 0) + 1
    return counts


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 1024
    return (f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem} MiB RAM, "
            f"Linux {platform.release()}, Python {platform.python_version()}")


def cpu_times(pids: list[int]) -> float:
    """User+system CPU seconds of pids (children already reaped excluded)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick
