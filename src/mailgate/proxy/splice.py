"""After a proxied login: copy bytes both ways until either side closes.

The frontend never reads mail: it only moves bytes (COMPRESS and IDLE work
end to end between the client and the backend)."""

from __future__ import annotations

import asyncio
import ssl

from ..transport.connection import Connection

BLOCK = 256 * 1024


async def splice(conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 *ends: asyncio.Event) -> None:
    """Returns when either side closes, or when one of `ends` is set
    (server shutdown, an admin disconnect)."""

    async def upstream() -> None:
        while data := await conn.read(BLOCK):
            writer.write(data)
            await writer.drain()

    async def downstream() -> None:
        while data := await reader.read(BLOCK):
            conn.write(data)
            await conn.drain()
            if conn.closed:
                return

    tasks = {asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())}
    tasks |= {asyncio.ensure_future(event.wait()) for event in ends}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass
