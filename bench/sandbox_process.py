"""Both simulators in a process of their own, for benchmarks that measure the app's process alone.

    python -m bench.sandbox_process --invoices 100000 --customers 20000

Seeds one company (plus the simulator's demo agreement) with ``--invoices`` booked invoices and
``--customers`` customers, serves e-conomic and the collection platform on free loopback ports
(sharing one simulated date, today in Europe/Copenhagen) with the credentials below, prints
one JSON line ``{"economic": url, "collection": url, "agreement": n}`` once both listen, and
runs until SIGTERM or SIGINT. The collection platform keeps its contract's rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from aiohttp import web

from plugin.sandbox_cli import SandboxCredentials, stop_requested
from sandbox import collection, economic
from sandbox.clock import SimClock
from sandbox.economic.keys import STATE

CREDENTIALS = SandboxCredentials(
    app_secret_token="bench-app-secret-token",
    app_public_token="bench-app-public-token",
    client_id="bench-client",
    client_secret="bench-client-secret",
)


async def serve(invoices: int, customers: int | None, seed: int) -> int:
    clock = SimClock()
    ledger = economic.create_app(
        clock=clock,
        app_secret_token=CREDENTIALS.app_secret_token,
        app_public_token=CREDENTIALS.app_public_token,
        seed=seed,
        companies=1,
        invoices=invoices,
        customers=customers,
    )
    platform = collection.create_app(
        clock=clock,
        client_id=CREDENTIALS.client_id,
        client_secret=CREDENTIALS.client_secret,
        seed=seed,
        accounts=0,
    )
    agreement = next(a for a, c in ledger[STATE].companies.items() if not c.demo)
    runners, urls = [], []
    try:
        for app in (ledger, platform):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        stop = stop_requested()
        ready = {"economic": urls[0], "collection": urls[1], "agreement": agreement}
        print(json.dumps(ready), flush=True)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    return asyncio.run(serve(args.invoices, args.customers, args.seed))


if __name__ == "__main__":
    sys.exit(main())
