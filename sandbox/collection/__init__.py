"""A simulator of the collection platform (contracts/collection-api.md), as one aiohttp app.

Written from the contract and domain.md only; it imports nothing from the app. State lives in
memory (`state.CollectionState`, reachable as ``app[STATE]``). Business time comes from the
shared `SimClock` (case steps, letters, interest, ``occurred_at``/``paid_on``); wall-clock time
drives token expiry, idempotency retention, secret-rotation overlap, delivery retries and
``/_sandbox/calls``.

Modules: ``oauth`` (authorize page, token, revoke) over ``grants`` (rotation, reuse interval);
``accounts``; ``debtors`` and ``claims`` (validation in ``records``); ``cases`` (pure rules),
``interest`` (pure), ``casework`` (applies the rules, emits events), ``case_routes``;
``events`` (log + feed); ``endpoints`` and ``delivery`` (Standard Webhooks via ``signing``);
``middleware`` (call log, problem rendering, faults, bearer + rate limit, idempotency over
``idempotency`` and ``ratelimit``); ``controls`` (``/_sandbox``).

Where the contract is silent, the choices (each also stated in its module):
- Interest: cumulative exact amount rounded half-even when read or posted; from the due date
  (days = today − due_on); rates are dated data in interest.py.
- Fees (DKK only, per claim): DKK 100 per reminder (≤ 3), DKK 100 collection fee when the
  collection letter goes out, DKK 310 compensation when a company's claim enters a case.
- Steps: payment_plan and bailiff are never entered automatically; court_claim is the last
  automatic step. A claim joining an open case keeps the case's step.
- A debtor without a usable channel: ``claim.rejected`` and a 202 with ``case_id: null``.
- Faults apply to /v1 only (never to /oauth or /_sandbox); a status fault answers before the
  request is processed. ``Retry-After`` on 429 is the bucket's wait rounded up (≥ 1 s).
- Idempotency is scoped per account (per partner client for ``POST /v1/accounts``); 5xx
  answers are not kept. Event retention is 30 days of wall-clock time.
- Refresh-token reuse after the interval and an owner's revocation emit
  ``account.grant_revoked``; a client's own ``/oauth/revoke`` does not.
- Seeded accounts have a random CVR and no ``external_ref``; ``auto_consent`` without
  ``account_id`` signs in the first account.
- Overpayments (more than the case owes) are refused with 422.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from sandbox.clock import SimClock
from sandbox.collection import accounts as account_routes
from sandbox.collection import (
    case_routes,
    casework,
    claims,
    controls,
    debtors,
    endpoints,
    events,
    oauth,
)
from sandbox.collection.delivery import delivery_context
from sandbox.collection.middleware import (
    bearer_and_rate_limit,
    calls_and_errors,
    faults,
    idempotency,
)
from sandbox.collection.ratelimit import RateLimiter
from sandbox.collection.state import STATE, CollectionState, Settings

__all__ = ["STATE", "CollectionState", "create_app"]

# Standard Webhooks' usual schedule stretched to exactly 3 days (259 200 s) in total.
DEFAULT_RETRY_DELAYS = (
    5.0, 300.0, 1800.0, 7200.0, 18000.0,
    36000.0, 36000.0, 36000.0, 36000.0, 36000.0, 36000.0, 15895.0,
)  # fmt: skip


def create_app(
    *,
    clock: SimClock,
    client_id: str,
    client_secret: str,
    seed: int = 1,
    accounts: int = 2,
    public_url: str | None = None,
    delivery_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
    token_ttl: int = 3600,
    reuse_interval: float = 30.0,
    delivery_timeout: float = 10.0,
    secret_overlap: float = 24 * 3600.0,
    rate_per_second: float = 20.0,
    burst: int = 40,
) -> web.Application:
    settings = Settings(
        client_id=client_id,
        client_secret=client_secret,
        public_url=public_url,
        delivery_retry_delays=tuple(delivery_retry_delays),
        token_ttl=token_ttl,
        reuse_interval=reuse_interval,
        delivery_timeout=delivery_timeout,
        secret_overlap=secret_overlap,
    )
    state = CollectionState(settings=settings, clock=clock, seed=seed)
    state.limiter = RateLimiter(rate_per_second, burst)
    account_routes.seed_accounts(state, accounts)

    async def advance(old: dt.date, new: dt.date) -> None:
        await casework.on_advance(state, old, new)

    clock.on_advance(advance)
    app = web.Application(
        middlewares=[calls_and_errors, faults, bearer_and_rate_limit, idempotency],
        client_max_size=11 * 1024 * 1024,
    )
    app[STATE] = state
    for module in (
        oauth,
        account_routes,
        debtors,
        claims,
        case_routes,
        events,
        endpoints,
        controls,
    ):
        app.router.add_routes(module.routes)
    app.cleanup_ctx.append(delivery_context)
    return app
