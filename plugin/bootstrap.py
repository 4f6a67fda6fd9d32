"""Builds the adapters once and hands them in: used by the web app and the worker process alike."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp

from plugin.metrics import Metrics
from plugin.settings import Settings
from sync.crypto import TokenCipher
from sync.installation_queue import InstallationQueue
from sync.jobs import JobQueue
from sync.redaction import remember_secrets
from sync.store.db import Database, open_database
from sync.store.migrate import migrate
from sync.worker import Clock, Handler, Worker, WorkerConfig, utcnow

log = logging.getLogger(__name__)
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10, sock_read=30)


class Services:
    """The adapters one process shares: database, queue, HTTP session, metrics, clock, and the
    cipher of stored secrets (None while ``COLLECTBRIDGE_SECRET_KEY`` is not configured)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: Database,
        http: aiohttp.ClientSession,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        # Jobs of a paused or revoked installation wait, new ones included.
        self.queue: JobQueue = InstallationQueue(db)
        self.http = http
        self.metrics = metrics
        keys = [key.reveal() for key in settings.secret_keys]
        self.cipher = TokenCipher(keys) if keys else None


@asynccontextmanager
async def open_services(
    settings: Settings, *, clock: Clock = utcnow, metrics: Metrics | None = None
) -> AsyncIterator[Services]:
    # Configured secrets are masked in every stored error, even where logging was not set up.
    remember_secrets(*settings.secret_values())
    db = await open_database(settings.database_url)
    try:
        applied = await migrate(db, clock())
        if applied:
            log.info("migrations applied", extra={"versions": [m.version for m in applied]})
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            yield Services(settings, clock, db, http, metrics or Metrics())
    finally:
        await db.close()


def build_worker(
    services: Services,
    handlers: Mapping[str, Handler] | None = None,
    *,
    concurrency: int | None = None,
) -> Worker:
    from plugin.jobkinds import build_handlers
    from plugin.lifecycle import JobProblems

    settings = services.settings
    config = WorkerConfig(
        concurrency=concurrency or settings.worker_concurrency,
        installation_cap=settings.installation_concurrency,
        lease_seconds=settings.job_lease_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        poll_seconds=settings.worker_poll_seconds,
    )
    kinds = dict(handlers) if handlers is not None else build_handlers(services)
    return Worker(
        services.queue,
        kinds,
        config,
        clock=services.clock,
        problems=JobProblems(services),
        observer=services.metrics,
    )


async def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    concurrency: int | None = None,
    handlers: Mapping[str, Handler] | None = None,
) -> int:
    """The ``collectbridge worker`` process: until SIGTERM/SIGINT, or in burst until idle."""
    async with open_services(settings) as services:
        worker = build_worker(services, handlers, concurrency=concurrency)
        if handlers is None:
            await start_schedules(services)
        if burst:
            return await worker.run_burst()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
        return worker.processed


async def start_schedules(services: Services) -> None:
    """Periodic jobs in place before a worker starts (a broken chain is put back)."""
    from plugin.jobkinds import ensure_schedules

    try:
        await ensure_schedules(services)
    except Exception:  # a worker still starts; the daily housekeeping tries again
        log.exception("could not put the periodic jobs in the queue")
