"""A simulator of Visma e-conomic, written from ``contracts/economic.md``.

REST (``/self``, ``/customers``, ``/invoices/…``, accounts, journals, accounting years, payment
terms, VAT zones, customer groups, draft vouchers), the OpenAPI Journals booking call and the
Webhooks API on the same port, the "Add app" install page, legacy webhooks, the fair-use budget,
fault injection and the ``/_sandbox`` controls. ``create_app`` is the single entry point; the
state object is at ``app[sandbox.economic.keys.STATE]``.

Where the contract is silent, the simulator picks (and the client must not rely on more):

* ``demo``/``demo`` opens a read-only demo agreement (686918); any write there answers 403.
* Calls that fail authentication are not counted against a budget; every authenticated call
  is, including those answered with an injected fault. A 429 from the budget is not counted.
  ``Retry-After`` is the whole seconds until the oldest counted call leaves the window.
* Order of checks: token (401) → budget (429) → injected latency/fault → demo write (403) →
  415 for a body that is not ``application/json`` → idempotent replay → the handler.
* Error bodies always carry ``errors`` (``[]`` when there is nothing to add).
* ``remainderInBaseCurrency`` is omitted when the remainder is 0; ``remainder`` is always sent.
  ``exchangeRate`` is base-currency units per 100 units (745.93 for EUR; 4.95 for ISK; 100 for
  DKK), fixed. Money has its currency's ISO 4217 decimals (``1500`` ISK, ``1019.99`` DKK);
  ``…InBaseCurrency`` amounts are rounded half-even to the base currency's. Known currencies:
  DKK EUR SEK NOK USD GBP ISK JPY; any other is a 400. A voucher amount with more decimals
  than its currency has is refused, not rounded (the ``/_sandbox`` controls round half-even).
  See ``money.py``.
* A customer's ``balance``/``dueAmount`` are in the customer's currency (an invoice in another
  currency counts at the fixed rates).
* ``/invoices/unpaid`` holds every invoice whose remainder is not 0 (open credit notes too);
  ``/invoices/overdue`` those with a positive remainder and a due date before the simulated
  today; customer ``dueAmount`` sums remainders with a due date before today.
* Filters: string ``$eq``/``$ne`` are case-insensitive; ``$eq:null`` matches an absent field;
  computed fields (``balance``, ``dueAmount``) are not filterable; sortable = filterable.
  Without ``sort`` a collection comes in primary-key order; ties keep that order.
* ``lastUpdated`` is wall-clock UTC to the second, set by every change to a customer.
* ``POST /journals/{n}/vouchers`` answers 201 with a list; a customer payment in another
  currency than its invoice is converted at the fixed rates. Booking sends one day-book webhook
  covering the booked voucher-number range.
* Webhooks API event types, as the contract names them: ``INVOICE_BOOKED``,
  ``CUSTOMER_CREATED``, ``CUSTOMER_UPDATED``, ``CUSTOMER_DELETED``, ``DAYBOOK_BOOKED``; the
  subscription's URL gets the legacy placeholders filled in. See ``webhooks.py`` for the body,
  delivery, retries and drops.
* Idempotency: see ``idempotency.py``; ``controls.py`` lists control extensions.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from sandbox.clock import SimClock
from sandbox.economic import (
    controls,
    install,
    routes_customers,
    routes_invoices,
    routes_reference,
    routes_vouchers,
    routes_webhooks,
)
from sandbox.economic.gateway import gateway
from sandbox.economic.idempotency import IdempotencyCache
from sandbox.economic.keys import DISPATCHER, IDEMPOTENCY, SCANS, STATE
from sandbox.economic.paging import ScanCache
from sandbox.economic.seed import generate, generate_demo
from sandbox.economic.state import SimState
from sandbox.economic.webhooks import Dispatcher

__all__ = ["create_app"]


def create_app(
    *,
    clock: SimClock,
    app_secret_token: str,
    app_public_token: str,
    seed: int = 1,
    companies: int = 2,
    invoices: int | Sequence[int] = 50,
    customers: int | None = None,
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0),
) -> web.Application:
    state = SimState(
        clock=clock,
        app_secret_token=app_secret_token,
        app_public_token=app_public_token,
        rng=random.Random(seed),
    )
    seeded = generate(
        seed=seed, companies=companies, invoices=invoices, today=clock.today(), customers=customers
    )
    for company in seeded:
        state.companies[company.agreement] = company
    demo = generate_demo(clock.today())
    state.companies[demo.agreement] = demo

    app = web.Application(middlewares=[gateway])
    app[STATE] = state
    app[SCANS] = ScanCache()
    app[IDEMPOTENCY] = IdempotencyCache()
    app[DISPATCHER] = Dispatcher(state, webhook_retry_delays)

    async def dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
        await app[DISPATCHER].start()
        yield
        await app[DISPATCHER].close()

    app.cleanup_ctx.append(dispatcher_ctx)
    for module in (
        routes_reference,
        routes_customers,
        routes_invoices,
        routes_vouchers,
        routes_webhooks,
        install,
        controls,
    ):
        module.setup_routes(app)
    return app
