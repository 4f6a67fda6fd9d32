"""Claims running side by side on PostgreSQL stay exact without a global lock.

Worker A's claim transaction is held open after it has taken its jobs; worker B claims in the
meantime. B must not wait for A, must pass over the installation A is serving (it cannot see
A's uncommitted jobs, so counting them would be a guess), and once A has committed B must see
A's jobs: neither the per-installation cap nor a serial key is ever exceeded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio

from sync.jobs import JobQueue, NewJob, claim_in
from sync.store.db import Database
from sync.store.installations import Installations

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.postgres


@pytest_asyncio.fixture
async def two(
    postgres_url: str, db_for: Callable[[str], Awaitable[Database]]
) -> tuple[Database, Database]:
    return await db_for(postgres_url), await db_for(postgres_url)


async def advisory_locks(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                # Only this schema's claim locks (their high half is the schema's hash): other
                # test runs may share the database.
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
                "AND l.classid = CAST(CAST(hashtext(current_schema() || '.jobs.claim') AS BIGINT) "
                "& 4294967295 AS OID)"
            )
        )
    finally:
        await conn.close()


async def test_a_claim_held_open_neither_blocks_nor_is_overrun_by_another(
    two: tuple[Database, Database], postgres_url: str
) -> None:
    a_db, b_db = two
    queue = JobQueue(a_db)
    busy = (await Installations(a_db).create(agreement_number=1, company_name="a", now=NOW)).id
    free = (await Installations(a_db).create(agreement_number=2, company_name="b", now=NOW)).id
    await queue.enqueue_many(
        [NewJob(kind="k", installation_id=busy, serial_key=f"invoice:1:{n % 2}") for n in range(6)]
        + [NewJob(kind="k", installation_id=busy) for _ in range(4)]
        + [NewJob(kind="k", installation_id=free) for _ in range(3)],
        now=NOW,
    )
    cap = 3
    b_queue = JobQueue(b_db)
    for _ in range(2):  # one at a time, each to the installation waiting longest (ties: lower id)
        first = await b_queue.claim(worker_id="b", limit=1, cap=cap, lease_seconds=60, now=NOW)
        assert [j.installation_id for j in first.jobs] == [busy]
    async with a_db.transaction() as tx:  # worker A, stopped half-way through its claim
        taken, _ = await claim_in(
            tx, token="a", worker_id="a", limit=1, cap=cap, lease_seconds=60, now=NOW
        )
        assert [r["installation_id"] for r in taken] == [busy]  # busy is now at its cap
        assert await advisory_locks(postgres_url) == 1  # no try-lock taken beyond what it serves
        during = await asyncio.wait_for(
            b_queue.claim(worker_id="b", limit=10, cap=cap, lease_seconds=60, now=NOW), 5
        )
        # B did not wait for A and did not guess at A's uncommitted job: it passed busy over
        assert {j.installation_id for j in during.jobs} == {free}
    after = await b_queue.claim(worker_id="b", limit=10, cap=cap, lease_seconds=60, now=NOW)
    assert after.jobs == ()  # busy is at its cap, free has nothing left
    running = [j for j in await queue.list(state="running", limit=100)]
    by_installation = [j.installation_id for j in running]
    assert by_installation.count(busy) == cap
    keys = [j.serial_key for j in running if j.serial_key is not None]
    assert len(keys) == len(set(keys))  # one running job per serial key
