"""A worker process for the reliability tests: the real worker with test job kinds.

Run as ``python -m tests.reliability.worker_process <log dir> [--burst] [--soak]`` with
COLLECTBRIDGE_* settings in the environment. Each handler appends what it saw to
``<log dir>/<pid>.jsonl`` (one JSON object a line), so the test can check overlaps across
processes after the fact: ``start``, then ``end`` when the handler finished or ``cancelled`` when
the worker stopped it; every line names the job, the run's lease token and the attempt.

Without ``--soak`` this is `run_worker`, what ``collectbridge worker`` runs. With it, the worker
gets the soak's database (`SoakDatabase`): a tenth of the heartbeats and a few success commits
held back for about a lease (a fault of the environment, our code untouched), and a line for
each success (``accepted``) and release (``released``) the database took, so the test knows
which run's outcome counted.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from plugin import logs
from plugin.bootstrap import build_worker, open_services, run_worker
from plugin.settings import Settings, load_settings
from sync.jobs import JobQueue
from sync.store.db import Connection, Database, Row
from sync.worker import Handler, JobContext

T = TypeVar("T")

# Which lease-keeping writes the soak holds back: (share of calls, delay range in leases).
LATE = {"heartbeat_job": (0.10, 0.75, 1.5), "succeed_jobs": (0.005, 0.5, 1.25)}


class EventLog:
    """This process's JSON lines. Each line is one unbuffered append, so a SIGKILL leaves it
    whole or absent (what was handed to the kernel survives the process: no fsync needed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("ab", buffering=0)

    def write(self, event: str, **fields: Any) -> None:
        line = {"event": event, **fields, "pid": os.getpid(), "at": time.time()}
        self._file.write(msgspec.json.encode(line) + b"\n")

    def run(self, ctx: JobContext, event: str) -> None:
        job = ctx.job
        self.write(
            event, job=job.id, token=ctx.lease_token, attempt=job.attempts, serial=job.serial_key
        )

    def started_before(self, job_id: int) -> bool:
        """Whether any process logged a start of this job (read from every log)."""
        for path in self.path.parent.glob("*.jsonl"):
            for raw in path.read_bytes().splitlines():
                try:
                    line = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    continue  # another process is writing this line right now
                if line["job"] == job_id and line["event"] == "start":
                    return True
        return False


def work_handler(log: EventLog) -> Handler:
    async def work(ctx: JobContext) -> None:
        """Takes payload["seconds"]; with payload["hang_first"] the first run never ends."""
        hang = bool(ctx.payload.get("hang_first")) and not log.started_before(ctx.job.id)
        log.run(ctx, "start")
        try:
            if hang:
                await asyncio.Event().wait()
            await asyncio.sleep(float(ctx.payload.get("seconds", 0)))
        except asyncio.CancelledError:
            log.run(ctx, "cancelled")
            raise
        log.run(ctx, "end")

    return work


class SoakReserved:
    """The reserved connections as the soak has them: late heartbeats and commits, outcomes
    logged."""

    def __init__(self, inner: Connection, log: EventLog, lease: float) -> None:
        self._inner = inner
        self._log = log
        self._lease = lease
        self._rng = random.Random()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _late(
        self, run: Callable[..., Awaitable[T]], query: str, params: dict[str, Any]
    ) -> T:
        """Now and then a write is held back, part on the way there (it lands late) and part
        on the way back (it landed, but the worker learns it late)."""
        share, low, high = LATE.get(query, (0.0, 0.0, 0.0))
        if self._rng.random() >= share:
            return await run(query, **params)
        delay = self._lease * self._rng.uniform(low, high)
        there = self._rng.uniform(0, delay)
        self._log.write("late", query=query, job=params.get("id"), delay=delay)
        await asyncio.sleep(there)
        result = await run(query, **params)
        await asyncio.sleep(delay - there)
        return result

    async def fetchrow(self, query: str, **params: Any) -> Row | None:
        return await self._late(self._inner.fetchrow, query, params)

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        rows = await self._late(self._inner.fetch, query, params)
        if query == "succeed_jobs":
            accepted = {int(r["id"]) for r in rows}
            for job_id, token in zip(params["ids"], params["tokens"], strict=True):
                if job_id in accepted:
                    self._log.write("accepted", job=job_id, token=token)
        return rows

    async def execute(self, query: str, **params: Any) -> int:
        count = await self._inner.execute(query, **params)
        if query == "release_job" and count == 1:
            self._log.write("released", job=params["id"], token=params["token"])
        return count


class SoakDatabase:
    """The worker's database with `SoakReserved` as its reserved connections."""

    def __init__(self, inner: Database, log: EventLog, lease: float) -> None:
        self._inner = inner
        self._reserved = SoakReserved(inner.reserved(), log, lease)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reserved(self) -> Connection:
        return self._reserved  # type: ignore[return-value]


async def run_soak_worker(settings: Settings, handlers: dict[str, Handler], log: EventLog) -> None:
    """`run_worker`, with the soak's database handed to the worker; its warnings name the job."""
    logs.configure("WARNING", "text", settings.secret_values())
    async with open_services(settings) as services:
        services.db = SoakDatabase(services.db, log, settings.job_lease_seconds)  # type: ignore[assignment]
        services.queue = JobQueue(services.db)
        worker = build_worker(services, handlers)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await worker.run(stop)


def main() -> None:
    log = EventLog(Path(sys.argv[1]) / f"{os.getpid()}.jsonl")
    handlers = {"work": work_handler(log)}
    settings = load_settings(os.environ)
    if "--soak" in sys.argv:
        asyncio.run(run_soak_worker(settings, handlers, log))
    else:
        asyncio.run(run_worker(settings, burst="--burst" in sys.argv, handlers=handlers))


if __name__ == "__main__":
    main()
