"""The web app over real HTTP: health, readiness (database down, migration pending), metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from plugin.app import create_app
from plugin.keys import DATABASE, QUEUE, WORKER
from plugin.settings import Settings
from sync.jobs import NewJob
from sync.store.migrate import available
from sync.worker import JobContext
from tests.fixtures.proxy import ProxiedDatabase


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_health_ready_and_metrics(database_url: str, http: aiohttp.ClientSession) -> None:
    ran = []

    async def hello(ctx: JobContext) -> None:
        ran.append(ctx.job.id)

    app = create_app(Settings(database_url=database_url), handlers={"hello": hello})
    runner, url = await serve(app)
    try:
        async with http.get(f"{url}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with http.get(f"{url}/readyz") as r:
            assert r.status == 200 and (await r.json())["pending_migrations"] == []
        await app[QUEUE].enqueue(NewJob(kind="hello"), now=dt.datetime.now(dt.UTC))
        app[WORKER].wake()
        await app[WORKER].run_burst()
        assert len(ran) == 1
        async with http.get(f"{url}/metrics") as r:
            text = await r.text()
        assert r.status == 200 and r.content_type == "text/plain"
        assert 'collectbridge_jobs{kind="hello",state="succeeded"} 1.0' in text
        assert 'collectbridge_webhooks_received_total{source="economic"} 0.0' in text
        assert "collectbridge_job_duration_seconds_count" in text
    finally:
        await runner.cleanup()


async def test_readyz_reports_a_pending_migration(sqlite_url: str, http) -> None:
    app = create_app(Settings(database_url=sqlite_url), run_worker=False)
    runner, url = await serve(app)
    try:
        latest = available("sqlite")[-1]
        async with app[DATABASE].transaction() as tx:
            await tx.run_script(f"DELETE FROM schema_migrations WHERE version = {latest.version}")
        async with http.get(f"{url}/readyz") as r:
            body = await r.json()
        assert r.status == 503
        assert body["pending_migrations"] == [f"{latest.version:04d}_{latest.name}"]
    finally:
        await runner.cleanup()


@pytest.mark.postgres
async def test_readyz_is_503_while_postgres_is_unreachable(
    proxied_postgres: ProxiedDatabase, http
) -> None:
    proxy = proxied_postgres.proxy
    app = create_app(Settings(database_url=proxied_postgres.url), run_worker=False)
    runner, url = await serve(app)
    try:
        async with http.get(f"{url}/readyz") as r:
            assert r.status == 200
        await proxy.cut()
        async with http.get(f"{url}/readyz") as r:
            assert r.status == 503 and (await r.json())["database"] == "unreachable"
        async with http.get(f"{url}/healthz") as r:
            assert r.status == 200  # the process itself is fine
        await proxy.restore()
        async with http.get(f"{url}/readyz") as r:
            assert r.status == 200
    finally:
        await runner.cleanup()
