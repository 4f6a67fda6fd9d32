"""What stands in front of every API call: the call log, token check (401; ``demo``/``demo`` is a
read-only agreement whose writes get 403), the fair-use budget (429 + ``Retry-After``), injected
faults and latency, 415 for non-JSON bodies, idempotent replays, and JSON error bodies.

``/_sandbox/…`` controls and the ``/secure/…`` install page bypass all of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.economic.errors import ApiError, error_response
from sandbox.economic.keys import IDEMPOTENCY, STATE
from sandbox.economic.state import Budget, CallRecord, Company, SimState

COMPANY: web.RequestKey[Company] = web.RequestKey("economic_company")
DEMO_TOKEN = "demo"  # noqa: S105 - the platform's public demo token, not a secret
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate(state: SimState, secret: str | None, grant: str | None) -> Company:
    demo = next((c for c in state.companies.values() if c.demo), None)
    if secret == grant == DEMO_TOKEN and demo is not None:
        return demo
    if not secret or secret != state.app_secret_token:
        raise ApiError(401, "The X-AppSecretToken header is missing or not valid.")
    record = state.grants.get(grant or "")
    if record is None or record.revoked:
        raise ApiError(401, "The X-AgreementGrantToken header is missing, not valid or revoked.")
    return state.companies[record.agreement]


def spend(budget: Budget, now: float) -> None:
    """Count one call in the rolling window, or raise 429 with the seconds until a slot frees."""
    while budget.calls and budget.calls[0] <= now - budget.window_seconds:
        budget.calls.popleft()
    if len(budget.calls) >= budget.limit:
        wait = budget.calls[0] + budget.window_seconds - now if budget.calls else 1.0
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "Too many requests: the agreement's fair-use budget is spent.",
            headers={"Retry-After": str(seconds)},
        )
    budget.calls.append(now)


async def inject_faults(state: SimState) -> None:
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.status and faults.rate and state.rng.random() < faults.rate:
        headers = {"Retry-After": str(faults.retry_after)} if faults.status in (429, 503) else {}
        raise ApiError(faults.status, "Injected fault.", headers=headers)


async def serve_api(request: web.Request, handler: Handler, state: SimState) -> web.StreamResponse:
    company = authenticate(
        state, request.headers.get("X-AppSecretToken"), request.headers.get("X-AgreementGrantToken")
    )
    request[COMPANY] = company
    spend(state.budget(company.agreement), time.time())
    await inject_faults(state)
    if company.demo and request.method not in READS:
        raise ApiError(403, "The demo agreement is read-only.")
    if request.body_exists and request.content_type != "application/json":
        raise ApiError(415, "Unsupported media type: send application/json.")
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method in READS:
        return await handler(request)
    cache = request.app[IDEMPOTENCY]
    cached = cache.get(company.agreement, key, time.time())
    if cached is not None:
        return cached
    response = await handler(request)
    if isinstance(response, web.Response):
        cache.put(company.agreement, key, response, time.time())
    return response


CLIENT_GONE = 499  # logged for calls whose client hung up (e.g. timed out) before the answer


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if request.path.startswith(("/_sandbox", "/secure/")):
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc, state.log_id())
    arrived, status = dt.datetime.now(dt.UTC), CLIENT_GONE
    try:
        response = await answer(request, handler, state)
        status = response.status
        return response
    finally:
        company = request.get(COMPANY)
        state.calls.append(
            CallRecord(
                agreement=company.agreement if company else None,
                method=request.method,
                path=request.path,
                query=request.query_string,
                status=status,
                at=arrived,
            )
        )


async def answer(request: web.Request, handler: Handler, state: SimState) -> web.StreamResponse:
    try:
        return await serve_api(request, handler, state)
    except ApiError as exc:
        return error_response(exc, state.log_id())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(ApiError(exc.status, exc.reason), state.log_id())
