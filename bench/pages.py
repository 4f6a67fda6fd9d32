"""How fast the settings pages answer for a big company, against a bare aiohttp handler.

    python -m bench.pages [--invoices 20000] [--customers 4000] [--requests 200]
                          [--database sqlite|postgresql]

The simulators run in a process of their own (`bench.backfill.sandbox_process`), seeded with one
company; the app bootstraps it through the real worker (so the store holds what a real company's
does: ~7,500 claims for 20,000 invoices, their debtors, the jobs and the audit log), then serves
its pages on loopback with `plugin.app.create_app`, a signed-in admin's session cookie on every
request. In the same run, the **baseline** is a bare aiohttp handler answering the dashboard's
own bytes from memory (no session, no store, no template): what any page costs at the least.

Each page is asked ``--requests`` times one after another (a person clicking), then the same
number 8 at a time (a few bookkeepers at once); p50 / p95 latency, requests per second, and the
p95 as a multiple of the baseline's. Goal: every page's sequential p95 under 100 ms.
Prints a table, writes ``bench/results/pages.json`` and the pages section of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from bench.backfill import app_settings, bootstrap, install, sandbox_process
from bench.queue import postgres_reachable, postgres_store, sqlite_store
from bench.report import write_results
from bench.timing import now, percentile
from plugin.app import create_app
from plugin.bootstrap import open_services
from plugin.credentials import hash_password
from sync.store.accounts import Accounts
from sync.store.claims import Claims
from sync.store.users import Users

ADMIN, PASSWORD = "bench@collectbridge.example", "a bench password, long enough"
CONCURRENCY = 8
GOAL_P95_MS = 100.0


class PageRun(msgspec.Struct, frozen=True, kw_only=True):
    page: str
    bytes: int
    p50_ms: float
    p95_ms: float
    per_s_sequential: float
    per_s_concurrent: float
    p95_concurrent_ms: float


class Result(msgspec.Struct, frozen=True, kw_only=True):
    engine: str
    invoices: int
    claims: int
    requests: int
    runs: list[PageRun]
    measured_at: str
    load: float


async def timed(http: aiohttp.ClientSession, url: str, count: int, parallel: int) -> list[float]:
    """Each request's latency, ``parallel`` at a time."""
    latencies: list[float] = []
    left = iter(range(count))

    async def one_after_another() -> None:
        for _ in left:
            started = time.perf_counter()
            async with http.get(url, allow_redirects=False) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{url} answered {r.status}")
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one_after_another() for _ in range(parallel)))
    return latencies


async def page_run(http: aiohttp.ClientSession, name: str, url: str, count: int) -> PageRun:
    async with http.get(url) as r:
        size = len(await r.read())
    await timed(http, url, 10, 1)  # warm: templates compiled, statements prepared
    started = time.perf_counter()
    sequential = await timed(http, url, count, 1)
    sequential_s = time.perf_counter() - started
    started = time.perf_counter()
    concurrent = await timed(http, url, count, CONCURRENCY)
    concurrent_s = time.perf_counter() - started
    return PageRun(
        page=name,
        bytes=size,
        p50_ms=round(percentile(sequential, 50) * 1000, 1),
        p95_ms=round(percentile(sequential, 95) * 1000, 1),
        per_s_sequential=round(count / sequential_s),
        per_s_concurrent=round(count / concurrent_s),
        p95_concurrent_ms=round(percentile(concurrent, 95) * 1000, 1),
    )


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def bare_app(body: bytes) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    return app


async def signed_in(url: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(f"{url}/settings/login") as r:
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', await r.text()))
    async with http.post(
        f"{url}/settings/login", data={**fields, "email": ADMIN, "password": PASSWORD}
    ) as r:
        if r.url.path != "/settings":
            raise RuntimeError(f"sign-in failed: {r.status} {r.url}")
    return http


async def measure(engine: str, invoices: int, customers: int, count: int) -> Result:
    store = sqlite_store if engine == "sqlite" else postgres_store
    async with sandbox_process(invoices, customers) as sandbox, store() as database:
        settings = app_settings(database, sandbox)
        async with open_services(settings) as services:
            installation = await install(services, sandbox)
            await bootstrap(services, installation)
            users = Users(services.db)
            admin = await users.find_or_create(email=ADMIN, name="Bench", now=services.clock())
            await users.grant(admin, installation.id, "admin", now=services.clock())
            await Accounts(services.db).set_password_hash(admin, hash_password(PASSWORD))
            claims = await Claims(services.db).after(installation.id, limit=10_000_000)
        invoice = next(c.invoice_number for c in claims if c.kind == "invoice")
        base = f"/settings/{installation.agreement_number}"
        pages = {
            "overview": "/settings",
            "dashboard": base,
            "claims": f"{base}/claims",
            "claims, one state": f"{base}/claims?state=awaiting_approval",
            "journey": f"{base}/claims/{invoice}",
            "approvals": f"{base}/approvals",
            "resync": f"{base}/resync",
            "bookkeeping": f"{base}/bookkeeping",
            "settings": f"{base}/settings",
            "audit": f"{base}/audit",
        }
        runs: list[PageRun] = []
        async with serving(create_app(settings, run_worker=False)) as url:
            http = await signed_in(url)
            try:
                async with http.get(url + base) as r:
                    dashboard = await r.read()
                async with serving(bare_app(dashboard)) as bare:
                    runs.append(await page_run(http, "baseline (bare handler)", bare + "/", count))
                for name, path in pages.items():
                    runs.append(await page_run(http, name, url + path, count))
                    print(f"  {name}: p95 {runs[-1].p95_ms} ms", flush=True)
            finally:
                await http.close()
    return Result(
        engine=engine,
        invoices=invoices,
        claims=len(claims),
        requests=count,
        runs=runs,
        measured_at=now().isoformat(timespec="seconds"),
        load=round(os.getloadavg()[0], 1),
    )


def markdown(results: list[Result]) -> str:
    lines = [
        "| engine | page | KB | p50 ms | p95 ms | × baseline | req/s (1 at a time) | "
        "req/s (8 at a time) | p95 ms (8 at a time) | goal met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        baseline = r.runs[0].p95_ms
        for run in r.runs:
            met = run.p95_ms < GOAL_P95_MS
            times = run.p95_ms / baseline if baseline else float("nan")
            lines.append(
                f"| {r.engine} | {run.page} | {run.bytes / 1024:.1f} | {run.p50_ms} | {run.p95_ms} "
                f"| {times:.0f} "
                f"| {run.per_s_sequential:,} | {run.per_s_concurrent:,} | {run.p95_concurrent_ms} "
                f"| {'–' if run is r.runs[0] else ('met' if met else 'NOT met')} |"
            )
    notes = [
        f"- {r.engine}: {r.invoices:,} invoices, {r.claims:,} claims in the store, "
        f"{r.requests} requests per page; load {r.load}; measured {r.measured_at}."
        for r in results
    ]
    goal = (
        f"Goal: every page's sequential p95 < {GOAL_P95_MS:.0f} ms. The baseline is a bare "
        "aiohttp handler answering the dashboard's own bytes from memory, in the same run and "
        "process: what a page costs at the least. Client and server share this process and the "
        "machine's 2 cores."
    )
    return "\n".join([*lines, "", *notes, "", goal])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), action="append")
    args = parser.parse_args()
    engines = args.database or ["sqlite", "postgresql"]
    results = []
    for engine in engines:
        if engine == "postgresql" and not await postgres_reachable():
            print("postgresql: not reachable, skipped", file=sys.stderr)
            continue
        print(f"{engine}:", flush=True)
        results.append(await measure(engine, args.invoices, args.customers, args.requests))
    text = markdown(results)
    print(text)
    data: dict[str, Any] = {"results": [msgspec.to_builtins(r) for r in results]}
    write_results("pages", data, text)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
