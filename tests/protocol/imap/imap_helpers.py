"""Shared helpers for the IMAP protocol tests."""

from __future__ import annotations

from mailgate.protocol.imap import CommandReader, NeedData


def drain(reader: CommandReader) -> list:
    out = []
    while True:
        event = reader.next_event()
        if isinstance(event, NeedData):
            return out
        out.append(event)


def events_whole(data: bytes, **kw) -> list:
    reader = CommandReader(**kw)
    reader.feed(data)
    return drain(reader)


def events_bytewise(data: bytes, **kw) -> list:
    """Feed one byte at a time; NeedData events are dropped."""
    reader = CommandReader(**kw)
    out = []
    for i in range(len(data)):
        reader.feed(data[i:i + 1])
        out.extend(drain(reader))
    return out


def events_chunked(data: bytes, cuts: list[int], **kw) -> list:
    reader = CommandReader(**kw)
    out = []
    prev = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        reader.feed(data[prev:cut])
        prev = max(prev, cut)
        out.extend(drain(reader))
    return out


def commands_only(events: list) -> list:
    from mailgate.protocol.imap import NeedContinuation
    return [e for e in events if not isinstance(e, NeedContinuation)]
