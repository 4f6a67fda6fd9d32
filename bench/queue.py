"""Queue throughput: enqueue + claim + complete of no-op jobs, the worker against two baselines.

For each engine (SQLite file, PostgreSQL schema) and batch size (1, 50), the same number of
no-op jobs goes through four times, each run on a fresh database and timed from the bulk enqueue
to the last completion:

- **bare** (`bench.skip_locked`): a plain table (no fairness, no serial keys) drained by 4 raw
  asyncpg connections, each looping ``FOR UPDATE SKIP LOCKED`` claim of a batch → complete of
  that batch. PostgreSQL only: SQLite has one writer, so there is nothing to skip past.
- **fair SQL**: one loop of `JobQueue.claim` (fair across installations, serial keys, cap) →
  `JobQueue.succeed`, no worker machinery.
- **worker x1**: one `sync.worker.Worker` in burst mode, ``concurrency`` = batch size.
- **worker x4**: four Workers, each on its own database pool, in one event loop (the bare loop
  also uses four connections).

The fair-SQL and worker jobs are spread over 10 installations and half carry serial keys; the
installation cap is effectively off. Claim latency is every claim call, the final empty one
included. Prints a table, writes ``bench/results/queue.json`` and the queue section of
``bench/RESULTS.md``. Run: ``make bench`` or ``python -m bench.queue``. PostgreSQL:
``COLLECTBRIDGE_BENCH_POSTGRES_DSN`` (default the test database); skipped if unreachable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from bench.report import write_results
from bench.skip_locked import bare
from bench.timing import Run, Stopwatch, now
from sync.jobs import JobQueue, NewJob
from sync.store.db import Database, open_database
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.worker import JobContext, Worker, WorkerConfig

PG_DSN = os.environ.get(
    "COLLECTBRIDGE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
JOBS = {1: 1_000, 50: 10_000}
INSTALLATIONS = 10
CONNECTIONS = 4  # the bare loop's connections, and the Workers of "worker x4"
NO_CAP = 1_000_000
LEASE = dt.timedelta(seconds=60)
GOAL = (
    "worker ≥ 50 % of the bare loop at batch 50 on PostgreSQL, "
    "and ≥ 50 % of the fair-SQL baseline on both engines"
)


class Row(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    batch: int
    jobs: int
    bare: Run | None
    fair_sql: Run
    worker_x1: Run
    worker_x4: Run
    worker_x4_vs_bare: float | None
    worker_x1_vs_fair_sql: float


# --- stores ---------------------------------------------------------------------------------
@asynccontextmanager
async def sqlite_store() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench.db"


@asynccontextmanager
async def postgres_store() -> AsyncIterator[str]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}{'&' if '?' in PG_DSN else '?'}search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


Store = Callable[[], AbstractAsyncContextManager[str]]


# --- the fair queue through its public API (adapt here when the API is renamed) --------------
async def prepare(db: Database) -> list[int]:
    """Migrate a fresh store and create the installations; not timed."""
    await migrate(db, now())
    made = Installations(db)
    return [
        (await made.create(agreement_number=n, company_name="c", now=now())).id
        for n in range(1, INSTALLATIONS + 1)
    ]


async def enqueue(queue: JobQueue, installations: list[int], count: int) -> None:
    """Jobs in turn over the installations; every other job of an installation is serial."""
    jobs = []
    for n in range(count):
        inst, k = installations[n % len(installations)], n // len(installations)
        key = f"invoice:{inst}:{k % 200}" if k % 2 == 0 else None
        jobs.append(NewJob(kind="noop", installation_id=inst, serial_key=key))
    await queue.enqueue_many(jobs, now=now())


async def claim_batch(queue: JobQueue, batch: int) -> tuple[str, list[int]]:
    leased = await queue.claim(
        worker_id="bench", limit=batch, cap=NO_CAP, lease_seconds=LEASE.total_seconds(), now=now()
    )
    return leased.token, [job.id for job in leased.jobs]


async def complete_batch(queue: JobQueue, token: str, ids: list[int]) -> int:
    return len(await queue.succeed([(job_id, token) for job_id in ids], now=now()))


class TimedQueue(JobQueue):
    """The queue a bench Worker gets: each claim call is timed, whatever its signature."""

    def __init__(self, db: Database, watch: Stopwatch) -> None:
        super().__init__(db)
        self.watch = watch

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        return await self.watch.claim(super().claim(*args, **kwargs))


# --- the runs -------------------------------------------------------------------------------
async def fair_sql(url: str, count: int, batch: int) -> Run:
    db = await open_database(url)
    try:
        queue = JobQueue(db)
        installations = await prepare(db)
        watch = Stopwatch()
        await enqueue(queue, installations, count)
        watch.enqueue_done()
        done = 0
        while done < count:
            token, ids = await watch.claim(claim_batch(queue, batch))
            if not ids:
                raise RuntimeError(f"fair claim found nothing with {count - done} jobs left")
            accepted = await complete_batch(queue, token, ids)
            assert accepted == len(ids), (accepted, len(ids))
            done += accepted
        return watch.run(count)
    finally:
        await db.close()


async def through_workers(url: str, count: int, batch: int, workers: int) -> Run:
    async def noop(ctx: JobContext) -> None:
        return None

    dbs = [await open_database(url) for _ in range(workers)]
    try:
        installations = await prepare(dbs[0])
        # Warm each pool to the connections a worker uses at once (claim, commit, sweep).
        await asyncio.gather(*(db.ping() for db in dbs for _ in range(3)))
        watch = Stopwatch()
        await enqueue(JobQueue(dbs[0]), installations, count)
        watch.enqueue_done()
        ran = await asyncio.gather(
            *(
                Worker(
                    TimedQueue(db, watch),
                    {"noop": noop},
                    WorkerConfig(
                        concurrency=batch,
                        installation_cap=NO_CAP,
                        lease_seconds=LEASE.total_seconds(),
                        worker_id=f"bench-{i}",
                    ),
                ).run_burst()
                for i, db in enumerate(dbs)
            )
        )
        assert sum(ran) == count, (ran, count)
        return watch.run(count)
    finally:
        for db in dbs:
            await db.close()


async def measure(engine: str, store: Store) -> list[Row]:
    rows = []
    for batch, count in JOBS.items():
        bare_run = None
        if engine == "postgresql":
            async with store() as url:
                bare_run = await bare(url, count, batch, connections=CONNECTIONS)
        async with store() as url:
            fair = await fair_sql(url, count, batch)
        async with store() as url:
            x1 = await through_workers(url, count, batch, 1)
        async with store() as url:
            x4 = await through_workers(url, count, batch, CONNECTIONS)
        row = Row(
            engine=engine,
            batch=batch,
            jobs=count,
            bare=bare_run,
            fair_sql=fair,
            worker_x1=x1,
            worker_x4=x4,
            worker_x4_vs_bare=round(x4.jobs_per_s / bare_run.jobs_per_s, 3) if bare_run else None,
            worker_x1_vs_fair_sql=round(x1.jobs_per_s / fair.jobs_per_s, 3),
        )
        rows.append(row)
        print(f"  {progress_line(row)}", flush=True)
    return rows


# --- reporting ------------------------------------------------------------------------------
HEADER = (
    "| engine | batch | jobs | bare jobs/s | fair-SQL jobs/s | worker x1 jobs/s "
    "| worker x4 jobs/s | worker x4 / bare | worker x1 / fair-SQL "
    "| claim p50/p99 ms bare | claim p50/p99 ms fair-SQL | claim p50/p99 ms worker x1 "
    "| claim p50/p99 ms worker x4 |"
)
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def table_line(r: Row) -> str:
    def rate(run: Run | None) -> str:
        return f"{run.jobs_per_s:,.0f}" if run else "n/a (one writer)"

    def latency(run: Run | None) -> str:
        return f"{run.claim_p50_ms:.1f} / {run.claim_p99_ms:.1f}" if run else "n/a"

    vs_bare = f"{r.worker_x4_vs_bare:.0%}" if r.worker_x4_vs_bare is not None else "n/a"
    runs = (r.bare, r.fair_sql, r.worker_x1, r.worker_x4)
    return (
        f"| {r.engine} | {r.batch} | {r.jobs} | {' | '.join(rate(x) for x in runs)} "
        f"| {vs_bare} | {r.worker_x1_vs_fair_sql:.0%} | {' | '.join(latency(x) for x in runs)} |"
    )


def progress_line(r: Row) -> str:
    bare_rate = f"{r.bare.jobs_per_s:>7.0f}/s" if r.bare else "    n/a  "
    return (
        f"{r.engine:<10} batch {r.batch:>3}: bare {bare_rate}  fair-SQL "
        f"{r.fair_sql.jobs_per_s:>6.0f}/s  worker x1 {r.worker_x1.jobs_per_s:>6.0f}/s  "
        f"x4 {r.worker_x4.jobs_per_s:>6.0f}/s"
    )


def verdict(rows: list[Row]) -> str:
    """The goal, judged at batch 50."""
    parts = []
    for r in (r for r in rows if r.batch == 50):
        if r.worker_x4_vs_bare is not None:
            met = "met" if r.worker_x4_vs_bare >= 0.5 else "not met"
            parts.append(f"{r.engine} worker x4 / bare {r.worker_x4_vs_bare:.0%} ({met})")
        met = "met" if r.worker_x1_vs_fair_sql >= 0.5 else "not met"
        parts.append(f"{r.engine} worker x1 / fair-SQL {r.worker_x1_vs_fair_sql:.0%} ({met})")
    return "At batch 50: " + "; ".join(parts) + "."


async def postgres_reachable() -> bool:
    try:
        (await asyncpg.connect(PG_DSN, timeout=5)).terminate()
        return True
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False


async def main() -> int:
    started = time.perf_counter()
    print("queue benchmark: enqueue + claim + complete of no-op jobs")
    rows = await measure("sqlite", sqlite_store)
    if await postgres_reachable():
        rows += await measure("postgresql", postgres_store)
    else:
        print(f"  postgresql skipped: {PG_DSN} unreachable")
    table = "\n".join([HEADER, RULE, *(table_line(r) for r in rows)])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    took = time.perf_counter() - started
    notes = (
        f"Fair-SQL and worker jobs: {INSTALLATIONS} installations, half with serial keys, no "
        "installation cap. Fair SQL is one claim loop, so it is set against worker x1; bare is "
        f"{CONNECTIONS} connections looping SKIP LOCKED claims over a plain table, so it is set "
        f"against worker x4 ({CONNECTIONS} Workers on {CONNECTIONS} pools in one event loop). "
        "Every run includes its bulk enqueue; claim latency is every claim call.\n\n"
        f"Goal: {GOAL}. {verdict(rows)}\n\n"
        f"Peak RSS of the benchmark process: {peak_mb:.0f} MB; the run took {took:.0f} s."
    )
    print(f"{table}\n\n{notes}")
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "peak_rss_mb": round(peak_mb, 1),
        "seconds": round(took, 1),
        "measured_at": now().isoformat(timespec="seconds"),
    }
    write_results(
        "queue",
        {"meta": meta, "goal": GOAL, "rows": [msgspec.to_builtins(r) for r in rows]},
        f"{table}\n\n{notes}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
