"""``/healthz`` (the process answers), ``/readyz`` (database reachable, migrations current),
``/metrics`` (Prometheus text)."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from plugin.keys import DATABASE, METRICS, QUEUE
from sync.store.migrate import pending

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        waiting = await pending(request.app[DATABASE])
    except Exception as exc:
        log.warning("readiness check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    if waiting:
        names = [f"{m.version:04d}_{m.name}" for m in waiting]
        return web.json_response(
            {"status": "unavailable", "database": "ok", "pending_migrations": names}, status=503
        )
    return web.json_response({"status": "ready", "database": "ok", "pending_migrations": []})


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render(request.app[QUEUE])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
