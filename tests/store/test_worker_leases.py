"""A run owns its lease: it stops when the lease is lost or about to lapse, never runs twice.

Interleavings are forced, not hoped for: a fake clock that the SQLite lease clock follows, a
transaction held open on another connection so that heartbeats hang, events as barriers. On
PostgreSQL the server's clock judges leases, so a lease cannot be made to lapse by moving a fake
clock; there the held transaction is what makes heartbeats lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from sync.jobs import JobQueue, NewJob
from sync.store.db import Database, open_database
from sync.store.migrate import migrate
from sync.worker import JobContext, Worker, WorkerConfig, utcnow
from tests.fixtures.conditions import NOW, Clock, eventually
from tests.fixtures.proxy import ProxiedDatabase


@pytest_asyncio.fixture
async def sqlite_db(sqlite_url: str, db_for: Callable[[str], Awaitable[Database]]) -> Database:
    return await db_for(sqlite_url)


async def test_a_job_swept_from_under_its_own_worker_never_runs_twice_at_once(
    sqlite_db: Database,
) -> None:
    """Race 1: the worker's own sweep puts back a job whose lease lapsed while its handler still
    runs, and its next claim takes it again. The old run must stop before the new one starts,
    and the new run's bookkeeping must survive the old run's end."""
    queue, clock = JobQueue(sqlite_db), Clock()
    stuck = await queue.enqueue(NewJob(kind="stuck"), now=NOW)
    await queue.enqueue(NewJob(kind="quick"), now=NOW)
    quick_may_end, release = asyncio.Event(), asyncio.Event()
    active: Counter[int] = Counter()
    most: Counter[int] = Counter()
    runs: list[tuple[int, str]] = []
    stopped: list[str] = []

    async def stuck_handler(ctx: JobContext) -> None:
        active[ctx.job.id] += 1
        most[ctx.job.id] = max(most[ctx.job.id], active[ctx.job.id])
        runs.append((ctx.job.attempts, ctx.lease_token))
        try:
            await release.wait()
        except asyncio.CancelledError:
            stopped.append(ctx.lease_token)
            raise
        finally:
            active[ctx.job.id] -= 1

    async def quick(ctx: JobContext) -> None:
        await quick_may_end.wait()

    config = WorkerConfig(concurrency=2, lease_seconds=30)  # no heartbeat within the test
    worker = Worker(queue, {"stuck": stuck_handler, "quick": quick}, config, clock=clock)
    burst = asyncio.create_task(worker.run_burst())
    await eventually(lambda: len(runs) == 1)
    clock.now = NOW + dt.timedelta(seconds=31)  # the first lease has lapsed by the lease clock
    quick_may_end.set()  # the worker loops: sweeps, then claims the stuck job again
    await eventually(lambda: len(runs) == 2)
    assert most[stuck] == 1, "two runs of one job at once"
    assert stopped == [runs[0][1]]  # the first run was stopped, the second goes on
    assert [attempt for attempt, _ in runs] == [1, 2]
    assert list(worker.runs) == [(stuck, runs[1][1])]  # kept by (job, lease token)
    release.set()
    assert await asyncio.wait_for(burst, 10) == 3
    job = await queue.get(stuck)
    assert job is not None and job.state == "succeeded" and job.attempts == 2


async def taken_over_while_running(
    queue: JobQueue, clock: Clock, handler: Callable[[JobContext], Awaitable[None]]
) -> tuple[asyncio.Task[int], int, str]:
    """Start ``handler`` under a 5 s lease, then let the lease lapse (by the lease clock) and
    another worker claim the job before the first heartbeat: the burst, the job, the new token."""
    job_id = await queue.enqueue(NewJob(kind="k"), now=NOW)
    started = asyncio.Event()

    async def run(ctx: JobContext) -> None:
        started.set()
        await handler(ctx)

    worker = Worker(queue, {"k": run}, WorkerConfig(lease_seconds=5), clock=clock)
    burst = asyncio.create_task(worker.run_burst())
    await started.wait()
    clock.now = NOW + dt.timedelta(seconds=6)
    await queue.sweep(now=clock.now)
    other = await queue.claim(worker_id="w2", limit=1, cap=10, lease_seconds=60, now=clock.now)
    assert [j.id for j in other.jobs] == [job_id]
    return burst, job_id, other.token


async def test_a_refused_renewal_stops_the_run(sqlite_db: Database) -> None:
    queue, clock, cancelled = JobQueue(sqlite_db), Clock(), asyncio.Event()

    async def forever(ctx: JobContext) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    burst, job_id, token = await taken_over_while_running(queue, clock, forever)
    await asyncio.wait_for(cancelled.wait(), 10)  # at the next heartbeat, within 5/3 s
    await asyncio.wait_for(burst, 10)
    job = await queue.get(job_id)
    assert job is not None and job.state == "running" and job.lease_token == token


async def test_a_run_that_outlived_its_lease_cannot_record_success(sqlite_db: Database) -> None:
    queue, clock, release = JobQueue(sqlite_db), Clock(), asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        await release.wait()

    burst, job_id, token = await taken_over_while_running(queue, clock, slow)
    release.set()  # before the first heartbeat could notice
    await burst
    job = await queue.get(job_id)
    assert job is not None and job.state == "running" and job.lease_token == token


class HeldLock:
    """A transaction on another connection that blocks the job's row (PostgreSQL) or the whole
    database (SQLite), so the worker's heartbeats hang as in a database blip."""

    def __init__(self, url: str, job_id: int) -> None:
        self.url = url
        self.job_id = job_id
        self._pg: asyncpg.Connection | None = None
        self._pg_tx: object = None
        self._lite: sqlite3.Connection | None = None

    async def take(self) -> None:
        if self.url.startswith("sqlite:///"):
            self._lite = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self._lite.execute("BEGIN IMMEDIATE")
            return
        self._pg = await asyncpg.connect(self.url)
        tx = self._pg.transaction()
        await tx.start()
        self._pg_tx = tx
        await self._pg.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", self.job_id)

    async def lapse_left(self) -> float:
        """Seconds until the job's lease runs out by the lease clock (the lock doesn't hide it)."""
        if self._lite is not None:
            (until,) = self._lite.execute(
                "SELECT lease_until FROM jobs WHERE id = ?", (self.job_id,)
            ).fetchone()
            return (dt.datetime.fromisoformat(until) - utcnow()).total_seconds()
        assert self._pg is not None
        return float(
            await self._pg.fetchval(
                "SELECT EXTRACT(EPOCH FROM lease_until - clock_timestamp()) "
                "FROM jobs WHERE id = $1",
                self.job_id,
            )
        )

    async def give_back(self) -> None:
        if self._lite is not None:
            self._lite.execute("COMMIT")
            self._lite.close()
        if self._pg is not None:
            await self._pg_tx.commit()  # type: ignore[attr-defined]
            await self._pg.close()


async def test_a_run_stops_itself_at_its_deadline_before_its_lease_can_be_swept(
    db: Database, database_url: str
) -> None:
    """Heartbeats hang behind a held transaction: the run stops on its own, on the monotonic
    clock, while its lease is still alive by the lease clock, so no sweep can have taken it."""
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="hangs"), now=utcnow())
    started, stopped = asyncio.Event(), asyncio.Event()
    attempts: list[int] = []

    async def hangs(ctx: JobContext) -> None:
        attempts.append(ctx.job.attempts)
        if len(attempts) > 1:
            return
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    config = WorkerConfig(lease_seconds=1.5)
    worker = Worker(queue, {"hangs": hangs}, config)  # the real clock
    burst = asyncio.create_task(worker.run_burst())
    await started.wait()
    lock = HeldLock(database_url, job_id)
    await lock.take()
    try:
        await asyncio.wait_for(stopped.wait(), 10)
        left = await lock.lapse_left()
        assert left > 0, "the run stopped only after its lease had lapsed"
    finally:
        await lock.give_back()
    assert await asyncio.wait_for(burst, 20) == 2  # recorded as stopped, then run again
    job = await queue.get(job_id)
    assert job is not None and job.state == "succeeded"
    # The stopped run counted as an attempt: a job whose runs keep overrunning ends dead.
    assert attempts == [1, 2]


async def test_a_stop_that_surfaces_as_the_handlers_own_error_is_not_its_failure(
    db: Database, database_url: str
) -> None:
    """A handler's TaskGroup turns the deadline's cancellation into an ExceptionGroup: the run
    is still a stopped run (tried again), never a bug that buries the job."""
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="group"), now=utcnow())
    started, cancelled, attempts = asyncio.Event(), asyncio.Event(), []

    async def child() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise ValueError("cleanup failed while cancelled") from None

    async def group(ctx: JobContext) -> None:
        attempts.append(ctx.job.attempts)
        if len(attempts) > 1:
            return
        started.set()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child())

    worker = Worker(queue, {"group": group}, WorkerConfig(lease_seconds=1.5))
    burst = asyncio.create_task(worker.run_burst())
    await started.wait()
    lock = HeldLock(database_url, job_id)
    await lock.take()
    try:
        await asyncio.wait_for(cancelled.wait(), 10)
    finally:
        await lock.give_back()
    assert await asyncio.wait_for(burst, 20) == 2
    job = await queue.get(job_id)
    assert job is not None and (job.state, attempts) == ("succeeded", [1, 2])


class SlowClaims:
    """The database, with the answer to every claim arriving late (an overloaded server): fault
    injection at the port, the queue and the worker above it are the real ones."""

    def __init__(self, db: Database, delay: float) -> None:
        self._db = db
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self._db.transaction() as tx:
            yield _SlowClaimAnswer(tx, self._delay)


class _SlowClaimAnswer:
    def __init__(self, tx: Any, delay: float) -> None:
        self._tx = tx
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def fetch(self, query: str, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._tx.fetch(query, **params)
        if query == "claim_jobs":
            await asyncio.sleep(self._delay)
        return rows


async def test_a_handler_never_starts_once_its_deadline_has_passed(db: Database) -> None:
    """The claim's answer took longer than the lease: the job is recorded as stopped at its
    deadline (here its last attempt, so dead) and its handler is never entered."""
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="late", max_attempts=1), now=utcnow())
    entered: list[int] = []

    async def late(ctx: JobContext) -> None:
        entered.append(ctx.job.id)

    slow = JobQueue(SlowClaims(db, delay=0.6))  # type: ignore[arg-type]
    worker = Worker(slow, {"late": late}, WorkerConfig(lease_seconds=0.5))
    assert await asyncio.wait_for(worker.run_burst(), 20) == 1
    job = await queue.get(job_id)
    assert entered == []
    assert job is not None and (job.state, job.error_code) == ("dead", "lease_deadline")


async def test_shutdown_while_a_stopped_handler_is_still_unwinding(sqlite_db: Database) -> None:
    """Its lease lost, a handler takes its time to clean up; a renewal and the shutdown arrive
    meanwhile. Neither may fail on the expiring deadline, and shutdown completes."""
    queue, clock = JobQueue(sqlite_db), Clock()
    unwinding, cleanup_may_end, may_finish = asyncio.Event(), asyncio.Event(), []

    async def slow_cleanup(ctx: JobContext) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            unwinding.set()
            await cleanup_may_end.wait()  # cleanup that awaits, while the test acts
            may_finish.append(True)
            raise

    job_id = await queue.enqueue(NewJob(kind="k"), now=NOW)
    config = WorkerConfig(lease_seconds=0.3, poll_seconds=0.05, shutdown_grace_seconds=0.05)
    worker = Worker(queue, {"k": slow_cleanup}, config, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await eventually(lambda: worker.runs)
    [run] = worker.runs.values()
    run.lose("test: lease lost")  # as a refused renewal would
    await unwinding.wait()
    run.renewed(asyncio.get_running_loop().time() + 10)  # a late renewal confirmed meanwhile
    stop.set()
    await eventually(lambda: run.shutting_down)  # the shutdown has reached the unwinding run
    cleanup_may_end.set()
    await asyncio.wait_for(running, 10)
    assert may_finish == [True]
    job = await queue.get(job_id)
    assert job is not None and job.state == "running"  # nothing written for a lost lease


@pytest.mark.postgres
async def test_a_success_that_could_not_be_written_is_written_later_and_costs_nothing(
    proxied_postgres: ProxiedDatabase, db_for: Callable[[str], Awaitable[Database]]
) -> None:
    """The database goes away between the handler's end and the success's write: the committer
    tries again once it is back, and the job succeeds on its only attempt."""
    db = await db_for(proxied_postgres.url)
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="once", max_attempts=1), now=utcnow())
    may_end, ran = asyncio.Event(), []

    async def once(ctx: JobContext) -> None:
        ran.append(ctx.job.id)
        await may_end.wait()

    worker = Worker(queue, {"once": once}, WorkerConfig(lease_seconds=30))
    burst = asyncio.create_task(worker.run_burst())
    await eventually(lambda: ran)
    proxy = proxied_postgres.proxy
    await proxy.cut()
    may_end.set()
    await eventually(lambda: proxy.refused >= 2, within=20)  # the committer met the outage
    await proxy.restore()
    assert await asyncio.wait_for(burst, 30) == 1
    job = await queue.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("succeeded", 1)


async def test_a_success_recorded_after_the_sweep_is_not_buried(db: Database) -> None:
    """The lease ran out while the success was being written and the sweep buried the job on
    its last attempt: the success is still accepted, as nobody claimed the job since."""
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k", max_attempts=1), now=NOW)
    batch = await queue.claim(worker_id="w", limit=1, cap=10, lease_seconds=0, now=NOW)
    assert [r["state"] for r in await queue.sweep(now=NOW + dt.timedelta(seconds=1))] == ["dead"]
    assert await queue.succeed([(job_id, batch.token)], now=NOW) == {job_id}
    job = await queue.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("succeeded", 1)


async def test_a_late_success_never_swallows_a_later_claim_or_hint(db: Database) -> None:
    queue = JobQueue(db)
    later = NOW + dt.timedelta(seconds=1)
    taken = await queue.enqueue(NewJob(kind="k"), now=NOW)
    hinted = await queue.enqueue(NewJob(kind="k", dedupe_key="customer:3"), now=NOW)
    first = await queue.claim(worker_id="w", limit=2, cap=10, lease_seconds=0, now=NOW)
    assert len(await queue.sweep(now=later)) == 2
    again = await queue.claim(worker_id="w2", limit=1, cap=10, lease_seconds=60, now=later)
    assert [j.id for j in again.jobs] == [taken]  # the oldest first
    # a hint for the other record arrives while it waits: its change is not yet fetched
    assert await queue.enqueue(NewJob(kind="k", dedupe_key="customer:3"), now=later) == hinted
    assert await queue.succeed([(taken, first.token), (hinted, first.token)], now=later) == set()
    states = {j.id: j.state for j in await queue.list()}
    assert states == {taken: "running", hinted: "failed"}


@pytest.mark.postgres
async def test_handlers_holding_every_connection_cannot_starve_the_heartbeats(
    postgres_url: str,
) -> None:
    """Handlers take the whole main pool (and one more waits for it): leases are still renewed,
    on the reserved connections."""
    db = await open_database(postgres_url, pool_size=2)
    await migrate(db, utcnow())
    watcher = await asyncpg.connect(postgres_url)
    try:
        queue = JobQueue(db)
        await queue.enqueue_many([NewJob(kind="hog") for _ in range(3)], now=utcnow())
        holding, release = Counter[str](), asyncio.Event()

        async def hog(ctx: JobContext) -> None:
            async with db.transaction():
                holding["connections"] += 1
                await release.wait()

        config = WorkerConfig(concurrency=3, installation_cap=3, lease_seconds=0.9)
        worker = Worker(queue, {"hog": hog}, config)
        burst = asyncio.create_task(worker.run_burst())
        await eventually(lambda: holding["connections"] == 2)
        first = await watcher.fetchval("SELECT max(lease_until) FROM jobs")

        async def renewed_twice() -> bool:
            n = await watcher.fetchval(
                "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_until > $1", first
            )
            return n == 3

        await eventually(renewed_twice, within=10)
        assert worker.runs and all(run.lost is None for run in worker.runs.values())
        release.set()
        assert await asyncio.wait_for(burst, 20) == 3
    finally:
        await watcher.close()
        await db.close()
