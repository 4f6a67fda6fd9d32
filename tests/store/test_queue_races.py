"""Races between enqueue and claim on PostgreSQL, forced deterministically.

A second connection plays the concurrent claimer: it makes the twin `running` inside a
transaction it holds open, the enqueue under test blocks on that row, and the test lets the
claimer commit only once the enqueue is seen waiting on the lock (``pg_stat_activity``). No
sleeps, no luck: the interleaving is the one the review reproduced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio

from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from tests.fixtures.conditions import eventually

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.postgres


@pytest_asyncio.fixture
async def db(postgres_url: str, db_for: Callable[[str], Awaitable[Database]]) -> Database:
    return await db_for(postgres_url)


@pytest_asyncio.fixture
async def raw(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_url)
    try:
        yield conn
    finally:
        await conn.close()


async def failed_twin(queue: JobQueue, key: str) -> int:
    """A job of ``key`` waiting out a backoff (state ``failed``), as after a 429."""
    job_id = await queue.enqueue(NewJob(kind="k", dedupe_key=key), now=NOW)
    batch = await queue.claim(worker_id="w0", limit=1, cap=10, lease_seconds=30, now=NOW)
    assert [j.id for j in batch.jobs] == [job_id]
    await queue.fail(
        job_id, batch.token, state="failed", run_at=NOW, error="429", code="rl", now=NOW
    )
    return job_id


async def waiting_on_a_lock(raw: asyncpg.Connection) -> bool:
    n = await raw.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    return bool(n)


async def while_claimed_concurrently(
    raw: asyncpg.Connection, twin: int, action: Callable[[], Awaitable[object]]
) -> object:
    """Run ``action`` while another transaction makes ``twin`` running; commit that
    transaction once ``action`` waits on the row, and return what ``action`` returned."""
    claimer = raw.transaction()
    await claimer.start()
    await raw.execute(
        "UPDATE jobs SET state = 'running', lease_token = 'other', attempts = attempts + 1, "
        "lease_until = now() + interval '1 minute' WHERE id = $1",
        twin,
    )
    task = asyncio.create_task(action())
    try:
        await eventually(lambda: waiting_on_a_lock(raw) if not task.done() else True)
        assert not task.done(), "the action did not wait for the claimer's row lock"
    finally:
        await claimer.commit()
    return await asyncio.wait_for(task, 10)


async def test_a_hint_never_joins_a_twin_a_concurrent_claim_made_running(
    db: Database, raw: asyncpg.Connection
) -> None:
    queue = JobQueue(db)
    twin = await failed_twin(queue, "customer:1")
    got = await while_claimed_concurrently(
        raw, twin, lambda: queue.enqueue(NewJob(kind="k", dedupe_key="customer:1"), now=NOW)
    )
    assert got != twin
    running = await queue.get(twin)
    assert running is not None and running.state == "running" and running.attempts == 2
    queued = await queue.get(int(str(got)))
    assert queued is not None and queued.state == "queued"


async def test_enqueue_many_inserts_a_hint_whose_twin_was_claimed_meanwhile(
    db: Database, raw: asyncpg.Connection
) -> None:
    queue = JobQueue(db)
    twin = await failed_twin(queue, "invoice:7")
    await while_claimed_concurrently(
        raw,
        twin,
        lambda: queue.enqueue_many(
            [NewJob(kind="k", dedupe_key="invoice:7"), NewJob(kind="k", dedupe_key="other")],
            now=NOW,
        ),
    )
    states = sorted((j.dedupe_key, j.state) for j in await queue.list())
    assert states == [("invoice:7", "queued"), ("invoice:7", "running"), ("other", "queued")]
