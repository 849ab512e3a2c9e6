"""The IMAP connection driver in-process over real sockets: limits, timeouts,
STARTTLS, AUTHENTICATE, IDLE keepalive and COMPRESS=DEFLATE."""

from __future__ import annotations

import asyncio
import base64
import ssl
import zlib

from .conftest import PASSWORD, Server, command, login


async def test_pre_login_timeout_says_bye_and_closes(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"* BYE") and b"idle" in line
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_post_login_timeout_is_longer(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    await asyncio.sleep(1.3)  # past the pre-login timeout: still connected
    assert (await command(reader, writer, b"a NOOP"))[-1].startswith(b"a OK")
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"* BYE")


async def test_idle_outlives_the_idle_timeout_and_sends_keepalives(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    writer.write(b"i IDLE\r\n")
    assert (await reader.readline()).startswith(b"+ ")
    lines = [await asyncio.wait_for(reader.readline(), 3) for _ in range(3)]  # > the 2 s timeout
    assert lines == [b"* OK Still here\r\n"] * 3
    writer.write(b"DONE\r\n")
    assert (await asyncio.wait_for(reader.readline(), 3)).startswith(b"i OK")


async def test_command_too_long_gets_bad_and_the_connection_stays_usable(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    lines = await command(reader, writer, b"a NOOP " + b"x" * 2000)
    assert lines[-1].startswith(b"a BAD") and b"too long" in lines[-1]
    assert (await command(reader, writer, b"b NOOP", b"b"))[-1].startswith(b"b OK")


async def test_literal_over_the_append_limit_is_refused_without_reading_it(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    lines = await command(reader, writer, b"a APPEND INBOX {5000}")
    assert lines[-1].startswith(b"a NO [TOOBIG]")
    assert b"APPENDLIMIT=4096" in b"".join(await command(reader, writer, b"b CAPABILITY", b"b"))


async def test_bad_command_cap_closes_the_connection(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    for i in range(3):
        assert (await command(reader, writer, b"a FROB"))[-1].startswith(b"a BAD")
    writer.write(b"a FROB\r\n")
    rest = await asyncio.wait_for(reader.read(), 5)
    assert b"* BYE Too many invalid commands" in rest


async def test_starttls_then_authenticate_plain_with_initial_response(server: Server) -> None:
    reader, writer = await server.connect()
    caps = b"".join(await command(reader, writer, b"a CAPABILITY"))
    assert b"STARTTLS" in caps and b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps
    refused = await command(reader, writer, b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0ann@example.com\0" + PASSWORD.encode()))
    assert refused[-1].startswith(b"a NO [PRIVACYREQUIRED]")
    assert (await command(reader, writer, b"a STARTTLS"))[-1].startswith(b"a OK")
    await writer.start_tls(ssl.create_default_context(cafile=str(server.cafile)), server_hostname="localhost")
    caps = b"".join(await command(reader, writer, b"a CAPABILITY"))
    assert b"STARTTLS" not in caps and b"AUTH=PLAIN" in caps and b"LOGINDISABLED" not in caps
    ok = await command(reader, writer, b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0ann@example.com\0" + PASSWORD.encode()))
    assert ok[-1].startswith(b"a OK [CAPABILITY")


async def test_authenticate_login_conversation_and_cancel(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    writer.write(b"a AUTHENTICATE LOGIN\r\n")
    assert await reader.readline() == b"+ " + base64.b64encode(b"Username:") + b"\r\n"
    writer.write(b"*\r\n")
    assert (await reader.readline()).startswith(b"a BAD")
    writer.write(b"b AUTHENTICATE LOGIN\r\n")
    await reader.readline()
    writer.write(base64.b64encode(b"ann@example.com") + b"\r\n")
    assert await reader.readline() == b"+ " + base64.b64encode(b"Password:") + b"\r\n"
    writer.write(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert (await reader.readline()).startswith(b"b OK")


async def test_compress_deflate(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    assert (await command(reader, writer, b"a COMPRESS DEFLATE"))[-1].startswith(b"a OK")
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    decompressor = zlib.decompressobj(-15)
    writer.write(compressor.compress(b"b LIST \"\" *\r\n") + compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b""
    while b"b OK" not in data:
        data += decompressor.decompress(await asyncio.wait_for(reader.read(4096), 5))
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"' in data
    writer.write(compressor.compress(b"c COMPRESS DEFLATE\r\n") + compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b""
    while b"c " not in data:
        data += decompressor.decompress(await asyncio.wait_for(reader.read(4096), 5))
    assert b"c NO [COMPRESSIONACTIVE]" in data


async def test_shutdown_says_bye_to_idle_connections(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    server.runtime.shutting_down.set()
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line.startswith(b"* BYE") and b"shutting down" in line


async def test_utf8_accept_switches_folder_names_to_utf8(server: Server) -> None:
    reader, writer = await server.connect(secure=True)
    await login(reader, writer)
    assert (await command(reader, writer, b'a CREATE "Entw&APw-rfe"'))[-1].startswith(b"a OK")
    lines = await command(reader, writer, b'a LIST "" "Entw*"')
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n'
    assert b"ENABLED UTF8=ACCEPT" in b"".join(await command(reader, writer, b"a ENABLE UTF8=ACCEPT"))
    lines = await command(reader, writer, b'a LIST "" "Entw*"')
    assert lines[0] == '* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n'.encode()
    assert (await command(reader, writer, 'a SELECT "Entwürfe"'.encode()))[-1].startswith(b"a OK")
