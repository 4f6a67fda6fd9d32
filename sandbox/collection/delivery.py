"""Webhook delivery: Standard Webhooks signing, at-least-once, unordered, retried.

Each (event, endpoint) pair is one task: attempt, and on a non-2xx answer or none within
``delivery_timeout`` wait the next ``delivery_retry_delays`` entry and try again. When the whole
schedule fails the endpoint is disabled (it stays listed, ``enabled: false``). Tasks run
concurrently, so deliveries arrive in no particular order. ``drop_webhooks_rate`` loses a
delivery outright (no attempt, no retry): the events feed is how a receiver recovers it.
Every attempt is recorded in ``state.deliveries`` for white-box tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from sandbox.collection.signing import delivery_headers
from sandbox.collection.state import STATE, CollectionState, Endpoint, Event


def active_secrets(endpoint: Endpoint, now: float) -> list[str]:
    """The current secret, and the previous one during the rotation overlap."""
    secrets = [endpoint.secret]
    if endpoint.old_secret and now < endpoint.old_secret_until:
        secrets.append(endpoint.old_secret)
    return secrets


class Deliverer:
    def __init__(self, state: CollectionState) -> None:
        self.state = state
        self.session: aiohttp.ClientSession | None = None

    def dispatch(self, event: Event) -> None:
        state = self.state
        for endpoint in list(state.endpoints.values()):
            if endpoint.account_id != event.account_id or not endpoint.wants(event.type):
                continue
            if not endpoint.enabled or endpoint.deleted:
                continue
            if state.drop_rng.random() < state.faults.drop_webhooks_rate:
                self._record(event, endpoint, 0, None, dropped=True)
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(endpoint, event))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)

    async def _deliver(self, endpoint: Endpoint, event: Event) -> None:
        body = json.dumps(event.body()).encode()
        delays = self.state.settings.delivery_retry_delays
        for attempt in range(len(delays) + 1):
            if endpoint.deleted or not endpoint.enabled:
                return
            if await self._attempt(endpoint, event, body, attempt):
                return
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])
        endpoint.enabled = False

    async def _attempt(self, endpoint: Endpoint, event: Event, body: bytes, attempt: int) -> bool:
        state = self.state
        if self.session is None:
            self.session = aiohttp.ClientSession()
        now = state.wall()
        headers = delivery_headers(active_secrets(endpoint, now), event.id, int(now), body)
        timeout = aiohttp.ClientTimeout(total=state.settings.delivery_timeout)
        status: int | None = None
        try:
            async with self.session.post(
                endpoint.url, data=body, headers=headers, timeout=timeout
            ) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self._record(event, endpoint, attempt, status)
        return status is not None and 200 <= status < 300

    def _record(
        self,
        event: Event,
        endpoint: Endpoint,
        attempt: int,
        status: int | None,
        *,
        dropped: bool = False,
    ) -> None:
        self.state.deliveries.append(
            {
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "attempt": attempt,
                "status": status,
                "dropped": dropped,
                "at": self.state.now_rfc3339(),
            }
        )

    async def close(self) -> None:
        tasks = list(self.state.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


async def delivery_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: wire the deliverer into the state; cancel deliveries on shutdown."""
    state = app[STATE]
    deliverer = Deliverer(state)
    state.dispatch = deliverer.dispatch
    yield
    state.dispatch = lambda event: None
    await deliverer.close()
