"""PostgreSQL adapter: asyncpg pools; ``jsonb`` columns decoded with msgspec.

Two pools: the main one for everything, and a small reserved one (`reserved`) for the writes
that keep leases (heartbeats, a run's outcome), so that handlers holding every main connection
cannot starve them. Acquiring a connection waits at most ``ACQUIRE_TIMEOUT`` seconds and then
counts as the database being unavailable, never as a hang.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, TypeVar

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy
from yarl import URL

from sync.redaction import MASK
from sync.store.db import Connection, DatabaseError, DatabaseRefused, DatabaseUnavailable, Row
from sync.store.queries import Dialect, Query, load


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: msgspec.json.encode(value).decode(),
        decoder=msgspec.json.decode,
        schema="pg_catalog",
    )


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


# Failures of the database as a service (not of our SQL): retrying later can succeed.
_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
    asyncpg.LockNotAvailableError,  # the writer's lock_timeout: a row held too long elsewhere
    # A connection left mid-message by the server ending its session (seen when the server
    # terminated an idle one: its next statement finds it still consuming the error).
    asyncpg.InternalClientError,
)


@contextmanager
def _unavailable_on_outage() -> Iterator[None]:
    try:
        yield
    except _OUTAGES as exc:
        raise DatabaseUnavailable(f"PostgreSQL unavailable: {type(exc).__name__}") from exc


FIX_URL = "COLLECTBRIDGE_DATABASE_URL"


def _where(url: str) -> tuple[str, str, str]:
    """(`` at host:port`` or "", user, database) as written in ``url``; never its password."""
    try:
        parsed = URL(url)
        host, port, user = parsed.host, parsed.explicit_port, parsed.user or ""
        database = parsed.path.strip("/") or user
    except ValueError:  # e.g. several hosts: say less rather than fail while reporting
        return "", "", ""
    at = f" at {host}:{port}" if host and port else f" at {host}" if host else ""
    return at, user, database


def _without_password(text: str, url: str) -> str:
    try:
        password = URL(url).password
    except ValueError:
        return text
    return text.replace(password, MASK) if password else text


def open_failure(exc: BaseException, url: str) -> DatabaseError:
    """What a failed connect means to the person who configured ``url``: an outage (retry
    later) or a refusal that only a configuration change fixes. The password never appears."""
    at, user, database = _where(url)
    # Names left out of the URL are the server's defaults: say "the default" rather than "".
    who = f'user "{user}"' if user else "the default user"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        what = f'database "{database}"' if database else "the default database"
        return DatabaseRefused(
            f"PostgreSQL {what} does not exist (create it, or fix {FIX_URL})",
            code="database_missing",
        )
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return DatabaseRefused(
            f"PostgreSQL refused the password of {who} (fix it in {FIX_URL})",
            code="database_login_failed",
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseRefused(
            f"PostgreSQL refused {who}: {_without_password(str(exc), url)} "
            f"(fix {FIX_URL}, or the server's pg_hba.conf)",
            code="database_login_failed",
        )
    if isinstance(exc, _OUTAGES):
        return DatabaseUnavailable(f"cannot reach PostgreSQL{at}: {type(exc).__name__}")
    sqlstate = getattr(exc, "sqlstate", "?")
    return DatabaseRefused(
        f"PostgreSQL{at} refused the connection: {type(exc).__name__} (SQLSTATE {sqlstate})"
    )


T = TypeVar("T")


class _Runner:
    dialect: Dialect = "postgresql"

    def __init__(
        self, conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any], queries: dict[str, Query]
    ) -> None:
        self._conn = conn
        self._queries = queries

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        q = self._queries[query]
        return [dict(r) for r in await self._conn.fetch(q.sql, *q.bind(params))]

    async def fetchrow(self, query: str, **params: Any) -> Row | None:
        q = self._queries[query]
        row = await self._conn.fetchrow(q.sql, *q.bind(params))
        return dict(row) if row is not None else None

    async def execute(self, query: str, **params: Any) -> int:
        q = self._queries[query]
        return _rowcount(await self._conn.execute(q.sql, *q.bind(params)))

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        q = self._queries[query]
        await self._conn.executemany(q.sql, [q.bind(r) for r in rows])

    async def run_script(self, sql: str) -> None:
        await self._conn.execute(sql)


ACQUIRE_TIMEOUT = 30.0
# JIT compiles a query once its estimated cost is high; for our short statements that costs
# hundreds of milliseconds and saves nothing (seen on the claim statements).
SERVER_SETTINGS = {"jit": "off"}
# The inbox writer's batch takes a share lock on the installations it enqueues for; a row held
# longer than this by another transaction fails the batch as an outage (a 503 the platforms
# retry) rather than holding every delivery of every company behind it. Its batches come as
# JSON (`sync.store.inbox.store_batch`): a timestamp written without an offset reads as UTC, as
# asyncpg sends one.
WRITER_SETTINGS = {**SERVER_SETTINGS, "lock_timeout": "5s", "TimeZone": "UTC"}
RESERVED_POOL_SIZE = 2
# How long the inbox writer's connections keep a prepared statement, and with it PostgreSQL's
# generic plan of it. A plan made while the tables were small (a store just made, or emptied)
# is kept by the session until the tables' statistics change, while a burst fills them; made
# anew every few seconds it follows their size (seen in the ingest benchmark's first run: a
# plan made on empty tables read every waiting job of a growing queue, each batch slower).
WRITER_PLAN_SECONDS = 2
STATEMENT_SECONDS = 300  # asyncpg's default, for the other pools
# The inbox writer's connections (`writer`): a batch committing (when the writer stores its
# batches itself, `webhooks.inbox.InboxWriter`) and its parks after a commit, opened when first
# used. The app's inbox process (`webhooks.inbox_process`) has one connection of its own.
WRITER_POOL_SIZE = 2
# A lease-keeping statement that hangs (a connection silently dropped) must not wedge the one
# committer or a run's heartbeats: it fails as an outage after this long and is tried again.
RESERVED_COMMAND_TIMEOUT = 15.0


async def _keep_session(conn: asyncpg.Connection[Any]) -> None:
    """The writer pool's reset on release: nothing to send. Its connections run the inbox
    writer's statements only, which leave no session state behind (no SET, no advisory lock, no
    LISTEN, no cursor); asyncpg still rolls back a transaction left open before calling this.
    The default reset costs a round trip per release, one more per batch than its statement."""


class _PoolRunner:
    """Single statements, each on a connection of one pool."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, queries: dict[str, Query]) -> None:
        self._pool = pool
        self._queries = queries

    @asynccontextmanager
    async def _runner(self) -> AsyncIterator[_Runner]:
        with _unavailable_on_outage():
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                yield _Runner(conn, self._queries)

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        async with self._runner() as r:
            return await r.fetch(query, **params)

    async def fetchrow(self, query: str, **params: Any) -> Row | None:
        async with self._runner() as r:
            return await r.fetchrow(query, **params)

    async def execute(self, query: str, **params: Any) -> int:
        async with self._runner() as r:
            return await r.execute(query, **params)

    async def executemany(self, query: str, rows: Sequence[Mapping[str, Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(query, rows)

    async def run_script(self, sql: str) -> None:
        async with self.transaction() as tx:
            await tx.run_script(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Runner]:
        with _unavailable_on_outage():
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn, conn.transaction():
                yield _Runner(conn, self._queries)

    async def atomically(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """``work(tx)`` in one transaction (`sync.store.db.Database.atomically`)."""
        async with self.transaction() as tx:
            return await work(tx)


async def _pool(
    url: str, *, size: int, least: int, command_timeout: float | None = None, writer: bool = False
) -> asyncpg.Pool:
    """A pool of ``size`` connections (``least`` opened at once); a ``writer`` pool has the inbox
    writer's settings, no reset on release and its plans made anew (`WRITER_PLAN_SECONDS`)."""
    return await asyncpg.create_pool(
        url,
        min_size=least,
        max_size=size,
        init=_init_connection,
        reset=_keep_session if writer else None,
        timeout=10,
        command_timeout=command_timeout,
        server_settings=WRITER_SETTINGS if writer else SERVER_SETTINGS,
        max_cached_statement_lifetime=WRITER_PLAN_SECONDS if writer else STATEMENT_SECONDS,
    )


def _open(conn: PoolConnectionProxy[Any]) -> bool:
    """Whether ``conn`` is still open (one that closed was given back to its pool by asyncpg,
    and is no longer to be touched)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # given back already
        return False


class PostgresWriter(_PoolRunner):
    """One writer connection (`PostgresDatabase.writer`'s settings) and nothing else: the inbox
    process's (`webhooks.inbox_process`). The connection is taken from its pool of one once and
    held, not taken and given back for every statement (that cost the process a fifth of its
    CPU a batch, measured); one a statement failed on is given back, so the next statement
    after an outage has a new one."""

    def __init__(self, pool: asyncpg.Pool, queries: dict[str, Query]) -> None:
        super().__init__(pool, queries)
        self._held: PoolConnectionProxy[Any] | None = None

    @classmethod
    async def open(cls, url: str) -> PostgresWriter:
        try:
            pool = await _pool(url, size=1, least=1, writer=True)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise open_failure(exc, url) from exc
        return cls(pool, load("postgresql"))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[PoolConnectionProxy[Any]]:
        with _unavailable_on_outage():
            if self._held is not None and not _open(self._held):
                await self._drop()
            if self._held is None:
                self._held = await self._pool.acquire(timeout=ACQUIRE_TIMEOUT)
            try:
                yield self._held
            except asyncpg.PostgresError as exc:
                if isinstance(exc, _OUTAGES):  # the session is gone or going
                    await self._drop()
                raise  # else the statement's own error: the session is as it was
            except BaseException:  # cut off mid-statement, or out of step: not to be trusted
                await self._drop()
                raise

    async def _drop(self) -> None:
        """The held connection closed and given back (the pool opens a new one when asked)."""
        held, self._held = self._held, None
        if held is None:
            return
        if _open(held):
            held.terminate()
        # One that closed by itself may not have been given back: the pool's release finishes
        # it (and does nothing with one already given back).
        with suppress(Exception):
            await self._pool.release(held)

    @asynccontextmanager
    async def _runner(self) -> AsyncIterator[_Runner]:
        async with self._connection() as conn:
            yield _Runner(conn, self._queries)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Runner]:
        async with self._connection() as conn, conn.transaction():
            yield _Runner(conn, self._queries)

    async def close(self) -> None:
        held, self._held = self._held, None
        if held is not None and _open(held):
            with suppress(Exception):
                await self._pool.release(held)
        await self._pool.close()


class PostgresDatabase(_PoolRunner):
    def __init__(
        self,
        pool: asyncpg.Pool,
        reserved: asyncpg.Pool,
        queries: dict[str, Query],
        writer: asyncpg.Pool | None = None,
        *,
        url: str = "",
    ) -> None:
        super().__init__(pool, queries)
        # What it was opened with, for a process that opens its own connections (the inbox
        # process); it holds the password: never logged or shown.
        self.url = url
        self._reserved = _PoolRunner(reserved, queries)
        self._writer = _PoolRunner(writer, queries) if writer is not None else self

    @classmethod
    async def open(
        cls, url: str, *, pool_size: int = 10, writer_pool_size: int = WRITER_POOL_SIZE
    ) -> PostgresDatabase:
        pools: list[asyncpg.Pool] = []
        try:
            pools.append(await _pool(url, size=pool_size, least=1))
            pools.append(
                await _pool(
                    url, size=RESERVED_POOL_SIZE, least=1, command_timeout=RESERVED_COMMAND_TIMEOUT
                )
            )
            pools.append(await _pool(url, size=writer_pool_size, least=0, writer=True))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            for pool in pools:
                await pool.close()
            raise open_failure(exc, url) from exc
        return cls(pools[0], pools[1], load("postgresql"), pools[2], url=url)

    def reserved(self) -> _PoolRunner:
        """Connections kept for lease-keeping writes, which handlers cannot exhaust."""
        return self._reserved

    def writer(self) -> _PoolRunner:
        """The inbox writer's connections (`webhooks.inbox`): opened on first use, up to
        ``writer_pool_size``, and not reset on release (`_keep_session`), so a batch costs the
        round trips of its own statements only. For single statements and transactions that
        leave no session state behind."""
        return self._writer

    async def ping(self) -> None:
        try:
            async with self._pool.acquire(timeout=5) as conn:
                await conn.fetchval("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"PostgreSQL unreachable: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._pool.close()
        await self._reserved._pool.close()
        if self._writer is not self:
            await self._writer._pool.close()
