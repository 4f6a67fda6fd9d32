"""``collectbridge sandbox``: both simulators in one process, sharing one simulated date.

They accept the credentials the app is configured with, read from the same environment
(``COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN``, ``…_APP_PUBLIC_TOKEN``,
``COLLECTBRIDGE_COLLECTION_CLIENT_ID``, ``…_CLIENT_SECRET``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import msgspec
from aiohttp import web

from sandbox.clock import SimClock
from sync.redaction import redacted


@redacted("app_secret_token", "app_public_token", "client_secret")
class SandboxCredentials(msgspec.Struct, frozen=True, kw_only=True):
    app_secret_token: str
    app_public_token: str
    client_id: str
    client_secret: str


class SandboxUrls(msgspec.Struct, frozen=True, kw_only=True):
    economic: str
    collection: str
    # The simulator apps themselves, for the demo's white-box counts (not part of any API).
    apps: tuple[web.Application, ...] = ()


def credentials_from(environ: Mapping[str, str]) -> SandboxCredentials:
    def get(name: str, default: str) -> str:
        return environ.get(f"COLLECTBRIDGE_{name}") or default

    return SandboxCredentials(
        app_secret_token=get("ECONOMIC_APP_SECRET_TOKEN", "sandbox-app-secret-token"),
        app_public_token=get("ECONOMIC_APP_PUBLIC_TOKEN", "sandbox-app-public-token"),
        client_id=get("COLLECTION_CLIENT_ID", "sandbox-client"),
        client_secret=get("COLLECTION_CLIENT_SECRET", "sandbox-client-secret"),
    )


@asynccontextmanager
async def running_sandboxes(
    credentials: SandboxCredentials,
    *,
    host: str,
    economic_port: int,
    collection_port: int,
    seed: int,
    companies: int,
    invoices: int | Sequence[int],
    public_url: str | None = None,
) -> AsyncIterator[SandboxUrls]:
    from sandbox import collection, economic

    clock = SimClock()
    apps = [
        (
            economic.create_app(
                clock=clock,
                app_secret_token=credentials.app_secret_token,
                app_public_token=credentials.app_public_token,
                seed=seed,
                companies=companies,
                invoices=invoices,
            ),
            economic_port,
        ),
        (
            collection.create_app(
                clock=clock,
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                seed=seed,
                public_url=public_url,
            ),
            collection_port,
        ),
    ]
    runners, urls = [], []
    try:
        for app, port in apps:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, host, port).start()
            bound = runner.addresses[0][1]
            urls.append(f"http://{host}:{bound}")
        yield SandboxUrls(economic=urls[0], collection=urls[1], apps=tuple(app for app, _ in apps))
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def stop_requested() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT from now on. Install it before saying "ready", so that
    a Ctrl-C sent right after that line stops cleanly rather than interrupting."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_sandbox(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    async with running_sandboxes(
        credentials_from(environ),
        host=args.host,
        economic_port=args.economic_port,
        collection_port=args.collection_port,
        seed=args.seed,
        companies=args.companies,
        invoices=args.invoices,
    ) as urls:
        stop = stop_requested()
        print(f"e-conomic simulator:  {urls.economic}  (REST, Webhooks and Journals APIs)")
        print(f"  install page:       {urls.economic}/secure/api1/requestaccess.aspx")
        print(f"collection simulator: {urls.collection}")
        print("credentials: those in COLLECTBRIDGE_* (sandbox defaults where unset)")
        print("Ctrl-C stops.", flush=True)
        await stop.wait()
    return 0
