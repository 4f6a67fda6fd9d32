"""Helpers for the collection contract tests: an API caller, a webhook receiver, builders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tests.fixtures.collection import CollectionSandbox


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class Api:
    """Calls the simulator as one account (or the partner) with a bearer token."""

    def __init__(self, sandbox: CollectionSandbox, token: str) -> None:
        self.sandbox = sandbox
        self.token = token

    async def __call__(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> Reply:
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        async with self.sandbox.session.request(
            method, self.sandbox.url + path, json=json, data=data, headers=all_headers
        ) as resp:
            body: Any = None
            if resp.content_type.endswith("json"):
                body = await resp.json(content_type=None)
            else:
                body = await resp.read()
            return Reply(resp.status, body, resp.headers)


async def account_api(sandbox: CollectionSandbox, account_id: str | None = None) -> Api:
    grant = await sandbox.link(account_id)
    return Api(sandbox, grant["access_token"])


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint on loopback: answers ``statuses`` in turn, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    deliveries: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)

    async def handle(self, request: web.Request) -> web.Response:
        await self.deliveries.put(Delivery(dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    async def next(self, within: float = 5.0) -> Delivery:
        return await asyncio.wait_for(self.deliveries.get(), within)


@asynccontextmanager
async def running_receiver(statuses: list[int] | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver(statuses=list(statuses or []))
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def eventually(
    predicate: Callable[[], bool], within: float = 5.0, step: float = 0.01
) -> None:
    """Wait until ``predicate()`` holds, polling; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def debtor(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Kunde ApS",
        "kind": "company",
        "cvr": "12345678",
        "email": "bogholderi@kunde.dk",
        "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
        "language": "da",
        "channels": ["email", "letter"],
    }
    body.update(overrides)
    return body


def claim(debtor_ref: str = "C1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "debtor_ref": debtor_ref,
        "kind": "invoice",
        "invoice_number": 1001,
        "issued_on": "2024-01-02",
        "due_on": "2024-02-01",
        "currency": "DKK",
        "net_amount": 800_000,
        "vat_amount": 200_000,
        "gross_amount": 1_000_000,
        "remaining_amount": 1_000_000,
        "description": "Consulting, January",
        "lines": [
            {
                "number": 1,
                "description": "Consulting",
                "quantity": "10",
                "unit": "hours",
                "unit_price": "800.00",
                "amount": 800_000,
                "vat_rate": 25,
            }
        ],
    }
    body.update(overrides)
    return body


def problem_shape_ok(body: Any, status: int, code: str) -> bool:
    return (
        isinstance(body, dict)
        and body.get("status") == status
        and body.get("code") == code
        and isinstance(body.get("type"), str)
        and isinstance(body.get("title"), str)
        and isinstance(body.get("detail"), str)
    )
