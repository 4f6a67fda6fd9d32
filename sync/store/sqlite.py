"""SQLite adapter: one aiosqlite connection in WAL mode, serialised by an asyncio lock.

Writes take ``BEGIN IMMEDIATE`` so that concurrent processes queue on the database lock (with a
busy timeout) instead of failing half-way. Timestamps are stored as fixed-width UTC text
(``2026-11-23T19:15:04.123456Z``), which compares correctly as text; columns declared
``TIMESTAMPTZ``, ``DATE`` (``YYYY-MM-DD`` text), ``JSON`` or ``BOOLEAN`` are converted back
on read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import sqlite3
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import msgspec

from sync.store.db import Connection, DatabaseUnavailable, Row
from sync.store.queries import Dialect, Query, load

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


def format_timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass an aware datetime")
    return _formatted(value)


@functools.lru_cache(maxsize=64)
def _formatted(value: dt.datetime) -> str:
    # A batch of rows shares one ``now``: formatted once, not once a row.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_timestamp(raw: bytes) -> dt.datetime:
    return dt.datetime.fromisoformat(raw.decode())


sqlite3.register_converter("TIMESTAMPTZ", _parse_timestamp)
sqlite3.register_converter("JSON", msgspec.json.decode)
sqlite3.register_converter("BOOLEAN", lambda raw: raw not in (b"0", b""))
sqlite3.register_converter("DATE", lambda raw: dt.date.fromisoformat(raw.decode()))


def _param(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):  # a business date, stored as YYYY-MM-DD text
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return value


def json_rows(rows: Iterable[Sequence[Any]]) -> str:
    """``rows`` as one JSON array of arrays, for a statement that inserts them all from
    ``json_each`` in one step (a dict or list stays nested JSON; timestamps and dates as
    they are stored). One step holds Python's lock once, where ``executemany`` takes it back
    after each row's step, waiting each time for the event loop's thread to let it go."""
    return msgspec.json.encode([[_json_value(v) for v in row] for row in rows]).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# "database is locked" is another process holding the write lock past the busy timeout;
# "database table is locked" (same connection) is a bug and stays one.
_OUTAGE_WORDS = ("database is locked", "busy", "disk i/o", "unable to open")


@contextmanager
def _unavailable_when_busy() -> Iterator[None]:
    """A database another process holds past the busy timeout, or a failing disk, is an outage
    to wait out, not a bug in our SQL."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if any(word in str(exc).lower() for word in _OUTAGE_WORDS):
            raise DatabaseUnavailable(f"SQLite unavailable: {exc}") from exc
        raise


class _Statements:
    """What both runners share: named queries bound to SQLite's parameters, and ``fetchrow``."""

    dialect: Dialect = "sqlite"

    def __init__(self, queries: dict[str, Query]) -> None:
        self._queries = queries

    def _bind(self, query: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        q = self._queries[query]
        return q.sql, [_param(v) for v in q.bind(params)]

    def _bind_many(
        self, query: str, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[str, list[list[Any]]]:
        q = self._queries[query]
        return q.sql, [[_param(v) for v in q.bind(r)] for r in rows]

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        raise NotImplementedError

    async def fetchrow(self, query: str, **params: Any) -> Row | None:
        rows = await self.fetch(query, **params)
        return rows[0] if rows else None


class _Runner(_Statements):
    """Runs named queries on the connection, each a hop to its thread; the caller holds the
    lock."""

    def __init__(self, conn: aiosqlite.Connection, queries: dict[str, Query]) -> None:
        super().__init__(queries)
        self._conn = conn

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        sql, args = self._bind(query, params)
        with _unavailable_when_busy():  # one hop to the connection's thread, not three
            return [dict(row) for row in await self._conn.execute_fetchall(sql, args)]

    async def execute(self, query: str, **params: Any) -> int:
        sql, args = self._bind(query, params)
        with _unavailable_when_busy():
            async with self._conn.execute(sql, args) as cursor:
                return cursor.rowcount

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with _unavailable_when_busy():
            await self._conn.executemany(*self._bind_many(query, rows))

    async def run_script(self, sql: str) -> None:
        # executescript() would COMMIT first; run statement by statement inside the transaction.
        for statement in sqlite3_statements(sql):
            await self._conn.execute(statement)


class _InThread(_Statements):
    """`_Runner`'s statements on the connection's own thread: coroutines that never suspend."""

    def __init__(self, conn: sqlite3.Connection, queries: dict[str, Query]) -> None:
        super().__init__(queries)
        self._conn = conn

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        sql, args = self._bind(query, params)
        with _unavailable_when_busy():
            return [dict(row) for row in self._conn.execute(sql, args).fetchall()]

    async def execute(self, query: str, **params: Any) -> int:
        sql, args = self._bind(query, params)
        with _unavailable_when_busy():
            return self._conn.execute(sql, args).rowcount

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with _unavailable_when_busy():
            self._conn.executemany(*self._bind_many(query, rows))

    async def run_script(self, sql: str) -> None:
        for statement in sqlite3_statements(sql):
            self._conn.execute(statement)


def _driven(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, here and now."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise RuntimeError("work in one hop awaited something other than its statements")


def sqlite3_statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


class SQLiteDatabase(_Runner):
    def __init__(
        self, conn: aiosqlite.Connection, queries: dict[str, Query], path: str = ":memory:"
    ) -> None:
        super().__init__(conn, queries)
        self._lock = asyncio.Lock()
        self.path = path  # the file, or ":memory:" (another process cannot open that one)

    @classmethod
    async def open(cls, path: str) -> SQLiteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(
                path, isolation_level=None, detect_types=sqlite3.PARSE_DECLTYPES
            )
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"cannot open SQLite database: {exc}") from exc
        conn.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        ):
            await conn.execute(pragma)
        return cls(conn, load("sqlite"), path)

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        async with self._lock:
            return await super().fetch(query, **params)

    async def execute(self, query: str, **params: Any) -> int:
        async with self._lock:
            return await super().execute(query, **params)

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(query, rows)

    async def run_script(self, sql: str) -> None:
        async with self.transaction() as tx:
            await tx.run_script(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Runner]:
        async with self._lock:
            with _unavailable_when_busy():
                await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Runner(self._conn, self._queries)
            except BaseException:
                if self._conn.in_transaction:  # SQLite ends it itself on some errors (I/O)
                    with contextlib.suppress(sqlite3.Error):  # the first error is the one
                        await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise
            try:
                with _unavailable_when_busy():
                    await asyncio.shield(self._conn.execute("COMMIT"))
            except (sqlite3.Error, DatabaseUnavailable):
                # A COMMIT refused as busy leaves the transaction open: end it. (A caller
                # cancelled meanwhile is not handled here: its shielded COMMIT still lands.)
                if self._conn.in_transaction:
                    await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise

    async def atomically(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """``work(tx)`` in one transaction run whole on the connection's own thread: one hop
        there and back, however many statements (each statement of `transaction` is a hop, and
        under load each hop waits its turn on a busy event loop). ``work`` may await nothing
        but ``tx``'s statements: it is driven to its end without the event loop, on another
        thread, so it must not touch the loop's objects either (futures, queues, locks) nor
        rely on context variables. A caller cancelled meanwhile stops waiting, but the work,
        queued on the connection's one thread before anything else, still runs to its end and
        commits (as a COMMIT already sent would).

        aiosqlite has no public call for "run this function on the connection's thread";
        ``Connection._execute`` is what each of its public methods is made of (pinned by
        ``tests/store/test_atomically.py``, which fails if a release moves it)."""
        async with self._lock:
            execute = cast(Callable[..., Coroutine[Any, Any, T]], self._conn._execute)
            return await execute(self._atomically, work)

    def _atomically(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        conn = self._conn._conn  # in its thread, as aiosqlite's own methods use it
        with _unavailable_when_busy():
            conn.execute("BEGIN IMMEDIATE")
        try:
            result: T = _driven(work(_InThread(conn, self._queries)))
        except BaseException:
            if conn.in_transaction:  # SQLite ends it itself on some errors (I/O, disk full)
                with contextlib.suppress(sqlite3.Error):  # the first error is the one
                    conn.execute("ROLLBACK")
            raise
        try:
            with _unavailable_when_busy():
                conn.execute("COMMIT")
        except (sqlite3.Error, DatabaseUnavailable):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def reserved(self) -> SQLiteDatabase:
        """The one connection: SQLite has a single writer, so there is nothing to reserve."""
        return self

    async def ping(self) -> None:
        async with self._lock:
            await self._conn.execute("SELECT 1")

    async def close(self) -> None:
        await self._conn.close()
