"""Queue throughput: enqueue + claim + complete, through the worker and as a bare SQL loop.

For each engine (SQLite file, PostgreSQL schema) and batch size (1, 50), the same number of
no-op jobs goes through twice:

- **baseline**: one task runs the claim statements (``lock_claims`` + ``claim_jobs`` in one
  transaction) and ``complete_jobs`` in a tight loop with that batch size, no worker machinery;
- **worker**: `sync.worker.Worker` in burst mode with ``concurrency`` = batch size and a no-op
  handler: claims, task per job, group-committed completion, retry bookkeeping.

Both include the bulk enqueue. Prints a table, writes ``bench/results/queue.json`` and the
queue section of ``bench/RESULTS.md``. Run: ``make bench`` or ``python -m bench.queue``.
PostgreSQL: ``COLLECTBRIDGE_BENCH_POSTGRES_DSN`` (default the test database); skipped if absent.
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
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from bench.report import write_results
from sync.jobs import JobQueue, NewJob, claim_window
from sync.store.db import Database, open_database
from sync.store.migrate import migrate
from sync.worker import JobContext, Worker, WorkerConfig

PG_DSN = os.environ.get(
    "COLLECTBRIDGE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
JOBS = {1: 1_000, 50: 10_000}
NO_CAP = 1_000_000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Row(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    batch: int
    jobs: int
    baseline_jobs_per_s: float
    worker_jobs_per_s: float
    ratio: float


@asynccontextmanager
async def sqlite_db() -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory() as folder:
        db = await open_database(f"sqlite:///{folder}/bench.db")
        await migrate(db, now())
        try:
            yield db
        finally:
            await db.close()


@asynccontextmanager
async def postgres_db() -> AsyncIterator[Database]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    db = await open_database(f"{PG_DSN}?search_path={schema}")
    try:
        await migrate(db, now())
        yield db
    finally:
        await db.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def enqueue(db: Database, count: int) -> None:
    await JobQueue(db).enqueue_many((NewJob(kind="noop") for _ in range(count)), now=now())


async def baseline(db: Database, count: int, batch: int) -> float:
    started = time.perf_counter()
    await enqueue(db, count)
    done = 0
    while done < count:
        token = secrets.token_hex(16)
        t = now()
        async with db.transaction() as tx:
            await tx.execute("lock_claims")
            rows = await tx.fetch(
                "claim_jobs",
                now=t,
                limit=batch,
                cap=NO_CAP,
                window=claim_window(batch, NO_CAP),
                token=token,
                lease_until=t + dt.timedelta(seconds=60),
                worker_id="bench",
            )
        ids = [r["id"] for r in rows]
        await db.fetch("complete_jobs", ids=ids, tokens=[token] * len(ids), now=now())
        done += len(ids)
    return count / (time.perf_counter() - started)


async def through_worker(db: Database, count: int, batch: int) -> float:
    async def noop(ctx: JobContext) -> None:
        return None

    started = time.perf_counter()
    await enqueue(db, count)
    config = WorkerConfig(concurrency=batch, installation_cap=NO_CAP, lease_seconds=60)
    ran = await Worker(JobQueue(db), {"noop": noop}, config).run_burst()
    assert ran == count, (ran, count)
    return count / (time.perf_counter() - started)


async def measure(engine: str, factory: Callable[[], Any]) -> list[Row]:
    rows = []
    for batch, count in JOBS.items():
        async with factory() as db:
            base = await baseline(db, count, batch)
        async with factory() as db:
            work = await through_worker(db, count, batch)
        rows.append(
            Row(
                engine=engine,
                batch=batch,
                jobs=count,
                baseline_jobs_per_s=round(base),
                worker_jobs_per_s=round(work),
                ratio=round(work / base, 3),
            )
        )
        print(
            f"  {engine:<10} batch {batch:>3}: baseline {base:>8.0f}/s  worker {work:>8.0f}/s "
            f"({work / base:.0%})",
            flush=True,
        )
    return rows


async def postgres_reachable() -> bool:
    try:
        (await asyncpg.connect(PG_DSN, timeout=5)).terminate()
        return True
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False


async def main() -> int:
    print("queue benchmark: enqueue + claim + complete of no-op jobs")
    rows = await measure("sqlite", sqlite_db)
    if await postgres_reachable():
        rows += await measure("postgresql", postgres_db)
    else:
        print(f"  postgresql skipped: {PG_DSN} unreachable")
    header = "| engine | batch | jobs | baseline jobs/s | worker jobs/s | worker / baseline |"
    lines = [header, "|---|---:|---:|---:|---:|---:|"]
    lines += [
        f"| {r.engine} | {r.batch} | {r.jobs} | {r.baseline_jobs_per_s:,.0f} | "
        f"{r.worker_jobs_per_s:,.0f} | {r.ratio:.0%} |"
        for r in rows
    ]
    print("\n".join(lines))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "peak_rss_mb": round(peak_mb, 1),
        "measured_at": now().isoformat(timespec="seconds"),
    }
    write_results(
        "queue",
        {"meta": meta, "rows": [msgspec.to_builtins(r) for r in rows]},
        "\n".join(lines) + f"\n\nPeak RSS of the benchmark process: {peak_mb:.0f} MB. "
        f"Goal: worker ≥ 50 % of baseline at batch 50 on both engines.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
