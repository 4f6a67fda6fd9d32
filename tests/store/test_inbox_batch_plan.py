"""PostgreSQL's one-statement batch (`sync.store.inbox.store_batch`) reads the jobs by key only:
what a batch costs does not grow with the queue behind it.

Found by the ingest benchmark: the statement looked for failed twins of the batch's jobs, and
its plan, generic and kept for the session, found them by scanning every waiting job (the
partial index of jobs queued or in backoff, rechecked row by row), so each batch cost more as
jobs queued up: 4 ms a batch of 27 with 8,100 jobs queued, 14 ms with 48,600. The plan is made
here as the writer's session makes it: forced generic, with statistics taken while the tables
were empty, then 20,000 jobs queued; no step of the plan may read more of the jobs (rows of the
table or entries of its indexes) than the batch has."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest

from sync import schedules
from sync.jobs import NewJob
from sync.store.db import Database, DatabaseUnavailable
from sync.store.inbox import Inbox, NewEntry, batch_params, store_batch
from sync.store.installations import Installations
from sync.store.postgres import WRITER_PLAN_SECONDS, WRITER_SETTINGS, PostgresWriter
from sync.store.queries import load

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


async def queue_jobs(conn: asyncpg.Connection[Any], installation_id: int, n: int, tag: str) -> None:
    await conn.execute(
        "INSERT INTO jobs (kind, installation_id, payload, dedupe_key, state, run_at, "
        "created_at, updated_at) "
        "SELECT 'sync.invoice', $1, '{}'::jsonb, $2 || g, 'queued', $3, $3, $3 "
        "FROM generate_series(1, $4) g",
        installation_id,
        f"{tag}:",
        NOW,
        n,
    )


def jobs_read(node: dict[str, Any]) -> int:
    """The most rows (or index entries) of the jobs any step of the plan read."""
    own = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
    reads_jobs = node.get("Relation Name") == "jobs" or node.get("Index Name", "").startswith(
        "jobs_"
    )
    return max([own if reads_jobs else 0] + [jobs_read(child) for child in node.get("Plans", [])])


async def most_jobs_read(
    conn: asyncpg.Connection[Any], installation_id: int, key: str, statement: str
) -> int:
    """What one batch of 27 deliveries reads of the jobs under the generic plan (rolled back)."""
    query = load("postgresql")[statement]
    batch = [entry(installation_id, f"{key}{n}") for n in range(27)]
    args = query.bind(batch_params(batch, now=NOW, reserve=27))
    statement = await conn.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query.sql}")
    tx = conn.transaction()
    await tx.start()
    try:
        (plan,) = msgspec.json.decode((await statement.fetchval(*args)).encode())
    finally:
        await tx.rollback()
    return jobs_read(plan["Plan"])


@pytest.mark.parametrize("statement", ["store_inbox_batch", "store_inbox_batch_distinct"])
async def test_a_batch_reads_no_more_of_the_queue_than_its_own_jobs(
    postgres_url: str, db_for: Callable[[str], Awaitable[Database]], statement: str
) -> None:
    db = await db_for(postgres_url)
    made = await Installations(db).activate(agreement_number=1001, company_name="c", now=NOW)
    conn = await asyncpg.connect(postgres_url, server_settings=WRITER_SETTINGS)
    try:
        await conn.execute("ANALYZE jobs; ANALYZE inbox")  # statistics of empty tables
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await queue_jobs(conn, made.id, 20_000, "queued")
        read = await most_jobs_read(conn, made.id, "a", statement)
    finally:
        await conn.close()
    assert read <= 27, f"a step of the batch read {read:,} jobs"


async def test_the_writers_plan_is_made_anew_as_the_tables_grow(
    postgres_url: str, db_for: Callable[[str], Awaitable[Database]]
) -> None:
    """A plan made on empty tables is not kept while they fill: the inbox process's connection
    prepares its statement again within `WRITER_PLAN_SECONDS`, so the plan it then keeps is
    made with the jobs queued meanwhile."""
    db = await db_for(postgres_url)
    made = await Installations(db).activate(agreement_number=1001, company_name="c", now=NOW)
    writer = await PostgresWriter.open(postgres_url)
    try:
        for n in range(7):  # past PostgreSQL's five custom plans: a generic plan is kept
            await store_batch(writer, [entry(made.id, f"early{n}")], now=NOW)
        early = await batch_statement(writer)
        assert early["generic_plans"] >= 1
        async with writer._connection() as conn:  # its one session
            await queue_jobs(conn, made.id, 20_000, "queued")
            queued_at = await conn.fetchval("SELECT clock_timestamp()")
        await asyncio.sleep(WRITER_PLAN_SECONDS + 0.5)
        await store_batch(writer, [entry(made.id, "late")], now=NOW)
        late = await batch_statement(writer)
    finally:
        await writer.close()
    assert late["prepare_time"] > queued_at > early["prepare_time"]


def entry(installation_id: int, key: str) -> tuple[NewEntry, None, list[NewJob]]:
    """A collection event to store, with its ``inbox.event`` job."""
    return (
        NewEntry(
            source="collection",
            installation_id=installation_id,
            dedupe_key=f"collection:{installation_id}:{key}",
            topic="payment.received",
            body=b"{}",
        ),
        None,
        [schedules.inbox_event(installation_id, 1001, key, inbox_id=0)],
    )


async def batch_statement(writer: PostgresWriter) -> dict[str, Any]:
    """The batch statement as the writer's connection has it prepared."""
    async with writer._connection() as conn:  # its one session
        row = await conn.fetchrow(
            "SELECT prepare_time, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%jsonb_array_elements%' ORDER BY prepare_time DESC LIMIT 1"
        )
    assert row is not None
    return dict(row)


async def test_the_writer_holds_one_session_and_replaces_one_that_was_lost(
    db_for: Callable[[str], Awaitable[Database]], postgres_url: str
) -> None:
    """The inbox process's writer keeps its connection from one statement to the next (not taken
    from its pool and given back each time), and once that session is lost (the server ended
    it) a statement either has a new session, or fails as an outage (a 503 the platforms retry)
    when it is the one that finds the loss; the next one has a new session and is stored."""
    db = await db_for(postgres_url)
    made = await Installations(db).activate(agreement_number=1001, company_name="c", now=NOW)
    writer = await PostgresWriter.open(postgres_url)
    try:
        await store_batch(writer, [entry(made.id, "a")], now=NOW)
        session = await backend(writer)
        await store_batch(writer, [entry(made.id, "b")], now=NOW)
        assert await backend(writer) == session
        admin = await asyncpg.connect(postgres_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", session)
        finally:
            await admin.close()
        try:  # the loss seen before this statement (a new session for it), or by it (an outage)
            await store_batch(writer, [entry(made.id, "lost")], now=NOW)
        except DatabaseUnavailable:
            lost = False
        else:
            lost = True
        stored = await store_batch(writer, [entry(made.id, "c")], now=NOW)
        assert list(stored.ids) == [f"collection:{made.id}:c"]
        assert await backend(writer) != session
    finally:
        await writer.close()
    keys = sorted(r.dedupe_key.rsplit(":", 1)[-1] for r in await Inbox(db).list())
    assert keys == sorted(["a", "b", "c", *(["lost"] if lost else [])])


async def backend(writer: PostgresWriter) -> int:
    async with writer._connection() as conn:
        pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid
