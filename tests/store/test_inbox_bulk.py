"""The inbox writer's one-statement batch on PostgreSQL (`sync.store.inbox.store_batch`): its
rows stored once each, and its jobs enqueued exactly as `sync.jobs.enqueue_in` enqueues them
(queued twins absorbing, twins in backoff taking over, a running twin never absorbing, jobs of
one key in a batch coalesced, payloads merged in order), checked side by side in one schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sync.jobs import Job, JobQueue, NewJob, enqueue_in
from sync.store.db import Database
from sync.store.inbox import (
    Inbox,
    NewEntry,
    batch_params,
    batch_statement,
    reserve_ids,
    store_batch,
)
from sync.store.installations import Installations

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
OpenUrl = Callable[[str], Awaitable[Database]]


@pytest.fixture
async def pg(postgres_url: str, db_for: OpenUrl) -> Database:
    return await db_for(postgres_url)


async def twins(queue: JobQueue, ns: str) -> None:
    """In namespace ``ns``: a running twin, a twin in backoff (attempts spent, a swept run's
    token), a queued twin due later with a flag in its payload."""
    running = await queue.enqueue(NewJob(kind="k", dedupe_key=f"{ns}:r", priority=9), now=NOW)
    backoff = await queue.enqueue(
        NewJob(kind="k", dedupe_key=f"{ns}:f", payload={"invoice": 1}, priority=8), now=NOW
    )
    batch = await queue.claim(worker_id="w", limit=2, cap=10, lease_seconds=60, now=NOW)
    assert {j.id for j in batch.jobs} == {running, backoff}
    await queue.fail(
        backoff, batch.token, state="failed", run_at=NOW + 30 * MINUTE, error="x", code="x", now=NOW
    )
    await queue.enqueue(
        NewJob(
            kind="k",
            dedupe_key=f"{ns}:q",
            payload={"full": True, "n": 0},
            run_at=NOW + 10 * MINUTE,
            priority=1,
        ),
        now=NOW,
    )


def burst(ns: str) -> list[list[NewJob]]:
    """The jobs of five deliveries, in order."""
    return [
        [
            NewJob(kind="k", dedupe_key=f"{ns}:q", payload={"n": 1}, run_at=NOW, priority=0),
            NewJob(kind="k", dedupe_key=f"{ns}:f", payload={"reason": "hint"}, priority=3),
        ],
        [
            NewJob(kind="k", dedupe_key=f"{ns}:r", payload={"again": 1}),
            NewJob(kind="new", dedupe_key=f"{ns}:n", serial_key="s1", payload={"a": 1}, priority=2),
            NewJob(kind="plain", payload={"ns": ns, "i": 1}),
        ],
        [
            NewJob(
                kind="other",
                dedupe_key=f"{ns}:n",
                serial_key="s2",
                payload={"a": 2, "b": 1},
                priority=5,
                run_at=NOW - MINUTE,
                max_attempts=3,
            ),
            NewJob(kind="k", dedupe_key=f"{ns}:q", payload={"n": 2}, priority=4),
        ],
        [NewJob(kind="plain", payload={"ns": ns, "i": 2}, max_attempts=2)],
        [NewJob(kind="k", dedupe_key=f"{ns}:f", payload={"reason": "later"}, priority=1)],
    ]


def shape(job: Job, ns: str) -> tuple[Any, ...]:
    key = job.dedupe_key.removeprefix(f"{ns}:") if job.dedupe_key else None
    payload = {k: v for k, v in job.payload.items() if k != "ns"}
    return (
        key,
        job.kind,
        job.state,
        job.serial_key,
        job.priority,
        job.run_at,
        job.attempts,
        job.max_attempts,
        payload,
        job.lease_token is None,
    )


def of(jobs: list[Job], ns: str) -> list[tuple[Any, ...]]:
    mine = [
        j
        for j in sorted(jobs, key=lambda j: j.id)
        if (j.dedupe_key or "").startswith(f"{ns}:") or j.payload.get("ns") == ns
    ]
    return [shape(j, ns) for j in mine]


async def test_a_batch_enqueues_its_jobs_as_the_queue_does(pg: Database) -> None:
    queue = JobQueue(pg)
    await twins(queue, "a")
    await twins(queue, "b")
    async with pg.transaction() as tx:
        await enqueue_in(tx, [j for jobs in burst("a") for j in jobs], now=NOW)
    company = await Installations(pg).activate(agreement_number=1, company_name="c", now=NOW)
    entries = [
        NewEntry(source="economic", installation_id=company.id, dedupe_key=f"b{i}", topic="t")
        for i in range(5)
    ]
    stored, reserved, _ = await store_batch(
        pg, [(e, None, jobs) for e, jobs in zip(entries, burst("b"), strict=True)], now=NOW
    )
    assert reserved == []
    assert sorted(stored) == [e.dedupe_key for e in entries]
    everything = await queue.list(limit=1000)
    expected = of(everything, "a")
    assert of(everything, "b") == expected
    by_key = {s[0]: s for s in expected}
    assert by_key["q"][4:6] == (4, NOW) and by_key["q"][8] == {"full": True, "n": 2}
    assert by_key["f"][2] == "failed" and by_key["f"][5] == NOW + 30 * MINUTE
    assert by_key["f"][6] == 0 and by_key["f"][8]["reason"] == "later"
    assert [s[2] for s in expected if s[0] == "r"] == ["running", "queued"]
    assert by_key["n"][1:] == (
        "new",
        "queued",
        "s1",
        5,
        NOW - MINUTE,
        0,
        10,
        {"a": 2, "b": 1},
        True,
    )


def one_of_each(ns: str) -> list[list[NewJob]]:
    """The jobs of four deliveries, no two of one key: each twin's case once, a new key, and a
    job without a key."""
    return [
        [NewJob(kind="k", dedupe_key=f"{ns}:q", payload={"n": 1}, run_at=NOW, priority=4)],
        [NewJob(kind="k", dedupe_key=f"{ns}:f", payload={"reason": "hint"}, priority=3)],
        [
            NewJob(kind="k", dedupe_key=f"{ns}:r", payload={"again": 1}),
            NewJob(kind="new", dedupe_key=f"{ns}:n", serial_key="s1", payload={}, max_attempts=3),
        ],
        [NewJob(kind="plain", payload={"ns": ns, "i": 1}, run_at=NOW - MINUTE)],
    ]


async def test_a_batch_of_distinct_keys_goes_without_the_merge_and_enqueues_alike(
    pg: Database,
) -> None:
    """Its own statement, and the same jobs as the full one and as the queue."""
    queue = JobQueue(pg)
    for ns in ("a", "b", "c"):
        await twins(queue, ns)
    async with pg.transaction() as tx:
        await enqueue_in(tx, [j for jobs in one_of_each("a") for j in jobs], now=NOW)
    company = await Installations(pg).activate(agreement_number=1, company_name="c", now=NOW)
    for ns, statement in (("b", "store_inbox_batch_distinct"), ("c", "store_inbox_batch")):
        batch = [
            (
                NewEntry(
                    source="economic", installation_id=company.id, dedupe_key=f"{ns}{i}", topic="t"
                ),
                None,
                jobs,
            )
            for i, jobs in enumerate(one_of_each(ns))
        ]
        rows = await pg.fetch(statement, **batch_params(batch, now=NOW))
        assert sorted(r["dedupe_key"] for r in rows if r["dedupe_key"]) == [
            f"{ns}{i}" for i in range(4)
        ]
    assert batch_statement(batch) == "store_inbox_batch_distinct"
    assert batch_statement([*batch, batch[0]]) == "store_inbox_batch"  # a key twice
    everything = await queue.list(limit=1000)
    expected = of(everything, "a")
    assert of(everything, "b") == expected and of(everything, "c") == expected
    by_key = {s[0]: s for s in expected}
    assert by_key["q"][4:6] == (4, NOW) and by_key["q"][8] == {"full": True, "n": 1}
    assert by_key["f"][2] == "failed" and by_key["f"][6] == 0
    assert [s[2] for s in expected if s[0] == "r"] == ["running", "queued"]


async def test_duplicates_store_nothing_and_enqueue_nothing(pg: Database) -> None:
    company = await Installations(pg).activate(agreement_number=1, company_name="c", now=NOW)

    def delivery(key: str) -> NewEntry:
        return NewEntry(source="collection", installation_id=company.id, dedupe_key=key, topic="t")

    first, ahead, _ = await store_batch(
        pg, [(delivery("x"), None, [NewJob(kind="k", payload={"from": "x"})])], now=NOW, reserve=2
    )
    assert ahead == [first["x"] + 1, first["x"] + 2]
    ids = await reserve_ids(pg, 2)
    assert ids == [first["x"] + 3, first["x"] + 4]
    again, _, _ = await store_batch(
        pg,
        [
            (delivery("x"), ids[0], [NewJob(kind="k", payload={"from": "x again"})]),
            (delivery("y"), ids[1], [NewJob(kind="k", payload={"inbox_id": ids[1]})]),
        ],
        now=NOW,
    )
    assert again == {"y": ids[1]}
    stored = await Inbox(pg).get(ids[1])
    assert stored is not None and stored.dedupe_key == "y" and stored.received_at == NOW
    payloads = [j.payload for j in sorted(await JobQueue(pg).list(), key=lambda j: j.id)]
    assert payloads == [{"from": "x"}, {"inbox_id": ids[1]}]
