"""One run of a job under its lease (`Run`), and the one writer of successes (`Committer`).

The worker (`sync.worker`) owns the loop; these are the two pieces it composes: a run knows its
deadline on the monotonic clock and how to stop its handler; the committer group-commits the
successes of every run and retries while the database is unavailable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Literal

from sync.jobs import Job, JobQueue
from sync.store.db import DatabaseUnavailable

log = logging.getLogger("sync.worker")
Clock = Callable[[], dt.datetime]
RunKey = tuple[int, str]

Phase = Literal["handling", "recording", "ended"]


class Run:
    """One run of one job under one lease token: its deadline, its phase and how it ended."""

    def __init__(self, job: Job, token: str, deadline: float) -> None:
        self.job = job
        self.token = token
        self.deadline = deadline
        self.phase: Phase = "handling"
        self.lost: str | None = None  # why the lease is gone, once it is
        self.shutting_down = False
        self.task: asyncio.Task[None] | None = None
        self.scope: asyncio.Timeout | None = None  # the handler's deadline, while it runs

    @property
    def key(self) -> RunKey:
        return (self.job.id, self.token)

    def renewed(self, deadline: float) -> None:
        """A renewal was confirmed: the handler may go on until the new deadline."""
        self.deadline = max(self.deadline, deadline)
        if self.scope is not None and not self.scope.expired():
            self.scope.reschedule(self.deadline)

    def lose(self, reason: str) -> None:
        """The lease is no longer ours: stop the handler now (it may be someone else's run)."""
        if self.lost is None:
            self.lost = reason
        self.stop()

    def stop(self) -> None:
        """End the handler at the next turn of the loop (a deadline already passing is left be:
        rescheduling an expiring timeout is an error)."""
        if self.scope is not None and not self.scope.expired():
            self.scope.reschedule(asyncio.get_running_loop().time())


class Committer:
    """One writer for successes: group commits, retried while the database is unavailable."""

    def __init__(self, queue: JobQueue, clock: Clock) -> None:
        self.queue = queue
        self.clock = clock
        self._pending: list[tuple[int, str, asyncio.Future[bool]]] = []
        self._batch: list[tuple[int, str, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def succeed(self, job_id: int, token: str) -> bool:
        """Whether the success was accepted under this lease token."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((job_id, token, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="worker-commit")
        return await future

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        for _, _, future in self._batch + self._pending:
            future.cancel()
        self._batch, self._pending = [], []

    async def _flush(self) -> None:
        """Yielding once first lets the runs finishing in this turn of the loop join the commit;
        runs finishing while a commit is under way join the next one. A batch the database could
        not take (unavailable) is tried again with the runs that joined meanwhile, after a short,
        growing pause; any other error fails that batch's runs."""
        await asyncio.sleep(0)
        failures = 0
        while self._pending or self._batch:
            self._batch = [e for e in self._batch + self._pending if not e[2].done()]
            self._pending = []
            if not self._batch:
                continue
            try:
                accepted = await self.queue.succeed(
                    [(job_id, token) for job_id, token, _ in self._batch], now=self.clock()
                )
            except DatabaseUnavailable:
                failures += 1
                log.warning(
                    "could not record %d successes (try %d); trying again",
                    len(self._batch),
                    failures,
                    exc_info=True,
                )
                await asyncio.sleep(min(5.0, 0.05 * 2 ** min(failures, 7)))
                continue
            except Exception as exc:
                for _, _, future in self._batch:
                    if not future.done():
                        future.set_exception(exc)
                self._batch = []
                continue
            failures = 0
            for job_id, _, future in self._batch:
                if not future.done():
                    future.set_result(job_id in accepted)
            self._batch = []


async def cancel_and_wait(task: asyncio.Task[Any], patience: float = 10.0) -> None:
    """Cancel and wait, but not for ever: a task that swallows cancellation is left behind."""
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=patience)
    for finished in done:
        if not finished.cancelled():
            finished.exception()  # retrieved, so it is not reported as never retrieved
