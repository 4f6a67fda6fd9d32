"""The worker: claims jobs in batches and runs each as a `Run` (`sync.runs`) that owns its lease.

A run is one job under one lease token. Its handler runs inside a deadline on the monotonic
clock: the last confirmed renewal (or the claim) + the lease − a margin, so a run whose
heartbeats lapse (an event-loop stall, a database blip) stops itself *before* anyone else can
sweep its lease. Its heartbeats renew the lease and move the deadline on; a renewal that is
refused (the lease is someone else's now) ends the handler at once. The handler's end ends the
heartbeats, except while its success is still being recorded: then the lease is kept alive until
the committer has written it. Successes flow to one committer, which group-commits them (every
run finishing while a commit is under way joins the next one) and retries a failed write, so a
database blip never turns a success into a failure. Failures go through the pure retry policy in
`sync.retry`. A sweeper returns the jobs of dead workers once their leases expire.

Runs are kept by (job id, lease token), never by the job id alone, and a worker never holds two
runs of one job: its claims pass over the jobs it still holds, and a job its own sweep took back
(the lease lapsed) stops its old run at once.

How a run that did not succeed is recorded: a refused renewal or a sweep (the lease is someone
else's now) writes nothing; a run that reached its deadline counts as a failed attempt and is
due again at once (a job whose runs keep overrunning their leases ends ``dead``, not looping
for ever); a run stopped by shutdown is given back with its attempt refunded.

``run_burst`` drains what is due and returns, which keeps tests deterministic. ``run`` goes on
until its stop event is set, then lets running jobs finish within the grace period and releases
the leases of those that did not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
from sync.runs import Committer, Run, RunKey, cancel_and_wait

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JobContext:
    """What a handler gets: the job, its lease token, the clock, and progress reporting."""

    def __init__(self, job: Job, token: str, queue: JobQueue, clock: Clock) -> None:
        self.job = job
        self.lease_token = token
        self._queue = queue
        self.now = clock

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    async def progress(self, done: int, total: int | None = None) -> None:
        await self._queue.set_progress(
            self.job.id, self.lease_token, done=done, total=total, now=self.now()
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

    @property
    def heartbeat_seconds(self) -> float:
        """Three renewals a lease: two may be lost before the deadline comes near."""
        return max(self.lease_seconds / 3, 0.02)

    @property
    def lease_margin_seconds(self) -> float:
        """How long before the lease runs out (by our last confirmed renewal) a run stops."""
        return self.lease_seconds / 5


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
        self.runs: dict[RunKey, Run] = {}
        self._committer = Committer(queue, clock)
        # One claim at a time per worker: a burst next to the embedded loop sees what the loop
        # claimed, instead of finding the installation locked by its own other claim.
        self._claiming = asyncio.Lock()
        self._wake = asyncio.Event()
        self.idling = False
        """Whether the worker waits for its next poll (or a `wake`) right now."""
        self._contended = False
        self._passed_over_held = False
        self._last_sweep = (dt.datetime.min.replace(tzinfo=dt.UTC), -math.inf)
        self.processed = 0

    def wake(self) -> None:
        """Tell an idle worker that new work may be due (in-process enqueue)."""
        self._wake.set()

    # --- claiming -------------------------------------------------------------------------
    async def _claim_into_slots(self) -> int:
        async with self._claiming:
            return await self._claim_free_slots()

    async def _claim_free_slots(self) -> int:
        free = self.config.concurrency - len(self.runs)
        if free <= 0:
            return 0
        loop = asyncio.get_running_loop()
        held = sorted({job_id for job_id, _ in self.runs})
        asked = loop.time()  # the lease cannot have started before the claim was sent
        batch = await self.queue.claim(
            worker_id=self.config.worker_id,
            limit=free,
            cap=self.config.installation_cap,
            lease_seconds=self.config.lease_seconds,
            now=self.clock(),
            held=held,
        )
        self._contended = batch.contended  # other claims were serving some of the due work
        self._passed_over_held = bool(held)  # a held job passed over may have ended meanwhile
        deadline = asked + self.config.lease_seconds - self.config.lease_margin_seconds
        for job in batch.jobs:
            run = Run(job, batch.token, deadline)
            self.runs[run.key] = run
            run.task = asyncio.create_task(self._run(run), name=f"job-{job.id}")
        return len(batch.jobs)

    def _tasks(self) -> list[asyncio.Task[None]]:
        return [run.task for run in self.runs.values() if run.task is not None]

    async def run_burst(self) -> int:
        """Run every job that is due now (and what they enqueue), then return how many ran."""
        start = self.processed
        try:
            while True:
                await self._sweep_if_due()
                claimed = await self._claim_into_slots()
                if not claimed and not self.runs:
                    if self._passed_over_held:
                        continue  # the run it passed over has ended since: look again
                    if not self._contended:
                        return self.processed - start
                    await asyncio.sleep(self._contention_pause())
                elif self.runs:
                    await asyncio.wait(self._tasks(), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await self._stop_runs()
            raise

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then shut down gracefully."""
        log.info("worker started", extra={"worker_id": self.config.worker_id})
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self._sweep_if_due()
                    claimed = await self._claim_into_slots()
                except Exception:
                    # The database may be restarting or unreachable: keep the jobs we hold,
                    # wait (longer each time, at most a minute) and try again.
                    failures += 1
                    log.exception("worker could not reach the queue (failure %d)", failures)
                    pause = min(60.0, self.config.poll_seconds * 2 ** min(failures, 16))
                    await self._idle(stop, pause=pause)
                    continue
                failures = 0
                if claimed and len(self.runs) < self.config.concurrency:
                    continue
                if not claimed and self._contended and len(self.runs) < self.config.concurrency:
                    # Work is due but other claims held its installations: try again soon.
                    await self._idle(stop, pause=self._contention_pause())
                    continue
                await self._idle(stop)
        finally:
            await self._shutdown()
            log.info("worker stopped", extra={"worker_id": self.config.worker_id})

    def _contention_pause(self) -> float:
        return self.rng.uniform(0.002, 0.02)

    async def _sweep_if_due(self) -> None:
        """Sweep expired leases every quarter lease, by the monotonic clock or by the business
        clock (which a test may move by hand; on SQLite it also judges leases)."""
        now, tick = self.clock(), time.monotonic()
        every = self.config.lease_seconds / 4
        last_now, last_tick = self._last_sweep
        if tick - last_tick < every and (now - last_now).total_seconds() < every:
            return
        swept = await self.queue.sweep(now=now)
        self._last_sweep = (now, tick)
        mine = {int(row["id"]) for row in swept}
        for run in list(self.runs.values()):
            if run.job.id in mine:  # our own lease lapsed: the job is no longer ours to run
                run.lose("the lease lapsed and was swept")

    async def _idle(self, stop: asyncio.Event, *, pause: float | None = None) -> None:
        waiters: list[asyncio.Future[Any] | asyncio.Task[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        self.idling = True
        try:
            await asyncio.wait(
                [*waiters, *self._tasks()],
                timeout=self.config.poll_seconds if pause is None else pause,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self.idling = False
        for w in waiters:
            w.cancel()
        self._wake.clear()

    async def _shutdown(self) -> None:
        """Runs get the grace period to end (their leases renewed meanwhile); then those still
        in their handler stop and give their jobs back, and recorded successes get a last try."""
        tasks = self._tasks()
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.shutdown_grace_seconds)
        await self._stop_runs()

    async def _stop_runs(self) -> None:
        for run in list(self.runs.values()):
            if run.phase == "handling":
                run.shutting_down = True
                run.stop()
        tasks = self._tasks()
        if tasks:
            await asyncio.wait(tasks, timeout=max(self.config.lease_seconds, 1.0))
        for task in self._tasks():
            await cancel_and_wait(task)
        await self._committer.close()

    # --- one run --------------------------------------------------------------------------
    async def _run(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        beats: list[asyncio.Task[None]] = []

        def begin_heartbeats() -> None:  # a timer, not a task: most runs end before it fires
            if run.phase != "ended":
                beats.append(loop.create_task(self._keep_alive(run), name=f"lease-{run.job.id}"))

        timer = loop.call_later(self.config.heartbeat_seconds, begin_heartbeats)
        with logcontext.bound(
            job_id=run.job.id, installation_id=run.job.installation_id, kind=run.job.kind
        ):
            try:
                outcome = await self._execute(run)
                self.processed += 1
                if self.observer is not None:
                    self.observer.job_finished(run.job.kind, outcome, time.perf_counter() - started)
            finally:
                run.phase = "ended"
                timer.cancel()
                for task in beats:
                    await cancel_and_wait(task)
                self.runs.pop(run.key, None)

    async def _keep_alive(self, run: Run) -> None:
        """Renew the lease now and every third of it after, until the run has ended (this task
        is cancelled then); a refusal stops the run."""
        loop = asyncio.get_running_loop()
        lease = self.config.lease_seconds
        while run.lost is None:
            sent = loop.time()
            try:
                held = await self.queue.heartbeat(
                    run.job.id, run.token, lease_seconds=lease, now=self.clock()
                )
            except Exception:
                log.warning("heartbeat failed; the run stops at its deadline", exc_info=True)
            else:
                if not held:
                    if run.phase == "recording":  # most likely the success just landed
                        log.debug("renewal refused while the success was being recorded")
                    else:
                        log.warning("lease lost, stopping the run")
                    run.lose("a renewal was refused")
                    return
                run.renewed(sent + lease - self.config.lease_margin_seconds)
            await asyncio.sleep(self.config.heartbeat_seconds)

    async def _execute(self, run: Run) -> str:
        job = run.job
        handler = self.handlers.get(job.kind)
        context = JobContext(job, run.token, self.queue, self.clock)
        if run.lost is not None or asyncio.get_running_loop().time() >= run.deadline:
            return await self._stopped(run)  # never start a handler without a live lease
        scope = asyncio.timeout_at(run.deadline)
        try:
            async with scope:
                run.scope = scope
                try:
                    if handler is None:
                        raise LookupError(f"no handler for job kind {job.kind!r}")
                    await handler(context)
                finally:
                    run.scope = None
        except Exception as exc:
            # A stop can surface as the handler's own error too (a TaskGroup's ExceptionGroup,
            # say): a run we stopped is a stopped run, never the job's failure.
            if scope.expired() or run.lost is not None or run.shutting_down:
                return await self._stopped(run)
            return await self._fail(run, exc)
        run.phase = "recording"
        try:
            accepted = await self._committer.succeed(job.id, run.token)
        except Exception:
            log.exception("could not record a finished job; its lease will expire")
            return "unrecorded"
        if not accepted:
            log.warning("job finished after its lease was lost; result not recorded")
            return "lease_lost"
        return "succeeded"

    async def _stopped(self, run: Run) -> str:
        """The handler was stopped: the lease was lost, shutdown, or the deadline came."""
        if run.lost is not None:
            log.warning("run stopped: %s", run.lost)
            return "lease_lost"
        now = self.clock()
        try:
            if run.shutting_down:
                given_back = await self.queue.release(run.job.id, run.token, now=now)
                log.warning("job released at shutdown" if given_back else "job already gone")
                return "released"
            log.warning("run stopped at its deadline, before its lease could lapse")
            spent = run.job.attempts >= run.job.max_attempts
            await self.queue.fail(
                run.job.id,
                run.token,
                state="dead" if spent else "failed",
                run_at=now,
                error="stopped at its lease deadline: heartbeats were not confirmed in time",
                code="lease_deadline",
                now=now,
            )
        except Exception:
            log.exception("could not record a stopped run; its lease will expire")
        return "stopped"

    async def _fail(self, run: Run, exc: Exception) -> str:
        job, now = run.job, self.clock()
        decision = decide(
            exc, attempts=job.attempts, max_attempts=job.max_attempts, now=now, rng=self.rng
        )
        message = exc.message if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
        if decision.outcome == "dead" and not isinstance(exc, SyncError):
            log.error("job failed with an unexpected error", exc_info=exc)
        else:
            log.warning("job failed: %s", message, extra={"outcome": decision.outcome})
        if decision.outcome in ("problem", "park") and self.problems is not None:
            try:
                await self.problems.record_job_problem(job, exc, now)
            except Exception:
                log.exception("could not record the job's problem")
        try:
            await self.queue.fail(
                job.id,
                run.token,
                state=decision.state,
                run_at=decision.run_at,
                error=message,
                code=decision.code,
                now=now,
                spends_attempt=decision.spends_attempt,
            )
        except Exception:
            log.exception("could not record a failed run; its lease will expire")
            return "unrecorded"
        if decision.outcome == "park" and job.installation_id is not None:
            try:
                await self.queue.park_installation(job.installation_id, now=now)
            except Exception:
                log.exception("could not park the installation's other jobs")
        return decision.outcome
