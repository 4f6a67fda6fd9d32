"""Worker processes for real: several at once, SIGKILL in the middle of a job, SIGTERM.

The processes run `run_worker` (what ``collectbridge worker`` runs) with test job kinds from
`tests.reliability.worker_process`, and write what they did to JSON lines the test reads back.
"""

from __future__ import annotations

import datetime as dt
import itertools
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.jobs import JobQueue, NewJob
from sync.store.db import Database
from tests.fixtures.conditions import eventually
from tests.reliability.processes import events, start_worker, worker_output

NOW = dt.datetime.now(dt.UTC)


async def states(queue: JobQueue) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, state, n in await queue.counts():
        counts[state] = counts.get(state, 0) + n
    return counts


def intervals(found: list[dict]) -> list[tuple[int, str | None, float, float, int]]:
    starts = {(e["job"], e["attempt"]): e for e in found if e["event"] == "start"}
    return [
        (e["job"], e["serial"], starts[(e["job"], e["attempt"])]["at"], e["at"], e["pid"])
        for e in found
        if e["event"] == "end"
    ]


@pytest.mark.postgres
@pytest.mark.slow
async def test_three_processes_share_the_queue_without_overlap(
    postgres_url: str, db_for: Callable[[str], Database], logs: Path, processes: list
) -> None:
    db = await db_for(postgres_url)
    queue = JobQueue(db)
    await queue.enqueue_many(
        [
            NewJob(kind="work", serial_key=f"invoice:{n % 5}", payload={"seconds": 0.02})
            for n in range(60)
        ]
        + [NewJob(kind="work", payload={"seconds": 0.01}) for _ in range(60)],
        now=NOW,
    )
    processes += [start_worker(postgres_url, logs) for _ in range(3)]
    await eventually(
        lambda: _all_succeeded(queue, 120),
        within=90,
        step=0.05,
        explain=lambda: worker_output(logs),
    )
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        assert p.wait(timeout=30) == 0
    runs = intervals(events(logs))
    assert sorted(r[0] for r in runs) == sorted({r[0] for r in runs})  # each job ran once
    assert len(runs) == 120
    assert len({r[4] for r in runs}) >= 2  # the work was shared
    by_key: dict[str, list[tuple[float, float]]] = {}
    for _, key, start, end, _ in runs:
        if key is not None:
            by_key.setdefault(key, []).append((start, end))
    for key, spans in by_key.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two jobs of {key} overlapped"


async def _all_succeeded(queue: JobQueue, total: int) -> bool:
    return (await states(queue)).get("succeeded", 0) == total


async def test_a_killed_worker_job_runs_again_after_its_lease_and_completes_once(
    database_url: str, db_for: Callable[[str], Database], logs: Path, processes: list
) -> None:
    db = await db_for(database_url)
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="work", payload={"hang_first": True}), now=NOW)
    victim = start_worker(database_url, logs, lease=2)
    processes.append(victim)
    await eventually(lambda: any(e["event"] == "start" for e in events(logs)), within=60)
    victim.kill()
    assert victim.wait(timeout=30) == -signal.SIGKILL
    heir = start_worker(database_url, logs, lease=2)
    processes.append(heir)
    await eventually(
        lambda: _job_state(queue, job_id, "succeeded"),
        within=60,
        step=0.05,
        explain=lambda: worker_output(logs),
    )
    heir.send_signal(signal.SIGTERM)
    assert heir.wait(timeout=30) == 0
    found = [e for e in events(logs) if e["job"] == job_id]
    assert [(e["event"], e["attempt"]) for e in found if e["event"] == "start"] == [
        ("start", 1),
        ("start", 2),
    ]
    assert [e["attempt"] for e in found if e["event"] == "end"] == [2]
    job = await queue.get(job_id)
    assert job is not None and job.attempts == 2


async def _job_state(queue: JobQueue, job_id: int, state: str) -> bool:
    job = await queue.get(job_id)
    return job is not None and job.state == state


async def test_sigterm_lets_the_running_job_finish(
    database_url: str, db_for: Callable[[str], Database], logs: Path, processes: list
) -> None:
    db = await db_for(database_url)
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="work", payload={"seconds": 1.5}), now=NOW)
    worker = start_worker(database_url, logs, grace=30)
    processes.append(worker)
    await eventually(lambda: any(e["event"] == "start" for e in events(logs)), within=60)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert await _job_state(queue, job_id, "succeeded")
    assert [e["event"] for e in events(logs)] == ["start", "end"]


async def test_sigterm_releases_a_job_that_outlives_the_grace_period(
    database_url: str, db_for: Callable[[str], Database], logs: Path, processes: list
) -> None:
    db = await db_for(database_url)
    queue = JobQueue(db)
    job_id = await queue.enqueue(NewJob(kind="work", payload={"hang_first": True}), now=NOW)
    worker = start_worker(database_url, logs, grace=0.3)
    processes.append(worker)
    await eventually(lambda: any(e["event"] == "start" for e in events(logs)), within=60)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    job = await queue.get(job_id)
    assert job is not None
    assert (job.state, job.error_code, job.attempts, job.lease_token) == (
        "failed",
        "released",
        0,
        None,
    )
    # released, it is due at once: the next worker takes it without waiting for a lease
    runner = start_worker(database_url, logs, burst=True)
    processes.append(runner)
    assert runner.wait(timeout=60) == 0
    job = await queue.get(job_id)
    assert job is not None and job.state == "succeeded"
