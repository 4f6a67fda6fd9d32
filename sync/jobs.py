"""The job queue: enqueue, claim under a lease, heartbeat, complete, fail, sweep.

At-least-once: a claimed job carries a lease token, and only the holder of the current token
may extend, finish or report progress; a worker whose lease expired finds its writes ignored.
``dedupe_key`` coalesces a second identical waiting job into the first; ``serial_key`` keeps two
jobs of one key from running at once; claims take installations in turn and respect a cap per
installation, so one company's backfill never starves the others.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, Database, as_datetime, to_struct

JobState = Literal["queued", "running", "succeeded", "failed", "parked", "dead"]
CLAIM_SLACK = 32
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "succeeded", "failed", "parked", "dead")


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    installation_id: int | None
    payload: dict[str, Any]
    dedupe_key: str | None
    serial_key: str | None
    priority: int
    state: JobState
    run_at: dt.datetime
    attempts: int
    max_attempts: int
    lease_token: str | None
    lease_until: dt.datetime | None
    worker_id: str | None
    last_error: str | None
    error_code: str | None
    progress_done: int
    progress_total: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class NewJob(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    installation_id: int | None = None
    payload: Mapping[str, Any] = msgspec.field(default_factory=dict)
    dedupe_key: str | None = None
    serial_key: str | None = None
    priority: int = 0
    run_at: dt.datetime | None = None
    max_attempts: int = 10


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    lease_until: dt.datetime
    jobs: tuple[Job, ...]


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, job: NewJob, *, now: dt.datetime) -> int:
        """Add a job and return its id, or the id of the waiting twin that absorbed it.

        A twin waiting out a backoff (``failed``) absorbs the new job without moving its run_at
        (a burst of hints must not hammer a platform that just asked us to wait), but with a
        fresh count of attempts, so the hint cannot die with the twin's last attempt.
        """
        async with self.db.transaction() as tx:
            twin = await _absorbed(tx, job, now)
            if twin is not None:
                return twin
            row = await tx.fetchrow("enqueue_job", **_enqueue_params(job, now))
        assert row is not None
        return int(row["id"])

    async def enqueue_many(self, jobs: Iterable[NewJob], *, now: dt.datetime) -> None:
        batch = list(jobs)
        async with self.db.transaction() as tx:
            keys = sorted({j.dedupe_key for j in batch if j.dedupe_key is not None})
            if keys:
                rows = await tx.fetch("failed_twin_keys", keys=keys)
                waiting = {r["dedupe_key"] for r in rows}
                absorbed = [j for j in batch if j.dedupe_key in waiting]
                for job in absorbed:  # rare: only hints for records in backoff
                    await _absorbed(tx, job, now)
                batch = [j for j in batch if j.dedupe_key not in waiting]
            if batch:
                await tx.executemany("enqueue_job", [_enqueue_params(j, now) for j in batch])

    async def claim(
        self, *, worker_id: str, limit: int, cap: int, lease_seconds: float, now: dt.datetime
    ) -> Claim:
        token = secrets.token_hex(16)
        lease_until = now + dt.timedelta(seconds=lease_seconds)
        async with self.db.transaction() as tx:
            await tx.execute("lock_claims")
            rows = await tx.fetch(
                "claim_jobs",
                now=now,
                limit=limit,
                cap=cap,
                window=claim_window(limit, cap),
                token=token,
                lease_until=lease_until,
                worker_id=worker_id,
            )
        jobs = sorted(
            (to_struct(r, Job) for r in rows), key=lambda j: (-j.priority, j.run_at, j.id)
        )
        return Claim(token=token, lease_until=lease_until, jobs=tuple(jobs))

    async def heartbeat(self, token: str, *, lease_seconds: float, now: dt.datetime) -> set[int]:
        until = now + dt.timedelta(seconds=lease_seconds)
        rows = await self.db.fetch("heartbeat_jobs", token=token, lease_until=until, now=now)
        return {int(r["id"]) for r in rows}

    async def complete(self, done: list[tuple[int, str]], *, now: dt.datetime) -> set[int]:
        """Mark jobs succeeded in one statement; returns the ids whose lease was still held."""
        if not done:
            return set()
        rows = await self.db.fetch(
            "complete_jobs", ids=[i for i, _ in done], tokens=[t for _, t in done], now=now
        )
        return {int(r["id"]) for r in rows}

    async def finish(
        self,
        job_id: int,
        token: str,
        *,
        state: Literal["failed", "parked", "dead"],
        run_at: dt.datetime,
        error: str,
        code: str,
        now: dt.datetime,
        spends_attempt: bool = True,
    ) -> bool:
        count = await self.db.execute(
            "finish_job",
            refund=0 if spends_attempt else 1,
            id=job_id,
            token=token,
            state=state,
            run_at=run_at,
            error=error[:2000],
            code=code,
            now=now,
            finished_at=now if state == "dead" else None,
        )
        return count == 1

    async def set_progress(
        self, job_id: int, token: str, *, done: int, total: int | None, now: dt.datetime
    ) -> bool:
        count = await self.db.execute(
            "set_job_progress", id=job_id, token=token, done=done, total=total, now=now
        )
        return count == 1

    async def release(self, job_id: int, token: str, *, now: dt.datetime) -> bool:
        return await self.db.execute("release_job", id=job_id, token=token, now=now) == 1

    async def sweep(self, *, now: dt.datetime) -> builtins.list[dict[str, Any]]:
        return await self.db.fetch("sweep_expired_leases", now=now)

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchrow("get_job", id=job_id)
        return to_struct(row, Job) if row else None

    async def list(
        self,
        *,
        state: JobState | None = None,
        installation_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Job]:
        rows = await self.db.fetch(
            "list_jobs", state=state, installation_id=installation_id, limit=limit
        )
        return [to_struct(r, Job) for r in rows]

    async def counts(self) -> builtins.list[tuple[str, str, int]]:
        return [(r["kind"], r["state"], int(r["n"])) for r in await self.db.fetch("count_jobs")]

    async def retry(self, job_id: int, *, now: dt.datetime) -> bool:
        return await self.db.execute("retry_job", id=job_id, now=now) == 1

    async def retry_dead(self, *, kind: str | None = None, now: dt.datetime) -> int:
        return await self.db.execute("retry_dead_jobs", kind=kind, now=now)

    async def park_installation(self, installation_id: int, *, now: dt.datetime) -> int:
        return await self.db.execute(
            "park_installation_jobs", installation_id=installation_id, now=now
        )

    async def unpark_installation(self, installation_id: int, *, now: dt.datetime) -> int:
        return await self.db.execute(
            "unpark_installation_jobs", installation_id=installation_id, now=now
        )

    async def purge(self, *, before: dt.datetime, include_dead: bool = False) -> int:
        return await self.db.execute(
            "purge_jobs", before=before, include_dead=1 if include_dead else 0
        )

    async def next_run_at(self) -> dt.datetime | None:
        row = await self.db.fetchrow("next_run_at")
        return as_datetime(row["run_at"]) if row else None


def claim_window(limit: int, cap: int) -> int:
    """How many due jobs of each installation a claim looks at: enough to fill its share,
    plus slack for jobs whose serial key is busy."""
    return min(limit, cap) + CLAIM_SLACK


async def _absorbed(tx: Connection, job: NewJob, now: dt.datetime) -> int | None:
    """The id of the twin in backoff that took this job over, if there is one."""
    if job.dedupe_key is None:
        return None
    row = await tx.fetchrow(
        "absorb_into_failed_twin", dedupe_key=job.dedupe_key, priority=job.priority, now=now
    )
    return int(row["id"]) if row else None


def _enqueue_params(job: NewJob, now: dt.datetime) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "installation_id": job.installation_id,
        "payload": dict(job.payload),
        "dedupe_key": job.dedupe_key,
        "serial_key": job.serial_key,
        "priority": job.priority,
        "run_at": job.run_at or now,
        "max_attempts": job.max_attempts,
        "now": now,
    }
