"""The job queue: enqueue, claim under a lease, heartbeat, complete, fail, sweep.

At-least-once: a claimed job carries a lease token, and only the holder of the current token
may extend it, record its outcome or report progress; a worker whose lease expired finds its
writes ignored. Leases are judged by one clock: the database server's on PostgreSQL (workers on
many machines), the machine's on SQLite (one machine); business time (``now``) is a parameter.
``dedupe_key`` coalesces a second identical waiting job into the first; ``serial_key`` keeps two
jobs of one key from running at once; claims take installations in turn and respect a cap per
installation, so one company's backfill never starves the others.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from sync.redaction import scrub
from sync.store.db import Connection, Database, as_datetime, to_struct
from sync.store.sqlite import json_rows

JobState = Literal["queued", "running", "succeeded", "failed", "parked", "dead"]
CLAIM_SLACK = 32
BULK_ENQUEUE = 1000  # jobs in one enqueue_many after which the table's statistics are refreshed
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


class LeaseBatch(msgspec.Struct, frozen=True, kw_only=True):
    """The jobs one claim leased, all under one lease token (each job's renewal is its own;
    the job id and the token together name one run). ``contended``: some installations with
    due work were passed over because other claims were serving them, so trying again soon
    may find work even when this batch is empty."""

    token: str
    jobs: tuple[Job, ...]
    contended: bool = False


class JobQueue:
    """The queue over the `Database` port. Lease-keeping writes (heartbeats, the outcome of a
    run, releases) go through ``db.reserved()``: connections that handlers cannot exhaust."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, job: NewJob, *, now: dt.datetime) -> int:
        """Add a job and return its id, or the id of the waiting twin that absorbed it (the
        twin's payload takes the new job's keys over its own).

        A twin waiting out a backoff (``failed``) absorbs the new job without moving its run_at
        (a burst of hints must not hammer a platform that just asked us to wait), but with a
        fresh count of attempts, so the hint cannot die with the twin's last attempt. A twin
        that is running never absorbs anything: it may have read the record before the change.
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
            await enqueue_in(tx, batch, now=now)
        if len(batch) >= BULK_ENQUEUE:
            await self.db.execute("analyze_jobs")

    async def claim(
        self,
        *,
        worker_id: str,
        limit: int,
        cap: int,
        lease_seconds: float,
        now: dt.datetime,
        held: Sequence[int] = (),
    ) -> LeaseBatch:
        """Lease up to ``limit`` due jobs, at most ``cap`` running per installation.

        Two statements in one transaction: the first picks and locks the installations to
        serve (on PostgreSQL a try-lock each, so concurrent claims for other installations go
        ahead in parallel), the second counts their running jobs and takes jobs, with a
        snapshot that sees every claim committed before the locks were granted. Lease times
        come from the lease clock (`lease_params`), ``now`` is business time. Jobs in ``held``
        (the caller's runs that have not ended) are never claimed again by this call.
        """
        token = secrets.token_hex(16)
        async with self.db.transaction() as tx:
            rows, contended = await claim_in(
                tx,
                token=token,
                worker_id=worker_id,
                limit=limit,
                cap=cap,
                lease_seconds=lease_seconds,
                now=now,
                held=held,
            )
        jobs = sorted(
            (to_struct(r, Job) for r in rows), key=lambda j: (-j.priority, j.run_at, j.id)
        )
        return LeaseBatch(token=token, jobs=tuple(jobs), contended=contended)

    async def heartbeat(
        self, job_id: int, token: str, *, lease_seconds: float, now: dt.datetime
    ) -> bool:
        """Renew one run's lease; False when the lease is no longer this token's."""
        row = await self.db.reserved().fetchrow(
            "heartbeat_job", id=job_id, token=token, now=now, **lease_params(lease_seconds, now)
        )
        return row is not None

    async def succeed(self, done: Sequence[tuple[int, str]], *, now: dt.datetime) -> set[int]:
        """Record successes in one statement; returns the ids whose lease token was accepted.

        A run whose lease was swept while it was recording its success is still accepted as
        long as nobody has claimed the job since: a success never counts as a failure, and a
        job that succeeded on its last attempt is never buried as dead.
        """
        if not done:
            return set()
        rows = await self.db.reserved().fetch(
            "succeed_jobs", ids=[i for i, _ in done], tokens=[t for _, t in done], now=now
        )
        return {int(r["id"]) for r in rows}

    async def fail(
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
        """Record a run that did not succeed: retry at ``run_at`` (failed), wait for a person
        (parked) or give up (dead). The error text is stored with every known secret masked."""
        count = await self.db.reserved().execute(
            "fail_job",
            refund=0 if spends_attempt else 1,
            id=job_id,
            token=token,
            state=state,
            run_at=run_at,
            error=scrub(error)[:2000],
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
        """Give a run's job back unharmed (shutdown, or a run that stopped at its deadline)."""
        return await self.db.reserved().execute("release_job", id=job_id, token=token, now=now) == 1

    async def sweep(self, *, now: dt.datetime) -> builtins.list[dict[str, Any]]:
        """Return the jobs whose lease ran out (by the lease clock) to waiting, or dead."""
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


async def enqueue_in(tx: Connection, jobs: Iterable[NewJob], *, now: dt.datetime) -> None:
    """`JobQueue.enqueue_many`'s steps inside the caller's transaction, so that jobs commit with
    the rows that made them (an inbox entry, a page of the events feed): a twin in backoff takes
    its job over (keeping its wait), every other job is inserted, a queued twin absorbing it.
    On SQLite the inserts are one step (``enqueue_jobs``, in order: as if one at a time)."""
    batch = list(jobs)
    keys = sorted({j.dedupe_key for j in batch if j.dedupe_key is not None})
    if keys:
        waiting = {r["dedupe_key"] for r in await tx.fetch("failed_twin_keys", keys=keys)}
        # Rare: only hints for records in backoff. A twin claimed since the look-up absorbs
        # nothing, and its job is inserted like any other.
        batch = [
            j for j in batch if j.dedupe_key not in waiting or await _absorbed(tx, j, now) is None
        ]
    if not batch:
        return
    if tx.dialect == "sqlite":  # one step for the batch (`json_rows`), not one per job
        await tx.execute(
            "enqueue_jobs", jobs=json_rows(_enqueue_row(j, now) for j in batch), now=now
        )
    else:
        await tx.executemany("enqueue_job", [_enqueue_params(j, now) for j in batch])


async def claim_in(
    tx: Connection,
    *,
    token: str,
    worker_id: str,
    limit: int,
    cap: int,
    lease_seconds: float,
    now: dt.datetime,
    held: Sequence[int] = (),
) -> tuple[builtins.list[dict[str, Any]], bool]:
    """The two statements of a claim, inside the caller's transaction (see `JobQueue.claim`):
    the rows claimed, and whether installations other claims were serving were passed over."""
    await tx.execute("claim_plans")
    walked = await tx.fetch(
        "claim_installations",
        now=now,
        cap=cap,
        limit=limit,
        room=min(cap, limit),
        candidates=limit + CLAIM_SLACK,
    )
    chosen = [r for r in walked if r["locked"]]
    contended = len(chosen) < len(walked)
    if not chosen:
        return [], contended
    rows = await tx.fetch(
        "claim_jobs",
        installations=[int(r["inst"]) for r in chosen],
        held=list(held),
        now=now,
        limit=limit,
        cap=cap,
        window=claim_window(max(int(r["room"]) for r in chosen)),
        token=token,
        worker_id=worker_id,
        **lease_params(lease_seconds, now),
    )
    return rows, contended


def lease_params(lease_seconds: float, now: dt.datetime) -> dict[str, Any]:
    """Both spellings of a lease's length: PostgreSQL adds ``lease_seconds`` to its own clock;
    SQLite stores ``lease_until`` computed from ``now``, the clock of the one machine."""
    until = now + dt.timedelta(seconds=lease_seconds)
    return {"lease_seconds": lease_seconds, "lease_until": until}


def claim_window(room: int) -> int:
    """How many due jobs of each installation a claim looks at: enough to fill the largest
    room claim_installations found, plus slack for jobs that share a serial key."""
    return room + CLAIM_SLACK


async def _absorbed(tx: Connection, job: NewJob, now: dt.datetime) -> int | None:
    """The id of the twin in backoff that took this job over, if there is one."""
    if job.dedupe_key is None:
        return None
    row = await tx.fetchrow(
        "absorb_into_failed_twin",
        dedupe_key=job.dedupe_key,
        priority=job.priority,
        payload=dict(job.payload),
        now=now,
    )
    return int(row["id"]) if row else None


def _enqueue_row(job: NewJob, now: dt.datetime) -> tuple[Any, ...]:
    """A job as a row of ``enqueue_jobs`` (SQLite)."""
    return (
        job.kind,
        job.installation_id,
        dict(job.payload),
        job.dedupe_key,
        job.serial_key,
        job.priority,
        job.run_at or now,
        job.max_attempts,
    )


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
