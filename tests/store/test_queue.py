"""Queue semantics on both engines: coalescing, serial keys, leases, sweeping, fairness."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from sync.store.installations import Installations

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def later(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


async def installation(db: Database, number: int) -> int:
    return (await Installations(db).create(agreement_number=number, company_name="c", now=NOW)).id


async def claim(
    queue: JobQueue,
    *,
    limit: int = 10,
    cap: int = 100,
    now: dt.datetime = NOW,
    worker: str = "w1",
    lease: float = 30,
):
    return await queue.claim(worker_id=worker, limit=limit, cap=cap, lease_seconds=lease, now=now)


async def test_enqueue_claim_complete(db: Database) -> None:
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k", payload={"n": 1}), now=NOW)
    got = await claim(queue)
    assert [j.id for j in got.jobs] == [job_id]
    job = got.jobs[0]
    assert job.state == "running" and job.attempts == 1 and job.payload == {"n": 1}
    assert job.lease_until is not None
    if db.dialect == "sqlite":  # the machine's clock judges leases
        assert job.lease_until == later(30)
    else:  # the server's clock does, whatever business time the caller passes
        assert job.lease_until > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=25)
    assert (await claim(queue)).jobs == ()
    assert await queue.succeed([(job_id, got.token)], now=later(1)) == {job_id}
    done = await queue.get(job_id)
    assert done is not None and done.state == "succeeded" and done.finished_at == later(1)


async def test_waiting_duplicates_coalesce_but_a_running_one_does_not(db: Database) -> None:
    queue = JobQueue(db)
    first = await queue.enqueue(
        NewJob(kind="k", dedupe_key="customer:42", run_at=later(60)), now=NOW
    )
    second = await queue.enqueue(
        NewJob(kind="k", dedupe_key="customer:42", run_at=later(5)), now=NOW
    )
    assert first == second
    job = await queue.get(first)
    assert job is not None and job.run_at == later(5)  # the earlier wish wins
    got = await claim(queue, now=later(5))
    assert [j.id for j in got.jobs] == [first]
    third = await queue.enqueue(NewJob(kind="k", dedupe_key="customer:42"), now=later(6))
    assert third != first  # the record may have changed after the running job read it


async def test_bulk_enqueue_coalesces_too(db: Database) -> None:
    queue = JobQueue(db)
    await queue.enqueue_many(
        [NewJob(kind="k", dedupe_key=f"invoice:{n % 10}") for n in range(100)], now=NOW
    )
    assert len(await queue.list()) == 10


async def test_serial_key_never_runs_twice_at_once(db: Database) -> None:
    queue = JobQueue(db)
    a = await queue.enqueue(NewJob(kind="k", serial_key="invoice:1"), now=NOW)
    b = await queue.enqueue(NewJob(kind="k", serial_key="invoice:1"), now=NOW)
    c = await queue.enqueue(NewJob(kind="k", serial_key="invoice:2"), now=NOW)
    first = await claim(queue)
    assert sorted(j.id for j in first.jobs) == [a, c]
    assert (await claim(queue, worker="w2")).jobs == ()
    await queue.succeed([(a, first.token)], now=NOW)
    second = await claim(queue, worker="w2")
    assert [j.id for j in second.jobs] == [b]


async def test_only_the_current_lease_holder_may_finish(db: Database) -> None:
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k"), now=NOW)
    old = await claim(queue, lease=0)  # runs out at once, by either engine's lease clock
    swept = await queue.sweep(now=later(11))
    assert [(r["id"], r["state"]) for r in swept] == [(job_id, "failed")]
    assert not await queue.heartbeat(job_id, old.token, lease_seconds=10, now=later(11))
    new = await claim(queue, now=later(11), worker="w2")
    assert [j.attempts for j in new.jobs] == [2]
    assert await queue.succeed([(job_id, old.token)], now=later(12)) == set()
    assert not await queue.set_progress(job_id, old.token, done=1, total=2, now=later(12))
    assert await queue.set_progress(job_id, new.token, done=1, total=2, now=later(12))
    assert await queue.heartbeat(job_id, new.token, lease_seconds=10, now=later(12))
    assert await queue.succeed([(job_id, new.token)], now=later(13)) == {job_id}


async def test_sweep_buries_a_job_out_of_attempts(db: Database) -> None:
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k", max_attempts=1), now=NOW)
    await claim(queue, lease=0)
    assert [r["state"] for r in await queue.sweep(now=later(2))] == ["dead"]
    assert await queue.retry(job_id, now=later(3))
    job = await queue.get(job_id)
    assert job is not None and job.state == "queued" and job.attempts == 0


async def test_future_jobs_wait_for_their_time(db: Database) -> None:
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k", run_at=later(100)), now=NOW)
    assert (await claim(queue)).jobs == ()
    assert await queue.next_run_at() == later(100)
    assert [j.id for j in (await claim(queue, now=later(100))).jobs] == [job_id]


async def test_installation_cap_and_fairness_bound(db: Database) -> None:
    """A lone job of a second installation behind 10,000 of the first starts within two rounds."""
    queue = JobQueue(db)
    big, small = await installation(db, 1), await installation(db, 2)
    await queue.enqueue_many(
        [NewJob(kind="backfill", installation_id=big, payload={"page": n}) for n in range(10_000)],
        now=NOW,
    )
    lone = await queue.enqueue(NewJob(kind="one", installation_id=small), now=later(1))
    rounds = []
    for n in range(2):
        got = await claim(queue, limit=8, cap=4, now=later(2), worker=f"w{n}")
        rounds.append([j.installation_id for j in got.jobs])
        if lone in [j.id for j in got.jobs]:
            break
    assert lone in [j.id for j in got.jobs]
    assert len(rounds) <= 2
    assert rounds[0].count(big) <= 4  # the cap holds for the big one


async def test_round_robin_between_installations(db: Database) -> None:
    queue = JobQueue(db)
    a, b = await installation(db, 1), await installation(db, 2)
    await queue.enqueue_many([NewJob(kind="k", installation_id=a) for _ in range(5)], now=NOW)
    await queue.enqueue_many([NewJob(kind="k", installation_id=b) for _ in range(5)], now=later(1))
    got = await claim(queue, limit=4, now=later(2))
    assert sorted(j.installation_id for j in got.jobs) == [a, a, b, b]


async def test_park_and_unpark_an_installation(db: Database) -> None:
    queue = JobQueue(db)
    inst = await installation(db, 1)
    ids = [await queue.enqueue(NewJob(kind="k", installation_id=inst), now=NOW) for _ in range(3)]
    assert await queue.park_installation(inst, now=NOW) == 0  # it runs: nothing to hold
    await Installations(db).set_status(inst, "paused", now=NOW)
    assert await queue.park_installation(inst, now=NOW) == 3
    assert await queue.unpark_installation(inst, now=NOW) == 0  # still paused: stays parked
    await Installations(db).set_status(inst, "active", now=NOW)
    assert await queue.unpark_installation(inst, now=later(1)) == 3
    assert sorted(j.id for j in (await claim(queue, now=later(1))).jobs) == ids
    # A park that lost a race with a resume parks nothing, so nothing is held for good.
    assert await queue.park_installation(inst, now=later(2)) == 0


async def test_retry_dead_and_purge(db: Database) -> None:
    queue = JobQueue(db)
    ok = await queue.enqueue(NewJob(kind="k"), now=NOW)
    bad = await queue.enqueue(NewJob(kind="other"), now=NOW)
    got = await claim(queue)
    await queue.succeed([(ok, got.token)], now=NOW)
    assert await queue.fail(
        bad, got.token, state="dead", run_at=NOW, error="boom", code="bug", now=NOW
    )
    assert [j.id for j in await queue.list(state="dead")] == [bad]
    assert await queue.retry_dead(kind="k", now=later(1)) == 0
    assert await queue.retry_dead(kind=None, now=later(1)) == 1
    assert await queue.purge(before=later(2)) == 1
    assert [j.id for j in await queue.list()] == [bad]
    counts = await queue.counts()
    assert ("other", "queued", 1) in counts


async def test_retry_of_a_dead_job_with_a_queued_twin_keeps_one_queued(db: Database) -> None:
    queue = JobQueue(db)
    dead = await queue.enqueue(NewJob(kind="k", dedupe_key="x"), now=NOW)
    got = await claim(queue)
    await queue.fail(dead, got.token, state="dead", run_at=NOW, error="e", code="bug", now=NOW)
    twin = await queue.enqueue(NewJob(kind="k", dedupe_key="x"), now=NOW)
    assert await queue.retry(dead, now=NOW)
    states = {j.id: j.state for j in await queue.list()}
    assert states == {dead: "failed", twin: "queued"}


async def test_retrying_dead_twins_never_collides_with_the_queued_index(db: Database) -> None:
    queue = JobQueue(db)
    twins = []
    for _ in range(2):
        job_id = await queue.enqueue(NewJob(kind="k", dedupe_key="customer:7"), now=NOW)
        got = await claim(queue)
        await queue.fail(
            job_id, got.token, state="dead", run_at=NOW, error="e", code="bug", now=NOW
        )
        twins.append(job_id)
    queued = await queue.enqueue(NewJob(kind="k", dedupe_key="customer:7"), now=NOW)
    assert await queue.retry_dead(now=later(1)) == 2
    states = {j.id: (j.state, j.attempts) for j in await queue.list()}
    assert states == {twins[0]: ("failed", 0), twins[1]: ("failed", 0), queued: ("queued", 0)}
    # A new hint joins a retried twin rather than adding a fourth job.
    assert await queue.enqueue(NewJob(kind="k", dedupe_key="customer:7"), now=later(2)) == twins[0]
    assert len(await queue.list()) == 3
    # All are due at once (handlers are idempotent; a serial key would run them one at a time).
    due = {j.id for j in (await claim(queue, now=later(2))).jobs}
    assert due == {*twins, queued}


async def test_a_hint_joins_a_twin_waiting_out_its_backoff(db: Database) -> None:
    queue = JobQueue(db)
    first = await queue.enqueue(NewJob(kind="k", dedupe_key="customer:9"), now=NOW)
    got = await claim(queue)
    backoff_until = later(600)
    await queue.fail(
        first, got.token, state="failed", run_at=backoff_until, error="429", code="rl", now=NOW
    )
    assert (
        await queue.enqueue(NewJob(kind="k", dedupe_key="customer:9", priority=5), now=later(1))
        == first
    )
    await queue.enqueue_many(
        [NewJob(kind="k", dedupe_key="customer:9"), NewJob(kind="k", dedupe_key="other")],
        now=later(2),
    )
    jobs = await queue.list()
    assert sorted(j.dedupe_key or "" for j in jobs) == ["customer:9", "other"]
    waiting = await queue.get(first)
    assert waiting is not None and waiting.run_at == backoff_until  # the wait is not cut short
    assert waiting.attempts == 0 and waiting.priority == 5  # the hint's own chances and urgency
    assert [j.dedupe_key for j in (await claim(queue, now=later(3))).jobs] == ["other"]


async def test_a_job_swept_out_of_attempts_is_dead_with_an_end_time_and_purgeable(
    db: Database,
) -> None:
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k", max_attempts=1), now=NOW)
    await claim(queue, lease=0)
    swept = await queue.sweep(now=later(10))
    assert [(r["id"], r["state"]) for r in swept] == [(job_id, "dead")]
    job = await queue.get(job_id)
    assert job is not None and job.finished_at == later(10)
    assert await queue.purge(before=later(11), include_dead=True) == 1


async def test_a_busy_serial_key_does_not_hide_an_installations_other_work(db: Database) -> None:
    queue = JobQueue(db)
    inst = await installation(db, 4)
    await queue.enqueue(NewJob(kind="book", installation_id=inst, serial_key="ledger"), now=NOW)
    first = await claim(queue, cap=10)
    assert len(first.jobs) == 1
    # More jobs of the busy key than a claim looks at, then one of another kind behind them.
    await queue.enqueue_many(
        [NewJob(kind="book", installation_id=inst, serial_key="ledger") for _ in range(60)],
        now=NOW,
    )
    other = await queue.enqueue(NewJob(kind="sync", installation_id=inst), now=later(1))
    got = await claim(queue, limit=1, cap=10, now=later(2))
    assert [j.id for j in got.jobs] == [other]


async def test_the_database_refuses_two_running_jobs_of_one_serial_key(db: Database) -> None:
    """The backstop behind the claim: a unique index on running jobs' serial keys."""
    queue = JobQueue(db)
    for _ in range(2):
        await queue.enqueue(NewJob(kind="k", serial_key="invoice:1:1"), now=NOW)
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with db.transaction() as tx:
            await tx.run_script(
                "UPDATE jobs SET state = 'running', lease_token = 'x' "
                "WHERE serial_key = 'invoice:1:1'"
            )


async def test_a_sweeper_whose_clock_runs_ahead_cannot_take_a_live_lease(db: Database) -> None:
    """Clock skew: a worker 40 s ahead sweeps. On PostgreSQL the server's clock judges the lease
    (alive: nothing swept); on SQLite every worker shares one machine's clock, so a clock that
    far ahead is the machine's own, and the lease has lapsed by it."""
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="k"), now=NOW)
    real = dt.datetime.now(dt.UTC)
    batch = await queue.claim(worker_id="w", limit=1, cap=10, lease_seconds=30, now=real)
    assert [j.id for j in batch.jobs] == [job_id]
    swept = await queue.sweep(now=real + dt.timedelta(seconds=40))
    if db.dialect == "postgresql":
        assert swept == []
        assert await queue.heartbeat(job_id, batch.token, lease_seconds=30, now=real)
    else:
        assert [r["id"] for r in swept] == [job_id]


async def test_a_paused_or_revoked_installations_jobs_are_never_claimed(db: Database) -> None:
    """Whatever state its jobs are in (a job enqueued in the moment before it was parked, say)."""
    queue = JobQueue(db)
    installations = Installations(db)
    held = [await installation(db, n) for n in (1, 2)]
    running = await installation(db, 3)
    for inst in (*held, running):
        await queue.enqueue(NewJob(kind="k", installation_id=inst), now=NOW)
    await installations.set_status(held[0], "paused", now=NOW)
    await installations.set_status(held[1], "revoked", now=NOW)
    got = await claim(queue, now=later(1))
    assert [j.installation_id for j in got.jobs] == [running]
    await installations.set_status(held[0], "active", now=NOW)
    assert [j.installation_id for j in (await claim(queue, now=later(2))).jobs] == [held[0]]
