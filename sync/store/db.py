"""The database port: named queries in, dict rows out, on SQLite or PostgreSQL.

Callers name a query (see `sync.store.queries`) and pass keyword parameters; timestamps are
passed in as aware datetimes (never read inside SQL) and come back as aware UTC datetimes on both
engines; JSON columns take and return Python values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import msgspec

from sync.store.queries import Dialect

Row = dict[str, Any]
T = TypeVar("T")


class DatabaseError(Exception):
    code = "database_error"


class DatabaseUnavailable(DatabaseError):
    code = "database_unavailable"


class DatabaseRefused(DatabaseError):
    """The server answered but will not let us in (no such database, a refused login): not an
    outage, so nothing retries it; the configuration has to change. ``code`` says which."""

    code = "database_refused"

    def __init__(self, message: str, *, code: str = "database_refused") -> None:
        super().__init__(message)
        self.code = code


class Connection(Protocol):
    """What a query runner offers: the database itself, or one open transaction."""

    dialect: Dialect

    async def fetch(self, query: str, **params: Any) -> list[Row]: ...

    async def fetchrow(self, query: str, **params: Any) -> Row | None: ...

    async def execute(self, query: str, **params: Any) -> int: ...

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    async def run_script(self, sql: str) -> None: ...


class Database(Connection, Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...

    async def atomically(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """``await work(tx)`` in one transaction, committed when it returns. ``work`` may await
        nothing but ``tx``'s statements: on SQLite it runs whole on the database's own thread
        (one hop, however many statements), so it can neither wait on the network nor on a
        lock of the event loop's."""
        ...

    def reserved(self) -> Connection:
        """Where lease-keeping writes go: connections that other work cannot exhaust."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def as_datetime(value: Any) -> dt.datetime | None:
    """A computed timestamp (MIN, MAX, …): SQLite gives text there, PostgreSQL a datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def to_struct(row: Mapping[str, Any], kind: type[T]) -> T:
    """A row as a Struct; lenient about SQLite's integers for booleans."""
    return msgspec.convert(dict(row), kind, strict=False)


async def open_database(url: str, *, pool_size: int = 10) -> Database:
    """Connect to ``sqlite:///…`` or ``postgresql://…``; nothing is migrated here."""
    if url.startswith("sqlite:///"):
        from sync.store.sqlite import SQLiteDatabase

        return await SQLiteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from sync.store.postgres import PostgresDatabase

        return await PostgresDatabase.open(url, pool_size=pool_size)
    raise DatabaseError("unsupported database URL (use sqlite:/// or postgresql://)")
