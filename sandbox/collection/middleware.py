"""The request pipeline, outermost first: call log and error rendering → injected faults →
bearer authentication and the rate limit (under /v1) → ``Idempotency-Key`` (POST under /v1).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox.collection.auth import PRINCIPAL, authenticate
from sandbox.collection.idempotency import Stored, body_value
from sandbox.collection.problems import DEFAULT_CODES, ApiError, OAuthError
from sandbox.collection.state import STATE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNLOGGED = ("/_sandbox/calls",)


@web.middleware
async def calls_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    at = state.now_rfc3339()
    try:
        response = await handler(request)
    except (ApiError, OAuthError) as exc:
        response = exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = DEFAULT_CODES.get(exc.status, "bad_request")
        response = ApiError(exc.status, code, exc.reason).response()
    if request.path not in UNLOGGED:
        state.calls.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "status": response.status,
                "at": at,
            }
        )
    return response


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    config = state.faults
    if not request.path.startswith("/v1/"):
        return await handler(request)
    if config.latency_ms:
        await asyncio.sleep(config.latency_ms / 1000)
    if config.status and config.count != 0 and state.fault_rng.random() < config.rate:
        if config.count is not None:
            config.count -= 1
        headers = {"Retry-After": str(config.retry_after)} if config.status in (429, 503) else {}
        code = "rate_limited" if config.status == 429 else "injected_fault"
        raise ApiError(config.status, code, "fault injected by the sandbox", headers=headers)
    return await handler(request)


@web.middleware
async def bearer_and_rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    state = request.app[STATE]
    who = authenticate(state, request.headers.get("Authorization"))
    request[PRINCIPAL] = who
    wait = state.limiter.check(who.bucket, state.wall())
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many requests for this account",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return await handler(request)


@web.middleware
async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not request.path.startswith("/v1/") or not key:
        return await handler(request)
    state = request.app[STATE]
    scope = request[PRINCIPAL].bucket
    value = body_value(await request.read())
    async with state.idempotency.lock(scope, key):
        stored = state.idempotency.lookup(scope, key, state.wall())
        if stored is not None:
            if stored.body_value != value:
                raise ApiError(
                    409,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another body",
                )
            return web.Response(
                status=stored.status,
                body=stored.payload,
                content_type=stored.content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        if isinstance(response, web.Response):
            payload = response.body if isinstance(response.body, bytes) else b""
            state.idempotency.save(
                scope,
                key,
                Stored(value, response.status, payload, response.content_type, state.wall()),
            )
        return response
