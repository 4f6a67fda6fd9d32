"""A worker survives its database going away: it waits, reconnects and carries on."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from sync.jobs import JobQueue, NewJob
from sync.store.db import open_database
from sync.store.migrate import migrate
from sync.worker import JobContext, Worker, WorkerConfig
from tests.fixtures.proxy import ProxiedDatabase


class EventOnLog(logging.Handler):
    """Sets an event when a record containing some text is logged."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__(logging.ERROR)
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@pytest.mark.postgres
async def test_worker_rides_out_a_database_outage(
    postgres_url: str, proxied_postgres: ProxiedDatabase
) -> None:
    direct = await open_database(postgres_url)
    await migrate(direct, dt.datetime.now(dt.UTC))
    proxy = proxied_postgres.proxy
    through_proxy = await open_database(proxied_postgres.url)
    done = asyncio.Event()

    async def job(ctx: JobContext) -> None:
        done.set()

    failed = asyncio.Event()
    watcher = EventOnLog("could not reach the queue", failed)
    logging.getLogger("sync.worker").addHandler(watcher)
    worker = Worker(JobQueue(through_proxy), {"job": job}, WorkerConfig(poll_seconds=0.05))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await proxy.cut()
        await asyncio.wait_for(failed.wait(), 30)
        assert not running.done()  # still alive, waiting
        await JobQueue(direct).enqueue(NewJob(kind="job"), now=dt.datetime.now(dt.UTC))
        await proxy.restore()
        worker.wake()
        await asyncio.wait_for(done.wait(), 30)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await through_proxy.close()
        await direct.close()
        logging.getLogger("sync.worker").removeHandler(watcher)
