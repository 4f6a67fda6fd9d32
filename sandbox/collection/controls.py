"""Sandbox controls (simulator only, not part of the real API) under ``/_sandbox``.

- ``POST /_sandbox/clock {advance_days}`` → ``{today}``; ``GET /_sandbox/clock`` → ``{today}``
- ``POST /_sandbox/payments {case_id, amount}``: the debtor pays the collector
- ``POST /_sandbox/faults {status, rate, latency_ms, drop_webhooks_rate, retry_after?, count?}``
  (``count`` limits the status fault to the next N selected calls; ``GET`` reads them back)
- ``POST /_sandbox/cases/{id}/write-off``
- ``PUT /_sandbox/oauth {auto_consent}``
- ``POST /_sandbox/accounts/{id}/revoke``: the owner revokes the app in the platform's UI
  (``account.grant_revoked`` first, then every grant of the account is revoked)
- ``GET /_sandbox/calls?since=<RFC 3339>`` → ``{items: [{method, path, query, status, at}]}``
  (calls at or after ``since``; ``/_sandbox/calls`` itself is not logged)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.collection import casework
from sandbox.collection.events import emit
from sandbox.collection.grants import revoke_grant
from sandbox.collection.problems import ApiError, invalid, json_body, json_response, not_found
from sandbox.collection.state import STATE, Faults, parse_rfc3339

routes = web.RouteTableDef()


def _int(body: dict[str, Any], name: str, low: int = 0) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid([{"field": name, "message": f"an integer >= {low}"}])
    return value


@routes.get("/_sandbox/clock")
async def get_clock(request: web.Request) -> web.Response:
    return json_response({"today": request.app[STATE].clock.today().isoformat()})


@routes.post("/_sandbox/clock")
async def advance_clock(request: web.Request) -> web.Response:
    days = _int(await json_body(request), "advance_days")
    today = await request.app[STATE].clock.advance(days)
    return json_response({"today": today.isoformat()})


@routes.post("/_sandbox/payments")
async def debtor_pays(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await json_body(request)
    amount = _int(body, "amount", low=1)
    case = state.cases.get(str(body.get("case_id")))
    if case is None:
        raise not_found("case")
    if case.status != "open":
        raise ApiError(409, "conflict", "the case is closed")
    return json_response(casework.collector_payment(state, case, amount), status=201)


@routes.post("/_sandbox/cases/{case_id}/write-off")
async def write_off(request: web.Request) -> web.Response:
    state = request.app[STATE]
    case = state.cases.get(request.match_info["case_id"])
    if case is None:
        raise not_found("case")
    if case.status != "open":
        raise ApiError(409, "conflict", "the case is closed")
    casework.write_off(state, case)
    return json_response(casework.view(state, case))


@routes.get("/_sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    return json_response(vars(request.app[STATE].faults))


@routes.post("/_sandbox/faults")
async def set_faults(request: web.Request) -> web.Response:
    body = await json_body(request)
    try:
        faults = Faults(
            status=int(body["status"]) if body.get("status") else None,
            rate=float(body.get("rate", 1.0 if body.get("status") else 0.0)),
            latency_ms=int(body.get("latency_ms", 0)),
            drop_webhooks_rate=float(body.get("drop_webhooks_rate", 0.0)),
            retry_after=int(body.get("retry_after", 1)),
            count=int(body["count"]) if body.get("count") is not None else None,
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "bad_request", f"bad fault settings: {exc}") from exc
    request.app[STATE].faults = faults
    return json_response(vars(faults))


@routes.put("/_sandbox/oauth")
async def oauth_settings(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.auto_consent = bool((await json_body(request)).get("auto_consent"))
    return json_response({"auto_consent": state.auto_consent})


@routes.post("/_sandbox/accounts/{account_id}/revoke")
async def owner_revokes(request: web.Request) -> web.Response:
    state = request.app[STATE]
    account_id = request.match_info["account_id"]
    if account_id not in state.accounts:
        raise not_found("account")
    emit(state, account_id, "account.grant_revoked", {})
    for grant in state.grants.values():
        if grant.account_id == account_id:
            revoke_grant(state, grant, notify=False)
    return web.Response(status=204)


@routes.get("/_sandbox/calls")
async def calls(request: web.Request) -> web.Response:
    state = request.app[STATE]
    items = state.calls
    if request.query.get("since"):
        try:
            since = parse_rfc3339(request.query["since"])
        except ValueError as exc:
            raise ApiError(400, "bad_request", "since must be RFC 3339") from exc
        items = [call for call in items if parse_rfc3339(call["at"]) >= since]
    return json_response({"items": items})
