"""The bare baseline: a plain jobs table drained by ``FOR UPDATE SKIP LOCKED`` claims.

No fairness, no serial keys, no cap, no worker: each of a few raw asyncpg connections loops
claim a batch → complete that batch until a claim comes back empty. It is the ceiling a
PostgreSQL queue on this machine can reach, which the worker is measured against.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

import asyncpg

from bench.timing import Run, Stopwatch, now

LEASE = dt.timedelta(seconds=60)

BARE_TABLE = """
CREATE TABLE bare_jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued',
    run_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    lease_until TIMESTAMPTZ,
    worker_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
CREATE INDEX bare_jobs_waiting ON bare_jobs (run_at, id) WHERE state = 'queued';
"""
BARE_CLAIM = """
WITH picked AS (
    SELECT id FROM bare_jobs WHERE state = 'queued' AND run_at <= $1
    ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE bare_jobs b SET state = 'running', lease_token = $3, lease_until = $4, worker_id = $5,
                       attempts = attempts + 1, updated_at = $1
FROM picked WHERE b.id = picked.id
RETURNING b.id
"""
BARE_COMPLETE = """
UPDATE bare_jobs SET state = 'succeeded', lease_token = NULL, lease_until = NULL,
                     finished_at = $3, updated_at = $3
WHERE id = ANY($1::bigint[]) AND lease_token = $2 AND state = 'running'
"""


async def bare_drain(conn: asyncpg.Connection, batch: int, watch: Stopwatch, name: str) -> int:
    done = 0
    while True:
        token, t = secrets.token_hex(16), now()
        rows = await watch.claim(conn.fetch(BARE_CLAIM, t, batch, token, t + LEASE, name))
        if not rows:
            return done
        await conn.execute(BARE_COMPLETE, [r["id"] for r in rows], token, now())
        done += len(rows)


async def bare(url: str, count: int, batch: int, *, connections: int) -> Run:
    """Bulk-load ``count`` jobs into a new table in the schema ``url`` points at, and drain them."""
    conns = [await asyncpg.connect(url, timeout=10) for _ in range(connections)]
    try:
        await conns[0].execute(BARE_TABLE)
        watch = Stopwatch()
        t = now()
        await conns[0].copy_records_to_table(
            "bare_jobs",
            records=[("noop", t, t, t)] * count,
            columns=["kind", "run_at", "created_at", "updated_at"],
        )
        watch.enqueue_done()
        done = await asyncio.gather(
            *(bare_drain(c, batch, watch, f"bare-{i}") for i, c in enumerate(conns))
        )
        assert sum(done) == count, (done, count)
        return watch.run(count)
    finally:
        for conn in conns:
            await conn.close()
