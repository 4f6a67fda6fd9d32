"""`Database.atomically`: work in one transaction, on SQLite run whole on the connection's own
thread. Committed when the work returns, nothing of it kept when it raises, and on SQLite work
that awaits anything but its statements is refused (and rolled back) rather than run half off
the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Awaitable, Callable

import pytest

from sync.store.db import Connection, Database
from sync.store.installations import Installations

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
OpenUrl = Callable[[str], Awaitable[Database]]


async def companies(db: Connection) -> list[int]:
    return sorted(i.agreement_number for i in await Installations(db).list())


async def test_the_work_commits_when_it_returns(db: Database) -> None:
    async def work(tx: Connection) -> int:
        made = await Installations(tx).activate(agreement_number=1, company_name="A", now=NOW)
        seen = await companies(tx)  # the work sees its own writes
        await Installations(tx).activate(agreement_number=2, company_name="B", now=NOW)
        return len(seen) * 100 + made.agreement_number

    assert await db.atomically(work) == 101
    assert await companies(db) == [1, 2]


async def test_nothing_of_work_that_raises_is_kept(db: Database) -> None:
    await Installations(db).activate(agreement_number=1, company_name="A", now=NOW)

    async def work(tx: Connection) -> None:
        await Installations(tx).activate(agreement_number=2, company_name="B", now=NOW)
        raise LookupError("changed its mind")

    with pytest.raises(LookupError):
        await db.atomically(work)
    assert await companies(db) == [1]
    # The connection is usable afterwards: no transaction was left open.
    await db.atomically(
        lambda tx: Installations(tx).activate(agreement_number=3, company_name="C", now=NOW)
    )
    assert await companies(db) == [1, 3]


async def test_work_whose_transaction_sqlite_ended_raises_its_own_error(
    sqlite_url: str, db_for: OpenUrl
) -> None:
    """SQLite ends a transaction itself on some errors (I/O, a full disk): the rollback that
    follows must not hide the error that happened with its own "no transaction is active"."""
    db = await db_for(sqlite_url)

    async def work(tx: Connection) -> None:
        await Installations(tx).activate(agreement_number=1, company_name="A", now=NOW)
        await tx.run_script("ROLLBACK")  # as SQLite does after such an error
        raise LookupError("the error that happened")

    with pytest.raises(LookupError, match="the error that happened"):
        await db.atomically(work)
    assert await companies(db) == []


async def test_sqlite_refuses_work_that_awaits_the_event_loop(
    sqlite_url: str, db_for: OpenUrl
) -> None:
    db = await db_for(sqlite_url)

    async def work(tx: Connection) -> None:
        await Installations(tx).activate(agreement_number=1, company_name="A", now=NOW)
        await asyncio.sleep(0)  # a suspension: not a statement

    with pytest.raises(RuntimeError, match="awaited something other than its statements"):
        await db.atomically(work)
    assert await companies(db) == []


async def test_sqlite_work_runs_whole_on_the_database_thread(
    sqlite_url: str, db_for: OpenUrl
) -> None:
    """One hop: every statement of the work runs on SQLite's own thread, none on the event
    loop's, and the loop goes on with other tasks meanwhile."""
    db = await db_for(sqlite_url)
    threads: set[int] = set()
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def work(tx: Connection) -> int:
        for n in range(1, 201):
            threads.add(threading.get_ident())
            await Installations(tx).activate(agreement_number=n, company_name=f"C{n}", now=NOW)
        return n

    ticker = asyncio.create_task(ticking())
    await asyncio.sleep(0)
    try:
        assert await db.atomically(work) == 200
    finally:
        ticker.cancel()
    assert threading.get_ident() not in threads and len(threads) == 1
    assert ticks > 1
    assert len(await companies(db)) == 200
