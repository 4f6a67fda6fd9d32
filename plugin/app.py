"""`create_app(settings)`: the one place that wires the web application.

Production (`collectbridge serve`), the demo and the tests all call it. Every resource is a
``cleanup_ctx`` generator: the adapters from `plugin.bootstrap` (database opened and migrated,
shared HTTP session) and, unless disabled, an embedded worker. Pages are Jinja2 templates
(`plugin.pages`); each package of routes has its ``setup_routes(app)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

import webhooks
from plugin import api, health, install, onboarding, pages
from plugin.bootstrap import build_worker, open_services, start_schedules
from plugin.keys import CLOCK, DATABASE, HTTP, METRICS, QUEUE, SERVICES, SETTINGS, WORKER
from plugin.metrics import Metrics
from plugin.settings import Settings
from sync.worker import Clock, Handler, utcnow


def create_app(
    settings: Settings,
    *,
    run_worker: bool = True,
    handlers: Mapping[str, Handler] | None = None,
    clock: Clock = utcnow,
) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = Metrics()

    async def services(app: web.Application) -> AsyncIterator[None]:
        async with open_services(settings, clock=clock, metrics=app[METRICS]) as s:
            app[SERVICES] = s
            app[DATABASE] = s.db
            app[QUEUE] = s.queue
            app[HTTP] = s.http
            yield

    async def worker(app: web.Application) -> AsyncIterator[None]:
        embedded = build_worker(app[SERVICES], handlers)
        app[WORKER] = embedded
        if handlers is None:
            await start_schedules(app[SERVICES])
        stop = asyncio.Event()
        task = asyncio.create_task(embedded.run(stop), name="embedded-worker")
        yield
        stop.set()
        await task

    app.cleanup_ctx.append(services)
    if run_worker:
        app.cleanup_ctx.append(worker)
    pages.setup_templates(app)
    health.setup_routes(app)
    pages.setup_routes(app)
    install.setup_routes(app)
    onboarding.setup_routes(app)
    api.setup_routes(app)
    webhooks.setup_routes(app, webhook_wiring)  # after `services`: its writer drains first
    return app


def webhook_wiring(app: web.Application) -> webhooks.Wiring:
    services = app[SERVICES]
    worker = app.get(WORKER)  # the embedded one starts before the receivers (cleanup_ctx order)
    return webhooks.Wiring(
        db=services.db,
        cipher=services.cipher,
        clock=services.clock,
        observer=app[METRICS],
        jobs_enqueued=worker.wake if worker is not None else None,
        inbox_process=services.settings.inbox_process,
    )
