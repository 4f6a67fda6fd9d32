"""A twin that absorbs a job merges its payload, the new keys winning, on both engines: a flag
asked for once (a full scan, an approved handover) survives a later plain request."""

from __future__ import annotations

import datetime as dt

from sync.jobs import JobQueue, NewJob
from sync.store.db import Database

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


async def test_a_queued_twin_keeps_a_flag_and_takes_new_keys(db: Database) -> None:
    queue = JobQueue(db)
    first = await queue.enqueue(NewJob(kind="sync.scan", dedupe_key="scan:1"), now=NOW)
    again = await queue.enqueue(
        NewJob(kind="sync.scan", dedupe_key="scan:1", payload={"full": True}), now=NOW
    )
    plain = await queue.enqueue(NewJob(kind="sync.scan", dedupe_key="scan:1"), now=NOW)
    assert first == again == plain
    job = await queue.get(first)
    assert job is not None and job.payload == {"full": True}


async def test_a_twin_in_backoff_takes_the_new_keys(db: Database) -> None:
    queue = JobQueue(db)
    first = await queue.enqueue(
        NewJob(kind="handover.claim", dedupe_key="handover:1:7", payload={"invoice": 7}), now=NOW
    )
    batch = await queue.claim(worker_id="w", limit=1, cap=1, lease_seconds=30, now=NOW)
    assert [j.id for j in batch.jobs] == [first]
    later = NOW + dt.timedelta(minutes=5)
    await queue.fail(first, batch.token, state="failed", run_at=later, error="x", code="x", now=NOW)
    absorbed = await queue.enqueue(
        NewJob(
            kind="handover.claim",
            dedupe_key="handover:1:7",
            payload={"invoice": 7, "reason": "approved"},
        ),
        now=NOW,
    )
    assert absorbed == first
    job = await queue.get(first)
    assert job is not None and job.payload == {"invoice": 7, "reason": "approved"}
