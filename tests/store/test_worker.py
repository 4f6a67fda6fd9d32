"""The worker in burst mode on both engines: outcomes of the failure table, group commit."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from sync.errors import AuthLostError, BudgetExhaustedError, RateLimitedError, ValidationError
from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from sync.store.installations import Installations
from sync.store.problems import Problems
from sync.worker import JobContext, Worker, WorkerConfig
from tests.fixtures.conditions import NOW, Clock, eventually


async def test_burst_runs_everything_due_with_group_commit(db: Database) -> None:
    queue, seen = JobQueue(db), []

    async def record(ctx: JobContext) -> None:
        await asyncio.sleep(0)
        seen.append(ctx.payload["n"])
        await ctx.progress(1, 1)

    await queue.enqueue_many([NewJob(kind="record", payload={"n": n}) for n in range(25)], now=NOW)
    worker = Worker(queue, {"record": record}, WorkerConfig(concurrency=10), clock=Clock())
    assert await worker.run_burst() == 25
    assert sorted(seen) == list(range(25))
    jobs = await queue.list(limit=100)
    assert {j.state for j in jobs} == {"succeeded"}
    assert {(j.progress_done, j.progress_total) for j in jobs} == {(1, 1)}


async def test_failure_table_outcomes(db: Database) -> None:
    queue, clock = JobQueue(db), Clock()
    inst = (await Installations(db).create(agreement_number=5, company_name="c", now=NOW)).id
    lost = (await Installations(db).create(agreement_number=6, company_name="d", now=NOW)).id
    # Its collection grant is gone (as the token store records it): its jobs may be parked.
    await db.execute("mark_collection_lost", id=lost, now=NOW)
    later = NOW + dt.timedelta(hours=1)
    other = await queue.enqueue(NewJob(kind="later", installation_id=lost, run_at=later), now=NOW)

    async def rate_limited(ctx: JobContext) -> None:
        raise RateLimitedError("429", retry_after=120, platform="economic")

    async def refused(ctx: JobContext) -> None:
        raise ValidationError("no address", detail={"field": "address"}, platform="collection")

    async def revoked(ctx: JobContext) -> None:
        raise AuthLostError("grant revoked", platform="economic")

    async def bug(ctx: JobContext) -> None:
        raise ZeroDivisionError("oops")

    handlers = {"rate_limited": rate_limited, "refused": refused, "revoked": revoked, "bug": bug}
    ids = {
        kind: await queue.enqueue(
            NewJob(kind=kind, installation_id=lost if kind == "revoked" else inst), now=NOW
        )
        for kind in handlers
    }
    problems = Problems(db)
    config = WorkerConfig(installation_cap=10)  # all four in one claim, before the park
    worker = Worker(queue, handlers, config, clock=clock, rng=random.Random(3), problems=problems)
    assert await worker.run_burst() == 4
    state = {kind: await queue.get(job_id) for kind, job_id in ids.items()}
    assert state["rate_limited"].state == "failed"
    assert state["rate_limited"].run_at >= NOW + dt.timedelta(seconds=120)
    assert state["refused"].state == "dead" and state["refused"].error_code == "validation_failed"
    assert state["revoked"].state == "parked"
    assert state["bug"].state == "dead" and state["bug"].error_code == "bug"
    assert "ZeroDivisionError" in (state["bug"].last_error or "")
    parked_other = await queue.get(other)
    assert parked_other is not None and parked_other.state == "parked"
    [problem] = await problems.open(inst)
    assert problem.code == "validation_failed" and problem.category == "rejected_by_collector"


async def test_unknown_kind_goes_dead_and_can_be_retried(db: Database) -> None:
    queue, clock = JobQueue(db), Clock()
    job_id = await queue.enqueue(NewJob(kind="new_kind"), now=NOW)
    assert await Worker(queue, {}, clock=clock).run_burst() == 1
    job = await queue.get(job_id)
    assert job is not None and job.state == "dead" and "new_kind" in (job.last_error or "")
    ran = []

    async def new_kind(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    assert await queue.retry(job_id, now=NOW)
    assert await Worker(queue, {"new_kind": new_kind}, clock=clock).run_burst() == 1
    assert ran == [job_id]


async def _lease_renewed_past(queue: JobQueue, job_id: int, moment: dt.datetime) -> None:
    async def renewed() -> bool:
        job = await queue.get(job_id)
        return job is not None and job.lease_until is not None and job.lease_until > moment

    await eventually(renewed)


async def _blocking_handler() -> tuple[asyncio.Event, asyncio.Event, Callable[..., Any]]:
    started, release = asyncio.Event(), asyncio.Event()

    async def blocking(ctx: JobContext) -> None:
        started.set()
        await release.wait()

    return started, release, blocking


async def test_a_burst_keeps_the_leases_of_long_jobs_alive(db: Database) -> None:
    queue, clock = JobQueue(db), Clock()
    job_id = await queue.enqueue(NewJob(kind="long"), now=NOW)
    started, release, blocking = await _blocking_handler()
    worker = Worker(queue, {"long": blocking}, WorkerConfig(lease_seconds=0.3), clock=clock)
    burst = asyncio.create_task(worker.run_burst())
    await started.wait()
    clock.now = NOW + dt.timedelta(seconds=10)  # far past the first lease
    await _lease_renewed_past(queue, job_id, clock.now)
    assert await queue.sweep(now=clock.now) == []
    release.set()
    assert await burst == 1
    job = await queue.get(job_id)
    assert job is not None and job.state == "succeeded" and job.attempts == 1


async def test_leases_stay_alive_through_the_shutdown_grace(db: Database) -> None:
    queue, clock = JobQueue(db), Clock()
    job_id = await queue.enqueue(NewJob(kind="long"), now=NOW)
    started, release, blocking = await _blocking_handler()
    config = WorkerConfig(lease_seconds=0.3, poll_seconds=0.05, shutdown_grace_seconds=10)
    worker = Worker(queue, {"long": blocking}, config, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await started.wait()
    stop.set()  # the worker now waits out its grace period; the old lease soon lapses
    clock.now = NOW + dt.timedelta(seconds=10)
    await _lease_renewed_past(queue, job_id, clock.now)
    assert await queue.sweep(now=clock.now) == []
    release.set()
    await asyncio.wait_for(running, 5)
    job = await queue.get(job_id)
    assert job is not None and job.state == "succeeded" and job.attempts == 1


async def test_a_pause_does_not_spend_the_jobs_attempts(db: Database) -> None:
    queue, clock = JobQueue(db), Clock()
    job_id = await queue.enqueue(NewJob(kind="push", max_attempts=1), now=NOW)

    async def paused(ctx: JobContext) -> None:
        raise BudgetExhaustedError("budget used up", retry_after=7200, platform="economic")

    worker = Worker(queue, {"push": paused}, clock=clock, rng=random.Random(1))
    assert await worker.run_burst() == 1
    job = await queue.get(job_id)
    # Out of attempts were it a failure; a pause leaves it waiting with none spent.
    assert job is not None and job.state == "failed" and job.attempts == 0
    assert job.error_code == "budget_exhausted"
    assert job.run_at >= NOW + dt.timedelta(seconds=7200)
