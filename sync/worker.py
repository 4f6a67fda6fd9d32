"""The worker: claims jobs in batches, runs their handlers, keeps their leases alive.

One loop per process. It claims as many jobs as it has free slots, runs each in its own task,
extends the leases of everything it holds on a heartbeat, and cancels a job whose lease it lost
(someone else may hold it now). Successes are group-committed: every job finishing while a
commit is under way joins the next one. Failures go through the pure retry policy in
`sync.retry`. A sweeper returns the jobs of dead workers once their leases expire.

``run_burst`` drains what is due and returns, which keeps tests deterministic. ``run`` goes on
until its stop event is set, then lets running jobs finish within the grace period and releases
the leases of those that did not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import math
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgspec

from sync import logcontext
from sync.errors import SyncError
from sync.jobs import Job, JobQueue
from sync.retry import decide

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JobContext:
    """What a handler gets: the job, the clock, and progress reporting under the lease."""

    def __init__(self, job: Job, token: str, queue: JobQueue, clock: Clock) -> None:
        self.job = job
        self._token = token
        self._queue = queue
        self.now = clock

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    async def progress(self, done: int, total: int | None = None) -> None:
        await self._queue.set_progress(
            self.job.id, self._token, done=done, total=total, now=self.now()
        )


Handler = Callable[[JobContext], Awaitable[None]]


class ProblemSink(Protocol):
    """Where permanent refusals are recorded for a person to act on."""

    async def record_job_problem(self, job: Job, exc: BaseException, now: dt.datetime) -> None: ...


class JobObserver(Protocol):
    def job_finished(self, kind: str, outcome: str, seconds: float) -> None: ...


class WorkerConfig(msgspec.Struct, frozen=True, kw_only=True):
    concurrency: int = 8
    installation_cap: int = 2
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 30.0
    worker_id: str = msgspec.field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        config: WorkerConfig | None = None,
        *,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        problems: ProblemSink | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.config = config or WorkerConfig()
        self.clock = clock
        self.rng = rng or random.Random()
        self.problems = problems
        self.observer = observer
        self._running: dict[int, tuple[asyncio.Task[None], str]] = {}
        self._pending_done: list[tuple[int, str, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._committing: set[int] = set()
        self._wake = asyncio.Event()
        self.processed = 0

    def wake(self) -> None:
        """Tell an idle worker that new work may be due (in-process enqueue)."""
        self._wake.set()

    # --- claiming -------------------------------------------------------------------------
    async def _claim_into_slots(self) -> int:
        free = self.config.concurrency - len(self._running)
        if free <= 0:
            return 0
        claim = await self.queue.claim(
            worker_id=self.config.worker_id,
            limit=free,
            cap=self.config.installation_cap,
            lease_seconds=self.config.lease_seconds,
            now=self.clock(),
        )
        for job in claim.jobs:
            task = asyncio.create_task(self._run_job(job, claim.token), name=f"job-{job.id}")
            self._running[job.id] = (task, claim.token)
            task.add_done_callback(functools.partial(self._forget, job.id))
        return len(claim.jobs)

    def _forget(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)

    async def run_burst(self) -> int:
        """Run every job that is due now (and what they enqueue), then return how many ran."""
        start = self.processed
        beats = asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat")
        try:
            while True:
                await self.queue.sweep(now=self.clock())
                claimed = await self._claim_into_slots()
                if not claimed and not self._running:
                    return self.processed - start
                if self._running:
                    await asyncio.wait(
                        [t for t, _ in self._running.values()],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
        finally:
            await _cancel(beats)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then shut down gracefully."""
        beats = asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat")
        log.info("worker started", extra={"worker_id": self.config.worker_id})
        failures = 0
        last_sweep = -math.inf
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() - last_sweep >= self.config.lease_seconds / 4:
                        await self.queue.sweep(now=self.clock())
                        last_sweep = time.monotonic()
                    claimed = await self._claim_into_slots()
                except Exception:
                    # The database may be restarting or unreachable: keep the jobs we hold,
                    # wait (longer each time, at most a minute) and try again.
                    failures += 1
                    log.exception("worker could not reach the queue (failure %d)", failures)
                    pause = min(60.0, self.config.poll_seconds * 2 ** min(failures, 16))
                    await self._idle(stop, busy=bool(self._running), pause=pause)
                    continue
                failures = 0
                if claimed and len(self._running) < self.config.concurrency:
                    continue
                await self._idle(stop, busy=bool(self._running))
        finally:
            # Leases stay alive through the grace period: heartbeats stop only after shutdown.
            await self._shutdown()
            await _cancel(beats)
            log.info("worker stopped", extra={"worker_id": self.config.worker_id})

    async def _idle(self, stop: asyncio.Event, *, busy: bool, pause: float | None = None) -> None:
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        if busy:
            waiters += [t for t, _ in self._running.values()]
        await asyncio.wait(
            waiters,
            timeout=self.config.poll_seconds if pause is None else pause,
            return_when=asyncio.FIRST_COMPLETED,
        )
        for w in waiters[:2]:
            w.cancel()
        self._wake.clear()

    async def _shutdown(self) -> None:
        tasks = [t for t, _ in self._running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.shutdown_grace_seconds)
        # A commit under way decides jobs that are already done; let it land before releasing.
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
            await asyncio.sleep(0)
        for job_id, (task, token) in list(self._running.items()):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                await self.queue.release(job_id, token, now=self.clock())
                log.warning("job released at shutdown", extra={"job_id": job_id})
            except Exception:
                log.exception(
                    "could not release a job; its lease will expire", extra={"job_id": job_id}
                )
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    # --- leases ---------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        interval = max(self.config.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except Exception:
                log.exception("heartbeat failed")

    async def heartbeat(self) -> None:
        """Extend every lease held; cancel jobs whose lease was lost."""
        # A job whose completion is being committed may already have left 'running': that is
        # not a lost lease.
        finishing = self._committing | {job_id for job_id, _, _ in self._pending_done}
        by_token: dict[str, list[int]] = {}
        for job_id, (_, token) in list(self._running.items()):
            by_token.setdefault(token, []).append(job_id)
        for token, ids in by_token.items():
            held = await self.queue.heartbeat(
                token, lease_seconds=self.config.lease_seconds, now=self.clock()
            )
            for job_id in set(ids) - held - finishing:
                entry = self._running.get(job_id)
                if entry is not None:
                    log.warning("lease lost, cancelling job", extra={"job_id": job_id})
                    entry[0].cancel()

    # --- running one job ------------------------------------------------------------------
    async def _run_job(self, job: Job, token: str) -> None:
        started = time.perf_counter()
        with logcontext.bound(job_id=job.id, installation_id=job.installation_id, kind=job.kind):
            outcome = await self._execute(job, token)
            self.processed += 1
            if self.observer is not None:
                self.observer.job_finished(job.kind, outcome, time.perf_counter() - started)

    async def _execute(self, job: Job, token: str) -> str:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler(JobContext(job, token, self.queue, self.clock))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._fail(job, token, exc)
        try:
            accepted = await self._complete(job.id, token)
        except Exception:
            # The job stays running under its lease; the sweeper returns it and it runs again.
            log.exception("could not record a finished job")
            return "unrecorded"
        if not accepted:
            log.warning("job finished after its lease was lost; result not recorded")
            return "lease_lost"
        return "succeeded"

    async def _fail(self, job: Job, token: str, exc: Exception) -> str:
        now = self.clock()
        decision = decide(
            exc, attempts=job.attempts, max_attempts=job.max_attempts, now=now, rng=self.rng
        )
        message = exc.message if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
        if decision.outcome == "dead" and not isinstance(exc, SyncError):
            log.error("job failed with an unexpected error", exc_info=exc)
        else:
            log.warning("job failed: %s", message, extra={"outcome": decision.outcome})
        if decision.outcome == "problem" and self.problems is not None:
            await self.problems.record_job_problem(job, exc, now)
        await self.queue.finish(
            job.id,
            token,
            state=decision.state,
            run_at=decision.run_at,
            error=message,
            code=decision.code,
            now=now,
            spends_attempt=decision.spends_attempt,
        )
        if decision.outcome == "park" and job.installation_id is not None:
            await self.queue.park_installation(job.installation_id, now=now)
        return decision.outcome

    async def _complete(self, job_id: int, token: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending_done.append((job_id, token, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="worker-flush")
        return await future

    async def _flush(self) -> None:
        """Group commit, in a task of its own so that a cancelled job cannot strand the others.

        Yielding once first lets the jobs finishing in this turn of the loop join the commit;
        jobs finishing while a commit runs join the next one.
        """
        await asyncio.sleep(0)
        while self._pending_done:
            batch, self._pending_done = self._pending_done, []
            self._committing = {job_id for job_id, _, _ in batch}
            try:
                accepted = await self.queue.complete(
                    [(job_id, token) for job_id, token, _ in batch], now=self.clock()
                )
            except Exception as exc:
                # Only this batch failed; jobs that joined meanwhile get their own try.
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:
                for _, _, future in batch + self._pending_done:
                    future.cancel()
                self._pending_done = []
                raise
            finally:
                self._committing = set()
            for job_id, _, future in batch:
                if not future.done():
                    future.set_result(job_id in accepted)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
