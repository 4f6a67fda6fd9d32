"""Opening PostgreSQL says why it failed: unreachable, no such database, or a refused login.

A wrong password cannot be provoked on a server that trusts loopback, so a fake server on
loopback speaks just enough of the PostgreSQL protocol: it asks for a cleartext password, reads
it, and answers the error a real server sends (SQLSTATE 28P01).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from sync.store.db import DatabaseRefused, DatabaseUnavailable, open_database
from sync.store.postgres import open_failure

PASSWORD = "hunter2-very-secret"
SSL_REQUEST = 80877103


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


@asynccontextmanager
async def refusing_server(sqlstate: str, message: str) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A loopback 'PostgreSQL' that asks for a password and then refuses with ``sqlstate``;
    yields its port and the passwords it was sent."""
    passwords: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            packet = await reader.readexactly(length - 4)
            if struct.unpack("!i", packet[:4])[0] == SSL_REQUEST:
                writer.write(b"N")  # no TLS here; the startup message follows
                (length,) = struct.unpack("!i", await reader.readexactly(4))
                await reader.readexactly(length - 4)
            writer.write(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            await writer.drain()
            assert await reader.readexactly(1) == b"p"
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            passwords.append((await reader.readexactly(length - 4)).rstrip(b"\0"))
            writer.write(_error_response(sqlstate, message))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], passwords
    finally:
        server.close()
        await server.wait_closed()


async def test_a_wrong_password_is_reported_as_such_without_the_password() -> None:
    message = 'password authentication failed for user "collect"'
    async with refusing_server("28P01", message) as (port, passwords):
        url = f"postgresql://collect:{PASSWORD}@127.0.0.1:{port}/ledger"
        with pytest.raises(DatabaseRefused) as caught:
            await open_database(url)
    assert passwords and passwords[0] == PASSWORD.encode()  # it was really sent, and refused
    text = str(caught.value)
    assert 'PostgreSQL refused the password of user "collect"' in text, text
    assert "COLLECTBRIDGE_DATABASE_URL" in text
    assert PASSWORD not in text and PASSWORD not in repr(caught.value)
    assert caught.value.code == "database_login_failed"
    assert not isinstance(caught.value, DatabaseUnavailable)  # retrying will not help


async def test_a_missing_database_is_not_an_outage() -> None:
    async with refusing_server("3D000", 'database "ledger" does not exist') as (port, _):
        url = f"postgresql://collect:{PASSWORD}@127.0.0.1:{port}/ledger"
        with pytest.raises(DatabaseRefused) as caught:
            await open_database(url)
    text = str(caught.value)
    assert 'PostgreSQL database "ledger" does not exist' in text, text
    assert "create it, or fix COLLECTBRIDGE_DATABASE_URL" in text
    assert PASSWORD not in text
    assert caught.value.code == "database_missing"


async def test_an_unreachable_server_names_where_it_looked() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        await open_database(f"postgresql://collect:{PASSWORD}@127.0.0.1:9/ledger")
    text = str(caught.value)
    assert text.startswith("cannot reach PostgreSQL at 127.0.0.1:9"), text
    assert PASSWORD not in text


def test_a_refusal_never_echoes_the_password_and_odd_urls_still_get_a_message() -> None:
    url = f"postgresql://collect:{PASSWORD}@db.internal:5432/ledger"
    echoed = asyncpg.InvalidAuthorizationSpecificationError(f"no entry for {PASSWORD}")
    refused = open_failure(echoed, url)
    assert isinstance(refused, DatabaseRefused) and PASSWORD not in str(refused)
    assert str(refused).startswith('PostgreSQL refused user "collect": no entry for ********')
    other = open_failure(asyncpg.InvalidParameterValueError("bad search_path"), url)
    assert str(other) == (
        "PostgreSQL at db.internal:5432 refused the connection: "
        "InvalidParameterValueError (SQLSTATE 22023)"
    )
    several_hosts = f"postgresql://collect:{PASSWORD}@a:1,b:2/ledger"
    outage = open_failure(ConnectionRefusedError(), several_hosts)
    assert isinstance(outage, DatabaseUnavailable)
    assert PASSWORD not in str(outage)
