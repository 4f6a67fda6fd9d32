"""A webhook receiver on loopback for tests: records every request, can fail the first ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    arrivals: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def next(self, within: float = 5.0) -> Received:
        return await asyncio.wait_for(self.arrivals.get(), within)

    async def collect(self, count: int, within: float = 5.0) -> list[Received]:
        return [await self.next(within) for _ in range(count)]


@asynccontextmanager
async def webhook_receiver(fail_first: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(url="", fail_first=fail_first)

    async def handle(request: web.Request) -> web.Response:
        item = Received(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        receiver.received.append(item)
        receiver.arrivals.put_nowait(item)
        if len(receiver.received) <= receiver.fail_first:
            return web.Response(status=503)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
