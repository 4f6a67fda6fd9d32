"""Outgoing webhooks: legacy per-topic URLs with placeholders and Webhooks-API subscriptions.

Every changed record fires one request per URL (so a bulk import is a burst). A delivery that
fails (connection error, timeout or a non-2xx answer) is retried after each of
``retry_delays`` seconds, then given up. ``drop_webhooks_rate`` silently loses that share of
deliveries before the first attempt (a lost hint is not retried). Legacy deliveries are POSTs
with an empty body (or GETs when registered so) and no signature. Webhooks-API deliveries POST
to the subscription's URL with the placeholders filled in exactly as for legacy webhooks (the
contract's rule), with the subscription's headers; the JSON body
``{eventType, agreementNumber, timestamp, data}`` is the simulator's pick (the contract names no
body), so a client must read the URL, not the body.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sandbox.economic.ledger import Event
from sandbox.economic.money import encode_json
from sandbox.economic.state import SimState

# (eventType, description, legacy topic): the contract's names. The placeholders an event fills
# are its topic's, as for legacy webhooks (see ``PLACEHOLDERS``).
EVENT_TYPES = (
    ("INVOICE_BOOKED", "An invoice or credit note was booked.", "invoice"),
    ("CUSTOMER_CREATED", "A customer was created.", "customer"),
    ("CUSTOMER_UPDATED", "A customer was changed.", "customer"),
    ("CUSTOMER_DELETED", "A customer was deleted.", "customer"),
    ("DAYBOOK_BOOKED", "Vouchers in a day book (journal) were booked.", "daybook"),
)
PLACEHOLDERS = {
    "invoice": ("[INVOICENO]",),
    "customer": ("[NEWNUMBER]", "[OLDNUMBER]"),
    "daybook": ("[DAYBOOKNO]", "[FROMSERIALNO]", "[TOSERIALNO]"),
}
CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt, kept for white-box checks: ``status`` 0 means no answer, -1 dropped."""

    agreement: int
    url: str
    method: str
    attempt: int
    status: int
    at: dt.datetime


def fill(url: str, placeholders: dict[str, str]) -> str:
    for name, value in placeholders.items():
        url = url.replace(f"[{name}]", value)
    return url


def api_payload(event: Event) -> dict[str, Any]:
    p = event.placeholders
    data: dict[str, Any]
    if event.topic == "invoice":
        data = {"bookedInvoiceNumber": int(p["INVOICENO"])}
    elif event.topic == "customer":
        data = {"customerNumber": int(p["NEWNUMBER"]), "oldCustomerNumber": int(p["OLDNUMBER"])}
    else:
        data = {
            "journalNumber": int(p["DAYBOOKNO"]),
            "fromVoucherNumber": int(p["FROMSERIALNO"]),
            "toVoucherNumber": int(p["TOSERIALNO"]),
        }
    return {
        "eventType": event.event_type,
        "agreementNumber": event.agreement,
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


class Dispatcher:
    def __init__(self, state: SimState, retry_delays: tuple[float, ...]) -> None:
        self.state, self.retry_delays = state, retry_delays
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def idle(self) -> None:
        """Wait until every delivery (with its retries) has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def fire(self, events: Iterable[Event]) -> None:
        for event in events:
            company = self.state.companies[event.agreement]
            legacy = company.legacy_webhooks.get(event.topic)
            if legacy:
                method, _, url = legacy.partition(" ")
                self._spawn(event.agreement, method, fill(url, event.placeholders), b"", {})
            sub = company.webhook_subscriptions.get(event.event_type)
            if sub is not None:
                headers = {h["name"]: h["value"] for h in sub.get("headers", [])}
                headers["Content-Type"] = sub.get("contentType", "application/json")
                url = fill(sub["url"], event.placeholders)
                self._spawn(event.agreement, "POST", url, encode_json(api_payload(event)), headers)

    def _spawn(
        self, agreement: int, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(agreement, method, url, body, headers)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, agreement: int, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> None:
        if self.state.rng.random() < self.state.faults.drop_webhooks_rate:
            self._log(agreement, url, method, 0, -1)
            return
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay:
                await asyncio.sleep(delay)
            status = await self._attempt(method, url, body, headers)
            self._log(agreement, url, method, attempt, status)
            if 200 <= status < 300:
                return

    async def _attempt(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None, "Dispatcher.start() was not awaited"
        async with self._slots:
            try:
                async with self._session.request(
                    method, url, data=body or None, headers=headers
                ) as response:
                    await response.read()
                    return response.status
            except (aiohttp.ClientError, TimeoutError):
                return 0

    def _log(self, agreement: int, url: str, method: str, attempt: int, status: int) -> None:
        self.deliveries.append(
            Delivery(agreement, url, method, attempt, status, dt.datetime.now(dt.UTC))
        )
